# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters over the opsdeck application model: app_model, app_secrets, memory_bytes, cpu_cores.

Thin wrappers around plugins/module_utils/model.py, where the logic lives and is unit tested.
Their documentation is in app_model.yml, app_secrets.yml, memory_bytes.yml and cpu_cores.yml next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.module_utils.model import (
    ModelError,
    normalize_apps,
    parse_cpu,
    parse_memory,
    secrets_by_app,
)


def app_model(apps: Any, environment: str | None = None, registry: str | None = None) -> list[dict[str, Any]]:
    """Validate ``opsdeck_apps`` and return it normalized (see docs/model.md)."""
    try:
        return normalize_apps(apps, environment=environment, registry=registry)
    except ModelError as exc:
        count = len(exc.errors)
        raise AnsibleFilterError(
            f"opsdeck_apps is not a valid application model ({count} finding{'s' if count != 1 else ''}):\n{exc}"
        ) from None


def app_secrets(apps: Any) -> dict[str, dict[str, Any]]:
    """Each app's secrets by app name (``opsdeck_apps`` already validated by app_model)."""
    return secrets_by_app(apps)


def memory_bytes(value: Any) -> int:
    """A memory size (``512Mi``, ``1G``, ``256m``, bytes) in bytes."""
    try:
        return parse_memory(value)
    except ModelError as exc:
        raise AnsibleFilterError(str(exc)) from None


def cpu_cores(value: Any) -> float:
    """A CPU amount (``500m``, ``0.5``, ``2``) in cores."""
    try:
        return parse_cpu(value)
    except ModelError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """The opsdeck application model filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "app_model": app_model,
            "app_secrets": app_secrets,
            "memory_bytes": memory_bytes,
            "cpu_cores": cpu_cores,
        }
