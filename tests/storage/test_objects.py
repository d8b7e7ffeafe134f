"""The object store keeps every scanned material intact, or refuses it and keeps nothing.

Each story runs twice: against the filesystem store (embedded mode) and against a real S3 server
(moto_server, distributed mode). "Behind the store's back" means the raw filesystem or a raw boto3
client — the way a disk fault or a careless operator would change the bytes.
"""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from storage.objects import (
    FilesystemStore,
    IntegrityError,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreUnavailable,
    ObjectTooLarge,
    S3Store,
    copy_between,
    open_store,
)
from tests import servers

MiB = 1024 * 1024
#: The S3 store under test uploads in 5 MiB parts (S3's minimum), so a few MiB already go multipart.
S3_PART_SIZE = 5 * MiB


# -- test material ---------------------------------------------------------------------------------


def generated_chunks(size: int, seed: int) -> Iterator[bytes]:
    """Deterministic pseudo-random bytes (a stand-in for a scan), produced piece by piece."""
    rng = random.Random(seed)
    remaining = size
    while remaining:
        n = min(remaining, rng.randint(1, 256 * 1024))
        yield rng.randbytes(n)
        remaining -= n


class GeneratedScan(io.RawIOBase):
    """A file-like upload that never exists whole in memory and answers reads with short pieces,
    like a network upload does."""

    def __init__(self, size: int, seed: int) -> None:
        super().__init__()
        self._chunks = generated_chunks(size, seed)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = next(self._chunks, b"")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def sha256_of_generated(size: int, seed: int) -> str:
    digest = hashlib.sha256()
    for chunk in generated_chunks(size, seed):
        digest.update(chunk)
    return digest.hexdigest()


# -- the two backends ------------------------------------------------------------------------------


@dataclass
class Backend:
    """A store plus the means to look at and damage its storage directly."""

    name: str
    store: ObjectStore
    #: Overwrite the stored bytes of a key without going through the store.
    tamper: Callable[[str, bytes], None]
    #: Everything physically present: files (temporary ones too) or objects and unfinished uploads.
    leftovers: Callable[[], list[str]]
    #: Number of multipart parts the object was uploaded in (None where that does not apply).
    parts_of: Callable[[str], int | None]


def filesystem_backend(root: Path) -> Backend:
    store = open_store(f"file://{root}")

    def tamper(key: str, data: bytes) -> None:
        (root / key).write_bytes(data)

    def leftovers() -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))

    return Backend("filesystem", store, tamper, leftovers, lambda key: None)


def s3_backend(endpoint: str) -> Backend:
    url = servers.s3_store_url(endpoint, part_size=S3_PART_SIZE)
    bucket = urlsplit(url).netloc
    store = open_store(url)
    raw = servers.raw_s3_client(endpoint)

    def tamper(key: str, data: bytes) -> None:
        raw.put_object(Bucket=bucket, Key=key, Body=data)

    def leftovers() -> list[str]:
        if bucket not in {b["Name"] for b in raw.list_buckets()["Buckets"]}:
            return []
        objects = [o["Key"] for o in raw.list_objects_v2(Bucket=bucket).get("Contents", [])]
        uploads = raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted(objects + [f"unfinished multipart upload of {u['Key']}" for u in uploads])

    def parts_of(key: str) -> int | None:
        etag = raw.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        # A multipart object's ETag is "<md5 of part md5s>-<number of parts>".
        return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1

    return Backend("s3", store, tamper, leftovers, parts_of)


