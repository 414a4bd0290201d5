# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the cron -> systemd OnCalendar translation and its filter.

Where ``systemd-analyze`` is installed, every translation is also handed to
``systemd-analyze calendar`` and its next firings are compared with those of an
independent, brute-force cron evaluator written here (Vixie cron semantics).
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.filter.systemd_calendar import FilterModule
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, normalize_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.systemd_calendar import (
    CalendarError,
    cron_for_kubernetes,
    cron_problem,
    cron_to_oncalendar,
)

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")

EXPECTED = [
    ("0 2 * * *", ["*-*-* 02:00:00"]),
    ("*/15 * * * *", ["*-*-* *:00/15:00"]),
    ("5/10 1-23/2 * * *", ["*-*-* 01/2:05/10:00"]),
    ("0,30 8-18 * * *", ["*-*-* 08..18:00,30:00"]),
    ("0 0 * * 1-5", ["Mon..Fri *-*-* 00:00:00"]),
    ("0 0 * * mon-fri", ["Mon..Fri *-*-* 00:00:00"]),
    ("0 0 * * 5-7", ["Fri..Sun *-*-* 00:00:00"]),
    ("0 12 * * sat,sun", ["Sat,Sun *-*-* 12:00:00"]),
    ("0 12 * * 0", ["Sun *-*-* 12:00:00"]),
    ("0 12 * * 7", ["Sun *-*-* 12:00:00"]),
    ("0 0 * * */2", ["Tue,Thu,Sat,Sun *-*-* 00:00:00"]),
    ("0 0 1 jan-mar/2 *", ["*-01..03/2-01 00:00:00"]),
    ("0 0 1 */3 *", ["*-01/3-01 00:00:00"]),
    ("0 0 1 JAN,Jul *", ["*-01,07-01 00:00:00"]),
    ("0 3 */2 * sun", ["Sun *-*-01/2 03:00:00"]),  # a day field starting with '*': cron ANDs
    ("30 4 1,15 * mon", ["*-*-01,15 04:30:00", "Mon *-*-* 04:30:00"]),  # both restricted: cron ORs
    ("0 0 13 * fri", ["*-*-13 00:00:00", "Fri *-*-* 00:00:00"]),
    ("0 0 1-7 * 1", ["*-*-01..07 00:00:00", "Mon *-*-* 00:00:00"]),
    ("15 3 * 6-8 1-5/2", ["Mon,Wed,Fri *-06..08-* 03:15:00"]),
    ("0 0 1 * 0-6", ["*-*-* 00:00:00"]),  # OR with every weekday: every day
    ("0 0 1-31 * 1", ["*-*-* 00:00:00"]),  # OR with every day of the month: every day
    ("0-59 0-23 1-31 1-12 *", ["*-*-* *:*:00"]),
    ("  0   2 *  * *  ", ["*-*-* 02:00:00"]),
    ("0\t2 * * *", ["*-*-* 02:00:00"]),
    ("0 0 29 2 *", ["*-02-29 00:00:00"]),  # leap years only, but it does fire
    ("0 0 31 2 mon", ["*-02-31 00:00:00", "Mon *-02-* 00:00:00"]),  # ORed: the Mondays of February
    # A step that never gets past its start: systemd refuses a repetition beyond its range.
    ("0-5/10 * * * *", ["*-*-* *:00:00"]),
    ("*/100 */24 */31 */12 *", ["*-01-01 00:00:00"]),
    ("*/59 1-2/1 */30 */11 *", ["*-01/11-01/30 01..02:00/59:00"]),
]


