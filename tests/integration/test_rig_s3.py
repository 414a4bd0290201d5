# SPDX-License-Identifier: GPL-3.0-or-later
"""The rig's S3 server (versitygw, posix backend) does what the backup engine relies on.

Seen from a boto3 client, as the engine sees it: Object Lock retention in COMPLIANCE and
GOVERNANCE mode, multipart uploads with SHA256 checksums per part, unfinished uploads
listed and aborted, conditional writes (If-None-Match), and a stop and start that keeps data.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
from datetime import UTC, datetime, timedelta

import boto3
import docker
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import wait_exec, wait_http

PART = 5 * 1024 * 1024  # S3's smallest part (except the last)


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def _future(days: int = 1) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_bucket_has_object_lock_and_versioning(s3_server, s3_bucket):
    s3 = s3_server.client()
    conf = s3.get_object_lock_configuration(Bucket=s3_bucket)["ObjectLockConfiguration"]
    assert conf["ObjectLockEnabled"] == "Enabled"
    assert s3.get_bucket_versioning(Bucket=s3_bucket)["Status"] == "Enabled"


def test_wrong_secret_is_refused(s3_server, s3_bucket):
    intruder = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key="not-the-secret",
        region_name=s3_server.region,
    )
    with pytest.raises(ClientError) as exc:
        intruder.list_objects_v2(Bucket=s3_bucket)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_compliance_retention_refuses_delete_of_the_version(s3_server, s3_bucket):
    s3 = s3_server.client()
    until = _future()
    put = s3.put_object(
        Bucket=s3_bucket, Key="db/1.dump", Body=b"dump", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
    )
    version = put["VersionId"]
    head = s3.head_object(Bucket=s3_bucket, Key="db/1.dump", VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs((head["ObjectLockRetainUntilDate"] - until).total_seconds()) < 2

    for bypass in (False, True):  # COMPLIANCE: not even a governance bypass may delete it
        with pytest.raises(ClientError) as exc:
            s3.delete_object(Bucket=s3_bucket, Key="db/1.dump", VersionId=version, BypassGovernanceRetention=bypass)
        assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # nor may its retention be shortened
        s3.put_object_retention(
            Bucket=s3_bucket,
            Key="db/1.dump",
            VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=1)},
        )
    assert _code(exc) == "AccessDenied"
    # A delete without a version only adds a delete marker; the locked version stays readable.
    assert s3.delete_object(Bucket=s3_bucket, Key="db/1.dump")["DeleteMarker"] is True
    assert s3.get_object(Bucket=s3_bucket, Key="db/1.dump", VersionId=version)["Body"].read() == b"dump"


def test_governance_retention_yields_only_to_a_bypass(s3_server, s3_bucket):
    s3 = s3_server.client()
    put = s3.put_object(
        Bucket=s3_bucket, Key="gov", Body=b"g", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_future()
    )
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=s3_bucket, Key="gov", VersionId=put["VersionId"])
    assert _code(exc) == "AccessDenied"
    s3.delete_object(Bucket=s3_bucket, Key="gov", VersionId=put["VersionId"], BypassGovernanceRetention=True)
    versions = s3.list_object_versions(Bucket=s3_bucket, Prefix="gov").get("Versions", [])
    assert versions == []


def test_multipart_upload_with_sha256_checksums_and_retention(s3_server, s3_bucket):
    s3 = s3_server.client()
    parts_data = [os.urandom(PART), os.urandom(1000)]
    mpu = s3.create_multipart_upload(
        Bucket=s3_bucket,
        Key="big.zst.age",
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=_future(),
    )
    assert mpu["ChecksumAlgorithm"] == "SHA256"
    parts = []
    for number, data in enumerate(parts_data, start=1):
        digest = _sha256_b64(data)
        up = s3.upload_part(
            Bucket=s3_bucket,
            Key="big.zst.age",
            UploadId=mpu["UploadId"],
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=digest,
        )
        assert up["ChecksumSHA256"] == digest
        parts.append({"PartNumber": number, "ETag": up["ETag"], "ChecksumSHA256": digest})
    done = s3.complete_multipart_upload(
        Bucket=s3_bucket, Key="big.zst.age", UploadId=mpu["UploadId"], MultipartUpload={"Parts": parts}
    )
    # The composite checksum: SHA256 of the parts' digests, suffixed by the part count.
    composite = _sha256_b64(b"".join(hashlib.sha256(d).digest() for d in parts_data)) + f"-{len(parts_data)}"
    assert done["ChecksumSHA256"] == composite

    head = s3.head_object(Bucket=s3_bucket, Key="big.zst.age", ChecksumMode="ENABLED")
    assert head["ContentLength"] == sum(len(d) for d in parts_data)
    assert head["ChecksumSHA256"] == composite
    assert head["ObjectLockMode"] == "COMPLIANCE"
    body = s3.get_object(Bucket=s3_bucket, Key="big.zst.age")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(parts_data)).digest()
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=s3_bucket, Key="big.zst.age", VersionId=done["VersionId"])
    assert _code(exc) == "AccessDenied"


def test_a_part_whose_sha256_does_not_match_is_refused(s3_server, s3_bucket):
    s3 = s3_server.client()
    mpu = s3.create_multipart_upload(Bucket=s3_bucket, Key="bad", ChecksumAlgorithm="SHA256")
    with pytest.raises(ClientError) as exc:
        s3.upload_part(
            Bucket=s3_bucket,
            Key="bad",
            UploadId=mpu["UploadId"],
            PartNumber=1,
            Body=b"what was sent",
            ChecksumSHA256=_sha256_b64(b"what was meant"),
        )
    assert _code(exc) == "BadDigest"
    s3.abort_multipart_upload(Bucket=s3_bucket, Key="bad", UploadId=mpu["UploadId"])


def test_unfinished_upload_is_listed_and_abort_removes_it(s3_server, s3_bucket):
    s3 = s3_server.client()
    mpu = s3.create_multipart_upload(Bucket=s3_bucket, Key="half", ChecksumAlgorithm="SHA256")
    data = b"x" * 1024
    s3.upload_part(
        Bucket=s3_bucket,
        Key="half",
        UploadId=mpu["UploadId"],
        PartNumber=1,
        Body=data,
        ChecksumSHA256=_sha256_b64(data),
    )
    uploads = s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("half", mpu["UploadId"])]
    s3.abort_multipart_upload(Bucket=s3_bucket, Key="half", UploadId=mpu["UploadId"])
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=s3_bucket, Key="half", UploadId=mpu["UploadId"])
    assert _code(exc) == "NoSuchUpload"
    assert s3.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_if_none_match_refuses_to_overwrite_an_existing_key(s3_server, s3_bucket):
    """Observed on versitygw v1.8.0: the conditional write is enforced (412 PreconditionFailed)."""
    s3 = s3_server.client()
    s3.put_object(Bucket=s3_bucket, Key="manifest.json", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=s3_bucket, Key="manifest.json", Body=b"second", IfNoneMatch="*")
    assert _code(exc) == "PreconditionFailed"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=s3_bucket, Key="manifest.json")["Body"].read() == b"first"


def test_stop_refuses_connections_and_start_keeps_the_data(s3_server, s3_bucket):
    s3 = s3_server.client()
    s3.put_object(Bucket=s3_bucket, Key="kept", Body=b"still here")
    port = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    s3_server.stop()
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        s3_server.start()
    assert s3_server.endpoint_url.endswith(f":{port}")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="kept")["Body"].read() == b"still here"


def test_s3_image_serves_object_lock_with_credentials_from_the_environment(images, run_container):
    """The image for molecule hosts: same server, root credentials from S3_ACCESS_KEY/S3_SECRET_KEY."""
    access, secret = "it-image-key", "it-image-secret-0123456789"
    started = run_container(images["s3"], environment={"S3_ACCESS_KEY": access, "S3_SECRET_KEY": secret})
    _status, body = wait_http(f"http://{started.ip}:9000/health")
    assert body == "OK"
    rc, out = started.exec(["id", "-u"])
    assert rc == 0 and out.strip() != "0"
    cmdline = wait_exec(started, ["cat", "/proc/1/cmdline"])
    assert "versitygw" in cmdline and secret not in cmdline and access not in cmdline

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{started.ip}:9000",
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="image-bucket", ObjectLockEnabledForBucket=True)
    put = s3.put_object(
        Bucket="image-bucket", Key="k", Body=b"v", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=_future()
    )
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket="image-bucket", Key="k", VersionId=put["VersionId"])
    assert _code(exc) == "AccessDenied"
    # The engine reports the image's health check passing.
    for _attempt in range(40):
        started.container.reload()
        if started.container.attrs["State"].get("Health", {}).get("Status") == "healthy":
            break
        time.sleep(0.5)
    assert started.container.attrs["State"]["Health"]["Status"] == "healthy"


def test_s3_image_refuses_to_start_without_credentials(images, docker_client):
    with pytest.raises(docker.errors.ContainerError) as exc:
        docker_client.containers.run(images["s3"], remove=True, labels={"opsdeck.test": "1"})
    assert exc.value.exit_status == 1
    assert b"set S3_ACCESS_KEY and S3_SECRET_KEY" in exc.value.stderr
