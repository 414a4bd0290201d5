# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logging on a Kubernetes cluster: VictoriaLogs and an OpenTelemetry Collector DaemonSet (pure functions, no I/O).

``releases(settings)`` returns the releases for the module ``opsdeck.platform.k8s_release``
(the shape of ``k8s_render.render_apps``' releases), applied in this order:

- ``opsdeck-logging`` in the namespace ``logging`` (Pod Security ``restricted`` enforced): the
  store, a VictoriaLogs StatefulSet of one pod whose flags come from the same derivation as on
  docker hosts (``logging.store_flags``: retention by age and by disk size, extra flags, the
  same refusals naming the same variables), a volume claim for its data (the disk limit must
  fit in it), nobody (65534), read-only root, no capability, probes on ``/health``; a Service;
  NetworkPolicies (default deny; the store admits the collectors' pods, the monitoring
  namespace and ``store_clients``); a ServiceMonitor (job ``victorialogs``) when the cluster
  serves the Prometheus Operator CRDs (the module drops it otherwise);
- ``opsdeck-otelcol`` in the namespace ``logging-shipper``: the shipper, a DaemonSet of the
  OpenTelemetry Collector (contrib distribution, the upstream image) on every node (tolerating
  every taint). Its configuration is ``logging.pod_collector_config`` (the same derivation and
  messages as on docker hosts), in a ConfigMap mounted at ``/etc/otelcol-contrib``; the pod
  template carries the configuration's digest, so a changed configuration rolls the DaemonSet.
  The collector reads the kubelet's ``/var/log/pods`` (hostPath, read-only; CRI lines, partial
  ones joined) and keeps its read positions and its persistent sending queue in file_storage
  on the node (hostPath ``/var/lib/opsdeck-otelcol``, so a restart, an upgrade or a store
  outage loses nothing and sends nothing twice); the node's name (``host``) comes from the
  downward API. hostPath volumes are refused by Pod Security ``baseline`` as much as by
  ``restricted``, so this namespace enforces ``privileged`` (and audits ``baseline``), with the
  reason in an annotation, and holds nothing but the collector; it runs as root (the log files
  are root's, 0640) with every capability dropped, no privilege escalation, a read-only root
  file system and the RuntimeDefault seccomp profile; probes on the health_check extension;
  NetworkPolicies: egress to the store and DNS only, ingress from the monitoring namespace on
  the metrics port; a headless Service and a ServiceMonitor (job ``otelcol``) for its metrics.
  No ``k8sattributes`` processor: the fields come from the log file's path, so the collector
  needs no access to the API server (no token mounted, no ClusterRole);
- ``opsdeck-logship``, the shipper this collection ran before the collector (same namespace):
  a release with no objects, so prune deletes whatever logship left (DaemonSet, Service,
  ServiceMonitor, NetworkPolicies, ServiceAccount). It comes after the collector's release:
  by then the namespace carries the collector's instance label, so only logship's objects go
  (check mode and diff show them, as for any prune).

Both ServiceAccounts mount no token (neither pod talks to the API server). Every object carries
``app.kubernetes.io/managed-by: opsdeck`` and ``app.kubernetes.io/instance: <release>``: the
module prunes by them, as it does for apps.

Errors are ``LoggingError``: one finding per line, naming the role variable.
"""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
import re
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils import logging as lg
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_common import (
    DNS_LABEL,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_OPSDECK_COMPONENT,
    LABEL_PART_OF,
    MANAGED_BY,
    PART_OF,
    object_meta,
    prune_selector,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import (
    ModelError,
    format_memory_k8s,
    parse_cpu,
    parse_memory,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import PROMETHEUS_DURATION

STORE_RELEASE = "opsdeck-logging"
SHIPPER_RELEASE = "opsdeck-otelcol"
# The shipper before the collector: its release is emptied (pruned) in the same namespace.
LEGACY_SHIPPER_RELEASE = "opsdeck-logship"
STORE_NAME = "victorialogs"
SHIPPER_NAME = "otelcol"
# The ServiceMonitor's job: the docker hosts' job, which the rule library's alerts select.
SHIPPER_JOB = "otelcol"
DATA_PATH = "/victoria-logs-data"
PODS_DIR = "/var/log/pods"
NODE_ENV = "NODE_NAME"
# The key of the collector's configuration in its ConfigMap (the file name in the image).
CONFIG_KEY = posixpath.basename(lg.CONFIG_PATH)
# On the pod template: the sha256 of the configuration (a change rolls the pods).
CONFIG_DIGEST = "opsdeck.io/config-digest"
# Why the shipper's namespace enforces "privileged" (an annotation on it, for whoever audits).
JUSTIFICATION = (
    "The OpenTelemetry Collector reads the kubelet's pod logs (/var/log/pods) and keeps its read "
    "positions and its sending queue on the node (/var/lib/opsdeck-otelcol by default): hostPath volumes, "
    "which Pod Security baseline and restricted refuse. Its pod is not privileged: root (the files are "
    "root's), no capability, no privilege escalation, read-only root file system, seccomp RuntimeDefault, "
    "no API token. Nothing else runs in this namespace."
)

# The settings and their role variables (the names used in messages).
DEFAULTS: dict[str, Any] = {
    "state": "present",
    "namespace": "logging",
    "shipper_namespace": "logging-shipper",
    "monitoring_namespace": "monitoring",
    "store_clients": [],
    "store_image": "victoriametrics/victoria-logs:v1.52.1",
    "shipper_image": "otel/opentelemetry-collector-contrib:0.165.1",
    "retention_period": "7d",
    "max_disk_usage": "10GiB",
    "extra_flags": [],
    "port": 9428,
    "volume_size": "20Gi",
    "storage_class": None,
    "store_resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    "shipper_resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    "environment": None,
    "fields": {},
    "namespace_prefix": "",
    "interval": "1s",
    "shipper_port": 9430,
    "health_port": 13133,
    "queue_size": 500,
    "state_dir": "/var/lib/opsdeck-otelcol",
    "pods_dir": PODS_DIR,
    "scrape_interval": "30s",
    "progress_deadline_s": 300,
}
VARIABLES = {
    "state": "logging_k8s_state",
    "namespace": "logging_k8s_namespace",
    "shipper_namespace": "logging_k8s_shipper_namespace",
    "monitoring_namespace": "logging_k8s_monitoring_namespace",
    "store_clients": "logging_k8s_store_clients",
    "store_image": "logging_victorialogs_image",
    "shipper_image": "logging_shipper_image",
    "retention_period": "logging_retention_period",
    "max_disk_usage": "logging_retention_max_disk_usage",
    "extra_flags": "logging_extra_flags",
    "port": "logging_port",
    "volume_size": "logging_k8s_volume_size",
    "storage_class": "logging_k8s_storage_class",
    "store_resources": "logging_k8s_store_resources",
    "shipper_resources": "logging_k8s_shipper_resources",
    "environment": "opsdeck_environment",
    "fields": "logging_shipper_fields",
    "namespace_prefix": "logging_k8s_namespace_prefix",
    "interval": "logging_shipper_interval",
    "shipper_port": "logging_shipper_port",
    "health_port": "logging_shipper_health_port",
    "queue_size": "logging_shipper_queue_size",
    "state_dir": "logging_k8s_shipper_state_dir",
    "pods_dir": "logging_k8s_pods_dir",
    "scrape_interval": "logging_k8s_scrape_interval",
    "progress_deadline_s": "logging_k8s_progress_deadline_s",
}


def _check_resources(errors: list[str], var: str, value: Any) -> None:
    if not isinstance(value, dict) or set(value) - {"requests", "limits"}:
        errors.append(f"{var}: expected {{requests: {{cpu, memory}}, limits: {{cpu, memory}}}}, got {value!r}")
        return
    for part, amounts in value.items():
        if not isinstance(amounts, dict) or set(amounts) - {"cpu", "memory"}:
            errors.append(f"{var}.{part}: expected {{cpu, memory}}, got {amounts!r}")
            continue
        for key, amount in amounts.items():
            try:
                (parse_cpu if key == "cpu" else parse_memory)(amount)
            except ModelError as exc:
                errors.append(f"{var}.{part}.{key}: {exc}")


def settings_with_defaults(settings: dict[str, Any] | None) -> dict[str, Any]:
    """``settings`` over DEFAULTS, every value checked; LoggingError names the role variables."""
    opts = copy.deepcopy(DEFAULTS)
    errors: list[str] = []
    for key, value in (settings or {}).items():
        if key not in DEFAULTS:
            errors.append(f"logging (kubernetes): unknown setting {key!r}; allowed: {', '.join(sorted(DEFAULTS))}")
        elif value is not None or key in ("storage_class", "environment"):
            opts[key] = value
    if opts["state"] not in ("present", "absent"):
        errors.append(f"logging_k8s_state: {opts['state']!r} is not one of 'present', 'absent'")
    for key in ("namespace", "shipper_namespace", "monitoring_namespace"):
        if not isinstance(opts[key], str) or not DNS_LABEL.match(opts[key]):
            errors.append(f"{VARIABLES[key]}: {opts[key]!r} is not a namespace name (a DNS-1123 label)")
    if opts["namespace"] == opts["shipper_namespace"]:
        errors.append(
            "logging_k8s_shipper_namespace: must differ from logging_k8s_namespace (the store's namespace enforces "
            "Pod Security restricted, the shipper's must allow its hostPath volumes)"
        )
    clients = opts["store_clients"]
    if not isinstance(clients, list) or not all(isinstance(c, str) and DNS_LABEL.match(c) for c in clients):
        errors.append(f"logging_k8s_store_clients: {clients!r} is not a list of namespace names")
    for key in ("store_image", "shipper_image"):
        if not isinstance(opts[key], str) or not opts[key] or any(c.isspace() for c in opts[key]):
            errors.append(f"{VARIABLES[key]}: {opts[key]!r} is not an image reference")
    try:
        volume = parse_memory(opts["volume_size"])
    except ModelError as exc:
        errors.append(f"logging_k8s_volume_size: {exc}")
        volume = None
    if volume is not None and opts["max_disk_usage"] not in (None, "", 0, "0"):
        try:
            limit = lg.parse_size(opts["max_disk_usage"])
        except ValueError:
            limit = None  # store_flags says why
        if limit is not None and limit >= volume:
            errors.append(
                f"logging_retention_max_disk_usage: {opts['max_disk_usage']!r} does not fit in the store's volume "
                f"(logging_k8s_volume_size {opts['volume_size']!r}): make the limit smaller than the volume, so the "
                "oldest partitions go before the disk is full"
            )
    sc = opts["storage_class"]
    if sc not in (None, "") and (not isinstance(sc, str) or not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", sc)):
        errors.append(f"logging_k8s_storage_class: {sc!r} is not a storage class name")
    for key in ("store_resources", "shipper_resources"):
        _check_resources(errors, VARIABLES[key], opts[key])
    for key in ("state_dir", "pods_dir"):
        path = opts[key]
        if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") in ("", "/etc", "/var", "/proc"):
            errors.append(f"{VARIABLES[key]}: {path!r} is not an absolute directory of the node")
    if not isinstance(opts["scrape_interval"], str) or not PROMETHEUS_DURATION.match(opts["scrape_interval"]):
        errors.append(f"logging_k8s_scrape_interval: {opts['scrape_interval']!r} is not a duration such as 30s or 1m")
    deadline = opts["progress_deadline_s"]
    if isinstance(deadline, bool) or not isinstance(deadline, int) or deadline < 1:
        errors.append(f"logging_k8s_progress_deadline_s: {deadline!r} is not an integer >= 1")
    # The store's flags and the shipper's arguments: the docker hosts' derivation and its messages.
    try:
        opts["_flags"] = lg.store_flags(
            opts["retention_period"],
            opts["max_disk_usage"],
            listen_address="0.0.0.0",
            port=opts["port"],
            data_path=DATA_PATH,
            extra_flags=opts["extra_flags"],
        )
    except lg.LoggingError as exc:
        errors += exc.errors
    url = f"http://{STORE_NAME}.{opts['namespace']}.svc:{opts['port']}"
    try:
        opts["_collector_config"] = lg.pod_collector_config(
            url,
            environment=opts["environment"],
            fields=opts["fields"],
            namespace_prefix=opts["namespace_prefix"],
            interval=opts["interval"],
            port=opts["shipper_port"],
            health_port=opts["health_port"],
            queue_size=opts["queue_size"],
            pods_dir=PODS_DIR,
            node_env=NODE_ENV,
        )
    except lg.LoggingError as exc:
        errors += exc.errors
    if isinstance(opts["shipper_port"], int) and opts["shipper_port"] == opts["port"]:
        errors.append("logging_shipper_port: must differ from logging_port")
    if errors:
        raise lg.LoggingError(errors)
    return opts


def _labels(release: str, component: str) -> dict[str, str]:
    return {
        LABEL_PART_OF: PART_OF,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_INSTANCE: release,
        LABEL_NAME: component,
        LABEL_OPSDECK_COMPONENT: "logging",
    }


def _select(release: str, component: str) -> dict[str, str]:
    return {LABEL_NAME: component, LABEL_INSTANCE: release}


def _in_ns(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _resources(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part, amounts in value.items():
        out[part] = {
            k: (str(v) if k == "cpu" else format_memory_k8s(parse_memory(v))) for k, v in sorted(amounts.items())
        }
    return out


def _namespace(name: str, labels: dict[str, str], level: str) -> dict[str, Any]:
    ns_labels = dict(labels)
    if level == "restricted":
        ns_labels.update(
            {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }
        )
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": object_meta(name, None, ns_labels)}
    ns_labels.update(
        {
            "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "baseline",
        }
    )
    meta = object_meta(name, None, ns_labels, annotations={"opsdeck.io/pod-security-justification": JUSTIFICATION})
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _base(ns: str, name: str, labels: dict[str, str], level: str) -> list[dict[str, Any]]:
    """What both releases start with: the namespace, the ServiceAccount (no token), default deny."""
    return [
        _namespace(ns, labels, level),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": object_meta(name, ns, labels),
            "automountServiceAccountToken": False,
        },
        _policy(f"{name}-default-deny", ns, labels, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    ]


def _policy(name: str, ns: str, labels: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": object_meta(name, ns, labels),
        "spec": spec,
    }


def _service_monitor(
    name: str, ns: str, labels: dict[str, str], select: dict[str, str], job: str, interval: str
) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": object_meta(name, ns, labels),
        "spec": {
            "selector": {"matchLabels": select},
            "endpoints": [
                {
                    "port": "http",
                    "path": "/metrics",
                    "interval": interval,
                    "relabelings": [
                        # the docker hosts' jobs: the rule library's collector and VictoriaLogs alerts select them
                        {"action": "replace", "targetLabel": "job", "replacement": job},
                        {
                            "action": "replace",
                            "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                            "targetLabel": "host",
                        },
                    ],
                }
            ],
        },
    }


def store_manifests(opts: dict[str, Any]) -> list[dict[str, Any]]:
    """The store's release: namespace, ServiceAccount, Service, StatefulSet, NetworkPolicies, ServiceMonitor."""
    ns, port = opts["namespace"], opts["port"]
    labels = _labels(STORE_RELEASE, STORE_NAME)
    select = _select(STORE_RELEASE, STORE_NAME)
    security = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    probe = {"httpGet": {"path": "/health", "port": "http"}, "timeoutSeconds": 5}
    container = {
        "name": STORE_NAME,
        "image": opts["store_image"],
        "imagePullPolicy": "IfNotPresent",
        "args": list(opts["_flags"]),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 6},
        "resources": _resources(opts["store_resources"]),
        "securityContext": security,
        "volumeMounts": [{"name": "data", "mountPath": DATA_PATH}],
    }
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": format_memory_k8s(parse_memory(opts["volume_size"]))}},
    }
    if opts["storage_class"]:
        claim["storageClassName"] = opts["storage_class"]
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(STORE_NAME, ns, labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": select},
            "serviceName": STORE_NAME,
            "podManagementPolicy": "OrderedReady",
            "revisionHistoryLimit": 10,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": STORE_NAME,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65534,
                        "runAsGroup": 65534,
                        "fsGroup": 65534,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
            "volumeClaimTemplates": [
                {
                    # claim templates are immutable: labels that never change
                    "metadata": {"name": "data", "labels": {**select, LABEL_MANAGED_BY: MANAGED_BY}},
                    "spec": claim,
                }
            ],
        },
    }
    clients = [
        {**_in_ns(opts["shipper_namespace"]), "podSelector": {"matchLabels": _select(SHIPPER_RELEASE, SHIPPER_NAME)}},
        _in_ns(opts["monitoring_namespace"]),
        *[_in_ns(c) for c in opts["store_clients"]],
    ]
    return [
        *_base(ns, STORE_NAME, labels, "restricted"),
        _policy(
            f"{STORE_NAME}-allow-clients",
            ns,
            labels,
            {
                "podSelector": {"matchLabels": select},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": clients, "ports": [{"protocol": "TCP", "port": port}]}],
            },
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": object_meta(STORE_NAME, ns, labels),
            "spec": {
                "type": "ClusterIP",
                "selector": select,
                "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        statefulset,
        _service_monitor(STORE_NAME, ns, labels, select, "victorialogs", opts["scrape_interval"]),
    ]


def collector_config_yaml(opts: dict[str, Any]) -> str:
    """The collector's configuration file of the checked settings ``opts``, as JSON (which is YAML).

    JSON, not a YAML dumper: module_utils may not import PyYAML (ansible-test's import check),
    the collector's file provider reads JSON as the YAML it is, and JSON keeps Ansible's
    tagged strings (subclasses of str) as plain values.
    """
    return json.dumps(opts["_collector_config"], indent=2, sort_keys=True) + "\n"


def shipper_manifests(opts: dict[str, Any]) -> list[dict[str, Any]]:
    """The shipper's release: namespace, ServiceAccount, NetworkPolicies, ConfigMap, Service, DaemonSet,
    ServiceMonitor."""
    ns, port, health_port = opts["shipper_namespace"], opts["shipper_port"], opts["health_port"]
    labels = _labels(SHIPPER_RELEASE, SHIPPER_NAME)
    select = _select(SHIPPER_RELEASE, SHIPPER_NAME)
    config = collector_config_yaml(opts)
    # the health_check extension answers 200 on / while the collector runs (a store outage does
    # not make it unhealthy: the queue holds the lines, restarting would not help)
    probe = {"httpGet": {"path": "/", "port": "health"}, "timeoutSeconds": 5}
    container = {
        "name": SHIPPER_NAME,
        "image": opts["shipper_image"],
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config", lg.CONFIG_PATH],
        "env": [{"name": NODE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "ports": [
            {"name": "http", "containerPort": port, "protocol": "TCP"},
            {"name": "health", "containerPort": health_port, "protocol": "TCP"},
        ],
        "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 6},
        "resources": _resources(opts["shipper_resources"]),
        # root (the kubelet's log files are root's, 0640) with no capability at all: reading
        # files it owns needs none; a non-root user would need CAP_DAC_READ_SEARCH, which
        # Kubernetes cannot give a non-root process (no ambient capabilities).
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": False,
            "runAsUser": 0,
            "runAsGroup": 0,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": posixpath.dirname(lg.CONFIG_PATH), "readOnly": True},
            {"name": "pods", "mountPath": PODS_DIR, "readOnly": True},
            {"name": "state", "mountPath": lg.STORAGE_DIR},
        ],
    }
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": object_meta(SHIPPER_NAME, ns, labels),
        "spec": {
            "selector": {"matchLabels": select},
            "revisionHistoryLimit": 10,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {CONFIG_DIGEST: "sha256:" + hashlib.sha256(config.encode()).hexdigest()},
                },
                "spec": {
                    "serviceAccountName": SHIPPER_NAME,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 30,
                    # every node, whatever its taints (control plane, dedicated pools)
                    "tolerations": [{"operator": "Exists"}],
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": SHIPPER_NAME, "defaultMode": 0o444}},
                        {"name": "pods", "hostPath": {"path": opts["pods_dir"], "type": "Directory"}},
                        {"name": "state", "hostPath": {"path": opts["state_dir"], "type": "DirectoryOrCreate"}},
                    ],
                },
            },
        },
    }
    store_pods = {
        **_in_ns(opts["namespace"]),
        "podSelector": {"matchLabels": _select(STORE_RELEASE, STORE_NAME)},
    }
    return [
        *_base(ns, SHIPPER_NAME, labels, "privileged"),
        _policy(
            f"{SHIPPER_NAME}-allow-egress",
            ns,
            labels,
            {
                "podSelector": {"matchLabels": select},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [store_pods], "ports": [{"protocol": "TCP", "port": opts["port"]}]},
                    {
                        "to": [_in_ns("kube-system")],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                ],
            },
        ),
        _policy(
            f"{SHIPPER_NAME}-allow-monitoring",
            ns,
            labels,
            {
                "podSelector": {"matchLabels": select},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [_in_ns(opts["monitoring_namespace"])], "ports": [{"protocol": "TCP", "port": port}]}
                ],
            },
        ),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": object_meta(SHIPPER_NAME, ns, labels),
            "data": {CONFIG_KEY: config},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": object_meta(SHIPPER_NAME, ns, labels),
            "spec": {
                "clusterIP": "None",
                "selector": select,
                "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        daemonset,
        _service_monitor(SHIPPER_NAME, ns, labels, select, SHIPPER_JOB, opts["scrape_interval"]),
    ]


def releases(settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The releases for the module k8s_release, every setting checked first.

    present: the store, the collector, then logship's release with no objects (prune removes
    what logship left; after the collector's, whose namespace it shares: see the module's
    docstring). absent: the collector, logship's, then the store (the shippers push to it);
    each deletes the shipper namespace if it carries its instance label, else its own objects.
    """
    opts = settings_with_defaults(settings)
    present = opts["state"] == "present"
    out = []
    for release, ns, render in (
        (STORE_RELEASE, opts["namespace"], store_manifests),
        (SHIPPER_RELEASE, opts["shipper_namespace"], shipper_manifests),
        (LEGACY_SHIPPER_RELEASE, opts["shipper_namespace"], None),
    ):
        title = f"logging release {release!r}"
        if render is None:
            title += " (logship, the shipper before the OpenTelemetry Collector)"
        out.append(
            {
                "app": release,
                "title": title,
                "namespace": ns,
                "state": opts["state"],
                "selector": prune_selector(release),
                "progress_deadline_s": opts["progress_deadline_s"],
                "manifests": render(opts) if present and render is not None else [],
            }
        )
    return out if present else [out[1], out[2], out[0]]