@pytest.mark.parametrize(("schedule", "expected"), EXPECTED)
def test_translation(schedule: str, expected: list[str]) -> None:
    assert cron_to_oncalendar(schedule) == expected


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("0 2 * *", "'0 2 * *' is not a 5-field cron schedule (minute hour day-of-month month day-of-week): it has 4"),
        ("@daily", "macros such as @daily are not accepted; write the 5 fields: '0 0 * * *'"),
        ("@HOURLY", "macros such as @HOURLY are not accepted; write the 5 fields: '0 * * * *'"),
        ("0 2 * *\n*", "it holds a line break or other whitespace than spaces and tabs between its fields"),
        ("60 2 * * *", "the minute field '60': 60 is outside 0-59"),
        ("0 24 * * *", "the hour field '24': 24 is outside 0-23"),
        ("0 0 0 * *", "the day-of-month field '0': 0 is outside 1-31"),
        ("0 0 * 13 *", "the month field '13': 13 is outside 1-12"),
        ("0 0 * * 8", "the day-of-week field '8': 8 is outside 0-7"),
        ("0 0 * foo *", "the month field 'foo': 'foo' is not a number or a name (jan, feb,"),
        ("0 0 * * funday", "the day-of-week field 'funday': 'funday' is not a number or a name (sun, mon,"),
        ("*/0 * * * *", "the minute field '*/0': a step of 0 never advances"),
        (
            "0 22-2 * * *",
            "the hour field '22-2': the range '22-2' runs backwards (a range does not wrap around the end of the "
            "field); write it as two ranges (e.g. '22-23,0-2')",
        ),
        (
            "0 0 * * fri-mon",
            "the range 'fri-mon' runs backwards (a range does not wrap around the end of the field); "
            "write it as two ranges (e.g. '5-6,0-1')",
        ),
        ("0 0 * * 6-1", "write it as two ranges (e.g. '6,0-1')"),
        ("0 0 * dec-jan *", "the month field 'dec-jan': the range 'dec-jan' runs backwards"),
        ("0 0 28-3 * *", "the day-of-month field '28-3': the range '28-3' runs backwards"),
        ("0 0 31 2 *", "the day-of-month field '31' names no day that a month of the month field '2' has"),
        ("0 0 30,31 feb *", "the day-of-month field '30,31' names no day that a month of the month field 'feb'"),
        ("0 0 31 4,6,9,11 */2", "the day-of-month field '31' names no day"),
        ("1,,2 * * * *", "the minute field '1,,2': '' is not '*', a value, a range or a step"),
        ("0 0 L * *", "the day-of-month field 'L': 'L' is not a number"),
    ],
)
def test_errors_name_the_field(schedule: str, message: str) -> None:
    with pytest.raises(CalendarError) as err:
        cron_to_oncalendar(schedule)
    assert message in str(err.value)
    assert str(err.value).startswith(
        f"{schedule!r} is not a 5-field cron schedule (minute hour day-of-month month day-of-week): "
    )


def test_not_a_string() -> None:
    with pytest.raises(CalendarError, match="expected a 5-field cron schedule as a string, got int"):
        cron_to_oncalendar(5)  # type: ignore[arg-type]


def test_filter_wraps_errors() -> None:
    flt = FilterModule().filters()["systemd_calendar"]
    assert flt("0 2 * * *") == ["*-*-* 02:00:00"]
    with pytest.raises(AnsibleFilterError, match=r"^systemd_calendar: '0 2 \* \*' is not a 5-field"):
        flt("0 2 * *")
    with pytest.raises(
        AnsibleFilterError, match=r"^app 'web': field 'databases\[0\]\.backup\.schedule': '0 22-2 \* \* \*'"
    ):
        flt("0 22-2 * * *", field="app 'web': field 'databases[0].backup.schedule'")


def test_model_defaults_translate() -> None:
    """The model's default schedule, and any the model accepts here, translate."""
    apps = normalize_apps(
        [
            {
                "name": "web",
                "image": "acme/web:1.0",
                "databases": [
                    {"name": "webdb", "engine": "postgres"},
                    {
                        "name": "other",
                        "engine": "postgres",
                        "backup": {"schedule": "15 */6 * * mon-fri", "verify": {"schedule": "0 5 * * 0"}},
                    },
                ],
            }
        ]
    )
    dbs = apps[0]["databases"]
    assert cron_to_oncalendar(dbs[0]["backup"]["schedule"]) == ["*-*-* 02:00:00"]
    assert cron_to_oncalendar(dbs[1]["backup"]["schedule"]) == ["Mon..Fri *-*-* 00/6:15:00"]
    assert cron_to_oncalendar(dbs[1]["backup"]["verify"]["schedule"]) == ["Sun *-*-* 05:00:00"]