@pytest.fixture(params=["filesystem", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "filesystem":
        return filesystem_backend(tmp_path / "objects")
    return s3_backend(request.getfixturevalue("s3_server"))


# -- stories ---------------------------------------------------------------------------------------


def test_a_scan_comes_back_byte_for_byte_with_its_hash(backend: Backend) -> None:
    store = backend.store
    scan = b"%PDF-1.7 scanned business licence " + bytes(range(256)) * 10

    stored = store.put_bytes("cases/TB-2026-000001/materials/licence.pdf", scan)

    assert stored.sha256 == hashlib.sha256(scan).hexdigest()
    assert stored.size == len(scan)
    assert b"".join(store.iter_bytes(stored.key, chunk_size=100)) == scan
    with store.open_read(stored.key) as f:
        assert f.read() == scan
    assert store.sha256(stored.key) == stored.sha256
    assert store.size(stored.key) == len(scan)
    assert store.exists(stored.key)
    assert store.list("cases/TB-2026-000001/") == [stored.key]
    assert store.list("cases/TB-2026-00000") == [stored.key]
    assert store.list("cases/TB-2026-000002/") == []


def test_a_large_scan_is_streamed_in_pieces_and_never_held_whole(backend: Backend) -> None:
    size, seed = 20 * MiB + 12345, 7

    tracemalloc.start()
    try:
        stored = backend.store.put_stream("cases/big/scan.pdf", GeneratedScan(size, seed))  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.size == size
    assert stored.sha256 == sha256_of_generated(size, seed)
    assert backend.store.sha256(stored.key) == stored.sha256
    assert peak < size * 3 // 4, f"uploading {size} bytes peaked at {peak} bytes of Python memory"
    if backend.name == "s3":
        assert backend.parts_of(stored.key) == -(-size // S3_PART_SIZE)


@pytest.mark.parametrize(
    ("size", "limit"),
    [(11, 10), (7 * MiB, 6 * MiB)],  # the second one goes past S3's first part
    ids=["small", "past-first-part"],
)
def test_an_oversized_upload_is_refused_and_leaves_nothing(backend: Backend, size: int, limit: int) -> None:
    with pytest.raises(ObjectTooLarge) as refused:
        backend.store.put_stream("cases/c1/too-big.pdf", GeneratedScan(size, 1), max_bytes=limit)  # type: ignore[arg-type]

    assert refused.value.limit == limit
    assert not backend.store.exists("cases/c1/too-big.pdf")
    assert backend.leftovers() == []


def test_an_upload_exactly_at_the_limit_is_accepted(backend: Backend) -> None:
    stored = backend.store.put_stream("cases/c1/exact.pdf", GeneratedScan(10, 1), max_bytes=10)  # type: ignore[arg-type]

    assert stored.size == 10
    assert backend.leftovers() in (["cases/c1/exact.pdf"], ["cases", "cases/c1", "cases/c1/exact.pdf"])


@pytest.mark.parametrize("size", [1000, 6 * MiB], ids=["small", "multipart"])
def test_bytes_that_differ_from_the_declared_hash_are_refused_and_leave_nothing(backend: Backend, size: int) -> None:
    declared = sha256_of_generated(size, seed=1)

    with pytest.raises(IntegrityError) as refused:
        backend.store.put_stream("cases/c2/scan.pdf", GeneratedScan(size, 2), expected_sha256=declared)  # type: ignore[arg-type]

    assert refused.value.expected == declared
    assert refused.value.actual == sha256_of_generated(size, seed=2)
    assert backend.leftovers() == []

    stored = backend.store.put_stream("cases/c2/scan.pdf", GeneratedScan(size, 1), expected_sha256=declared)  # type: ignore[arg-type]
    assert stored.sha256 == declared


def test_a_copy_is_verified_and_rerunning_it_changes_nothing(backend: Backend) -> None:
    store = backend.store
    original = store.put_bytes("zone-a/TB-1/licence.pdf", b"original scan bytes")

    copied = store.copy(original.key, "zone-b/TB-1/licence.pdf", expected_sha256=original.sha256)
    assert copied.sha256 == original.sha256 and copied.size == original.size
    assert b"".join(store.iter_bytes(copied.key)) == b"original scan bytes"

    # The source is damaged afterwards; a rerun of the step must not read it again, the copy is done.
    backend.tamper(original.key, b"damaged")
    again = store.copy(original.key, copied.key, expected_sha256=original.sha256)
    assert again == copied
    assert store.sha256(copied.key) == original.sha256

    # A fresh copy from the damaged source is caught at the destination and not kept.
    with pytest.raises(IntegrityError):
        store.copy(original.key, "zone-b/TB-1/licence-2.pdf", expected_sha256=original.sha256)
    assert not store.exists("zone-b/TB-1/licence-2.pdf")


def test_a_copy_of_a_missing_object_says_so(backend: Backend) -> None:
    with pytest.raises(ObjectNotFound):
        backend.store.copy("zone-a/none.pdf", "zone-b/none.pdf", expected_sha256="0" * 64)
    assert not backend.store.exists("zone-b/none.pdf")


def test_bytes_changed_behind_the_stores_back_are_detected(backend: Backend) -> None:
    stored = backend.store.put_bytes("cases/c3/id-card.pdf", b"scan of an ID card")

    backend.tamper(stored.key, b"scan of an ID card, altered")

    assert backend.store.sha256(stored.key) != stored.sha256


def test_a_missing_object_is_reported_and_deleting_it_twice_is_fine(backend: Backend) -> None:
    store = backend.store
    stored = store.put_bytes("cases/c4/form.pdf", b"form")

    store.delete(stored.key)
    store.delete(stored.key)

    assert not store.exists(stored.key)
    for read in (store.sha256, store.size, store.iter_bytes, store.open_read):
        with pytest.raises(ObjectNotFound):
            read(stored.key)
    assert backend.leftovers() == []


@pytest.mark.parametrize("key", ["../outside.pdf", "/etc/passwd", "a/../../b.pdf", "a//b.pdf", "a/./b", ""])
def test_keys_that_could_escape_the_store_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(ValueError):
        backend.store.put_bytes(key, b"x")
    assert backend.leftovers() == []


def test_a_symlink_inside_the_filesystem_store_cannot_lead_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "objects", tmp_path / "outside"
    outside.mkdir()
    store = FilesystemStore(root)
    (root / "cases").symlink_to(outside)

    with pytest.raises(ValueError):
        store.put_bytes("cases/x.pdf", b"x")
    assert list(outside.iterdir()) == []


def test_pypdf_reads_a_stored_pdf_through_open_read(backend: Backend) -> None:
    pdf = io.BytesIO()
    page = canvas.Canvas(pdf)
    page.drawString(72, 720, "Receipt TB-2026-000042")
    page.save()
    stored = backend.store.put_bytes("cases/c5/receipt.pdf", pdf.getvalue())

    with backend.store.open_read(stored.key) as f:
        reader = PdfReader(f)
        assert len(reader.pages) == 1
        assert "TB-2026-000042" in reader.pages[0].extract_text()


@pytest.mark.s3
def test_a_copy_to_another_zones_store_is_streamed_verified_and_rerunnable(tmp_path: Path, s3_server: str) -> None:
    zone_a = open_store(f"file://{tmp_path / 'zone-a'}")
    zone_b = open_store(servers.s3_store_url(s3_server))
    size = 6 * MiB
    original = zone_a.put_stream("TB-9/scan.pdf", GeneratedScan(size, 3))  # type: ignore[arg-type]

    copied = copy_between(zone_a, original.key, zone_b, "inbox/TB-9/scan.pdf", expected_sha256=original.sha256)
    assert copied.sha256 == zone_b.sha256(copied.key) == sha256_of_generated(size, 3)

    zone_a.delete(original.key)  # a rerun finds the copy in place and needs no source
    assert copy_between(zone_a, original.key, zone_b, copied.key, expected_sha256=original.sha256) == copied


@pytest.mark.s3
def test_an_unreachable_s3_server_is_reported_clearly_and_quickly() -> None:
    endpoint = f"http://127.0.0.1:{servers.free_port()}"  # nothing listens there
    store = open_store(servers.s3_store_url(endpoint, connect_timeout=1, max_attempts=2))
    assert isinstance(store, S3Store)

    with pytest.raises(ObjectStoreUnavailable) as unavailable:
        store.put_bytes("cases/c6/scan.pdf", b"scan")

    assert endpoint in str(unavailable.value)
    assert "2 attempts" in str(unavailable.value)


@pytest.mark.parametrize(
    "url",
    [
        "file://relative/path",
        "s3://ab?endpoint_url=http://127.0.0.1:9",
        "s3://bucket?conect_timeout=1",
        "s3://bucket?max_attempts=many",
        "ftp://host/x",
    ],
)
def test_a_malformed_storage_url_is_refused_before_anything_happens(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)
