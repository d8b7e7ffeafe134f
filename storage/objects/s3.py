"""S3-protocol object store for the distributed mode (MinIO, Ceph, AWS — anything with the S3 API).

Writes are streamed in parts of ``part_size`` bytes (multipart upload once a file outgrows one part),
hashed as they go, and read back after completion; a failed, oversized or mismatching write aborts
the multipart upload or deletes the object, so nothing is left behind. Transient faults are retried
by botocore (standard mode) and then surface as ``ObjectStoreUnavailable`` naming the endpoint.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import logging
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from storage.objects.base import (
    CHUNK_SIZE,
    IntegrityError,
    ObjectNotFound,
    ObjectStoreError,
    ObjectStoreUnavailable,
    ObjectTooLarge,
    StoredObject,
    check_key,
    hash_chunks,
    normalise_sha256,
)

log = logging.getLogger(__name__)

#: S3's smallest allowed part (all but the last) is 5 MiB.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: ``open_read`` keeps up to this much in memory, then spills to a temporary file.
SPOOL_MAX_BYTES = 16 * 1024 * 1024

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}


class S3Store:
    """Objects in one bucket (optionally under a key prefix) of an S3-compatible server."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        part_size: int = DEFAULT_PART_SIZE,
        addressing_style: str | None = None,
    ) -> None:
        if not 3 <= len(bucket) <= 63:
            raise ValueError(f"S3 bucket names have 3 to 63 characters, got {bucket!r}")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum part)")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.part_size = part_size
        self.max_attempts = max_attempts
        # boto3 reads the usual AWS_* variables and profiles itself when no keys are given.
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self.region = session.region_name or "us-east-1"
        self.endpoint_url = endpoint_url
        config = Config(
            region_name=self.region,
            s3={"addressing_style": addressing_style or ("path" if endpoint_url else "auto")},
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # botocore >= 1.36 adds CRC checksums to every request by default; several S3-compatible
            # servers reject them. We verify SHA-256 ourselves after every write.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    @property
    def where(self) -> str:
        """The endpoint and bucket, for messages (never the credentials)."""
        endpoint = self.endpoint_url or f"AWS S3 ({self.region})"
        return f"S3 endpoint {endpoint}, bucket {self.bucket!r}"

    def __repr__(self) -> str:
        return f"S3Store({self.where}, prefix={self.prefix!r})"

    # -- writing ---------------------------------------------------------------------------------

    def put_stream(self, key: str, stream: BinaryIO, *, max_bytes: int | None = None,
                   expected_sha256: str | None = None) -> StoredObject:
        s3_key = self._s3_key(key)
        expected = normalise_sha256(expected_sha256) if expected_sha256 is not None else None
        self._ensure_bucket()
        digest = hashlib.sha256()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            while True:
                part = io.BytesIO()
                filled = 0
                while filled < self.part_size:
                    chunk = stream.read(min(CHUNK_SIZE, self.part_size - filled))
                    if not chunk:
                        break
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ObjectTooLarge(key, max_bytes)
                    digest.update(chunk)
                    part.write(chunk)
                    filled += len(chunk)
                last = filled < self.part_size
                part.seek(0)
                if upload_id is None and last:
                    self._check_expected(key, expected, digest.hexdigest())
                    with self._calls("put", key):
                        self._client.put_object(Bucket=self.bucket, Key=s3_key, Body=part)
                    break
                if upload_id is None:
                    with self._calls("start multipart upload", key):
                        upload_id = self._client.create_multipart_upload(Bucket=self.bucket, Key=s3_key)["UploadId"]
                if filled:
                    number = len(parts) + 1
                    with self._calls(f"upload part {number}", key):
                        response = self._client.upload_part(
                            Bucket=self.bucket, Key=s3_key, UploadId=upload_id, PartNumber=number, Body=part
                        )
                    parts.append({"PartNumber": number, "ETag": response["ETag"]})
                if last:
                    self._check_expected(key, expected, digest.hexdigest())
                    with self._calls("complete multipart upload", key):
                        self._client.complete_multipart_upload(
                            Bucket=self.bucket,
                            Key=s3_key,
                            UploadId=upload_id,
                            MultipartUpload={"Parts": parts},
                        )
                    upload_id = None
                    break
        except BaseException:
            if upload_id is not None:
                self._abort(s3_key, upload_id)
            raise
        written = digest.hexdigest()
        self._verify_or_delete(key, written, size, "the bytes read back differ from the bytes written")
        return StoredObject(key=key, size=size, sha256=written)

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        return self.put_stream(key, io.BytesIO(data))

    def copy(self, src_key: str, dst_key: str, *, expected_sha256: str) -> StoredObject:
        expected = normalise_sha256(expected_sha256)
        src, dst = self._s3_key(src_key), self._s3_key(dst_key)
        self._ensure_bucket()
        with contextlib.suppress(ObjectNotFound):
            actual, size = self._hash(dst_key)
            if actual == expected:
                return StoredObject(key=dst_key, size=size, sha256=expected)
        with self._calls("copy", src_key, read=True):
            # Server-side copy (single request, fine up to S3's 5 GB limit; uploads are far smaller).
            self._client.copy_object(Bucket=self.bucket, Key=dst, CopySource={"Bucket": self.bucket, "Key": src})
        size = self._verify_or_delete(dst_key, expected, None, f"copied from {src_key!r}")
        return StoredObject(key=dst_key, size=size, sha256=expected)

    def delete(self, key: str) -> None:
        s3_key = self._s3_key(key)
        self._ensure_bucket()
        with self._calls("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=s3_key)

    # -- reading ---------------------------------------------------------------------------------

    def iter_bytes(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        s3_key = self._s3_key(key)
        self._ensure_bucket()
        with self._calls("get", key, read=True):
            body = self._client.get_object(Bucket=self.bucket, Key=s3_key)["Body"]
        return self._iter_body(key, body, chunk_size)

    def open_read(self, key: str) -> BinaryIO:
        # pypdf seeks; a spooled copy is seekable and spills large files to disk, not to memory.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115 - caller closes
        try:
            for chunk in self.iter_bytes(key):
                spool.write(chunk)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return cast(BinaryIO, spool)

    def sha256(self, key: str) -> str:
        return self._hash(key)[0]

    def size(self, key: str) -> int:
        s3_key = self._s3_key(key)
        self._ensure_bucket()
        with self._calls("head", key, read=True):
            return int(self._client.head_object(Bucket=self.bucket, Key=s3_key)["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        self._ensure_bucket()
        keys: list[str] = []
        with self._calls("list"):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return sorted(keys)

    # -- housekeeping ----------------------------------------------------------------------------

    def remove_stale_temp_files(self, *, older_than: float) -> builtins.list[str]:
        """Abort the multipart uploads a crash left open (started more than ``older_than`` seconds ago;
        their parts are billed storage nobody can see); return their keys."""
        self._ensure_bucket()
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        removed: builtins.list[str] = []
        with self._calls("list multipart uploads"):
            paginator = self._client.get_paginator("list_multipart_uploads")
            pages = list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix))
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Initiated"] > cutoff:
                    continue
                self._abort(upload["Key"], upload["UploadId"])
                removed.append(f"{upload['Key'][len(self.prefix):]} (multipart upload {upload['UploadId']})")
        return sorted(removed)

    # -- helpers ---------------------------------------------------------------------------------

    def _s3_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _hash(self, key: str) -> tuple[str, int]:
        return hash_chunks(self.iter_bytes(key))

    def _iter_body(self, key: str, body: Any, chunk_size: int) -> Iterator[bytes]:
        try:
            with self._calls("read", key, read=True):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    @staticmethod
    def _check_expected(key: str, expected: str | None, actual: str) -> None:
        if expected is not None and actual != expected:
            raise IntegrityError(key, expected, actual, "the received bytes differ from the declared hash")

    def _verify_or_delete(self, key: str, expected: str, size: int | None, detail: str) -> int:
        """Hash checked after the write: read the object back; if it is wrong, it must not stay."""
        actual, actual_size = self._hash(key)
        if actual != expected or (size is not None and actual_size != size):
            self.delete(key)
            raise IntegrityError(key, expected, actual, detail)
        return actual_size

    def _abort(self, s3_key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=s3_key, UploadId=upload_id)
        except Exception:  # the original error matters more; a bucket lifecycle rule cleans up the rest
            log.warning(
                "could not abort multipart upload %s of %r at %s",
                upload_id,
                s3_key,
                self.where,
                exc_info=True,
            )

    def _ensure_bucket(self) -> None:
        """Create the bucket on first use if it is missing (lazily: opening a store never blocks)."""
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                with self._calls("check bucket"):
                    self._client.head_bucket(Bucket=self.bucket)
            except ObjectStoreError as error:
                cause = error.__cause__
                status = _status(cause) if isinstance(cause, ClientError) else None
                if status == 403:
                    pass  # may exist but we may not HEAD it; let the real operation tell
                elif status == 404:
                    self._create_bucket()
                else:
                    raise
            self._bucket_ready = True

    def _create_bucket(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            with self._calls("create bucket"):
                self._client.create_bucket(**kwargs)
        except ObjectStoreError as error:
            cause = error.__cause__
            if not (isinstance(cause, ClientError) and _code(cause) == "BucketAlreadyOwnedByYou"):
                raise

    @contextlib.contextmanager
    def _calls(self, action: str, key: str | None = None, *, read: bool = False) -> Iterator[None]:
        """Translate botocore's errors into the store's: not found (reads only), unavailable (after
        botocore's retries), anything else."""
        try:
            yield
        except ClientError as error:
            code, status = _code(error), _status(error)
            message = error.response.get("Error", {}).get("Message", "")
            if read and key is not None and (code in _NOT_FOUND_CODES or status == 404):
                raise ObjectNotFound(key) from error
            if (status is not None and status >= 500) or code in _TRANSIENT_CODES:
                raise ObjectStoreUnavailable(
                    f"{self.where} is unavailable: {action} failed after {self.max_attempts} attempts "
                    f"with {status} {code}: {message}"
                ) from error
            target = f" of {key!r}" if key is not None else ""
            raise ObjectStoreError(f"{self.where}: {action}{target} failed with {status} {code}: {message}") from error
        except (BotoConnectionError, HTTPClientError) as error:
            raise ObjectStoreUnavailable(
                f"{self.where} is unavailable: {action} failed after {self.max_attempts} attempts: {error}"
            ) from error


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None
