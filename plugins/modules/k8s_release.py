#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_release
short_description: Apply one app's Kubernetes release server-side, prune, wait for the rollout, roll back a failed one
version_added: 0.1.0
description:
  - Validates every object of the release with a server dry-run, then applies the changed ones with server-side
    apply (field manager C(opsdeck)); objects of the app that the release no longer has are deleted, found by the
    labels C(app.kubernetes.io/managed-by=opsdeck) and C(app.kubernetes.io/instance=<app>).
  - Waits for the Deployment, StatefulSet or DaemonSet to roll out. A rollout that failed (a Deployment's
    C(ProgressDeadlineExceeded), or a StatefulSet or DaemonSet that made no progress for C(progress_deadline_s)) is
    rolled back to the previous revision (for a DaemonSet its previous ControllerRevision) and the module fails with
    the reason; a rollout that is only slow fails at O(wait_timeout) without a rollback.
  - Jobs of the release (the app's C(hooks.pre_deploy)) are run before the workload is applied and waited for; a
    failed one stops the app with its reason and exit code, and the workload is not applied. A Job found complete
    (the same revision) is not run again.
  - A workload's pod template is stamped with the C(resourceVersion) of each Secret it reads, so a new secret value
    rolls the pods and the same value changes nothing; no hash of a value is written to the cluster.
  - Objects that carry the hash of their manifest and every field of it are left alone without a dry-run; with three
    releases or more, what opsdeck manages is listed once per kind for the whole cluster.
  - Built for what M(kubernetes.core.k8s) lacks, namely a dry-run of the whole release before any write, rollback
    of StatefulSets, a failed rollout told apart from a time-out, and Secret values that are never in a
    C(last-applied-configuration) annotation, a diff or a result.
  - The release comes from the filter P(opsdeck.platform.k8s_releases#filter); the role
    R(opsdeck.platform.k8s_app,ansible_collections.opsdeck.platform.k8s_app_role) wires the two.
author:
  - opsdeck platform team (@opsdeck)
requirements:
  - The Python library C(kubernetes) on the host that runs the module.
extends_documentation_fragment:
  - opsdeck.platform.attributes
attributes:
  check_mode:
    support: full
    details: Server dry-run of every object; in a namespace that does not exist yet, the objects are reported as
      to be created without a dry-run.
  diff_mode:
    support: full
    details: Live object against the server's dry-run result; Secret values shown as VALUE_HIDDEN.
  idempotent:
    support: full
options:
  releases:
    description:
      - Releases of P(opsdeck.platform.k8s_releases#filter), one per app, C({app, namespace, state, selector,
        manifests}), applied in this order. The first app that fails stops the run; the apps after it are not
        touched.
      - A platform release (the logging role's, from P(opsdeck.platform.logging_k8s_releases#filter)) has the same
        shape; its C(app) is the release name (the C(app.kubernetes.io/instance) label) and its optional C(title)
        names it in messages.
      - One call for all apps of a cluster, so the client, its API discovery and the connection are set up once.
    type: list
    elements: dict
    required: true
  secrets:
    description:
      - Values of the apps' secrets, by app name then secret name (the output of
        P(opsdeck.platform.app_secrets#filter)). Never returned.
    type: dict
    default: {}
  kubeconfig:
    description: Path of the kubeconfig file; the default is C(~/.kube/config) or C(KUBECONFIG).
    type: path
  context:
    description: Context of the kubeconfig to use; its current context when not given.
    type: str
  prune:
    description: Delete objects of the app that the release no longer has.
    type: bool
    default: true
  prune_apps:
    description:
      - After the releases, delete the namespace (and so every object) of each app that this release set deployed
        and that is no longer in the model. Only namespaces labelled C(app.kubernetes.io/managed-by=opsdeck) and
        C(opsdeck.io/release-set=<release_set>) are looked at, so another inventory's apps on the same cluster (another
        set) are never touched. Check mode and diff show the namespaces without deleting them.
      - Refused with an empty O(keep_namespaces) (an empty model would delete every app of the set).
    type: bool
    default: false
  release_set:
    description: The release set whose apps O(prune_apps) may delete (the releases' C(release_set) label).
    type: str
  keep_namespaces:
    description: Namespaces of every app of the model (present or absent, also those not deployed in this run).
    type: list
    elements: str
    default: []
  wait:
    description: Wait for the workload's rollout (and roll back a failed one).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for a rollout before failing it as slow (no rollback).
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Deploy the apps of the model
  opsdeck.platform.k8s_release:
    releases: "{{ opsdeck_apps | opsdeck.platform.app_model | opsdeck.platform.k8s_releases }}"
    secrets: "{{ opsdeck_apps | opsdeck.platform.app_secrets }}"
    kubeconfig: /etc/opsdeck/prod.kubeconfig
"""

RETURN = r"""
releases:
  description: One result per app that was run, in order.
  returned: always
  type: list
  elements: dict
  contains:
    app:
      description: The app.
      type: str
      sample: web
    changed:
      description: Whether anything of the app was (or in check mode would be) written or deleted.
      type: bool
      sample: true
    objects:
      description: Every object of the release and what was done to it (created, updated, unchanged).
      type: list
      elements: dict
      sample: [{"kind": "Deployment", "name": "web", "action": "updated"}]
    pruned:
      description: Objects of the app deleted because the release no longer has them.
      type: list
      elements: dict
      sample: [{"kind": "Ingress", "name": "web"}]
    not_applied:
      description: Objects not applied because the cluster lacks their API (ServiceMonitor and PrometheusRule without
        the Prometheus Operator CRDs).
      type: list
      elements: dict
      sample: [{"kind": "ServiceMonitor", "name": "web", "why": "no Prometheus Operator CRDs"}]
    rollout:
      description: The workload's rollout, with C(rolled_back_to) when it was rolled back; null when not waited.
      type: dict
      sample: {"kind": "Deployment", "name": "web", "state": "done", "message": "3 of 3 replicas updated and available"}
    hooks:
      description: The C(hooks.pre_deploy) Jobs run in this run and how they ended (absent when none ran).
      type: list
      elements: dict
      sample: [{"name": "migrate", "job": "web-pre-deploy0-3f2a9c1d0e", "state": "complete"}]
pruned_apps:
  description: Apps of the release set deleted (or, in check mode, to be deleted) because they left the model.
  returned: always
  type: list
  elements: dict
  sample: [{"app": "old-shop", "namespace": "old-shop"}]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from kubernetes import config
    from kubernetes.dynamic import DynamicClient

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import DeployError, Release, deploy


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "releases": {"type": "list", "elements": "dict", "required": True},
            "secrets": {"type": "dict", "default": {}, "no_log": True},
            "kubeconfig": {"type": "path"},
            "context": {"type": "str"},
            "prune": {"type": "bool", "default": True},
            "prune_apps": {"type": "bool", "default": False},
            "release_set": {"type": "str"},
            "keep_namespaces": {"type": "list", "elements": "str", "default": []},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int", "default": 600},
        },
        required_if=[("prune_apps", True, ("release_set",))],
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    p = module.params
    for i, release in enumerate(p["releases"]):
        for key in ("app", "namespace", "selector"):
            if not isinstance(release.get(key), str):
                module.fail_json(msg=f"releases[{i}]: {key!r} is missing; pass the output of the k8s_releases filter")
    if p["prune_apps"] and not p["keep_namespaces"]:
        module.fail_json(
            msg="prune_apps: keep_namespaces is empty; an empty model would delete every app of the release set "
            f"{p['release_set']!r}, which is refused (remove the apps with state: absent instead)"
        )
    try:
        api = config.new_client_from_config(config_file=p["kubeconfig"], context=p["context"])
    except Exception as exc:
        module.fail_json(msg=f"cannot load the kubeconfig {p['kubeconfig'] or '(default)'}: {exc}")
    dynamic = DynamicClient(api)

    def finish(result: dict) -> dict:
        diff = result.pop("diff", None)
        if module._diff and diff:
            result["diff"] = diff
        return result

    try:
        result = deploy(
            dynamic,
            p["releases"],
            p["secrets"] or {},
            check_mode=module.check_mode,
            prune=p["prune"],
            wait=p["wait"],
            wait_timeout=p["wait_timeout"],
            prune_apps_of=p["release_set"] if p["prune_apps"] else None,
            keep_namespaces=p["keep_namespaces"],
            release_cls=Release,
        )
    except DeployError as exc:
        extra = {"exception": traceback.format_exc()} if exc.__cause__ is not None else {}
        module.fail_json(msg=exc.msg, **extra, **finish(exc.result))
    except Exception as exc:
        module.fail_json(
            msg=f"{type(exc).__name__}: {getattr(exc, 'body', None) or exc}", exception=traceback.format_exc()
        )
    finally:
        api.close()
    module.exit_json(**finish(result))


if __name__ == "__main__":
    main()
