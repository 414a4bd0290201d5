# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters over the plan of a run: app_plan, app_plan_key, plan_host_apps, database_passwords,
backup_engine_jobs.

Thin wrappers around plugins/module_utils/plan.py, where the logic lives and is unit tested.
Their documentation is in the .yml files of the same names next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils import plan as p
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.config import job_spec
from ansible_collections.opsdeck.platform.plugins.plugin_utils.filters import wrap


def plan_host_apps(plan: dict[str, Any], host: str, groups: list[str] | None = None) -> list[dict[str, Any]]:
    """The apps of the plan placed on ``host``."""
    return p.host_apps(plan, host, groups)


def backup_engine_jobs(jobs: list[dict[str, Any]], passwords: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``jobs`` of the backup engine's config file from the plan's backup jobs and the
    databases' passwords (``database_passwords``): for the no_log task that writes the file."""
    return {job["key"]: job_spec(job, password=passwords.get(job["key"])) for job in jobs}


class FilterModule:
    """The plan filters of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        return {
            "app_plan": wrap(p.build, "opsdeck_apps is not a valid application model"),
            "app_plan_key": wrap(p.key, "opsdeck_apps: the plan's key"),
            "plan_host_apps": wrap(plan_host_apps, "the plan: the apps of a host"),
            "database_passwords": p.database_passwords,
            "backup_engine_jobs": backup_engine_jobs,
        }
