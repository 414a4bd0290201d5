# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument specs shared by the backup modules (documented once in plugins/doc_fragments/backup.py),
and the step from module parameters to the engine's objects (plugins/module_utils/backup/)."""

from __future__ import annotations

from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.backup.config import job_from
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.pipeline import Identity
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.sources import ENGINES, connection_from
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.stores import make_store

STORE_SPEC: dict[str, Any] = {
    "type": {"type": "str", "choices": ["s3", "local"], "default": "s3"},
    "bucket": {"type": "str"},
    "prefix": {"type": "str", "default": ""},
    "endpoint_url": {"type": "str"},
    "region": {"type": "str"},
    "access_key": {"type": "str", "no_log": True},
    "secret_key": {"type": "str", "no_log": True},
    "session_token": {"type": "str", "no_log": True},
    "sse": {"type": "str", "choices": ["AES256", "aws:kms"]},
    "kms_key_id": {"type": "str", "no_log": False},
    "storage_class": {"type": "str"},
    "lock_mode": {"type": "str", "choices": ["GOVERNANCE", "COMPLIANCE"]},
    "lock_days": {"type": "int", "default": 0},
    "part_size_mb": {"type": "int", "default": 16},
    "concurrency": {"type": "int", "default": 4},
    "checksum_algorithm": {"type": "str", "choices": ["CRC32", "SHA256"], "default": "CRC32"},
    "retries": {"type": "int", "default": 3},
    "retry_delay": {"type": "float", "default": 1.0},
    "ca_bundle": {"type": "path"},
    "path": {"type": "path"},
}

CONNECTION_SPEC: dict[str, Any] = {
    "engine": {"type": "str", "required": True, "choices": list(ENGINES)},
    "host": {"type": "str"},
    "port": {"type": "int"},
    "user": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "container": {"type": "str"},
    "dbname": {"type": "str"},
    "paths": {"type": "list", "elements": "str"},
}


def common_spec() -> dict[str, Any]:
    return {
        "app": {"type": "str", "required": True},
        "database": {"type": "str", "required": True},
        "store": {
            "type": "dict",
            "required": True,
            "options": STORE_SPEC,
            "required_if": [("type", "s3", ("bucket",)), ("type", "local", ("path",))],
        },
    }


def connection_spec(required: bool = True) -> dict[str, Any]:
    return {"type": "dict", "required": required, "options": CONNECTION_SPEC}


def identity_spec() -> dict[str, Any]:
    return {"identity": {"type": "str", "no_log": True}, "identity_file": {"type": "path"}}


def store_of(params: dict[str, Any]):
    spec = {k: v for k, v in (params["store"] or {}).items() if v is not None}
    return make_store(spec)


def job_of(params: dict[str, Any], key: str = "source", **extra: Any):
    conn = dict(params[key] or {})
    return job_from({**conn, "app": params["app"], "database": params["database"], **extra})


def connection_of(params: dict[str, Any], key: str, default_database: str):
    conn = dict(params[key] or {})
    return connection_from({**conn, "database": conn.get("dbname") or default_database})


def identity_of(params: dict[str, Any]) -> Identity:
    if params.get("identity") and params.get("identity_file"):
        raise BackupError("identity and identity_file are mutually exclusive")
    return Identity(secret=params.get("identity"), path=params.get("identity_file"))
