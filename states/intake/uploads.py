"""Spool, check and store uploaded scans before any row is written (Nothing lost, nothing orphaned)."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from documents.errors import MaterialError
from documents.intake import ImageLimits, check_filename, normalize_upload
from storage.objects import ObjectStore

CHUNK = 1 << 20


@dataclass
class Upload:
    """A file as it arrives: its name, what it belongs to, and a readable stream."""

    filename: str
    stream: BinaryIO
    #: Checklist line (item_materials.id) it belongs to, if any.
    item_material_id: int | None = None


@dataclass
class StagedFile:
    filename: str
    kind: str
    size: int
    sha256: str
    page_count: int
    object_key: str
    item_material_id: int | None


def spool(stream: BinaryIO, dest: Path, *, filename: str, max_bytes: int) -> tuple[int, str]:
    """Copy to a temp file in chunks, hashing as we go; stop at the limit (never hold it whole)."""
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise MaterialError(
                    filename, "too_large",
                    f"“{filename}” is larger than the limit of {size_text(max_bytes)}.",
                    f"文件“{filename}”超过 {size_text(max_bytes)} 的上限。",
                )
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def size_text(n: int) -> str:
    """A limit as a clerk reads it: ``512 bytes``, ``64 KiB``, ``1.5 MiB`` (never "0 MB" for a small one)."""
    value, unit = float(n), "bytes"
    for bigger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{n} bytes" if unit == "bytes" else f"{value:.1f}".removesuffix(".0") + f" {unit}"


@dataclass(frozen=True)
class Checked:
    """An upload that passed every check, spooled at ``path``; ``name`` is the clean name that was checked."""

    upload: Upload
    name: str
    path: Path
    kind: str
    size: int
    sha256: str
    page_count: int


def check_uploads(uploads: Iterable[Upload], workdir: Path, *, max_bytes: int,
                  limits: ImageLimits | None = None) -> list[Checked]:
    """Every file checked before anything is stored: the first bad one refuses the whole request."""
    checked = []
    for n, up in enumerate(uploads):
        name = check_filename(up.filename)
        tmp = workdir / f"upload-{n}"
        size, sha = spool(up.stream, tmp, filename=name, max_bytes=max_bytes)
        norm = normalize_upload(tmp, name, workdir=workdir, max_bytes=max_bytes, limits=limits)
        checked.append(Checked(up, norm.filename, tmp, norm.kind, size, sha, norm.page_count))
    return checked


def store_checked(store: ObjectStore, checked: list[Checked], *,
                  zone_code: str, now: datetime) -> list[StagedFile]:
    """Write each checked file under a fresh key; on any failure remove what was written.

    The row and the key take the name as it was checked (NFC, trimmed), never the raw upload name.
    """
    staged: list[StagedFile] = []
    try:
        for c in checked:
            key = f"{zone_code}/incoming/{now:%Y/%m/%d}/{uuid.uuid4().hex}{Path(c.name).suffix.lower()}"
            with c.path.open("rb") as fh:
                obj = store.put_stream(key, fh, expected_sha256=c.sha256)
            staged.append(StagedFile(filename=c.name, kind=c.kind, size=obj.size, sha256=obj.sha256,
                                     page_count=c.page_count, object_key=key,
                                     item_material_id=c.upload.item_material_id))
    except BaseException:
        discard(store, staged)
        raise
    return staged


def discard(store: ObjectStore, staged: Iterable[StagedFile]) -> None:
    """Compensation when the database refused the receipt: leave no orphaned object."""
    for f in staged:
        with contextlib.suppress(Exception):  # best effort; the reconciler sweeps what stays
            store.delete(f.object_key)
