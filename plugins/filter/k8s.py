# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes filters: the apps' releases and the cluster's monitoring stack.

Thin wrappers around plugins/module_utils/k8s_render.py and k8s_monitoring.py (pure
functions, unit tested there). Documentation: k8s_releases.yml and k8s_monitoring_stack.yml
next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_monitoring import secret_manifest, stack
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps
from ansible_collections.opsdeck.platform.plugins.plugin_utils.filters import wrap


def _releases(apps: Any, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    if not isinstance(apps, list) or not all(isinstance(a, dict) and "image_ref" in a for a in apps):
        raise AnsibleFilterError("k8s_releases expects the normalized app list (the app_model filter's output)")
    return render_apps(apps, options)


k8s_releases = wrap(_releases, "opsdeck_apps cannot be deployed to Kubernetes")


def _stack(
    apps: Any, settings: Any, dashboards: dict[str, str] | None = None, blackbox_config: str = ""
) -> dict[str, Any]:
    if not isinstance(apps, list) or not all(isinstance(a, dict) and "image_ref" in a for a in apps):
        raise AnsibleFilterError("k8s_monitoring_stack expects the normalized app list (the app_model filter's output)")
    if not isinstance(settings, dict):
        raise AnsibleFilterError("k8s_monitoring_stack expects a mapping of settings")
    return stack(settings, dashboards, apps, blackbox_config)


def _secret(
    _input: Any, meta: dict[str, str], key: str, value: Any, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    if not isinstance(meta, dict) or not {"name", "namespace", "release"} <= set(meta):
        raise AnsibleFilterError("k8s_monitoring_secret expects meta with name, namespace and release")
    return secret_manifest(meta, {**(extra or {}), key: value})


k8s_monitoring_secret = wrap(_secret, "cannot render the Secret")
k8s_monitoring_stack = wrap(_stack, "the monitoring stack cannot be installed on the cluster")


class FilterModule:
    """Kubernetes filters of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        return {
            "k8s_releases": k8s_releases,
            "k8s_monitoring_stack": k8s_monitoring_stack,
            "k8s_monitoring_secret": k8s_monitoring_secret,
        }
