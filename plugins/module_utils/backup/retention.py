# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retention selection: which backups of one app's database a prune keeps, and why.

A pure function (no I/O, no clock unless ``now`` is left out) shared by the ``backup_prune``
module, the ``opsdeck-backup`` command and the ``opsdeck.platform.backup_retention`` filter.
The caller passes the backups of ONE scope (one app and one database); this module does not
group them.

The policy works like restic's and borg's ``forget``:

- ``last: N`` keeps the N newest backups;
- ``hourly``, ``daily``, ``weekly``, ``monthly``, ``yearly: N`` walk the backups newest first and
  keep the newest backup of each distinct period (UTC hour, UTC date, ISO year and week, year and
  month, year) until N periods have one. Periods with no backup do not count. Unlike borg, when
  there are fewer periods than N, the oldest backup is NOT kept in addition.

A backup kept by several rules lists every one (``["daily 1/7", "weekly 1/4"]``). Two safety
rules come on top of the policy:

- the newest verified backup is always kept (reason ``newest verified``);
- a backup that the rules above would delete but whose object lock (``locked_until``) has not
  expired at ``now`` is kept with the reason ``locked until <time>`` and listed in ``locked``: a
  prune reports it as kept, it is not an error.

Backups are ordered newest first by ``(time, id)``: of two backups with the same time, the one
with the greater id counts as the newer. The order and the result are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["KEEP_KEYS", "RetentionPlan", "format_time", "parse_time", "plan"]

# The same keys, in the same order, as KEEP_KEYS of module_utils/model.py (a unit test holds them
# equal); repeated here because this package must not import from outside itself.
KEEP_KEYS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")

# ruff would have datetime.UTC (Python 3.11); hosts that run this package may have an older Python.
_UTC = timezone.utc  # noqa: UP017

_TIME_EXPECTED = "a timezone-aware datetime, an ISO-8601 string with Z or an offset, or epoch seconds"

_PERIODS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[0:2]),
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}


def parse_time(value: Any) -> datetime:
    """``value`` as an aware datetime in UTC.

    Accepts an aware ``datetime``, an ISO-8601 string with ``Z`` or an offset
    (``2026-12-01T02:00:00Z``, ``2026-12-01T04:00:00+02:00``) or epoch seconds (int or float).
    A naive datetime or a string without a timezone is refused: its meaning would depend on the
    machine's local time. Raises ValueError with a message that says what came and what is allowed.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no timezone; expected {_TIME_EXPECTED}")
        return value.astimezone(_UTC)
    if isinstance(value, str):
        text = value.strip()
        # Python < 3.11 does not read a trailing Z.
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO-8601 time (example: 2026-12-01T02:00:00Z); expected {_TIME_EXPECTED}"
            ) from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError(f"{value!r} has no timezone; add Z or an offset such as +02:00")
        return parsed.astimezone(_UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number of epoch seconds")
        try:
            return datetime.fromtimestamp(value, tz=_UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value!r} epoch seconds is out of the range of dates") from None
    raise ValueError(f"expected {_TIME_EXPECTED}, got {type(value).__name__}")


def format_time(value: datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (fractions of a second are dropped)."""
    return value.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@dataclass
class RetentionPlan:
    """What a prune keeps and deletes.

    ``keep`` and ``delete`` hold one entry per backup, newest first: a copy of the backup as given,
    with ``time`` and ``locked_until`` as aware UTC datetimes (``locked_until`` None when unset),
    ``verified`` as a bool, and ``reasons``, the rules that keep it (empty in ``delete``).
    ``locked`` holds the ids kept only because their object lock has not expired, newest first.
    """

    keep: list[dict[str, Any]] = field(default_factory=list)
    delete: list[dict[str, Any]] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)
    policy: dict[str, int] = field(default_factory=dict)
    now: datetime | None = None

    @property
    def keep_ids(self) -> list[str]:
        return [entry["id"] for entry in self.keep]

    @property
    def delete_ids(self) -> list[str]:
        return [entry["id"] for entry in self.delete]

    def to_dict(self) -> dict[str, Any]:
        """The plan as module results carry it: datetimes as ``YYYY-MM-DDTHH:MM:SSZ`` strings."""
        return {
            "keep": _json_safe(self.keep),
            "delete": _json_safe(self.delete),
            "locked": list(self.locked),
            "policy": dict(self.policy),
            "now": format_time(self.now) if self.now is not None else None,
        }


@dataclass(frozen=True)
class _Backup:
    id: str
    time: datetime
    verified: bool
    locked_until: datetime | None
    source: Mapping[str, Any]


