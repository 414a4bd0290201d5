# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters systemd_calendar (a 5-field cron schedule as systemd OnCalendar= expressions) and
systemd_word (a string as one literal word of an Exec*= command line).

A thin wrapper around plugins/module_utils/systemd_calendar.py (pure function, unit tested
there). Documentation: systemd_calendar.yml next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.module_utils.systemd_calendar import (
    CalendarError,
    cron_to_oncalendar,
    quote_word,
)


def systemd_calendar(schedule: Any, field: str | None = None) -> list[str]:
    """The OnCalendar= expressions (one, or two when cron ORs its day fields) of a cron schedule.

    ``field`` names where the schedule came from (``app 'web': field 'databases[0].backup.schedule'``);
    an error message starts with it.
    """
    try:
        return cron_to_oncalendar(schedule)
    except CalendarError as exc:
        raise AnsibleFilterError(f"{field or 'systemd_calendar'}: {exc}") from None


def systemd_word(value: Any) -> str:
    """``value`` quoted as one word of a systemd command line (no %-specifier or $-expansion)."""
    if not isinstance(value, str):
        raise AnsibleFilterError(f"systemd_word: a string is required, got {type(value).__name__}")
    return quote_word(value)


class FilterModule:
    """systemd calendar filters of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        return {"systemd_calendar": systemd_calendar, "systemd_word": systemd_word}
