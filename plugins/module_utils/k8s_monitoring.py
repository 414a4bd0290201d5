# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The monitoring stack of a Kubernetes cluster: kube-prometheus-stack values and opsdeck's objects.

What the monitoring role's ``kubernetes`` entry point installs, as pure functions (unit tested in
tests/unit/plugins/module_utils/test_k8s_monitoring.py):

- ``stack()`` validates the role's settings and returns the chart values, the namespace, the
  PrometheusRule of the rule library and the Grafana dashboards, everything but secrets;
- ``secret_manifest()`` the Secrets the Alertmanager (its configuration) and Grafana (its admin) read.

The chart is installed by kubernetes.core.helm; what this adds to it:

- values derived from the same variables the docker-host stack reads (retention by time and
  size, scrape and evaluation intervals, external URL, the environment as an external label,
  the registry prefix of an air-gapped site as ``global.imageRegistry``), and selectors that
  pick up the ServiceMonitors and PrometheusRules k8s_app writes in the apps' namespaces;
- the Alertmanager configuration from ``monitoring.alertmanager_config`` (the same receivers,
  routes and inhibitions as on docker hosts) in a Secret of our own
  (``alertmanagerSpec.useExistingSecret``), so receivers' secrets are never chart values (Helm
  keeps values in its release Secret and prints them with ``helm get values``);
- the rule library (``monitoring.base_rules``, the groups that apply on a cluster) and the user
  rules as one PrometheusRule, not as chart values: they work with any chart that runs the
  Prometheus Operator and change without a Helm upgrade;
- the dashboards of the docker-host Grafana as ConfigMaps for the chart's Grafana sidecar;
- the blackbox exporter (the chart has none) with the docker hosts' module file, and a Probe per
  public URL of the model and per ``monitoring_probes`` entry (``job="blackbox"``, the labels of
  ``monitoring.probe_targets``), so the library's ProbeFailing and TLSCertificateExpiring alerts
  work on clusters as they do on docker hosts.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.grafana import PROMETHEUS_UID
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_common import (
    DNS_LABEL,
    LABEL_MANAGED_BY,
    LABEL_PART_OF,
    MANAGED_BY,
    object_meta,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import (
    MonitoringError,
    base_rules,
    check_prometheus_duration,
    probe_targets,
    validate_user_rules,
)

MANAGED = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_PART_OF: "opsdeck-monitoring"}
# Rule groups of the library that mean something on a cluster. The others are kept out by
# default: opsdeck-hosts and opsdeck-stack duplicate the chart's own default rules (node
# exporter, Prometheus, Alertmanager), opsdeck-backups reads the docker hosts' textfile metrics
# (k8s_app writes the CronJobs' backup alerts itself).
DEFAULT_GROUPS = ("opsdeck-availability", "opsdeck-logging")
POD_SECURITY = ("privileged", "baseline", "restricted")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$")
_BYTES = re.compile(r"^(0|([0-9]*\.)?[0-9]+((K|M|G|T|E|P)i?)?B)$")
_CHART_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$")
_RESOURCE_KEYS = {"cpu_request", "memory_request", "cpu", "memory"}
# kube-prometheus-stack cuts its fullname (fullnameOverride, our release) to 26 characters
# (templates/_helpers.tpl): a longer release would name the chart's objects after a prefix of it.
RELEASE_MAX = 26
DASHBOARD_LABEL = "grafana_dashboard"
DATASOURCE_UID = PROMETHEUS_UID  # the uid the dashboards of roles/monitoring/files name

DEFAULTS: dict[str, Any] = {
    "namespace": "monitoring",
    "release": "opsdeck-monitoring",
    "cluster": "",
    "environment": "",
    "registry": "",
    "pod_security": "privileged",
    "chart_ref": "kube-prometheus-stack",
    "chart_repo_url": "https://prometheus-community.github.io/helm-charts",
    "chart_version": "",
    "scrape_interval": "30s",
    "evaluation_interval": "30s",
    "retention_time": "15d",
    "retention_size": "10GB",
    "external_url": "",
    "prometheus_replicas": 1,
    "prometheus_storage_size": "50Gi",
    "prometheus_resources": {"cpu_request": "500m", "memory_request": "2Gi", "memory": "4Gi"},
    "alertmanager_replicas": 1,
    "alertmanager_storage_size": "2Gi",
    "alertmanager_external_url": "",
    "storage_class": "",
    "node_exporter": True,
    "grafana": True,
    "grafana_admin_secret": "",
    "rule_groups": list(DEFAULT_GROUPS),
    "blackbox": True,
    "blackbox_image": "prom/blackbox-exporter:v0.27.0",
    "probes": [],
    "rules": [],
    "alert_for": {},
    "runbook_base": "https://opsdeck.example.com/runbooks",
    "values": {},
}


