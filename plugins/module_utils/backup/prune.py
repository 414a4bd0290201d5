# SPDX-License-Identifier: GPL-3.0-or-later
"""Retention applied to a store: delete what the plan (retention.py) lets go, nothing else.

Scoped to one app and database. The manifest of a backup is deleted first, so a prune cut
short leaves an *incomplete* backup (never listed, cleaned up by the next prune), never a
listed backup with missing data. A backup whose objects are under Object Lock is reported
as kept (``locked``), not as an error. Failed runs (objects without a manifest) older than
``incomplete_after`` seconds are deleted too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import catalog, retention
from .catalog import Layout
from .errors import BackupError
from .stores import Store

DEFAULT_INCOMPLETE_AFTER = 24 * 3600


def prune(
    store: Store,
    layout: Layout,
    keep: dict[str, int],
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    incomplete_after: float = DEFAULT_INCOMPLETE_AFTER,
) -> dict[str, Any]:
    moment = now or catalog.utcnow()
    backups = catalog.list_backups(store, layout.app, layout.database, include_incomplete=True)
    complete = [b for b in backups if b.get("complete")]
    entries = [
        {
            "id": b["id"],
            "time": b["started_at"],
            "verified": bool(b.get("verified_at")),
            "locked_until": (b.get("lock") or {}).get("until"),
        }
        for b in complete
    ]
    try:
        plan = retention.plan(entries, keep, now=moment)
    except ValueError as exc:
        raise BackupError(f"prune of {layout.job}: {exc}") from exc
    by_id = {b["id"]: b for b in backups}
    stale = [
        b
        for b in backups
        if not b.get("complete") and (moment - catalog.id_time(b["id"])).total_seconds() >= incomplete_after
    ]
    result: dict[str, Any] = {
        "job": layout.job,
        "kept": plan.keep_ids,
        "deleted": [],
        "locked": list(plan.locked),
        "incomplete_deleted": [],
        "failed": {},
        "would_delete": plan.delete_ids,
        "would_delete_incomplete": [b["id"] for b in stale],
        "plan": plan.to_dict(),
        "changed": bool(plan.delete_ids or stale),
    }
    if dry_run:
        return result
    for backup_id in plan.delete_ids:
        keys = by_id[backup_id]["keys"]
        manifest_key = layout.key(backup_id, catalog.MANIFEST)
        ordered = [manifest_key] + [k for k in keys if k != manifest_key]
        first = store.delete(ordered[:1])
        if first.locked:
            result["locked"].append(backup_id)
            result["kept"].append(backup_id)
            continue
        if first.failed:
            result["failed"][backup_id] = next(iter(first.failed.values()))
            continue
        rest = store.delete(ordered[1:])
        if rest.failed or rest.locked:
            result["failed"][backup_id] = "; ".join(
                [*rest.failed.values(), *(f"{k} is locked until {u}" for k, u in rest.locked.items())]
            )
        result["deleted"].append(backup_id)
    for b in stale:
        gone = store.delete(b["keys"])
        if gone.failed:
            result["failed"][b["id"]] = next(iter(gone.failed.values()))
        elif not gone.locked:
            result["incomplete_deleted"].append(b["id"])
    result["changed"] = bool(result["deleted"] or result["incomplete_deleted"])
    return result
