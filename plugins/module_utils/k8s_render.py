# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The releases of the apps on Kubernetes: each app's objects, its databases' and their backups'.

``render_apps(apps, options)`` (the filter ``opsdeck.platform.k8s_releases``) turns the
*normalized* ``opsdeck_apps`` into one release per app: the namespace it lives in and its
manifests, in apply order. This is the layer above the renderers, and the only module that
imports all three (pure functions, no I/O):

- k8s_manifests: the app's own objects (``own_manifests``) and the checks of its options;
- k8s_databases: its managed databases, the connection Secret, the grown quota (``with_databases``);
- k8s_backup: the backups of those databases (``render``), which go with them.

The renderers import nothing of one another but what a backup needs of its database
(k8s_backup imports k8s_databases); what they share is k8s_common's.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_backup as kb
from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_databases as kd
from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_manifests as km
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_common import (
    LABEL_RELEASE_SET,
    K8sRenderError,
    prune_selector,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError


def options_with_defaults(options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` over k8s_manifests.DEFAULT_OPTIONS, ``backup`` over k8s_backup's defaults;
    raises K8sRenderError with every unknown key and bad value."""
    opts, findings = km.app_options(options)
    try:
        opts["backup"] = kb.options(opts["backup"])
    except ModelError as exc:
        findings += exc.errors
    if findings:
        raise K8sRenderError(findings)
    return opts


def render_app(
    app: dict[str, Any],
    opts: dict[str, Any],
    *,
    dependents: list[str] | None = None,
    dependencies: list[tuple[str, list[dict[str, Any]]]] | None = None,
) -> list[dict[str, Any]]:
    """The manifests of one present app, in apply order: its own (k8s_manifests), its managed
    databases' and their backups' (k8s_databases, k8s_backup); with the option ``release_set``,
    every object labelled with it. ``opts`` must be options_with_defaults()'s."""
    out = km.own_manifests(app, opts, dependents=dependents, dependencies=dependencies)
    if kd.managed_databases(app):
        backups = kb.render(app, km.namespace_of(app, opts), opts["backup"])
        out = kd.with_databases(app, opts, out, companions=backups)
    if opts["release_set"]:
        for m in out:
            m["metadata"].setdefault("labels", {})[LABEL_RELEASE_SET] = opts["release_set"]
    return out


def render_apps(apps: list[dict[str, Any]], options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One release per app of the normalized model: ``{app, namespace, state, selector, manifests}``.

    An absent app has no manifests (the module removes what carries its labels, and its
    namespace). Raises K8sRenderError with every finding (named by app and field).
    """
    opts = options_with_defaults(options)
    findings: list[str] = []
    for app in apps:
        if app["state"] == "present":
            findings += km.check(app, opts)
    findings += kb.check(apps, opts["backup"])
    if findings:
        raise K8sRenderError(findings)
    by_name = {a["name"]: a for a in apps}
    dependents: dict[str, list[str]] = {a["name"]: [] for a in apps}
    for a in apps:
        if a["state"] != "present":
            continue
        for d in a["depends_on"]:
            if d["name"] in dependents:
                dependents[d["name"]].append(km.namespace_of(a, opts))
    releases = []
    for app in apps:
        ns = km.namespace_of(app, opts)
        manifests: list[dict[str, Any]] = []
        if app["state"] == "present":
            deps = [
                (km.namespace_of(by_name[d["name"]], opts), by_name[d["name"]]["ports"])
                for d in app["depends_on"]
                if d["name"] in by_name
            ]
            manifests = render_app(app, opts, dependents=sorted(dependents[app["name"]]), dependencies=deps)
        releases.append(
            {
                "app": app["name"],
                "namespace": ns,
                "state": app["state"],
                "selector": prune_selector(app["name"]),
                "release_set": opts["release_set"],
                "progress_deadline_s": opts["progress_deadline_s"],
                "manifests": manifests,
            }
        )
    return releases
