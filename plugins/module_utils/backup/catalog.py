# SPDX-License-Identifier: GPL-3.0-or-later
"""The layout of a backup in a store, its manifest, and the catalogue of complete backups.

    <app>/<database>/<id>/data.<ext>.zst.age      the dump, compressed then encrypted
    <app>/<database>/<id>/globals.sql.zst.age     PostgreSQL roles and tablespaces (pg_dumpall -g)
    <app>/<database>/<id>/manifest.json           written last: a backup without it is not complete
    <app>/<database>/<id>/verified-<time>.json    one per successful test restore

``<id>`` is the start time and a random suffix (``20261201T020000Z-1a2b3c4d``), so ids sort
by time and two runs never share one. Objects are written once: a verification adds an
object rather than rewriting the (possibly locked) manifest.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from .errors import BackupError
from .stores import Store

FORMAT = "opsdeck-backup/1"
MANIFEST = "manifest.json"
_ID_RE = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{8})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def new_id(now: dt.datetime) -> str:
    return f"{now.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def id_time(backup_id: str) -> dt.datetime:
    match = _ID_RE.match(backup_id)
    if not match:
        raise BackupError(f"{backup_id!r} is not a backup id (like 20261201T020000Z-1a2b3c4d)")
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def check_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise BackupError(f"{kind} {value!r}: use letters, digits, '_', '.' and '-' (it becomes part of a key)")
    return value


@dataclass(frozen=True)
class Layout:
    app: str
    database: str

    def __post_init__(self) -> None:
        check_name("app", self.app)
        check_name("database", self.database)

    @property
    def job(self) -> str:
        return f"{self.app}/{self.database}"

    def prefix(self) -> str:
        return f"{self.app}/{self.database}"

    def key(self, backup_id: str, name: str) -> str:
        return f"{self.app}/{self.database}/{backup_id}/{name}"


def list_backups(
    store: Store, app: str | None = None, database: str | None = None, *, include_incomplete: bool = False
) -> list[dict[str, Any]]:
    """Every complete backup (a manifest exists) under the store, newest first.

    Each entry is the manifest plus ``verified_at`` (the latest successful test restore,
    or None) and ``verifications``. With ``include_incomplete``, ids that have objects
    but no manifest come back too, as ``{"id", "app", "database", "complete": False, "keys"}``.
    """
    prefix = "/".join(p for p in (app, database if app else None) if p)
    groups: dict[tuple[str, str, str], list[str]] = {}
    for key in store.list_keys(prefix):
        parts = key.split("/")
        if len(parts) != 4 or not _ID_RE.match(parts[2]):
            continue
        if database and parts[1] != database:
            continue
        groups.setdefault((parts[0], parts[1], parts[2]), []).append(parts[3])
    found = []
    for (a, d, backup_id), names in groups.items():
        layout = Layout(a, d)
        if MANIFEST not in names:
            if include_incomplete:
                found.append(
                    {
                        "id": backup_id,
                        "app": a,
                        "database": d,
                        "complete": False,
                        "keys": [layout.key(backup_id, n) for n in names],
                    }
                )
            continue
        try:
            manifest = json.loads(store.get_bytes(layout.key(backup_id, MANIFEST)))
        except (ValueError, BackupError) as exc:
            raise BackupError(f"{layout.job}: the manifest of backup {backup_id} cannot be read: {exc}") from exc
        verifications = sorted(n[len("verified-") : -len(".json")] for n in names if n.startswith("verified-"))
        manifest["complete"] = True
        manifest["verifications"] = [_verification_time(v) for v in verifications]
        manifest["verified_at"] = manifest["verifications"][-1] if verifications else None
        manifest["keys"] = [layout.key(backup_id, n) for n in sorted(names)]
        found.append(manifest)
    found.sort(key=lambda m: (m["id"], m["app"], m["database"]), reverse=True)
    return found


def _verification_time(stamp: str) -> str:
    try:
        return iso(dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC))
    except ValueError:
        return stamp


def select(
    backups: list[dict[str, Any]], *, backup_id: str | None = None, before: str | None = None, verified: bool = False
) -> dict[str, Any]:
    """One backup: by id, the latest finished at or before a time, or the latest (verified if asked)."""
    candidates = [b for b in backups if b.get("complete")]
    if verified:
        candidates = [b for b in candidates if b.get("verified_at")]
    if backup_id:
        for b in candidates:
            if b["id"] == backup_id:
                return b
        raise BackupError(f"no complete backup with id {backup_id}")
    if before:
        limit = parse_iso(before)
        candidates = [b for b in candidates if parse_iso(b["finished_at"]) <= limit]
        if not candidates:
            raise BackupError(f"no complete backup finished at or before {before}")
    if not candidates:
        raise BackupError("no complete" + (" verified" if verified else "") + " backup")
    return candidates[0]


def verification_key(layout: Layout, backup_id: str, when: dt.datetime) -> str:
    return layout.key(backup_id, f"verified-{when.strftime('%Y%m%dT%H%M%SZ')}.json")


def dumps(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
