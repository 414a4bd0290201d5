# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn the normalized application model into Kubernetes releases.

Thin wrapper around plugins/module_utils/k8s_manifests.py (pure functions, unit tested there).
Documentation: k8s_releases.yml next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_manifests import render_apps
from ansible_collections.opsdeck.platform.plugins.plugin_utils.filters import wrap


def _releases(apps: Any, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    if not isinstance(apps, list) or not all(isinstance(a, dict) and "image_ref" in a for a in apps):
        raise AnsibleFilterError("k8s_releases expects the normalized app list (the app_model filter's output)")
    return render_apps(apps, options)


k8s_releases = wrap(_releases, "opsdeck_apps cannot be deployed to Kubernetes")


class FilterModule:
    """Kubernetes filters of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        return {"k8s_releases": k8s_releases}
