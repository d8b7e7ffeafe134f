"""What a crash leaves half-written is cleaned up by the reconciler and counted (issue 10, point 16).

A process killed mid-upload leaves its spool directory under ``<home>/spool``; one killed mid-write
leaves the filesystem store's ``.tongban-tmp-*`` file (the S3 store: an open multipart upload). The
reconciler removes them once untouched for ``temp_max_age_seconds`` and lists them in its report,
and leaves fresh ones (a request still running) alone.
"""

from __future__ import annotations

import os
import time

from flows.reconcile import reconcile_plain
from storage.objects import FilesystemStore
from storage.objects.base import RESERVED_PREFIX
from tests.app_harness import Tongban

HOUR = 3600.0


def _age(path: os.PathLike[str] | str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_spool_left_by_a_crashed_upload_is_removed_and_counted(tb: Tongban) -> None:
    spool = tb.runtime.settings.spool_dir()
    stale = spool / "tongban-upload-crashed"
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "upload-0").write_bytes(b"%PDF-1.7 half a scan")
    _age(stale / "upload-0", 2 * HOUR)
    _age(stale, 2 * HOUR)
    fresh = spool / "tongban-upload-running"
    fresh.mkdir(exist_ok=True)
    (fresh / "upload-0").write_bytes(b"still arriving")
    other = spool / "not-ours"
    other.mkdir(exist_ok=True)
    _age(other, 2 * HOUR)

    report = reconcile_plain(tb.runtime, temp_max_age_seconds=HOUR)
    assert "spool/tongban-upload-crashed" in report.temp_files_removed
    assert not stale.exists()
    assert fresh.exists() and other.exists()  # a running request's spool, and what is not ours, stay
    assert reconcile_plain(tb.runtime, temp_max_age_seconds=HOUR).temp_files_removed == []  # rerun: nothing


def test_a_half_written_store_file_is_removed_and_counted(tb: Tongban) -> None:
    store = tb.runtime.store
    if not isinstance(store, FilesystemStore):  # the S3 pair: an open multipart upload instead
        _open_multipart_upload_is_aborted(tb)
        return
    folder = store.root / "BJ-ETOWN" / "incoming" / "2026" / "11" / "24"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{RESERVED_PREFIX}crashed"
    partial.write_bytes(b"\0" * 1000)
    _age(partial, 2 * HOUR)
    writing = folder / f"{RESERVED_PREFIX}writing"
    writing.write_bytes(b"\0" * 10)
    report = reconcile_plain(tb.runtime, temp_max_age_seconds=HOUR)
    assert f"store/BJ-ETOWN/incoming/2026/11/24/{RESERVED_PREFIX}crashed" in report.temp_files_removed
    assert not partial.exists() and writing.exists()
    writing.unlink()


def _open_multipart_upload_is_aborted(tb: Tongban) -> None:
    store = tb.runtime.store
    client, bucket, prefix = store._client, store.bucket, store.prefix  # type: ignore[attr-defined]
    key = f"{prefix}BJ-ETOWN/incoming/2026/11/24/crashed.pdf"
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    # (moto's "Initiated" times are not reliable enough to test the age threshold here; the
    # filesystem story above tests that a fresh write is left alone)
    report = reconcile_plain(tb.runtime, temp_max_age_seconds=0)
    assert any(upload_id in n for n in report.temp_files_removed)
    open_ids = [u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    assert upload_id not in open_ids


def test_a_packet_staging_directory_left_by_a_crashed_forward_is_removed_once(tb: Tongban) -> None:
    spool = tb.runtime.settings.spool_dir()
    stale = spool / "tongban-forward-crashed"
    stale.mkdir(parents=True, exist_ok=True)
    _age(stale, 2 * HOUR)
    report = reconcile_plain(tb.runtime, temp_max_age_seconds=HOUR)
    assert report.temp_files_removed.count("spool/tongban-forward-crashed") == 1