# ---------------------------------------------------------------------------------------------
# One parser: the model accepts exactly what the backup role can schedule.

# (schedule, valid)
AGREEMENT = [
    ("0 2 * * *", True),
    ("*/15 * * * *", True),
    ("0 2 * * mon-fri", True),
    ("0 2 * * MON-Fri", True),
    ("0 2 * * 7", True),
    ("0 2 * * 5-7", True),
    ("0 2 * * 5-6,0-1", True),  # Fri..Mon, as cron reads it everywhere
    ("0 0 1 jan-mar/2 *", True),
    ("5/10 1-23/2 * * *", True),
    ("0-5/10 * * * *", True),
    ("30 4 1,15 * mon", True),
    ("0 0 31 * *", True),
    ("0 0 31 1-3 *", True),
    ("0 0 29 2 *", True),
    ("0 0 31 2 mon", True),
    ("0 0 31 2 *", False),
    ("0 0 30 feb *", False),
    ("0 2 * * 5-1", False),
    ("0 2 * * fri-mon", False),
    ("0 22-2 * * *", False),
    ("0 0 * dec-jan *", False),
    ("0 0 28-3 * *", False),
    ("60 * * * *", False),
    ("0 24 * * *", False),
    ("0 0 0 * *", False),
    ("0 0 * 13 *", False),
    ("0 0 * * 8", False),
    ("*/0 * * * *", False),
    ("0 2 ? * *", False),
    ("0 0 L * *", False),
    ("0 2 * * funday", False),
    ("@daily", False),
    ("@reboot", False),
    ("0 2 * *", False),
    ("0 2 * * * *", False),
    ("0 2 * *\n*", False),
]


def _model_problem(schedule: str) -> str | None:
    """The model's finding about ``schedule`` as databases[0].backup.schedule, or None when it accepts it."""
    db = {"name": "d", "engine": "postgres", "backup": {"schedule": schedule}}
    try:
        normalize_apps([{"name": "web", "image": "acme/web:1.0", "databases": [db]}])
    except ModelError as exc:
        findings = [e for e in exc.errors if "'databases[0].backup.schedule'" in e]
        assert findings, exc.errors
        return findings[0]
    return None


def _conversion_problem(schedule: str) -> str | None:
    try:
        cron_to_oncalendar(schedule)
    except CalendarError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("schedule", "valid"), AGREEMENT)
def test_model_accepts_exactly_what_converts(schedule: str, valid: bool) -> None:
    model, conversion, problem = _model_problem(schedule), _conversion_problem(schedule), cron_problem(schedule)
    assert (model is None, conversion is None, problem is None) == (valid, valid, valid), (model, conversion)
    if not valid:
        # The same reason in both messages.
        assert model is not None and conversion is not None and problem
        assert model.endswith(f": {problem}") and conversion.endswith(f": {problem}")
        assert f"{schedule!r} is not a 5-field cron schedule" in model


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not on PATH: calendars not checked by systemd")
@pytest.mark.parametrize("schedule", [schedule for schedule, valid in AGREEMENT if valid])
def test_systemd_analyze_accepts_every_conversion(schedule: str) -> None:
    calendars = cron_to_oncalendar(schedule)
    proc = subprocess.run(
        [str(SYSTEMD_ANALYZE), "calendar", *calendars],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},
        check=False,
    )
    assert proc.returncode == 0, f"systemd-analyze refused {calendars}: {proc.stderr}"
    elapses = re.findall(r"Next elapse: (.+)", proc.stdout)
    assert len(elapses) == len(calendars), proc.stdout
    assert any(e.strip() != "never" for e in elapses), f"{calendars} never fire: {proc.stdout}"


