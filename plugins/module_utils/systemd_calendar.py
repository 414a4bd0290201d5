# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's one cron parser, and its translation into systemd ``OnCalendar=`` expressions.

Pure functions, standard library only, no import of another module of the collection (the
model imports this module, so it must not import the model). ``cron_problem`` is what the
application model validates every schedule with; ``cron_to_oncalendar`` is what the backup
role schedules with (filter ``opsdeck.platform.systemd_calendar``). Both read a schedule
through the same ``_parse``: a schedule the model accepts always translates, and one it
refuses fails the translation with the same reason.

Accepted: 5 fields ``minute hour day-of-month month day-of-week``, separated by spaces or
tabs; in each field ``*``, a value, a range ``A-B``, a step ``/S`` on any of them, and
comma-separated lists of these; month names ``jan``..``dec`` and day names ``sun``..``sat``
(any case) wherever a number is; day-of-week 0 and 7 both Sunday.

Refused, with a message naming the field:

- a value outside the field (``60 * * * *``), an unknown name, a step of 0, a line break;
- a range that wraps (``5-1``, ``fri-mon``, ``22-2``). Cron users usually mean Fri..Mon,
  but Vixie cron (Debian's ``cron``) refuses such a range, Kubernetes' CronJob parser
  (robfig/cron) refuses it and systemd refuses ``Fri..Mon``: accepting it here would mean a
  schedule that reads differently on every target. The message gives the two ranges to
  write instead (``5-6,0-1``);
- a day-of-month that no month of the month field has (``0 0 31 2 *``, ``0 0 31 4,6 *``):
  cron accepts it and never runs the job, which for a backup is a silent loss. February 29
  is accepted (it comes in leap years);
- macros (``@daily``, ``@hourly``, ...): the message gives the 5 fields to write.

Cron semantics kept, as Vixie cron implements them:

- ``N/S`` (a single value with a step) means ``N-<last>/S``; systemd's ``N/S`` means the same.
- Day-of-month and day-of-week: when *both* are restricted (neither field starts with ``*``),
  a day matches when *either* matches (OR). One ``OnCalendar=`` line can only AND them, so that
  case gives two lines, one per day field; a timer with several ``OnCalendar=`` lines fires on
  the union. When either field starts with ``*`` (``*/2`` included) the two are ANDed, which one
  line expresses.
"""

from __future__ import annotations

import re

__all__ = ["CalendarError", "cron_for_kubernetes", "cron_problem", "cron_to_oncalendar", "quote_word"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# systemd's weekday order starts on Monday.
_SYSTEMD_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The most days each month can have (February 29 in leap years).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# (label, lowest, highest, names)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day-of-week", 0, 7, {d: i for i, d in enumerate(_CRON_WEEKDAYS)}),
)
_PART_RE = re.compile(r"^(?:(\*)|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:/([0-9]+))?$")
# Fields are separated by spaces and tabs; any other whitespace (a line break above all, which
# would end a crontab line or a unit file's comment) is refused.
_OTHER_SPACE_RE = re.compile(r"[^\S \t]")


class CalendarError(ValueError):
    """The schedule is not a 5-field cron schedule this translation accepts (the message says why)."""


class _Part:
    """One comma-separated element of a cron field: ``*``, ``N``, ``A-B``, each with an optional step."""

    __slots__ = ("first", "last", "star", "step")

    def __init__(self, first: int, last: int, step: int | None, star: bool) -> None:
        self.first, self.last, self.step, self.star = first, last, step, star

    def values(self) -> list[int]:
        return list(range(self.first, self.last + 1, self.step or 1))


def _number(text: str, label: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = int(text) if text.isdigit() else names.get(text.lower())
    if value is None:
        hint = f" or a name ({', '.join(names)})" if names else ""
        raise CalendarError(f"the {label} field {field!r}: {text!r} is not a number{hint}")
    if not low <= value <= high:
        raise CalendarError(f"the {label} field {field!r}: {text} is outside {low}-{high}")
    return value


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _parse_field(text: str, index: int) -> list[_Part]:
    label, low, high, names = _FIELDS[index]
    parts: list[_Part] = []
    for element in text.split(","):
        match = _PART_RE.match(element)
        if not match:
            raise CalendarError(f"the {label} field {text!r}: {element!r} is not '*', a value, a range or a step")
        star, start, end, step_text = match.groups()
        step = int(step_text) if step_text is not None else None
        if step == 0:
            raise CalendarError(f"the {label} field {text!r}: a step of 0 never advances")
        if star:
            parts.append(_Part(low, high if index != 4 else 6, step, True))
            continue
        first = _number(start, label, low, high, names, text)
        if end is not None:
            last = _number(end, label, low, high, names, text)
        elif step is not None:
            last = high  # N/S means N-<last>/S
        else:
            last = first
        if last < first:
            top = 6 if index == 4 else high  # day-of-week: 7 is Sunday again, 0 says it
            raise CalendarError(
                f"the {label} field {text!r}: the range {element!r} runs backwards (a range does not wrap "
                f"around the end of the field); write it as two ranges (e.g. '{_span(first, top)},{_span(low, last)}')"
            )
        parts.append(_Part(first, last, step, False))
    return parts


def _parse(schedule: str) -> tuple[list[str], list[list[_Part]]]:
    """The fields of ``schedule`` and their parts; CalendarError (the reason, no prefix) if it is not valid."""
    if _OTHER_SPACE_RE.search(schedule):
        raise CalendarError("it holds a line break or other whitespace than spaces and tabs between its fields")
    fields = schedule.split()
    if len(fields) == 1 and fields[0].lower() in _MACROS:
        raise CalendarError(
            f"macros such as {fields[0]} are not accepted; write the 5 fields: {_MACROS[fields[0].lower()]!r}"
        )
    if len(fields) != 5:
        raise CalendarError(f"it has {len(fields)} fields")
    parsed = [_parse_field(text, i) for i, text in enumerate(fields)]
    dom_restricted, dow_restricted = not fields[2].startswith("*"), not fields[4].startswith("*")
    if dom_restricted and not dow_restricted:
        # Day-of-month ANDed with the weekdays: it must name a day that one of the months has.
        days = set().union(*(p.values() for p in parsed[2]))
        months = set().union(*(p.values() for p in parsed[3]))
        if min(days) > max(_MONTH_DAYS[m - 1] for m in months):
            raise CalendarError(
                f"the day-of-month field {fields[2]!r} names no day that a month of the month field {fields[3]!r} "
                "has (February has 29 days at most; April, June, September and November 30), so it never fires"
            )
    return fields, parsed


def cron_problem(schedule: str) -> str | None:
    """What is wrong with the 5-field cron ``schedule`` (naming the field), or None when it is valid.

    The application model validates every schedule with this function, and ``cron_to_oncalendar``
    refuses exactly the schedules it has a problem with, with the same reason.

    >>> cron_problem("60 2 * * *")
    "the minute field '60': 60 is outside 0-59"
    >>> cron_problem("0 2 * * fri") is None
    True
    """
    if not isinstance(schedule, str):
        return f"it is {type(schedule).__name__}, not a string"
    try:
        _parse(schedule)
    except CalendarError as exc:
        return str(exc)
    return None


def cron_for_kubernetes(schedule: str) -> str:
    """``schedule`` as a Kubernetes CronJob takes it, firing when cron does.

    The CronJob controller (robfig/cron) reads day-of-week 0-6 only: a 7 (Sunday) is written 0.
    It also ORs the two day fields when one of them is a stepped star (``*/2``), where cron and
    systemd AND them; that has no faithful translation, so it raises CalendarError naming the
    field. Raises CalendarError for a schedule ``cron_problem`` refuses.

    >>> cron_for_kubernetes("0 2 * * 5-7")
    '0 2 * * 0,5,6'
    >>> cron_for_kubernetes("0 2 * * mon-fri")
    '0 2 * * mon-fri'
    """
    fields, parsed = _parse(schedule)
    dom, dow = fields[2], fields[4]
    stepped = [text for text in (dom, dow) if text.startswith("*/") and text != "*/1"]
    other = dow if stepped and stepped[0] == dom else dom
    if stepped and not other.startswith("*"):
        raise CalendarError(
            f"{stepped[0]!r} with the restricted day field {other!r}: cron fires on the days both name, a Kubernetes "
            "CronJob on the days either names; name the days of the stepped field one by one (e.g. '1-31/2')"
        )
    if any(p.last == 7 for p in parsed[4]):
        days = sorted({day % 7 for p in parsed[4] for day in p.values()})
        fields[4] = "*" if len(days) == 7 else ",".join(str(day) for day in days)
    return " ".join(fields)


def _two(value: int) -> str:
    return f"{value:02d}"


def _render_numeric(parts: list[_Part], low: int, high: int) -> str:
    """A systemd component (month, day, hour or minute): ``*``, values, ``A..B``, ``A/S``, ``A..B/S``."""
    if any(p.star and not p.step for p in parts):
        return "*"
    rendered: list[str] = []
    for p in parts:
        values = p.values()
        if len(values) == 1:
            # A step that never gets past its start (0-5/10, */24): systemd refuses a repetition
            # that leaves its range, cron fires on the one value.
            rendered.append(_two(values[0]))
        elif p.step and p.step > 1:
            # systemd's "A/S" runs to the end of the component, like cron's "A-<last>/S".
            span = _two(p.first) if p.last == high else f"{_two(p.first)}..{_two(p.last)}"
            rendered.append(f"{span}/{p.step}")
        elif p.first == low and p.last == high:
            return "*"
        else:
            rendered.append(f"{_two(p.first)}..{_two(p.last)}")
    return ",".join(dict.fromkeys(rendered))


def _weekdays(parts: list[_Part]) -> set[int]:
    """Days of the week as systemd indexes (Monday 0 .. Sunday 6)."""
    days: set[int] = set()
    for p in parts:
        for cron_day in p.values():
            days.add((cron_day - 1) % 7)  # cron: Sunday 0 (and 7), Monday 1
    return days


def _render_weekdays(days: set[int]) -> str:
    """``Mon..Fri``, ``Sat,Sun``: runs of three or more days as ranges, in systemd's order."""
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    out: list[str] = []
    for run in runs:
        if len(run) >= 3:
            out.append(f"{_SYSTEMD_WEEKDAYS[run[0]]}..{_SYSTEMD_WEEKDAYS[run[-1]]}")
        else:
            out.extend(_SYSTEMD_WEEKDAYS[d] for d in run)
    return ",".join(out)


def _covers_all_days(parts: list[_Part]) -> bool:
    return set().union(*(set(p.values()) for p in parts)) >= set(range(1, 32))


def cron_to_oncalendar(schedule: str) -> list[str]:
    """The ``OnCalendar=`` expressions (one or two) that fire when the cron ``schedule`` does.

    >>> cron_to_oncalendar("0 2 * * *")
    ['*-*-* 02:00:00']
    >>> cron_to_oncalendar("30 4 1,15 * mon")
    ['*-*-01,15 04:30:00', 'Mon *-*-* 04:30:00']

    Raises CalendarError when the schedule is not valid: ``'<schedule>' is not a 5-field cron
    schedule (...): <reason>``, the reason being what ``cron_problem`` says.
    """
    if not isinstance(schedule, str):
        raise CalendarError(f"expected a 5-field cron schedule as a string, got {type(schedule).__name__}")
    try:
        fields, (minute, hour, dom, month, dow) = _parse(schedule)
    except CalendarError as exc:
        raise CalendarError(
            f"{schedule!r} is not a 5-field cron schedule (minute hour day-of-month month day-of-week): {exc}"
        ) from None

    time = f"{_render_numeric(hour, 0, 23)}:{_render_numeric(minute, 0, 59)}:00"
    month_text = _render_numeric(month, 1, 12)
    dom_text = _render_numeric(dom, 1, 31)
    days = _weekdays(dow)
    dow_text = "" if len(days) == 7 else _render_weekdays(days) + " "

    def line(weekdays: str, day: str) -> str:
        return f"{weekdays}*-{month_text}-{day} {time}"

    dom_restricted = not fields[2].startswith("*")
    dow_restricted = not fields[4].startswith("*")
    if dom_restricted and dow_restricted:
        # Cron ORs the two day fields; a field that already covers every day makes the union every day.
        if not dow_text or _covers_all_days(dom):
            return [line("", "*")]
        return [line("", dom_text), line(dow_text, "*")]
    return [line(dow_text, dom_text)]


def quote_word(value: str) -> str:
    """``value`` as one word of a unit's ``Exec*=`` line, taken literally by systemd.

    systemd splits command lines on spaces, expands ``%`` specifiers and ``$VAR``/``${VAR}``,
    and reads C escapes inside double quotes: the word is double-quoted with ``\\`` and ``"``
    escaped, ``%`` doubled and ``$`` doubled (systemd.service(5), "Command lines").
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'
