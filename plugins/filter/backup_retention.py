# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter backup_retention: which backups a retention policy keeps and deletes, and why.

A thin wrapper around plugins/module_utils/backup/retention.py (a pure function, unit tested there).
Documentation: backup_retention.yml next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.module_utils.backup.retention import plan


def backup_retention(backups: Any, keep: Any, now: Any = None) -> dict[str, Any]:
    """The retention plan (``keep``, ``delete``, ``locked``, ``policy``, ``now``) of one app's database backups."""
    try:
        return plan(backups, keep, now=now).to_dict()
    except ValueError as exc:
        raise AnsibleFilterError(f"backup_retention: {exc}") from None


class FilterModule:
    """Backup retention filter of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        return {"backup_retention": backup_retention}