# ---------------------------------------------------------------------------------------------
# An independent oracle: which minutes a cron schedule fires on, by brute force (Vixie cron).

_NAMES = {
    3: {
        m: i + 1
        for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
    },
    4: {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def _expand(text: str, index: int) -> set[int]:
    low, high = _RANGES[index]
    out: set[int] = set()
    for part in text.split(","):
        base, _slash, step = part.partition("/")
        if base == "*":
            first, last = low, high
        else:
            a, _dash, b = base.partition("-")
            first = int(a) if a.isdigit() else _NAMES[index][a.lower()]
            last = (int(b) if b.isdigit() else _NAMES[index][b.lower()]) if b else (high if step else first)
        out.update(range(first, last + 1, int(step) if step else 1))
    if index == 4 and 7 in out:
        out.add(0)
    return out


def _cron_firings(schedule: str, start: datetime.datetime, count: int) -> list[datetime.datetime]:
    fields = schedule.split()
    minute, hour, dom, month, dow = (_expand(f, i) for i, f in enumerate(fields))
    dom_star, dow_star = fields[2].startswith("*"), fields[4].startswith("*")
    found: list[datetime.datetime] = []
    day = start.replace(hour=0, minute=0)
    while len(found) < count:
        in_dom, in_dow = day.day in dom, (day.isoweekday() % 7) in dow
        day_ok = (in_dom and in_dow) if (dom_star or dow_star) else (in_dom or in_dow)
        if day.month in month and day_ok:
            for h in sorted(hour):
                for m in sorted(minute):
                    t = day.replace(hour=h, minute=m)
                    if t > start and len(found) < count:
                        found.append(t)
        day += datetime.timedelta(days=1)
    return found


def _systemd_firings(expressions: list[str], start: datetime.datetime, count: int) -> list[datetime.datetime]:
    proc = subprocess.run(
        [
            "systemd-analyze",
            "calendar",
            f"--iterations={count}",
            f"--base-time={start:%Y-%m-%d %H:%M:%S} UTC",
            *expressions,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},
        check=False,
    )
    assert proc.returncode == 0, f"systemd-analyze refused {expressions}: {proc.stderr}"
    stamps = re.findall(r"(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", proc.stdout)
    times = sorted({datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S") for s in stamps})
    return times[:count]


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not on PATH: firings not compared")
@pytest.mark.parametrize(
    "schedule", list(dict.fromkeys([schedule for schedule, _expected in EXPECTED] + [s for s, ok in AGREEMENT if ok]))
)
def test_systemd_fires_when_cron_does(schedule: str) -> None:
    start = datetime.datetime(2026, 1, 30, 23, 58)
    count = 40
    assert _systemd_firings(cron_to_oncalendar(schedule), start, count) == _cron_firings(schedule, start, count)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("0 2 * * *", "0 2 * * *"),
        ("0 2 * * 7", "0 2 * * 0"),
        ("0 2 * * 5-7", "0 2 * * 0,5,6"),
        ("0 2 * * 0-7", "0 2 * * *"),
        ("0 2 * * mon-fri", "0 2 * * mon-fri"),
        ("0 3 */2 * *", "0 3 */2 * *"),
    ],
)
def test_kubernetes_gets_the_same_days_in_the_form_its_cron_reads(schedule: str, expected: str) -> None:
    assert cron_for_kubernetes(schedule) == expected


def test_a_stepped_star_with_a_restricted_day_field_is_refused_for_kubernetes() -> None:
    with pytest.raises(CalendarError, match=r"'\*/2' with the restricted day field 'sun'"):
        cron_for_kubernetes("0 3 */2 * sun")
    with pytest.raises(CalendarError, match="runs backwards"):
        cron_for_kubernetes("0 2 * * 5-1")
