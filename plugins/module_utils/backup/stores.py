# SPDX-License-Identifier: GPL-3.0-or-later
"""Where backups go: any S3-compatible endpoint (through boto3), or a local filesystem.

Both stores write each object once and never overwrite it, and stream: a writer takes
the encrypted bytes as they come and holds at most ``part_size x (concurrency + 1)``
of them in memory.

What boto3's own transfer manager (``upload_fileobj``) lacks, and why the S3 writer
drives the multipart API itself: a per-part checksum that the server checks (CRC32 by
default, as the AWS SDKs do; SHA-256 on request) and the composite checksum compared after
completion; Object Lock retention and a write-once condition on the upload; a retry policy
whose attempts the error message reports; and an abort that runs when the *producer* (the
dump) fails, not only when S3 does. The SHA-256 of the whole object, the one the manifest
keeps and restores check, is computed here in every case.

Request bodies are not hashed a second time for the SigV4 signature (``payload_signing_enabled``
off): every body we send carries its own checksum header, which is signed and which the server
checks, so signing the payload too adds nothing but CPU (botocore already skips it over HTTPS
when such a header is present; over plain HTTP it would hash every part once more).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import os
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from .errors import BackupError

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MiB
S3_MIN_PART_SIZE = 5 * MiB
STORE_TYPES = ("s3", "local")
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


def _crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# The per-part checksums of a multipart upload (S3's flexible checksums): name -> digest of bytes.
PART_CHECKSUMS: dict[str, Callable[[bytes], bytes]] = {"CRC32": _crc32, "SHA256": _sha256}


class _Running:
    """The same checksum over a whole stream, fed piece by piece (to compare a full-object checksum)."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.crc = 0

    def update(self, data: bytes) -> None:
        if self.algorithm != "SHA256":
            self.crc = zlib.crc32(data, self.crc)

    def digest(self, sha256: Any) -> bytes:
        # SHA-256 is the whole-object hash the writer keeps anyway: not computed twice.
        return sha256.digest() if self.algorithm == "SHA256" else self.crc.to_bytes(4, "big")


