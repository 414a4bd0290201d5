# SPDX-License-Identifier: GPL-3.0-or-later
"""The S3 writer's checksums, against a recording client (the real server: tests/integration)."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import stores
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError

MiB = stores.MiB


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Recorder:
    """Answers the multipart calls as S3 does, combining part checksums into a composite one."""

    def __init__(self, algorithm: str, tamper: bool = False) -> None:
        self.algorithm = algorithm
        self.tamper = tamper
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.body = bytearray()

    def _digest(self, data: bytes) -> bytes:
        if self.algorithm == "CRC32":
            return zlib.crc32(data).to_bytes(4, "big")
        return hashlib.sha256(data).digest()

    def head_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("head_object", kw))
        if "ChecksumMode" not in kw:
            raise type("NoSuchKey", (Exception,), {"response": {"Error": {"Code": "404"}}})()
        return {"ContentLength": len(self.body), f"Checksum{self.algorithm}": self.composite}

    def create_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("create_multipart_upload", kw))
        return {"UploadId": "u1"}

    def upload_part(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("upload_part", kw))
        self.body += kw["Body"]
        return {"ETag": f"e{kw['PartNumber']}", f"Checksum{self.algorithm}": kw[f"Checksum{self.algorithm}"]}

    def complete_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("complete_multipart_upload", kw))
        parts = kw["MultipartUpload"]["Parts"]
        joined = b"".join(base64.b64decode(p[f"Checksum{self.algorithm}"]) for p in parts)
        digest = self._digest(joined + (b"x" if self.tamper else b""))
        self.composite = f"{b64(digest)}-{len(parts)}"
        return {"ETag": "whole", f"Checksum{self.algorithm}": self.composite}


def write(algorithm: str, data: bytes, tamper: bool = False) -> tuple[Recorder, stores.Written]:
    client = Recorder(algorithm, tamper)
    store = stores.S3Store("b", part_size=5 * MiB, concurrency=2, checksum_algorithm=algorithm, client=client)
    writer = store.open_writer("app/db/1/data.zst.age")
    for start in range(0, len(data), MiB):
        writer.write(data[start : start + MiB])
    return client, writer.commit()


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_each_part_carries_its_checksum_and_the_composite_is_checked(algorithm):
    data = bytes(range(256)) * (12 * MiB // 256)  # 12 MiB: parts of 5, 5 and 2 MiB
    client, written = write(algorithm, data)

    created = next(kw for name, kw in client.calls if name == "create_multipart_upload")
    assert created["ChecksumAlgorithm"] == algorithm
    parts = [kw for name, kw in client.calls if name == "upload_part"]
    assert [len(p["Body"]) for p in parts] == [5 * MiB, 5 * MiB, 2 * MiB]
    digest = client._digest
    assert [p[f"Checksum{algorithm}"] for p in parts] == [b64(digest(p["Body"])) for p in parts]
    # the manifest's hash is always the SHA-256 of the whole object, whatever the parts carry
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert written.parts == 3
    assert written.checksum_algorithm == algorithm
    assert written.server_checksum == client.composite


def test_a_composite_checksum_that_differs_from_ours_fails_the_upload():
    with pytest.raises(BackupError, match=r"the CRC32 checksum of s3://b/app/db/1/data.zst.age is .* we computed"):
        write("CRC32", b"z" * (6 * MiB), tamper=True)


def test_an_unknown_checksum_algorithm_is_refused():
    with pytest.raises(BackupError, match="checksum_algorithm must be one of CRC32, SHA256, got 'MD5'"):
        stores.S3Store("b", checksum_algorithm="MD5", client=object())


def test_bodies_are_not_signed_a_second_time():
    """Real boto3 client: SigV4 payload signing is off (our signed checksum header guards each body)."""
    store = stores.S3Store("b", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="s")
    s3 = store.client.meta.config.s3
    assert s3["payload_signing_enabled"] is False
    assert s3["addressing_style"] == "path"
