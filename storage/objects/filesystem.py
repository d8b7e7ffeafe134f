"""Filesystem object store: the embedded default (one machine, no setup).

A write goes to a temporary file in the target directory, is fsynced, hashed again from disk, and
only then renamed into place with ``os.replace`` — so a key either holds complete, verified bytes
or nothing, even if the process dies half-way.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from storage.objects.base import (
    CHUNK_SIZE,
    RESERVED_PREFIX,
    IntegrityError,
    ObjectNotFound,
    ObjectTooLarge,
    StoredObject,
    check_key,
    hash_chunks,
    normalise_sha256,
    read_chunks,
)

#: Temporary files start with this; keys may not (see ``check_key``), and ``list`` never shows them.
TMP_PREFIX = RESERVED_PREFIX


class FilesystemStore:
    """Objects as plain files under ``root``; keys are relative POSIX paths that must stay inside it."""

    def __init__(self, root: Path | str) -> None:
        root = Path(root)
        if not root.is_absolute():
            raise ValueError(f"the filesystem store needs an absolute root, got {str(root)!r}")
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self.root)!r})"

    # -- keys ------------------------------------------------------------------------------------

    def path_for(self, key: str) -> Path:
        """The file behind ``key``; refuses keys that could escape the root (ValueError)."""
        parts = check_key(key).split("/")
        path = self.root.joinpath(*parts)
        # A symlink planted inside the root must not lead outside it either.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"object key {key!r} resolves outside the store")
        return path

    # -- writing ---------------------------------------------------------------------------------

    def put_stream(self, key: str, stream: BinaryIO, *, max_bytes: int | None = None,
                   expected_sha256: str | None = None) -> StoredObject:
        path = self.path_for(key)
        expected = normalise_sha256(expected_sha256) if expected_sha256 is not None else None
        fd, tmp_name = self._mkstemp(path.parent)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in read_chunks(stream):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ObjectTooLarge(key, max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            written = digest.hexdigest()
            if expected is not None and written != expected:
                raise IntegrityError(key, expected, written, "the received bytes differ from the declared hash")
            # Hash checked after the write: read back what reached the disk before it becomes visible.
            on_disk, on_disk_size = hash_chunks(self._iter_path(tmp, CHUNK_SIZE))
            if on_disk != written or on_disk_size != size:
                raise IntegrityError(key, written, on_disk, "the bytes read back differ from the bytes written")
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            self._prune_empty_dirs(path.parent)
            raise
        return StoredObject(key=key, size=size, sha256=written)

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        return self.put_stream(key, io.BytesIO(data))

    def copy(self, src_key: str, dst_key: str, *, expected_sha256: str) -> StoredObject:
        expected = normalise_sha256(expected_sha256)
        dst_path = self.path_for(dst_key)
        if dst_path.is_file() and self.sha256(dst_key) == expected:
            return StoredObject(key=dst_key, size=dst_path.stat().st_size, sha256=expected)
        with self.open_read(src_key) as src:
            return self.put_stream(dst_key, src, expected_sha256=expected)

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        path.unlink(missing_ok=True)
        self._prune_empty_dirs(path.parent)

    # -- reading ---------------------------------------------------------------------------------

    def iter_bytes(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        path = self.path_for(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return self._iter_path(path, chunk_size)

    def open_read(self, key: str) -> BinaryIO:
        try:
            return self.path_for(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    def sha256(self, key: str) -> str:
        return hash_chunks(self.iter_bytes(key))[0]

    def size(self, key: str) -> int:
        path = self.path_for(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path.stat().st_size

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def list(self, prefix: str) -> list[str]:
        directory = prefix.rpartition("/")[0]
        start = self.path_for(directory) if directory else self.root
        keys: list[str] = []
        for dirpath, _dirnames, filenames in os.walk(start):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith(TMP_PREFIX):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    # -- housekeeping ----------------------------------------------------------------------------

    def remove_stale_temp_files(self, *, older_than: float) -> builtins.list[str]:
        """Delete the temporary files a crash left half-written (``.tongban-tmp-*``, untouched for
        ``older_than`` seconds; a write in progress touches its file all the time); return their paths
        relative to the root. Never a key: keys may not use the prefix."""
        cutoff = time.time() - older_than
        removed: builtins.list[str] = []
        for dirpath, _dirnames, filenames in os.walk(self.root):
            for name in filenames:
                if not name.startswith(TMP_PREFIX):
                    continue
                path = Path(dirpath) / name
                try:
                    if path.lstat().st_mtime > cutoff:
                        continue
                    path.unlink()
                except FileNotFoundError:  # finished (renamed) or removed by another sweep meanwhile
                    continue
                removed.append(path.relative_to(self.root).as_posix())
                self._prune_empty_dirs(path.parent)
        return sorted(removed)

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _iter_path(path: Path, chunk_size: int) -> Iterator[bytes]:
        with path.open("rb") as f:
            yield from read_chunks(f, chunk_size)

    def _mkstemp(self, directory: Path) -> tuple[int, str]:
        # A concurrent delete may prune the directory between mkdir and mkstemp: try again once.
        for attempt in range(2):
            directory.mkdir(parents=True, exist_ok=True)
            try:
                return tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
            except FileNotFoundError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _prune_empty_dirs(self, directory: Path) -> None:
        """Remove directories left empty below the root, so a failed write leaves no trace."""
        while directory != self.root and directory.is_relative_to(self.root):
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX needs the directory entry flushed)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
