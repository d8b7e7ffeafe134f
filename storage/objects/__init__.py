"""Object store (材料存储): scans, transfer packets and result documents, by key, with SHA-256 checks.

``open_store(url)`` picks the backend from the storage URL in ``Settings``:

- ``file:///abs/path`` — :class:`FilesystemStore`, the embedded default;
- ``s3://bucket[/key-prefix]?endpoint_url=http://host:9000&region=us-east-1`` — :class:`S3Store`.
  Optional parameters: ``access_key``/``secret_key`` (else boto3's usual AWS environment variables
  and profiles), ``connect_timeout``, ``read_timeout`` (seconds), ``max_attempts`` (retries, standard
  mode), ``part_size`` (bytes, ≥ 5 MiB), ``addressing_style`` (``path`` by default with an endpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from storage.objects.base import (
    CHUNK_SIZE,
    ChunkStream,
    IntegrityError,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    ObjectStoreUnavailable,
    ObjectTooLarge,
    StoredObject,
    check_key,
    normalise_sha256,
)
from storage.objects.filesystem import FilesystemStore
from storage.objects.s3 import S3Store

__all__ = [
    "CHUNK_SIZE",
    "FilesystemStore",
    "IntegrityError",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "ObjectStoreUnavailable",
    "ObjectTooLarge",
    "S3Store",
    "StoredObject",
    "check_key",
    "copy_between",
    "open_store",
]

#: URL parameter → (S3Store argument, converter). Unknown parameters are refused: a typo in
#: ``connect_timeout`` must not silently fall back to the default.
_S3_PARAMS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "endpoint_url": ("endpoint_url", str),
    "region": ("region", str),
    "access_key": ("access_key", str),
    "secret_key": ("secret_key", str),
    "connect_timeout": ("connect_timeout", float),
    "read_timeout": ("read_timeout", float),
    "max_attempts": ("max_attempts", int),
    "part_size": ("part_size", int),
    "addressing_style": ("addressing_style", str),
}


def open_store(url: str) -> ObjectStore:
    """The object store a storage URL names. Opening never touches the network; an S3 bucket that
    does not exist yet is created on first use."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query:
            raise ValueError(f"a filesystem storage URL looks like file:///absolute/path, got {url!r}")
        return FilesystemStore(unquote(parts.path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"an S3 storage URL names its bucket: s3://bucket?endpoint_url=..., got {url!r}")
        kwargs: dict[str, Any] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
            if name not in _S3_PARAMS:
                raise ValueError(f"unknown S3 storage URL parameter {name!r}; known: {', '.join(_S3_PARAMS)}")
            argument, convert = _S3_PARAMS[name]
            try:
                kwargs[argument] = convert(value)
            except ValueError:
                raise ValueError(f"S3 storage URL parameter {name}={value!r} is not valid") from None
        return S3Store(parts.netloc, prefix=unquote(parts.path), **kwargs)
    raise ValueError(f"unsupported storage URL {url!r}: use file:///path or s3://bucket?endpoint_url=...")


def copy_between(
    src: ObjectStore, src_key: str, dst: ObjectStore, dst_key: str, *, expected_sha256: str
) -> StoredObject:
    """Copy one object into another store (e.g. to the handling zone's store), streamed and verified
    at the destination; a no-op when the destination already holds exactly those bytes (rerunnable)."""
    if src is dst:
        return src.copy(src_key, dst_key, expected_sha256=expected_sha256)
    expected = normalise_sha256(expected_sha256)
    try:
        if dst.sha256(dst_key) == expected:
            return StoredObject(key=dst_key, size=dst.size(dst_key), sha256=expected)
    except ObjectNotFound:
        pass
    with ChunkStream(src.iter_bytes(src_key)) as stream:
        return dst.put_stream(dst_key, stream, expected_sha256=expected)  # type: ignore[arg-type]