def names(opts: dict[str, Any]) -> dict[str, str]:
    """Names of the objects opsdeck adds next to the chart's."""
    release = opts["release"]
    return {
        "alertmanager_secret": f"{release}-alertmanager-opsdeck",
        "rules": f"{release}-opsdeck-rules",
        "grafana_admin_secret": opts.get("grafana_admin_secret") or f"{release}-grafana-admin",
    }


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: mappings recursively, anything else replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check(opts: dict[str, Any]) -> list[str]:
    findings: list[str] = []

    def bad(field: str, why: str) -> None:
        findings.append(f"monitoring_k8s_{field}: {why}")

    for field in ("namespace", "release"):
        value = opts[field]
        limit = f", at most {RELEASE_MAX} characters: the chart cuts longer names" if field == "release" else ""
        too_long = field == "release" and isinstance(value, str) and len(value) > RELEASE_MAX
        if not isinstance(value, str) or not DNS_LABEL.match(value) or too_long:
            bad(
                field,
                f"{value!r} is not a DNS label (lower case letters, digits, '-'{limit})",
            )
    if opts["pod_security"] not in POD_SECURITY:
        bad("pod_security", f"{opts['pod_security']!r} is not one of {', '.join(POD_SECURITY)}")
    if opts["node_exporter"] and opts["pod_security"] != "privileged":
        bad(
            "pod_security",
            f"{opts['pod_security']!r} refuses the node exporter (host network, PID and paths): "
            "use privileged, or monitoring_node_exporter_enabled: false",
        )
    if not isinstance(opts["chart_ref"], str) or not opts["chart_ref"].strip():
        bad("chart_ref", "empty: a chart name of monitoring_k8s_chart_repo_url, a local path or an oci:// reference")
    version = opts["chart_version"]
    if version and (not isinstance(version, str) or not _CHART_VERSION.match(version)):
        bad("chart_version", f"{version!r} is not a chart version (x.y.z)")
    for field, var in (
        ("scrape_interval", "monitoring_scrape_interval"),
        ("evaluation_interval", "monitoring_evaluation_interval"),
        ("retention_time", "monitoring_prometheus_retention_time"),
    ):
        check_prometheus_duration(opts[field], var, findings)
    size = opts["retention_size"]
    if size and (not isinstance(size, str) or not _BYTES.match(size)):
        findings.append(
            f"monitoring_prometheus_retention_size: {size!r} is not a size the operator takes (e.g. 10GB, 512MiB)"
        )
    for field in ("prometheus_replicas", "alertmanager_replicas"):
        value = opts[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            bad(field, f"{value!r} is not a number of 1 or more")
    for field in ("prometheus_storage_size", "alertmanager_storage_size"):
        value = opts[field]
        if value and (not isinstance(value, str) or not _QUANTITY.match(value)):
            bad(field, f"{value!r} is not a Kubernetes quantity (e.g. 50Gi)")
    resources = opts["prometheus_resources"]
    if not isinstance(resources, dict) or set(resources) - _RESOURCE_KEYS:
        bad("prometheus_resources", f"a mapping of {', '.join(sorted(_RESOURCE_KEYS))}")
    else:
        for key, value in resources.items():
            if not isinstance(value, str) or not _QUANTITY.match(value):
                bad("prometheus_resources", f"field {key!r}: {value!r} is not a Kubernetes quantity")
    groups = opts["rule_groups"]
    known = [g["name"] for g in base_rules()]
    if not isinstance(groups, list) or any(g not in known for g in groups):
        bad("rule_groups", f"{groups!r}: each one of {', '.join(known)}")
    if not isinstance(opts["blackbox_image"], str) or not opts["blackbox_image"].strip():
        findings.append("monitoring_blackbox_exporter_image: empty")
    if not isinstance(opts["values"], dict):
        bad("values", "a mapping of chart values (merged over the generated ones)")
    return findings


def _resources(spec: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    requests = {k: spec[f"{k}_request"] for k in ("cpu", "memory") if spec.get(f"{k}_request")}
    limits = {k: spec[k] for k in ("cpu", "memory") if spec.get(k)}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _claim(size: str, storage_class: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def chart_values(opts: dict[str, Any]) -> dict[str, Any]:
    """The kube-prometheus-stack values, before ``opts['values']`` is merged over them."""
    n = names(opts)
    external = {"cluster": opts["cluster"]} if opts["cluster"] else {}
    if opts["environment"]:
        external["env"] = opts["environment"]
    prometheus: dict[str, Any] = {
        "replicas": opts["prometheus_replicas"],
        "retention": opts["retention_time"],
        "scrapeInterval": opts["scrape_interval"],
        "evaluationInterval": opts["evaluation_interval"],
        # nil selectors select every ServiceMonitor/PodMonitor/Probe/PrometheusRule of every
        # namespace (the chart's default selects its own release's only): k8s_app writes them
        # in the apps' namespaces
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "probeSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False,
        "scrapeConfigSelectorNilUsesHelmValues": False,
        "resources": _resources(opts["prometheus_resources"]),
    }
    if opts["retention_size"]:
        prometheus["retentionSize"] = opts["retention_size"]
    if opts["external_url"]:
        prometheus["externalUrl"] = opts["external_url"]
    if external:
        prometheus["externalLabels"] = external
    if opts["prometheus_storage_size"]:
        prometheus["storageSpec"] = _claim(opts["prometheus_storage_size"], opts["storage_class"])
    alertmanager: dict[str, Any] = {
        "replicas": opts["alertmanager_replicas"],
        "useExistingSecret": True,
        "configSecret": n["alertmanager_secret"],
    }
    if opts["alertmanager_external_url"]:
        alertmanager["externalUrl"] = opts["alertmanager_external_url"]
    if opts["alertmanager_storage_size"]:
        alertmanager["storage"] = _claim(opts["alertmanager_storage_size"], opts["storage_class"])
    values: dict[str, Any] = {
        "fullnameOverride": opts["release"],
        "crds": {"enabled": True},
        "defaultRules": {"create": True},
        "alertmanager": {"enabled": True, "alertmanagerSpec": alertmanager},
        "prometheus": {"enabled": True, "prometheusSpec": prometheus},
        "kubeStateMetrics": {"enabled": True},
        "nodeExporter": {"enabled": bool(opts["node_exporter"])},
        "grafana": {"enabled": bool(opts["grafana"])},
    }
    if opts["grafana"]:
        values["grafana"].update(
            {
                "admin": {
                    "existingSecret": n["grafana_admin_secret"],
                    "userKey": "admin-user",
                    "passwordKey": "admin-password",
                },
                "sidecar": {
                    "dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "labelValue": "1"},
                    "datasources": {"enabled": True, "uid": DATASOURCE_UID},
                },
            }
        )
    if opts["registry"]:
        values["global"] = {"imageRegistry": opts["registry"].rstrip("/")}
    return values


def _meta(name: str, opts: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    # release: the chart's own selectors (if a user turns the NilUsesHelmValues back on)
    return object_meta(name, opts["namespace"], {**MANAGED, "release": opts["release"], **(labels or {})})


def rules_manifest(opts: dict[str, Any]) -> dict[str, Any]:
    """One PrometheusRule: the library's groups ``opts['rule_groups']`` and the user's rules."""
    library = base_rules(alert_for=opts["alert_for"] or None, runbook_base=opts["runbook_base"])
    groups = [g for g in library if g["name"] in opts["rule_groups"]]
    groups += validate_user_rules(opts["rules"] or [])
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _meta(names(opts)["rules"], opts),
        "spec": {"groups": groups},
    }


def namespace_manifest(opts: dict[str, Any]) -> dict[str, Any]:
    level = opts["pod_security"]
    labels = {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "audit", "warn")}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": opts["namespace"], "labels": {**MANAGED, **labels}},
    }


def dashboard_manifests(opts: dict[str, Any], dashboards: dict[str, str]) -> list[dict[str, Any]]:
    """ConfigMaps of the dashboards (file name -> JSON text) for the Grafana sidecar."""
    out = []
    for file_name in sorted(dashboards):
        board = json.loads(dashboards[file_name])
        stem = file_name.rsplit(".", 1)[0]
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _meta(f"{opts['release']}-dashboard-{stem}", opts, {DASHBOARD_LABEL: "1"}),
                "data": {f"opsdeck-{file_name}": json.dumps(board, sort_keys=True)},
            }
        )
    return out


