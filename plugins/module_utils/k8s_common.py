# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the Kubernetes renderers share: label names, object metadata, names, the DNS-label rule.

The renderers (k8s_manifests: an app's own objects; k8s_databases: its managed databases;
k8s_backup: their backups; k8s_logging, k8s_monitoring: the platform's releases), the layer that
puts an app's objects together (k8s_render) and the release engine (k8s_release) import these
from here; this module imports no other k8s_* module. The import graph among them:

    k8s_common  <-  k8s_manifests, k8s_databases, k8s_logging, k8s_monitoring
    k8s_databases  <-  k8s_backup
    k8s_manifests, k8s_databases, k8s_backup  <-  k8s_render
    k8s_manifests, k8s_databases  <-  k8s_release

One name per label, one label per name (a unit test, tests/unit/test_k8s_imports.py, keeps it
so). Two "component" labels exist, with different users, and keep the values each renderer
has always written (a changed label would be a changed, re-applied object, and a changed
selector a refused one):

- ``LABEL_COMPONENT`` (``app.kubernetes.io/component``, the well-known label): the pods and
  objects of an app's managed databases (``database``) and of their backups (``backup``);
- ``LABEL_OPSDECK_COMPONENT`` (``opsdeck.io/component``): the ``hooks.pre_deploy`` Jobs of an
  app (``pre-deploy``) and the logging releases' objects (``logging``).
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.model import DNS_LABEL_PATTERN, ModelError

# The value of LABEL_MANAGED_BY on everything the collection applies (the prune selectors' key).
MANAGED_BY = "opsdeck"
PART_OF = "opsdeck"

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_VERSION = "app.kubernetes.io/version"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_OPSDECK_COMPONENT = "opsdeck.io/component"
LABEL_RELEASE_SET = "opsdeck.io/release-set"
LABEL_TEAM = "opsdeck.io/team"
LABEL_ENVIRONMENT = "opsdeck.io/environment"
# managed databases (k8s_databases) and their backups (k8s_backup)
LABEL_DATABASE = "opsdeck.io/database"
LABEL_DATABASE_ROLE = "opsdeck.io/database-role"
# the app of a database's credentials Secret, which carries no LABEL_INSTANCE (it is never pruned)
LABEL_APP = "opsdeck.io/app"

# A DNS-1123 label (namespace, Service and most object names): at most 63 characters.
DNS_LABEL = re.compile(DNS_LABEL_PATTERN)  # the model's rule
# A label value (without the 63-character limit, checked apart where it matters).
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


class K8sRenderError(ModelError):
    """The model (or an option) cannot be turned into manifests; one finding per line."""


def object_meta(name: str, namespace: str | None, labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    """An object's ``metadata``: name, namespace (None: a cluster-scoped object), a copy of
    ``labels``, then ``extra`` (``annotations=...``)."""
    out: dict[str, Any] = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    out["labels"] = dict(labels)
    out.update(extra)
    return out


def selector_labels(app: dict[str, Any]) -> dict[str, str]:
    """The labels that select the pods of an app's workload."""
    return {LABEL_NAME: app["name"], LABEL_INSTANCE: app["name"]}


def companion_labels(app: dict[str, Any]) -> dict[str, str]:
    """Labels of the objects that the database and backup renderers add to an app's release
    (its prune labels among them), before their own name and component labels."""
    labels = {LABEL_TEAM: app["team"], LABEL_PART_OF: PART_OF}
    if app.get("environment"):
        labels[LABEL_ENVIRONMENT] = app["environment"]
    return {**labels, LABEL_MANAGED_BY: MANAGED_BY, LABEL_NAME: app["name"], LABEL_INSTANCE: app["name"]}


def prune_selector(app_name: str) -> str:
    """The label selector of every object the release module manages for ``app_name``."""
    return f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_INSTANCE}={app_name}"


def release_set_selector(release_set: str) -> str:
    """The label selector of the namespaces of every app that the release set ``release_set`` deployed."""
    return f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RELEASE_SET}={release_set}"


def apart_by_host(select: dict[str, str]) -> dict[str, Any]:
    """A pod ``affinity`` that prefers the pods matching ``select`` on different nodes."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": select},
                    },
                }
            ]
        }
    }


def restricted_security(uid: int, gid: int) -> dict[str, Any]:
    """A container ``securityContext`` of Pod Security "restricted" with a read-only root
    filesystem, running as ``uid``:``gid`` (numbers: runAsNonRoot is checked against them)."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
