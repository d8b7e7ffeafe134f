"""What every object store promises (材料存储): the interface, its errors and shared helpers.

Design promise 1 ("nothing lost") rests on this module: every write is hashed while it streams,
checked again after it landed, and leaves nothing behind when it fails.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

#: Read size for streaming writes and hash re-reads: big enough to be fast, small enough to keep memory flat.
CHUNK_SIZE = 1 << 20

#: Temporary files of the filesystem store start with this; no key segment may, in any store.
RESERVED_PREFIX = ".tongban-tmp-"


@dataclass(frozen=True)
class StoredObject:
    """A file that has been durably stored and whose bytes hash to ``sha256`` (hex)."""

    key: str
    size: int
    sha256: str


class ObjectStoreError(Exception):
    """Base class of every error an object store raises on purpose."""


class ObjectTooLarge(ObjectStoreError):
    """The stream went past ``limit`` bytes; nothing was stored (超过大小限制)."""

    def __init__(self, key: str, limit: int) -> None:
        super().__init__(f"object {key!r} is larger than the limit of {limit} bytes; nothing was stored")
        self.key = key
        self.limit = limit


class IntegrityError(ObjectStoreError):
    """The stored bytes do not hash to what they must (校验失败). Permanent: never retry blindly."""

    def __init__(self, key: str, expected: str, actual: str, detail: str = "") -> None:
        msg = f"object {key!r}: SHA-256 {actual} does not match the expected {expected}"
        super().__init__(f"{msg}; {detail}" if detail else msg)
        self.key = key
        self.expected = expected
        self.actual = actual


class ObjectStoreUnavailable(ObjectStoreError):
    """The store could not be reached or kept failing after retries (transient: try the step again later)."""


class ObjectNotFound(ObjectStoreError, LookupError):
    """No object is stored under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object stored under key {key!r}")
        self.key = key


@runtime_checkable
class ObjectStore(Protocol):
    """Where scans, packets and result documents live, by key (a relative POSIX-style path)."""

    def put_stream(self, key: str, stream: BinaryIO, *, max_bytes: int | None = None,
                   expected_sha256: str | None = None) -> StoredObject:
        """Store ``stream`` under ``key``, hashing as it goes, and verify it after the write."""
        ...

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Store a small in-memory payload (receipts, manifests)."""
        ...

    def iter_bytes(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the stored bytes in chunks (for downloads and copies between stores)."""
        ...

    def open_read(self, key: str) -> BinaryIO:
        """A readable, seekable file object (pypdf needs to seek). The caller closes it."""
        ...

    def sha256(self, key: str) -> str:
        """Re-read the stored bytes and hash them: the check behind ``tongban verify``."""
        ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting what is not there is not an error (steps get rerun)."""
        ...

    def copy(self, src_key: str, dst_key: str, *, expected_sha256: str) -> StoredObject:
        """Copy and verify at the destination; a no-op when the destination already holds those bytes."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Keys starting with ``prefix`` (a plain string prefix, as in S3), sorted."""
        ...


def check_key(key: str) -> str:
    """Refuse keys that are not plain relative POSIX paths (ValueError).

    Every store applies the same rule, so a key that works against S3 also works in embedded mode,
    and no key can climb out of the filesystem store's root with ``..`` or an absolute path.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("an object key must be a non-empty string")
    if "\x00" in key or "\\" in key:
        raise ValueError(f"object key {key!r} contains a NUL or a backslash")
    if key.startswith("/"):
        raise ValueError(f"object key {key!r} is absolute; keys are relative to the store")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"object key {key!r} has an empty, '.' or '..' segment")
        if part.startswith(RESERVED_PREFIX):
            raise ValueError(f"object key {key!r} uses the reserved prefix {RESERVED_PREFIX!r}")
    return key


def normalise_sha256(value: str) -> str:
    """Lower-case hex digest, refusing anything that is not one (a typo must not pass as a mismatch)."""
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a SHA-256 hex digest: {value!r}")
    return digest


def hash_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    """SHA-256 hex and byte count of a chunk stream."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def read_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Read a stream to its end in chunks (short reads are normal for sockets and upload spools)."""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            return
        yield chunk


class ChunkStream(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks, so one store can feed another's
    ``put_stream`` without holding the whole file."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()