@dataclass
class Written:
    """What a writer stored: the object's key, size, SHA-256 and where the server confirmed it."""

    key: str
    size: int
    sha256: str
    parts: int = 1
    etag: str | None = None
    version_id: str | None = None
    server_checksum: str | None = None
    checksum_algorithm: str | None = None
    lock_until: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Deleted:
    """The outcome of deleting a set of keys: deleted, kept because locked (with until), failed."""

    deleted: list[str] = field(default_factory=list)
    locked: dict[str, str | None] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Store:
    """The interface of a store; keys are '/'-separated, relative to the store's prefix."""

    kind = "store"
    supports_lock = False

    def describe(self) -> str:
        raise NotImplementedError

    def open_writer(self, key: str, *, lock_until: dt.datetime | None = None, lock_mode: str | None = None) -> Writer:
        raise NotImplementedError

    def put_bytes(
        self, key: str, data: bytes, *, lock_until: dt.datetime | None = None, lock_mode: str | None = None
    ) -> Written:
        writer = self.open_writer(key, lock_until=lock_until, lock_mode=lock_mode)
        try:
            writer.write(data)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    def get_bytes(self, key: str) -> bytes:
        with self.open_reader(key) as reader:
            return reader.read()

    def open_reader(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def list_keys(self, prefix: str) -> Iterator[str]:
        raise NotImplementedError

    def delete(self, keys: list[str]) -> Deleted:
        raise NotImplementedError

    def incomplete(self, prefix: str) -> list[dict[str, Any]]:
        """Writes that started under ``prefix`` and never completed (multipart uploads, partial files)."""
        return []

    def abort_incomplete(self, prefix: str, older_than: float) -> list[dict[str, Any]]:
        """Abort the incomplete writes under ``prefix`` started more than ``older_than`` seconds ago."""
        return []


class Writer:
    """A write-once stream: ``write`` as often as needed, then ``commit`` or ``abort``."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> Written:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- local


class LocalStore(Store):
    """A directory (local disk, NFS): files written under a temporary name, fsynced, linked
    into place with ``link(2)`` (which refuses an existing name, so nothing is overwritten),
    made read-only (0440). Directories are 0700. Object Lock does not exist here."""

    kind = "local"

    def __init__(self, path: str) -> None:
        if not path or not os.path.isabs(path):
            raise BackupError(f"local store: path must be an absolute directory, got {path!r}")
        self.root = path

    def describe(self) -> str:
        return f"file://{self.root}"

    def _path(self, key: str) -> str:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise BackupError(f"local store: invalid key {key!r}")
        return os.path.join(self.root, *parts)

    def open_writer(self, key: str, *, lock_until: dt.datetime | None = None, lock_mode: str | None = None) -> Writer:
        if lock_mode:
            raise BackupError("local store: Object Lock is an S3 feature; set lock_mode only for an S3 store")
        final = self._path(key)
        if os.path.lexists(final):
            raise BackupError(f"local store: {final} exists; backups are never overwritten")
        os.makedirs(os.path.dirname(final), mode=0o700, exist_ok=True)
        return _LocalWriter(key, final)

    @contextlib.contextmanager
    def open_reader(self, key: str) -> Iterator[IO[bytes]]:
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise BackupError(f"local store: {path} does not exist") from None
        with handle:
            yield handle

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self.root
        start = os.path.join(base, *[p for p in prefix.split("/") if p]) if prefix.strip("/") else base
        if not os.path.isdir(start):
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            for name in sorted(filenames):
                if ".partial-" in name:
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), base)
                yield rel.replace(os.sep, "/")

    def delete(self, keys: list[str]) -> Deleted:
        result = Deleted()
        for key in keys:
            path = self._path(key)
            try:
                os.unlink(path)
                result.deleted.append(key)
            except FileNotFoundError:
                result.deleted.append(key)
            except OSError as exc:
                result.failed[key] = str(exc)
                continue
            parent = os.path.dirname(path)
            while parent != self.root and parent.startswith(self.root):
                try:
                    os.rmdir(parent)
                except OSError:
                    break
                parent = os.path.dirname(parent)
        return result

    def incomplete(self, prefix: str) -> list[dict[str, Any]]:
        found = []
        start = os.path.join(self.root, *[p for p in prefix.split("/") if p])
        for dirpath, _dirs, filenames in os.walk(start):
            for name in filenames:
                if ".partial-" in name:
                    path = os.path.join(dirpath, name)
                    found.append({"key": os.path.relpath(path, self.root), "started": os.path.getmtime(path)})
        return found

    def abort_incomplete(self, prefix: str, older_than: float) -> list[dict[str, Any]]:
        gone = []
        for item in self.incomplete(prefix):
            if time.time() - item["started"] >= older_than:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.root, item["key"]))
                gone.append(item)
        return gone


class _LocalWriter(Writer):
    def __init__(self, key: str, final: str) -> None:
        self.key = key
        self.final = final
        directory, name = os.path.split(final)
        self.tmp = os.path.join(directory, f".{name}.partial-{secrets.token_hex(4)}")
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.hash.update(data)
        self.size += len(data)

    def commit(self) -> Written:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        os.chmod(self.tmp, 0o440)
        try:
            os.link(self.tmp, self.final)
        except FileExistsError:
            self.abort()
            raise BackupError(
                f"local store: {self.final} appeared while writing; backups are never overwritten"
            ) from None
        os.unlink(self.tmp)
        dirfd = os.open(os.path.dirname(self.final), os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        return Written(key=self.key, size=self.size, sha256=self.hash.hexdigest())

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


# --------------------------------------------------------------------------- S3


class S3Store(Store):
    """An S3 bucket (AWS S3, GCS interoperability, Ceph RGW, SeaweedFS, versitygw, ...).

    ``lock_mode`` + ``lock_days`` put an Object Lock retention on every object written
    (the bucket must have Object Lock enabled). ``retries`` is the number of further
    attempts of each request after the first fails, ``retry_delay`` the first pause
    (doubled each time). The writer needs s3:PutObject (and s3:PutObjectRetention with
    a lock); only a pruner needs s3:DeleteObject and s3:DeleteObjectVersion.
    """

    kind = "s3"
    supports_lock = True

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        sse: str | None = None,
        kms_key_id: str | None = None,
        storage_class: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        concurrency: int = 4,
        retries: int = 3,
        retry_delay: float = 1.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        verify_tls: bool | str = True,
        conditional_writes: bool = True,
        checksum_algorithm: str = "CRC32",
        client: Any = None,
    ) -> None:
        if not bucket:
            raise BackupError("s3 store: bucket is required")
        if part_size < S3_MIN_PART_SIZE:
            raise BackupError(f"s3 store: part_size must be at least 5 MiB (S3's minimum), got {part_size} bytes")
        if concurrency < 1:
            raise BackupError("s3 store: concurrency must be at least 1")
        if sse not in (None, "AES256", "aws:kms", "aws:kms:dsse"):
            raise BackupError(f"s3 store: sse must be AES256 or aws:kms, got {sse!r}")
        if checksum_algorithm not in PART_CHECKSUMS:
            raise BackupError(
                f"s3 store: checksum_algorithm must be one of {', '.join(PART_CHECKSUMS)}, got {checksum_algorithm!r}"
            )
        self.checksum_algorithm = checksum_algorithm
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.storage_class = storage_class
        self.part_size = part_size
        self.concurrency = concurrency
        self.retries = retries
        self.retry_delay = retry_delay
        self.conditional_writes = conditional_writes
        self._secrets = [secret_key, session_token]
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:  # pragma: no cover - depends on the host
                raise BackupError("s3 store: the Python library boto3 is not installed (python3-boto3)") from None
            options: dict[str, Any] = {
                "retries": {"max_attempts": 1, "mode": "standard"},
                "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "max_pool_connections": max(10, concurrency + 2),
                # Every body we send carries a signed checksum header the server checks (module docstring).
                "s3": {"payload_signing_enabled": False, **({"addressing_style": "path"} if endpoint_url else {})},
            }
            try:
                # botocore >= 1.36 adds CRC32 checksums to every upload by default, which many
                # S3-compatible servers refuse; we send our own SHA-256 instead.
                config = Config(
                    **options,
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
            except TypeError:  # older botocore (Debian bookworm's 1.29): no such options, and no such default
                config = Config(**options)
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region or "us-east-1",
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=session_token,
                config=config,
                verify=verify_tls,
            )
        self.client = client

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}".replace("//" + where, "/" + where)

    def full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def error(self, what: str, exc: BaseException, attempts: int = 1) -> BackupError:
        code = _error_code(exc)
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        from .errors import mask

        text = mask(str(exc), self._secrets)
        return BackupError(f"s3 {what} on {self.describe()} failed{tried}: {code + ': ' if code else ''}{text}")

    def call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """One S3 request with the retry policy: transient errors are retried, others raised at once."""
        delay = self.retry_delay
        for attempt in range(1, self.retries + 2):
            try:
                return fn(**kwargs)
            except Exception as exc:
                if attempt > self.retries or not _transient(exc):
                    raise self.error(what, exc, attempt) from exc
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_args(self, lock_until: dt.datetime | None) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.sse:
            args["ServerSideEncryption"] = self.sse
            if self.kms_key_id:
                args["SSEKMSKeyId"] = self.kms_key_id
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        return args

    def lock_args(self, mode: str | None, lock_until: dt.datetime | None) -> dict[str, Any]:
        if not mode or lock_until is None:
            return {}
        return {"ObjectLockMode": mode, "ObjectLockRetainUntilDate": lock_until}

    def open_writer(self, key: str, *, lock_until: dt.datetime | None = None, lock_mode: str | None = None) -> Writer:
        full = self.full_key(key)
        if self.exists(key):
            raise BackupError(f"s3 store: s3://{self.bucket}/{full} exists; backups are never overwritten")
        return _S3Writer(self, key, full, {**self._write_args(lock_until), **self.lock_args(lock_mode, lock_until)})

    def put_bytes(
        self, key: str, data: bytes, *, lock_until: dt.datetime | None = None, lock_mode: str | None = None
    ) -> Written:
        full = self.full_key(key)
        if self.exists(key):
            raise BackupError(f"s3 store: s3://{self.bucket}/{full} exists; backups are never overwritten")
        args = {
            "Bucket": self.bucket,
            "Key": full,
            "Body": data,
            "ChecksumSHA256": _b64_sha256(data),
            "ContentType": "application/json" if key.endswith(".json") else "application/octet-stream",
            **self._write_args(lock_until),
            **self.lock_args(lock_mode, lock_until),
        }
        if self.conditional_writes:
            args["IfNoneMatch"] = "*"
        try:
            resp = self.call(f"put of {full}", self.client.put_object, **args)
        except BackupError as exc:
            if self.conditional_writes and ("NotImplemented" in str(exc) or "IfNoneMatch" in str(exc)):
                # A server (or an older botocore) without conditional writes: the exists() check stands alone.
                self.conditional_writes = False
                return self.put_bytes(key, data, lock_until=lock_until, lock_mode=lock_mode)
            raise
        return Written(
            key=key,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            etag=resp.get("ETag"),
            version_id=resp.get("VersionId"),
            server_checksum=resp.get("ChecksumSHA256"),
            checksum_algorithm="SHA256",
            lock_until=iso(lock_until) if lock_mode else None,
        )

    @contextlib.contextmanager
    def open_reader(self, key: str) -> Iterator[IO[bytes]]:
        full = self.full_key(key)
        resp = self.call(f"get of {full}", self.client.get_object, Bucket=self.bucket, Key=full)
        body = resp["Body"]
        try:
            yield body
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        full = self.full_key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=full)
            return True
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self.error(f"head of {full}", exc) from exc

    def head(self, key: str) -> dict[str, Any]:
        full = self.full_key(key)
        return self.call(f"head of {full}", self.client.head_object, Bucket=self.bucket, Key=full)

    def list_keys(self, prefix: str) -> Iterator[str]:
        full = (
            self.full_key(prefix.strip("/")) + "/" if prefix.strip("/") else (self.prefix + "/" if self.prefix else "")
        )
        token = None
        while True:
            args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full}
            if token:
                args["ContinuationToken"] = token
            resp = self.call(f"list of {full or '/'}", self.client.list_objects_v2, **args)
            for item in resp.get("Contents", []):
                yield self._rel(item["Key"])
            if not resp.get("IsTruncated"):
                return
            token = resp.get("NextContinuationToken")

    def delete(self, keys: list[str]) -> Deleted:
        """Delete every version of each key; a version under Object Lock is reported in ``locked``."""
        result = Deleted()
        for key in keys:
            full = self.full_key(key)
            try:
                versions = self._versions(full)
            except BackupError as exc:
                result.failed[key] = str(exc)
                continue
            locked_until: str | None = None
            locked = False
            failed = None
            for version in versions:
                try:
                    self.call(f"delete of {full}", self.client.delete_object, Bucket=self.bucket, Key=full, **version)
                except BackupError as exc:
                    if any(word in str(exc) for word in ("AccessDenied", "WORM", "ObjectLocked", "retention")):
                        locked = True
                        with contextlib.suppress(Exception):
                            head = self.client.head_object(Bucket=self.bucket, Key=full, **version)
                            locked_until = iso(head.get("ObjectLockRetainUntilDate"))
                    else:
                        failed = str(exc)
            if locked:
                result.locked[key] = locked_until
            elif failed:
                result.failed[key] = failed
            else:
                result.deleted.append(key)
        return result

    def _versions(self, full: str) -> list[dict[str, str]]:
        try:
            resp = self.call(
                f"list of versions of {full}", self.client.list_object_versions, Bucket=self.bucket, Prefix=full
            )
        except BackupError:
            return [{}]
        found = [
            {"VersionId": v["VersionId"]}
            for kind in ("Versions", "DeleteMarkers")
            for v in resp.get(kind, [])
            if v.get("Key") == full and v.get("VersionId") not in (None, "null")
        ]
        return found or [{}]

    def incomplete(self, prefix: str) -> list[dict[str, Any]]:
        full = self.full_key(prefix.strip("/")) + "/"
        resp = self.call(
            f"list of multipart uploads under {full}",
            self.client.list_multipart_uploads,
            Bucket=self.bucket,
            Prefix=full,
        )
        return [
            {"key": self._rel(u["Key"]), "upload_id": u["UploadId"], "started": u["Initiated"].timestamp()}
            for u in resp.get("Uploads", [])
        ]

    def abort_incomplete(self, prefix: str, older_than: float) -> list[dict[str, Any]]:
        gone = []
        for item in self.incomplete(prefix):
            if time.time() - item["started"] >= older_than:
                full = self.full_key(item["key"])
                self.call(
                    f"abort of the multipart upload of {full}",
                    self.client.abort_multipart_upload,
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=item["upload_id"],
                )
                gone.append(item)
        return gone


class _S3Writer(Writer):
    """Multipart upload with bounded memory: at most ``concurrency`` parts in flight plus one filling."""

    def __init__(self, store: S3Store, key: str, full: str, extra: dict[str, Any]) -> None:
        self.store = store
        self.key = key
        self.full = full
        self.lock_until = iso(extra.get("ObjectLockRetainUntilDate")) if extra.get("ObjectLockMode") else None
        self.algorithm = store.checksum_algorithm
        self.part_checksum = PART_CHECKSUMS[self.algorithm]
        self.field = f"Checksum{self.algorithm}"  # ChecksumCRC32 / ChecksumSHA256 in S3's API
        resp = store.call(
            f"start of the multipart upload of {full}",
            store.client.create_multipart_upload,
            Bucket=store.bucket,
            Key=full,
            ChecksumAlgorithm=self.algorithm,
            ContentType="application/octet-stream",
            **extra,
        )
        self.upload_id = resp["UploadId"]
        self.buffer = bytearray()
        self.hash = hashlib.sha256()
        self.running = _Running(self.algorithm)
        self.size = 0
        self.part_digests: list[bytes] = []
        self.futures: list[Future[dict[str, Any]]] = []
        self.slots = threading.BoundedSemaphore(store.concurrency)
        self.pool = ThreadPoolExecutor(max_workers=store.concurrency, thread_name_prefix="opsdeck-s3")
        self.failed: BaseException | None = None
        self.done = False

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.running.update(data)
        self.size += len(data)
        self.buffer += data
        while len(self.buffer) >= self.store.part_size:
            # one copy (slicing the bytearray first would make two); the view is gone before the del
            chunk = bytes(memoryview(self.buffer)[: self.store.part_size])
            del self.buffer[: self.store.part_size]
            self._submit(chunk)

    def _submit(self, chunk: bytes) -> None:
        self._raise_failed()
        number = len(self.part_digests) + 1
        digest = self.part_checksum(chunk)
        self.part_digests.append(digest)
        self.slots.acquire()
        self._raise_failed()
        future = self.pool.submit(self._upload, number, chunk, base64.b64encode(digest).decode())
        future.add_done_callback(self._settled)
        self.futures.append(future)

    def _settled(self, future: Future[dict[str, Any]]) -> None:
        self.slots.release()
        exc = future.exception()
        if exc is not None and self.failed is None:
            self.failed = exc

    def _raise_failed(self) -> None:
        if self.failed is not None:
            raise self.failed

    def _upload(self, number: int, chunk: bytes, checksum: str) -> dict[str, Any]:
        store = self.store
        resp = store.call(
            f"upload of part {number} of {self.full}",
            store.client.upload_part,
            Bucket=store.bucket,
            Key=self.full,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=chunk,
            **{self.field: checksum},
        )
        echoed = resp.get(self.field)
        if echoed and echoed != checksum:
            raise BackupError(
                f"s3 upload of part {number} of {self.full}: the server computed {self.algorithm} {echoed}, "
                f"we sent {checksum}"
            )
        return {"PartNumber": number, "ETag": resp["ETag"], self.field: checksum}

    def commit(self) -> Written:
        if self.buffer or not self.part_digests:
            chunk = bytes(self.buffer)
            self.buffer = bytearray()
            self._submit(chunk)
        parts = [f.result() for f in self.futures]
        self.pool.shutdown(wait=True)
        store = self.store
        args: dict[str, Any] = {
            "Bucket": store.bucket,
            "Key": self.full,
            "UploadId": self.upload_id,
            "MultipartUpload": {"Parts": parts},
        }
        resp = store.call(
            f"completion of the multipart upload of {self.full}", store.client.complete_multipart_upload, **args
        )
        self.done = True
        composite = base64.b64encode(self.part_checksum(b"".join(self.part_digests))).decode()
        whole = base64.b64encode(self.running.digest(self.hash)).decode()
        expected = f"{composite}-{len(self.part_digests)}"
        head = store.call(
            f"head of {self.full}", store.client.head_object, Bucket=store.bucket, Key=self.full, ChecksumMode="ENABLED"
        )
        if head.get("ContentLength") != self.size:
            raise BackupError(
                f"s3 store: s3://{store.bucket}/{self.full} holds {head.get('ContentLength')} bytes, "
                f"we sent {self.size}"
            )
        server = head.get(self.field) or resp.get(self.field)
        # A composite checksum (of the parts' checksums, "-N"), or one of the full object.
        if server and server.split("-")[0] not in (composite, whole):
            raise BackupError(
                f"s3 store: the {self.algorithm} checksum of s3://{store.bucket}/{self.full} is {server}, "
                f"we computed {expected} (or {whole} for the whole object)"
            )
        return Written(
            key=self.key,
            size=self.size,
            sha256=self.hash.hexdigest(),
            parts=len(self.part_digests),
            etag=resp.get("ETag"),
            version_id=resp.get("VersionId") or head.get("VersionId"),
            server_checksum=server,
            checksum_algorithm=self.algorithm,
            lock_until=self.lock_until,
        )

    def abort(self) -> None:
        """Stop the uploads and abort the multipart upload (retried; a later run cleans up what remains)."""
        for future in self.futures:
            future.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.done:
            return
        store = self.store
        store.call(
            f"abort of the multipart upload of {self.full}",
            store.client.abort_multipart_upload,
            Bucket=store.bucket,
            Key=self.full,
            UploadId=self.upload_id,
        )
        self.done = True


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")) or str(
            response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        )
    return ""


def _transient(exc: BaseException) -> bool:
    """Connection problems, throttling and 5xx are worth another attempt; 4xx are not."""
    name = type(exc).__name__
    if name in ("EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError"):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = response.get("Error", {}).get("Code", "")
        return status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout", "InternalError")
    return "Could not connect" in str(exc) or "Connection was closed" in str(exc)


def make_store(spec: dict[str, Any]) -> Store:
    """A store from its configuration mapping (the shape of ``opsdeck_backup_store``)."""
    kind = spec.get("type", "s3")
    if kind == "local":
        return LocalStore(spec.get("path") or "")
    if kind != "s3":
        raise BackupError(f"store: type must be one of {', '.join(STORE_TYPES)}, got {kind!r}")
    return S3Store(
        spec.get("bucket") or "",
        prefix=spec.get("prefix") or "",
        endpoint_url=spec.get("endpoint_url"),
        region=spec.get("region"),
        access_key=spec.get("access_key"),
        secret_key=spec.get("secret_key"),
        session_token=spec.get("session_token"),
        sse=spec.get("sse"),
        kms_key_id=spec.get("kms_key_id"),
        storage_class=spec.get("storage_class"),
        part_size=int(spec.get("part_size_mb") or DEFAULT_PART_SIZE // MiB) * MiB,
        concurrency=int(spec.get("concurrency") or 4),
        retries=int(spec["retries"]) if spec.get("retries") is not None else 3,
        retry_delay=float(spec["retry_delay"]) if spec.get("retry_delay") is not None else 1.0,
        verify_tls=spec.get("ca_bundle") or spec.get("verify_tls", True),
        checksum_algorithm=spec.get("checksum_algorithm") or "CRC32",
    )
