# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the retention selection (module_utils/backup/retention.py).

The expected sets are written out by hand from a calendar, not recomputed: 2026-12-01 is a
Tuesday in ISO week 2026-W49 (Mon 2026-11-30 .. Sun 2026-12-06), and ISO week 2026-W01 runs
from Mon 2025-12-29 to Sun 2026-01-04.
"""

from __future__ import annotations

import ast
import copy
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils import model
from ansible_collections.opsdeck.platform.plugins.module_utils.backup import retention
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.retention import (
    KEEP_KEYS,
    RetentionPlan,
    format_time,
    parse_time,
    plan,
)

UTC = timezone.utc  # noqa: UP017 (the module under test keeps Python < 3.11 working; so do its tests)
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    """``2026-12-01T02:00`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def bid(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%MZ")


def backup(when: str, **fields: Any) -> dict[str, Any]:
    """A backup at ``when`` (UTC) whose id is its time, ``20261201T0200Z``."""
    time = at(when)
    return {"id": bid(time), "time": time, **fields}


def kept(result: RetentionPlan) -> list[tuple[str, list[str]]]:
    return [(entry["id"], entry["reasons"]) for entry in result.keep]


# ---------------------------------------------------------------------------------------------
# A synthetic 400-day history: one verified backup a day at 02:00 UTC from 2025-10-28 through
# 2026-12-01, and unverified extra backups on the last two days (21:00, 22:00, 23:00 on
# 2026-11-30; 00:00, 01:00, 03:00, 03:30 on 2026-12-01). Times come in all three accepted forms.

EXTRA = [
    *("2026-11-30T21:00", "2026-11-30T22:00", "2026-11-30T23:00"),
    *("2026-12-01T00:00", "2026-12-01T01:00", "2026-12-01T03:00", "2026-12-01T03:30"),
]


def history() -> list[dict[str, Any]]:
    backups = []
    day = at("2025-10-28T02:00")
    while day <= at("2026-12-01T02:00"):
        backups.append({"id": bid(day), "time": day, "verified": True, "size": 1000 + len(backups)})
        day += timedelta(days=1)
    backups += [{"id": bid(at(t)), "time": at(t), "verified": False} for t in EXTRA]
    forms = [lambda t: t, lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"), lambda t: t.timestamp()]
    for i, item in enumerate(backups):
        item["time"] = forms[i % 3](item["time"])
    random.Random(5).shuffle(backups)
    return backups


def test_history_has_400_days_and_7_extras() -> None:
    backups = history()
    assert len(backups) == 407
    assert len({b["id"][:8] for b in backups}) == 400
    assert min(b["id"] for b in backups) == "20251028T0200Z"
    assert max(b["id"] for b in backups) == "20261201T0330Z"


def test_400_days_daily_weekly_monthly_yearly() -> None:
    result = plan(history(), {"daily": 7, "weekly": 4, "monthly": 6, "yearly": 2}, now=NOW)
    assert kept(result) == [
        ("20261201T0330Z", ["daily 1/7", "weekly 1/4", "monthly 1/6", "yearly 1/2"]),
        # the newest verified one: the policy keeps 03:30 for 2026-12-01, which is unverified
        ("20261201T0200Z", ["newest verified"]),
        ("20261130T2300Z", ["daily 2/7", "monthly 2/6"]),
        ("20261129T0200Z", ["daily 3/7", "weekly 2/4"]),  # Sunday: the newest of 2026-W48
        ("20261128T0200Z", ["daily 4/7"]),
        ("20261127T0200Z", ["daily 5/7"]),
        ("20261126T0200Z", ["daily 6/7"]),
        ("20261125T0200Z", ["daily 7/7"]),
        ("20261122T0200Z", ["weekly 3/4"]),  # Sunday of 2026-W47
        ("20261115T0200Z", ["weekly 4/4"]),  # Sunday of 2026-W46
        ("20261031T0200Z", ["monthly 3/6"]),
        ("20260930T0200Z", ["monthly 4/6"]),
        ("20260831T0200Z", ["monthly 5/6"]),
        ("20260731T0200Z", ["monthly 6/6"]),
        ("20251231T0200Z", ["yearly 2/2"]),
    ]
    assert len(result.delete) == 407 - 15
    assert result.delete_ids[:4] == ["20261201T0300Z", "20261201T0100Z", "20261201T0000Z", "20261130T2200Z"]
    assert result.delete_ids[-1] == "20251028T0200Z"
    assert all(entry["reasons"] == [] for entry in result.delete)
    assert result.locked == []
    assert result.policy == {"last": 0, "hourly": 0, "daily": 7, "weekly": 4, "monthly": 6, "yearly": 2}


def test_400_days_last_hourly_yearly() -> None:
    result = plan(history(), {"last": 2, "hourly": 4, "yearly": 5}, now=NOW)
    assert kept(result) == [
        ("20261201T0330Z", ["last 1/2", "hourly 1/4", "yearly 1/5"]),
        ("20261201T0300Z", ["last 2/2"]),  # same hour as 03:30: kept by last only
        ("20261201T0200Z", ["hourly 2/4", "newest verified"]),
        ("20261201T0100Z", ["hourly 3/4"]),
        ("20261201T0000Z", ["hourly 4/4"]),
        # only two years have backups: yearly 5 keeps two, and no oldest backup in addition
        ("20251231T0200Z", ["yearly 2/5"]),
    ]
    assert len(result.delete) == 401


def test_400_days_every_backup_verified_adds_no_keep() -> None:
    backups = history()
    for item in backups:
        item["verified"] = True
    result = plan(backups, {"last": 2}, now=NOW)
    assert kept(result) == [("20261201T0330Z", ["last 1/2", "newest verified"]), ("20261201T0300Z", ["last 2/2"])]


@pytest.mark.parametrize("order", ["as given", "reversed", "shuffled"])
def test_the_plan_does_not_depend_on_the_input_order(order: str) -> None:
    backups = sorted(history(), key=lambda b: parse_time(b["time"]))
    if order == "reversed":
        backups.reverse()
    elif order == "shuffled":
        random.Random(20).shuffle(backups)
    result = plan(backups, {"daily": 3, "monthly": 3}, now=NOW)
    assert result.keep_ids == ["20261201T0330Z", "20261201T0200Z", "20261130T2300Z", "20261129T0200Z", "20261031T0200Z"]
    times = [entry["time"] for entry in result.delete]
    assert times == sorted(times, reverse=True)


# ---------------------------------------------------------------------------------------------
# Periods


def test_weekly_periods_are_iso_year_and_week_across_new_year() -> None:
    days = [f"2025-12-{d}T02:00" for d in range(26, 32)] + [f"2026-01-0{d}T02:00" for d in range(1, 7)]
    result = plan([backup(d) for d in days], {"weekly": 3}, now=NOW)
    # 2026-W02 starts Mon 01-05; 2026-W01 is Mon 2025-12-29 .. Sun 2026-01-04; 2025-W52 ends Sun 12-28.
    assert kept(result) == [
        ("20260106T0200Z", ["weekly 1/3"]),
        ("20260104T0200Z", ["weekly 2/3"]),
        ("20251228T0200Z", ["weekly 3/3"]),
    ]


def test_periods_are_evaluated_in_utc() -> None:
    backups = [
        {"id": "feb-late", "time": "2026-03-01T00:30:00+02:00"},  # 2026-02-28T22:30Z: February
        {"id": "feb-early", "time": "2026-02-27T12:00:00Z"},
        {"id": "mar", "time": "2026-03-01T01:30:00-01:00"},  # 2026-03-01T02:30Z: March
        {"id": "jan", "time": "2026-01-31T23:59:59Z"},
    ]
    result = plan(backups, {"monthly": 3, "daily": 1}, now=NOW)
    assert kept(result) == [
        ("mar", ["daily 1/1", "monthly 1/3"]),
        ("feb-late", ["monthly 2/3"]),
        ("jan", ["monthly 3/3"]),
    ]
    assert result.to_dict()["keep"][1]["time"] == "2026-02-28T22:30:00Z"


def test_hourly_counts_hours_that_have_a_backup_not_clock_hours() -> None:
    times = ["2026-12-01T10:59", "2026-12-01T10:00", "2026-12-01T07:15", "2026-11-30T23:45", "2026-11-30T23:10"]
    result = plan([backup(t) for t in times], {"hourly": 3}, now=NOW)
    assert kept(result) == [
        ("20261201T1059Z", ["hourly 1/3"]),
        ("20261201T0715Z", ["hourly 2/3"]),
        ("20261130T2345Z", ["hourly 3/3"]),
    ]


def test_equal_times_are_ordered_by_id_the_greater_counts_as_newer() -> None:
    same = "2026-12-01T02:00:00Z"
    backups = [{"id": "b", "time": same}, {"id": "c", "time": same}, {"id": "a", "time": same}]
    result = plan(backups, {"last": 1, "daily": 1}, now=NOW)
    assert kept(result) == [("c", ["last 1/1", "daily 1/1"])]
    assert result.delete_ids == ["b", "a"]


def test_last_larger_than_the_history_keeps_everything() -> None:
    backups = [backup("2026-11-30T02:00"), backup("2026-12-01T02:00")]
    assert kept(plan(backups, {"last": 5}, now=NOW)) == [
        ("20261201T0200Z", ["last 1/5"]),
        ("20261130T0200Z", ["last 2/5"]),
    ]


def test_no_backups_is_an_empty_plan() -> None:
    result = plan([], {"daily": 7}, now=NOW)
    assert (result.keep, result.delete, result.locked) == ([], [], [])
    assert result.to_dict() == {
        "keep": [],
        "delete": [],
        "locked": [],
        "policy": {"last": 0, "hourly": 0, "daily": 7, "weekly": 0, "monthly": 0, "yearly": 0},
        "now": "2026-12-01T04:00:00Z",
    }


# ---------------------------------------------------------------------------------------------
# The newest verified backup


def five_days(verified: set[str]) -> list[dict[str, Any]]:
    return [backup(f"2026-11-2{d}T02:00", verified=f"2{d}" in verified) for d in range(5, 10)]


def test_an_old_verified_backup_survives_when_the_newer_ones_are_unverified() -> None:
    result = plan(five_days({"26"}), {"last": 2}, now=NOW)
    assert kept(result) == [
        ("20261129T0200Z", ["last 1/2"]),
        ("20261128T0200Z", ["last 2/2"]),
        ("20261126T0200Z", ["newest verified"]),
    ]
    assert result.delete_ids == ["20261127T0200Z", "20261125T0200Z"]


def test_only_the_newest_verified_backup_is_kept_for_being_verified() -> None:
    result = plan(five_days({"25", "26", "27"}), {"last": 1}, now=NOW)
    assert kept(result) == [("20261129T0200Z", ["last 1/1"]), ("20261127T0200Z", ["newest verified"])]


def test_a_verified_newest_backup_adds_no_keep() -> None:
    result = plan(five_days({"29", "25"}), {"last": 1}, now=NOW)
    assert kept(result) == [("20261129T0200Z", ["last 1/1", "newest verified"])]
    assert len(result.delete) == 4


def test_without_any_verified_backup_only_the_policy_keeps() -> None:
    result = plan(five_days(set()), {"last": 1}, now=NOW)
    assert kept(result) == [("20261129T0200Z", ["last 1/1"])]


# ---------------------------------------------------------------------------------------------
# Object locks


def test_a_locked_backup_is_kept_with_its_reason_and_listed_as_locked() -> None:
    backups = five_days({"29"})
    backups[0]["locked_until"] = "2027-01-01T00:00:00+01:00"  # 2026-11-25, the oldest
    result = plan(backups, {"last": 1}, now=NOW)
    assert kept(result) == [
        ("20261129T0200Z", ["last 1/1", "newest verified"]),
        ("20261125T0200Z", ["locked until 2026-12-31T23:00:00Z"]),
    ]
    assert result.locked == ["20261125T0200Z"]
    assert "20261125T0200Z" not in result.delete_ids
    as_dict = result.to_dict()
    assert as_dict["locked"] == ["20261125T0200Z"]
    assert as_dict["keep"][1]["locked_until"] == "2026-12-31T23:00:00Z"


@pytest.mark.parametrize(
    ("locked_until", "is_locked"),
    [
        (NOW + timedelta(seconds=1), True),
        (NOW, False),  # expires at now: gone
        (NOW - timedelta(days=1), False),
        (None, False),
    ],
)
def test_a_lock_counts_only_until_it_expires(locked_until: datetime | None, is_locked: bool) -> None:
    backups = five_days(set())
    backups[1]["locked_until"] = locked_until
    result = plan(backups, {"last": 1}, now=NOW)
    assert ("20261126T0200Z" in result.keep_ids) is is_locked
    assert result.locked == (["20261126T0200Z"] if is_locked else [])


def test_a_locked_backup_the_policy_keeps_is_not_listed_as_locked() -> None:
    backups = five_days(set())
    backups[4]["locked_until"] = "2030-01-01T00:00:00Z"
    result = plan(backups, {"last": 1}, now=NOW)
    assert kept(result) == [("20261129T0200Z", ["last 1/1"])]
    assert result.locked == []


def test_now_defaults_to_the_current_time() -> None:
    backups = five_days(set())
    backups[0]["locked_until"] = datetime.now(UTC) + timedelta(days=3650)
    backups[1]["locked_until"] = datetime.now(UTC) - timedelta(seconds=5)
    result = plan(backups, {"last": 1})
    assert result.locked == ["20261125T0200Z"]
    assert result.now is not None
    assert abs(result.now - datetime.now(UTC)) < timedelta(minutes=1)


# ---------------------------------------------------------------------------------------------
# Times


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 3, 0, tzinfo=timezone(timedelta(hours=1))),
        "2026-12-01T02:00:00Z",
        "2026-12-01T02:00Z",
        "2026-12-01t02:00:00z",
        " 2026-12-01T02:00:00+00:00 ",
        "2026-12-01T04:00:00+02:00",
        "2026-11-30T21:00:00-05:00",
        "2026-12-01 02:00:00Z",
        1796090400,
        1796090400.0,
    ],
)
def test_parse_time_accepts_aware_datetimes_iso_strings_and_epochs(value: Any) -> None:
    parsed = parse_time(value)
    assert parsed == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(0)
    assert format_time(parsed) == "2026-12-01T02:00:00Z"


def test_parse_time_keeps_fractions_and_format_time_drops_them() -> None:
    parsed = parse_time(1796090400.75)
    assert parsed.microsecond == 750000
    assert format_time(parsed) == "2026-12-01T02:00:00Z"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(2026, 12, 1, 2, 0), "naive datetime 2026-12-01T02:00:00 has no timezone; expected a timezone-aware"),
        ("2026-12-01T02:00:00", "'2026-12-01T02:00:00' has no timezone; add Z or an offset such as +02:00"),
        ("2026-12-01", "'2026-12-01' has no timezone"),
        ("yesterday", "'yesterday' is not an ISO-8601 time (example: 2026-12-01T02:00:00Z)"),
        ("", "'' is not an ISO-8601 time"),
        (
            True,
            "expected a timezone-aware datetime, an ISO-8601 string with Z or an offset, or epoch seconds, got bool",
        ),
        ([2026, 12, 1], "got list"),
        (float("nan"), "nan is not a finite number of epoch seconds"),
        (10**20, "100000000000000000000 epoch seconds is out of the range of dates"),
    ],
)
def test_parse_time_refuses(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_time(value)
    assert message in str(exc.value)


def test_mixed_time_formats_in_one_plan_are_ordered_by_their_instant() -> None:
    backups = [
        {"id": "epoch", "time": 1796090400},  # 2026-12-01T02:00:00Z
        {"id": "iso-offset", "time": "2026-12-01T04:30:00+02:00"},  # 02:30Z
        {"id": "datetime", "time": datetime(2026, 11, 30, 22, 0, tzinfo=timezone(timedelta(hours=-5)))},  # 12-01 03:00Z
        {"id": "iso-z", "time": "2026-11-30T23:00:00Z"},
        {"id": "float", "time": 1795993200.5},  # 2026-11-29T23:00:00.5Z
    ]
    result = plan(backups, {"last": 2, "daily": 3}, now=NOW)
    assert kept(result) == [
        ("datetime", ["last 1/2", "daily 1/3"]),
        ("iso-offset", ["last 2/2"]),
        ("iso-z", ["daily 2/3"]),
        ("float", ["daily 3/3"]),
    ]
    assert result.delete_ids == ["epoch"]
    assert [entry["time"] for entry in result.to_dict()["keep"]] == [
        "2026-12-01T03:00:00Z",
        "2026-12-01T02:30:00Z",
        "2026-11-30T23:00:00Z",
        "2026-11-29T23:00:00Z",
    ]


# ---------------------------------------------------------------------------------------------
# Entries and to_dict


def test_entries_pass_other_keys_through_and_the_input_is_not_changed() -> None:
    backups = [
        {
            "id": "a",
            "time": "2026-12-01T02:00:00+01:00",
            "verified": True,
            "key": "authdb/2026/12/01/a.dump.zst",
            "manifest": {"size": 12, "created": datetime(2026, 12, 1, 1, 5, tzinfo=UTC)},
            "parts": ("p1", "p2"),
        },
        {"id": "b", "time": "2026-11-01T02:00:00Z", "app": "auth"},
    ]
    original = copy.deepcopy(backups)
    result = plan(backups, {"last": 1}, now=NOW)
    assert backups == original
    assert result.keep[0] == {
        **original[0],
        "time": datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
        "locked_until": None,
        "reasons": ["last 1/1", "newest verified"],
    }
    assert result.delete[0] == {
        "id": "b",
        "time": datetime(2026, 11, 1, 2, 0, tzinfo=UTC),
        "app": "auth",
        "verified": False,
        "locked_until": None,
        "reasons": [],
    }
    as_dict = result.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["keep"][0] == {
        "id": "a",
        "time": "2026-12-01T01:00:00Z",
        "verified": True,
        "key": "authdb/2026/12/01/a.dump.zst",
        "manifest": {"size": 12, "created": "2026-12-01T01:05:00Z"},
        "parts": ["p1", "p2"],
        "locked_until": None,
        "reasons": ["last 1/1", "newest verified"],
    }
    assert as_dict["delete"][0]["time"] == "2026-11-01T02:00:00Z"


def test_backups_may_be_any_iterable() -> None:
    result = plan((b for b in five_days(set())), {"last": 1}, now="2026-12-01T04:00:00Z")
    assert result.keep_ids == ["20261129T0200Z"]
    assert result.now == NOW


# ---------------------------------------------------------------------------------------------
# Input errors

ALLOWED = "last, hourly, daily, weekly, monthly, yearly"


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        ({}, f"keep: keeps no backup at all; set at least one of {ALLOWED} above 0"),
        ({"daily": 0, "last": 0}, f"keep: keeps no backup at all; set at least one of {ALLOWED} above 0"),
        ({"dayly": 7}, f"keep: unknown key 'dayly'; allowed: {ALLOWED}"),
        ({"daily": 7, "minutely": 1, "forever": 1}, f"keep: unknown keys 'forever', 'minutely'; allowed: {ALLOWED}"),
        ({"daily": -1}, "keep.daily: expected an integer >= 0, got -1"),
        ({"weekly": "4"}, "keep.weekly: expected an integer >= 0, got '4' (str)"),
        ({"monthly": 1.5}, "keep.monthly: expected an integer >= 0, got 1.5 (float)"),
        ({"last": True}, "keep.last: expected an integer >= 0, got True (bool)"),
        ({"yearly": None}, "keep.yearly: expected an integer >= 0, got None (NoneType)"),
        (None, f"keep: expected a mapping of {ALLOWED} to counts, got NoneType"),
        (
            [("daily", 7)],
            "keep: expected a mapping of last, hourly, daily, weekly, monthly, yearly to counts, got list",
        ),
    ],
)
def test_bad_keep_is_refused(keep: Any, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        plan(five_days(set()), keep, now=NOW)
    assert str(exc.value) == message


GOOD = {"id": "ok", "time": "2026-11-01T02:00:00Z"}


@pytest.mark.parametrize(
    ("backups", "message"),
    [
        ({"id": "a", "time": 1}, "backups: expected a list of backups (mappings with id and time), got dict"),
        ("abc", "backups: expected a list of backups (mappings with id and time), got str"),
        (None, "backups: expected a list of backups (mappings with id and time), got NoneType"),
        ([GOOD, "x"], "backups[1]: expected a mapping with id and time, got str"),
        ([{"time": "2026-12-01T02:00:00Z"}], "backups[0]: field 'id' is missing"),
        ([GOOD, {"id": None, "time": 1}], "backups[1]: field 'id' is missing"),
        ([{"id": "", "time": 1}], "backups[0]: field 'id': expected a non-empty string, got ''"),
        ([{"id": 7, "time": 1}], "backups[0]: field 'id': expected a non-empty string, got 7"),
        ([GOOD, {"id": "x"}], "backups[1] (id 'x'): field 'time' is missing"),
        ([{"id": "x", "time": None}], "backups[0] (id 'x'): field 'time' is missing"),
        (
            [GOOD, {"id": "x", "time": datetime(2026, 12, 1, 2, 0)}],
            "backups[1] (id 'x'): field 'time': naive datetime 2026-12-01T02:00:00 has no timezone; expected a "
            "timezone-aware datetime, an ISO-8601 string with Z or an offset, or epoch seconds",
        ),
        (
            [{"id": "x", "time": "2026-12-01T02:00:00"}],
            "backups[0] (id 'x'): field 'time': '2026-12-01T02:00:00' has no timezone; "
            "add Z or an offset such as +02:00",
        ),
        (
            [{"id": "x", "time": "soon"}],
            "backups[0] (id 'x'): field 'time': 'soon' is not an ISO-8601 time (example: 2026-12-01T02:00:00Z); "
            "expected a timezone-aware datetime, an ISO-8601 string with Z or an offset, or epoch seconds",
        ),
        (
            [GOOD, {"id": "b", "time": 1}, {"id": "ok", "time": 2}],
            "backups[2]: duplicate id 'ok' (first at backups[0])",
        ),
        (
            [{**GOOD, "verified": "yes"}],
            "backups[0] (id 'ok'): field 'verified': expected true or false, got 'yes'",
        ),
        (
            [{**GOOD, "locked_until": "2027-01-01"}],
            "backups[0] (id 'ok'): field 'locked_until': '2027-01-01' has no timezone; "
            "add Z or an offset such as +02:00",
        ),
    ],
)
def test_bad_backups_are_refused(backups: Any, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        plan(backups, {"daily": 7}, now=NOW)
    assert str(exc.value) == message


def test_bad_now_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^now: '2026-12-01T04:00' has no timezone; add Z or an offset"):
        plan([GOOD], {"daily": 7}, now="2026-12-01T04:00")


def test_verified_null_counts_as_false() -> None:
    result = plan([{**GOOD, "verified": None}], {"daily": 1}, now=NOW)
    assert result.keep[0]["verified"] is False
    assert result.keep[0]["reasons"] == ["daily 1/1"]


# ---------------------------------------------------------------------------------------------
# The package's rules


def test_keep_keys_are_those_of_the_model() -> None:
    assert model.KEEP_KEYS == KEEP_KEYS
    assert set(model.DEFAULT_KEEP) == set(KEEP_KEYS)
    plan([GOOD], model.DEFAULT_KEEP, now=NOW)  # the model's default is a valid policy


def test_retention_imports_the_standard_library_only() -> None:
    tree = ast.parse(Path(retention.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported
