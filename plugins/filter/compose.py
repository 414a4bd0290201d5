# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn the normalized application model into Compose deployments.

Thin wrappers around plugins/module_utils/compose.py (pure functions, unit tested there).
Documentation: compose_plan.yml and compose_info_query.yml next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.module_utils.compose import (
    ComposeRenderError,
    deploy_plan,
    info_queries,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import with_injected_secrets


def compose_plan(
    apps: Any,
    environment: str | None = None,
    injected: dict[str, list[str]] | None = None,
    injected_from: str = "/etc/opsdeck/databases",
) -> list[dict[str, Any]]:
    """Deployment specs (definition, checks, hooks) of a host's apps of the plan, in dependency order."""
    if not isinstance(apps, list):
        raise AnsibleFilterError(
            f"compose_plan expects the apps of the plan placed on a host (plan_host_apps), got {type(apps).__name__}"
        )
    try:
        return deploy_plan(with_injected_secrets(apps, injected, injected_from), environment=environment)
    except ComposeRenderError as exc:
        raise AnsibleFilterError(str(exc)) from None


def compose_info_query(
    plan: list[dict[str, Any]], root: str, secrets: dict[str, dict[str, Any]], profiles: list[str] | None = None
) -> list[dict[str, Any]]:
    """The ``projects`` argument of compose_project_info for a plan (desired definitions and secrets)."""
    return info_queries(plan, secrets, root, profiles)


class FilterModule:
    """Compose filters of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        return {"compose_plan": compose_plan, "compose_info_query": compose_info_query}