BLACKBOX_PORT = 9115


def _dns_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "x"


def blackbox_manifests(opts: dict[str, Any], config: str) -> list[dict[str, Any]]:
    """The blackbox exporter: ConfigMap (``config``, the docker hosts' blackbox.yml), Deployment
    (restricted: non-root, read-only root, no capabilities; rolled when the file changes), Service."""
    name = f"{opts['release']}-blackbox"
    selector = {"app.kubernetes.io/name": "blackbox-exporter", "app.kubernetes.io/instance": opts["release"]}
    digest = hashlib.sha256(config.encode()).hexdigest()[:16]
    probe = {"httpGet": {"path": "/-/healthy", "port": "http"}, "periodSeconds": 10}
    container = {
        "name": "blackbox-exporter",
        "image": opts["blackbox_image"],
        "args": ["--config.file=/etc/blackbox/blackbox.yml", f"--web.listen-address=:{BLACKBOX_PORT}"],
        "ports": [{"name": "http", "containerPort": BLACKBOX_PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "failureThreshold": 6},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "config", "mountPath": "/etc/blackbox", "readOnly": True}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, opts, selector),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": selector, "annotations": {"opsdeck.io/config-sha256": digest}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65534,
                        "runAsGroup": 65534,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "config", "configMap": {"name": name}}],
                },
            },
        },
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(name, opts, selector),
            "data": {"blackbox.yml": config},
        },
        deployment,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(name, opts, selector),
            "spec": {
                "selector": selector,
                "ports": [{"name": "http", "port": BLACKBOX_PORT, "targetPort": "http", "protocol": "TCP"}],
            },
        },
    ]


