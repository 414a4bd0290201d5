# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's objects from plain mappings: the ``opsdeck-backup`` config file and module options.

The config file (written by the ``backup`` role, mode 0600)::

    {"store": {"type": "s3", "bucket": ..., "prefix": ..., "endpoint_url": ..., "region": ...,
               "access_key": ..., "secret_key": ..., "sse": ..., "kms_key_id": ...,
               "storage_class": ..., "lock_mode": ..., "lock_days": ..., "part_size_mb": ...,
               "concurrency": ..., "retries": ...}           # or {"type": "local", "path": ...}
     "prune_store": null | same shape (pruner credentials: the writer needs no delete right),
     "recipients": ["age1..."], "identity_file": null | path, "compression_level": 3,
     "metrics_dir": path, "state_dir": path,
     "jobs": {"APP/DB": {"app", "database", "engine", "host", "port", "user", "password",
                         "container", "keep": {...}, "verify_query", "globals"}}}
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from .errors import BackupError
from .pipeline import Job, Settings
from .sources import connection_from
from .stores import Store, make_store

# A job of the config file: what the backup role writes on database hosts and k8s_backup renders
# into the backup pods' Secret (``job_spec`` makes it; ``job_from`` reads it).
JOB_KEYS = ("app", "database", "engine", "host", "port", "user", "password", "container", "keep", "verify_query")


def job_spec(source: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A job of the config file from ``source`` (a job of the run's plan, or a normalized database
    with ``app`` and ``database`` set), ``overrides`` taking precedence (the password, an address)."""
    merged = {**source, **overrides}
    spec = {key: merged.get(key) for key in JOB_KEYS}
    spec["keep"] = dict(spec["keep"] or {})
    return spec


def load(path: str) -> dict[str, Any]:
    try:
        info = os.stat(path)
        with open(path) as handle:
            config = json.load(handle)
    except FileNotFoundError:
        raise BackupError(f"config: {path} does not exist") from None
    except ValueError as exc:
        raise BackupError(f"config: {path} is not valid JSON: {exc}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BackupError(f"config: {path} holds credentials and must not be readable by others (chmod 600)")
    if not isinstance(config, dict):
        raise BackupError(f"config: {path} must hold a JSON object")
    return config


def settings_from(config: dict[str, Any]) -> Settings:
    store = config.get("store") or {}
    settings = Settings(
        recipients=list(config.get("recipients") or []),
        compression_level=int(config.get("compression_level") or 3),
        lock_mode=store.get("lock_mode") or None,
        lock_days=int(store.get("lock_days") or 0),
        stale_upload_seconds=float(config.get("stale_upload_seconds", 6 * 3600)),
    )
    settings.validate()
    return settings


def store_from(config: dict[str, Any], *, prune: bool = False) -> Store:
    spec = (config.get("prune_store") if prune else None) or config.get("store")
    if not isinstance(spec, dict):
        raise BackupError("config: store is missing")
    return make_store(spec)


def job_from(spec: dict[str, Any], name: str | None = None) -> Job:
    app = spec.get("app")
    database = spec.get("database") or spec.get("name")
    if not app or not database:
        raise BackupError(f"job {name or '?'}: app and database are required")
    conn = connection_from({**spec, "database": spec.get("dbname") or database})
    return Job(
        app=app,
        database=database,
        conn=conn,
        keep=dict(spec.get("keep") or {}),
        verify_query=spec.get("verify_query"),
        globals=bool(spec.get("globals", True)),
    )


def job_named(config: dict[str, Any], name: str) -> Job:
    jobs = config.get("jobs") or {}
    if name not in jobs:
        known = ", ".join(sorted(jobs)) or "none"
        raise BackupError(f"job {name!r} is not in the config (jobs: {known})")
    return job_from(jobs[name], name)