def _check_policy(keep: Any) -> dict[str, int]:
    allowed = ", ".join(KEEP_KEYS)
    if not isinstance(keep, Mapping):
        raise ValueError(f"keep: expected a mapping of {allowed} to counts, got {type(keep).__name__}")
    unknown = sorted(str(k) for k in keep if k not in KEEP_KEYS)
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise ValueError(f"keep: unknown key{'s' if len(unknown) > 1 else ''} {names}; allowed: {allowed}")
    policy: dict[str, int] = {}
    for key in KEEP_KEYS:
        count = keep.get(key, 0)
        if not isinstance(count, int) or isinstance(count, bool):
            raise ValueError(f"keep.{key}: expected an integer >= 0, got {count!r} ({type(count).__name__})")
        if count < 0:
            raise ValueError(f"keep.{key}: expected an integer >= 0, got {count}")
        policy[key] = int(count)
    if not any(policy.values()):
        raise ValueError(f"keep: keeps no backup at all; set at least one of {allowed} above 0")
    return policy


def _check_backups(backups: Any) -> list[_Backup]:
    if isinstance(backups, (str, bytes, Mapping)) or not isinstance(backups, Iterable):
        raise ValueError(
            f"backups: expected a list of backups (mappings with id and time), got {type(backups).__name__}"
        )
    records: list[_Backup] = []
    first_seen: dict[str, int] = {}
    for index, item in enumerate(backups):
        where = f"backups[{index}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: expected a mapping with id and time, got {type(item).__name__}")
        if "id" not in item or item["id"] is None:
            raise ValueError(f"{where}: field 'id' is missing")
        backup_id = item["id"]
        if not isinstance(backup_id, str) or not backup_id:
            raise ValueError(f"{where}: field 'id': expected a non-empty string, got {backup_id!r}")
        if backup_id in first_seen:
            raise ValueError(f"{where}: duplicate id {backup_id!r} (first at backups[{first_seen[backup_id]}])")
        first_seen[backup_id] = index
        where = f"{where} (id {backup_id!r})"
        if "time" not in item or item["time"] is None:
            raise ValueError(f"{where}: field 'time' is missing")
        try:
            time = parse_time(item["time"])
        except ValueError as exc:
            raise ValueError(f"{where}: field 'time': {exc}") from None
        verified = item.get("verified")
        if verified is None:
            verified = False
        elif not isinstance(verified, bool):
            raise ValueError(f"{where}: field 'verified': expected true or false, got {verified!r}")
        locked_until = item.get("locked_until")
        if locked_until is not None:
            try:
                locked_until = parse_time(locked_until)
            except ValueError as exc:
                raise ValueError(f"{where}: field 'locked_until': {exc}") from None
        records.append(_Backup(backup_id, time, verified, locked_until, item))
    return records


def plan(backups: Iterable[Mapping[str, Any]], keep: Mapping[str, Any], *, now: Any = None) -> RetentionPlan:
    """Select the backups that ``keep`` retains (see the module docstring for the rules).

    ``backups``: mappings with ``id`` (str), ``time`` (see parse_time), ``verified`` (bool, default
    false), ``locked_until`` (a time or None) and any other keys, which are passed through.
    ``keep``: a mapping of any of KEEP_KEYS to counts >= 0 (missing keys count 0; not all 0).
    ``now``: the time object locks are compared with (see parse_time); default: the current time.
    Raises ValueError, naming the field, on bad input.
    """
    policy = _check_policy(keep)
    records = _check_backups(backups)
    if now is None:
        when = datetime.now(_UTC)
    else:
        try:
            when = parse_time(now)
        except ValueError as exc:
            raise ValueError(f"now: {exc}") from None

    ordered = sorted(records, key=lambda r: (r.time, r.id), reverse=True)
    reasons: dict[str, list[str]] = {r.id: [] for r in ordered}

    for rank, record in enumerate(ordered[: policy["last"]], start=1):
        reasons[record.id].append(f"last {rank}/{policy['last']}")
    for kind, period_of in _PERIODS.items():
        wanted = policy[kind]
        if not wanted:
            continue
        # Newest first, so the backups of one period are next to each other and the first is its newest.
        current: tuple[int, ...] | None = None
        count = 0
        for record in ordered:
            period = period_of(record.time)
            if period == current:
                continue
            current = period
            count += 1
            reasons[record.id].append(f"{kind} {count}/{wanted}")
            if count == wanted:
                break

    newest_verified = next((r for r in ordered if r.verified), None)
    if newest_verified is not None:
        reasons[newest_verified.id].append("newest verified")

    result = RetentionPlan(policy=policy, now=when)
    for record in ordered:
        why = reasons[record.id]
        if not why and record.locked_until is not None and record.locked_until > when:
            why.append(f"locked until {format_time(record.locked_until)}")
            result.locked.append(record.id)
        entry = {
            **record.source,
            "id": record.id,
            "time": record.time,
            "verified": record.verified,
            "locked_until": record.locked_until,
            "reasons": why,
        }
        (result.keep if why else result.delete).append(entry)
    return result