def probe_manifests(opts: dict[str, Any], groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One Probe per target group of ``monitoring.probe_targets`` (job ``blackbox``, its labels)."""
    prober = f"{opts['release']}-blackbox.{opts['namespace']}.svc:{BLACKBOX_PORT}"
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for group in groups:
        labels = {k: v for k, v in group["labels"].items() if k != "module" and v != ""}
        base = _dns_name(f"{opts['release']}-probe-{labels.get('app', 'custom')}-{labels.get('probe', '')}")[:58]
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}-{seen[base]}"
        out.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "Probe",
                "metadata": _meta(name, opts),
                "spec": {
                    "jobName": "blackbox",
                    "interval": opts["scrape_interval"],
                    "module": group["labels"].get("module", "http_2xx"),
                    "prober": {"url": prober},
                    "targets": {"staticConfig": {"static": list(group["targets"]), "labels": labels}},
                },
            }
        )
    return out


def chart(opts: dict[str, Any]) -> dict[str, Any]:
    """``{ref, repo_url, version, local}`` for kubernetes.core.helm: a local path (a directory or
    a ``.tgz``) or an ``oci://`` reference is used as it is, without the repository URL.

    ``local``: a path, whose version helm does not check (``--version`` is ignored for a path),
    so the role reads the chart's own version and compares it with ``version``."""
    ref = opts["chart_ref"].strip()
    local = ref.startswith(("/", "./", "../", "~")) or ref.endswith((".tgz", ".tar.gz"))
    local = local and not ref.startswith("oci://")
    return {
        "ref": ref,
        "repo_url": "" if local or ref.startswith("oci://") else (opts["chart_repo_url"] or ""),
        "version": opts["chart_version"] or "",
        "local": local,
    }


def stack(
    settings: dict[str, Any] | None,
    dashboards: dict[str, str] | None = None,
    apps: Any = None,
    blackbox_config: str = "",
) -> dict[str, Any]:
    """Validated settings -> ``{namespace, release, names, chart, namespace_manifest, chart_values,
    manifests}``, no secret inside.

    ``manifests`` are the namespace-scoped objects applied after the chart (its CRDs first):
    the PrometheusRule, with Grafana the dashboards' ConfigMaps, with ``blackbox`` the exporter
    (``blackbox_config`` is its module file) and a Probe per public URL of ``apps`` (the
    normalized model) and per ``probes`` entry. Raises MonitoringError with one message per bad
    field.
    """
    unknown = set(settings or {}) - set(DEFAULTS)
    if unknown:
        raise MonitoringError([f"k8s monitoring: unknown option(s) {', '.join(sorted(unknown))}"])
    opts = {**DEFAULTS, **(settings or {})}
    findings = _check(opts)
    if findings:
        raise MonitoringError(findings)
    manifests = [rules_manifest(opts)]
    if opts["grafana"]:
        manifests += dashboard_manifests(opts, dashboards or {})
    if opts["blackbox"]:
        targets = probe_targets(apps or [], opts["probes"], environment=opts["environment"] or None)
        manifests += blackbox_manifests(opts, blackbox_config) + probe_manifests(opts, targets)
    return {
        "namespace": opts["namespace"],
        "release": opts["release"],
        "names": names(opts),
        "chart": chart(opts),
        "namespace_manifest": namespace_manifest(opts),
        "chart_values": deep_merge(chart_values(opts), opts["values"]),
        "manifests": manifests,
    }


def secret_manifest(meta: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    """A Secret of the stack (``meta``: name, namespace, release): the Alertmanager configuration
    (key ``alertmanager.yaml``) or Grafana's admin login. Values base64 in ``data`` (what the API
    returns), so a second apply of the same values changes nothing."""
    opts = {**DEFAULTS, "namespace": meta["namespace"], "release": meta["release"]}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _meta(meta["name"], opts),
        "data": {k: base64.b64encode(str(v).encode()).decode() for k, v in sorted(data.items())},
    }
