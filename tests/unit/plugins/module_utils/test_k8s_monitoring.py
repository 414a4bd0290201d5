# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster's monitoring stack: chart values and opsdeck's objects (plugins/module_utils/k8s_monitoring.py)."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_monitoring as km
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import MonitoringError, base_rules

BOARD = json.dumps({"uid": "opsdeck-apps", "title": "Apps", "panels": [{"targets": []}]})


def test_values_derive_from_the_shared_settings() -> None:
    out = km.stack(
        {
            "retention_time": "30d",
            "retention_size": "20GB",
            "scrape_interval": "15s",
            "cluster": "prod-eu",
            "environment": "prod",
            "registry": "registry.internal:5000/",
            "prometheus_replicas": 2,
            "storage_class": "fast",
            "external_url": "https://prometheus.example.com",
        }
    )
    spec = out["chart_values"]["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "30d" and spec["retentionSize"] == "20GB" and spec["scrapeInterval"] == "15s"
    assert spec["replicas"] == 2 and spec["externalUrl"] == "https://prometheus.example.com"
    assert spec["externalLabels"] == {"cluster": "prod-eu", "env": "prod"}
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "fast" and claim["resources"]["requests"]["storage"] == "50Gi"
    # every namespace's ServiceMonitors and rules, not only the release's
    for key in ("serviceMonitor", "podMonitor", "probe", "rule", "scrapeConfig"):
        assert spec[f"{key}SelectorNilUsesHelmValues"] is False
    assert spec["resources"] == {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}
    assert out["chart_values"]["global"] == {"imageRegistry": "registry.internal:5000"}
    am = out["chart_values"]["alertmanager"]["alertmanagerSpec"]
    assert am["useExistingSecret"] is True and am["configSecret"] == out["names"]["alertmanager_secret"]
    assert out["chart_values"]["fullnameOverride"] == "opsdeck-monitoring"


def test_no_empty_or_null_values_for_what_is_not_set() -> None:
    values = km.stack({"prometheus_storage_size": "", "alertmanager_storage_size": "", "retention_size": ""})[
        "chart_values"
    ]
    spec = values["prometheus"]["prometheusSpec"]
    assert "storageSpec" not in spec and "retentionSize" not in spec and "externalLabels" not in spec
    assert "storage" not in values["alertmanager"]["alertmanagerSpec"]
    assert "global" not in values

    def walk(node: object) -> None:
        assert node is not None
        if isinstance(node, dict):
            for v in node.values():
                walk(v)

    walk(values)


def test_user_values_are_merged_over_the_generated_ones() -> None:
    values = km.stack(
        {"values": {"prometheus": {"prometheusSpec": {"retention": "90d", "tolerations": [{"operator": "Exists"}]}}}}
    )["chart_values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "90d" and spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["ruleSelectorNilUsesHelmValues"] is False  # the rest kept


def test_grafana_gets_the_admin_secret_dashboards_and_datasource_uid() -> None:
    out = km.stack({"grafana": True}, {"apps.json": BOARD})
    grafana = out["chart_values"]["grafana"]
    assert grafana["admin"]["existingSecret"] == "opsdeck-monitoring-grafana-admin"
    assert grafana["sidecar"]["datasources"]["uid"] == "opsdeck-prometheus"
    (cm,) = [m for m in out["manifests"] if m["kind"] == "ConfigMap" and "grafana_dashboard" in m["metadata"]["labels"]]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["opsdeck-apps.json"])["uid"] == "opsdeck-apps"
    off = km.stack({"grafana": False, "blackbox": False}, {"apps.json": BOARD})
    assert off["chart_values"]["grafana"] == {"enabled": False}
    assert [m["kind"] for m in off["manifests"]] == ["PrometheusRule"]
    named = km.stack({"grafana_admin_secret": "sso-admin"})
    assert named["chart_values"]["grafana"]["admin"]["existingSecret"] == "sso-admin"


def test_rules_hold_the_chosen_library_groups_and_the_user_rules() -> None:
    user = [{"name": "mine", "rules": [{"alert": "X", "expr": "up == 0", "labels": {"severity": "warning"}}]}]
    out = km.stack({"rules": user, "rule_groups": ["opsdeck-availability"]})
    (rule,) = [m for m in out["manifests"] if m["kind"] == "PrometheusRule"]
    names = [g["name"] for g in rule["spec"]["groups"]]
    assert names == ["opsdeck-availability", "mine"]
    library = {g["name"]: g for g in base_rules()}
    assert rule["spec"]["groups"][0] == library["opsdeck-availability"]
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "opsdeck-monitoring"


def test_default_rules_alert_on_the_collector_daemonset_as_job_otelcol() -> None:
    # the logging role's ServiceMonitor of the collector DaemonSet sets job="otelcol", as on docker hosts
    (rule,) = [m for m in km.stack({"blackbox": False})["manifests"] if m["kind"] == "PrometheusRule"]
    logging = {g["name"]: g for g in rule["spec"]["groups"]}["opsdeck-logging"]
    exprs = {r["alert"]: r["expr"] for r in logging["rules"]}
    assert [a for a in exprs if a.startswith("LogShipper")] == [
        "LogShipperSendFailed",
        "LogShipperQueueFilling",
        "LogShipperRefused",
    ]
    assert all('{job="otelcol"}' in e for a, e in exprs.items() if a.startswith("LogShipper"))
    assert not any("logship" in r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])


def test_chart_reference_local_and_oci_go_without_the_repository() -> None:
    assert km.stack({})["chart"] == {
        "ref": "kube-prometheus-stack",
        "repo_url": "https://prometheus-community.github.io/helm-charts",
        "version": "",
        "local": False,
    }
    for ref, local in (
        ("oci://registry.internal/charts/kube-prometheus-stack", False),
        ("oci://registry.internal/charts/kube-prometheus-stack-81.2.2.tgz", False),
        ("/srv/charts/kps", True),
        ("./kps-81.2.2.tgz", True),
        ("~/charts/kps", True),
    ):
        assert km.stack({"chart_ref": ref, "chart_version": "81.2.2"})["chart"] == {
            "ref": ref,
            "repo_url": "",
            "version": "81.2.2",
            "local": local,
        }, ref


def test_namespace_pod_security_level() -> None:
    ns = km.stack({})["namespace_manifest"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    ns = km.stack({"pod_security": "baseline", "node_exporter": False})["namespace_manifest"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_bad_settings_each_get_a_message_naming_the_variable() -> None:
    with pytest.raises(MonitoringError) as err:
        km.stack(
            {
                "namespace": "Monitoring",
                "release": "x" * 27,
                "pod_security": "baseline",
                "chart_ref": " ",
                "chart_version": "latest",
                "retention_time": "forever",
                "retention_size": "10 gigs",
                "prometheus_replicas": 0,
                "prometheus_storage_size": "lots",
                "prometheus_resources": {"cpu": "fast"},
                "rule_groups": ["opsdeck-nope"],
                "values": [],
            }
        )
    text = str(err.value)
    for needle in (
        "monitoring_k8s_namespace: 'Monitoring' is not a DNS label",
        "monitoring_k8s_release: ",
        "at most 26 characters: the chart cuts longer names",
        "monitoring_k8s_pod_security: 'baseline' refuses the node exporter",
        "monitoring_k8s_chart_ref: empty",
        "monitoring_k8s_chart_version: 'latest' is not a chart version",
        "monitoring_prometheus_retention_time: 'forever' is not a Prometheus duration",
        "monitoring_prometheus_retention_size: '10 gigs'",
        "monitoring_k8s_prometheus_replicas: 0 is not a number of 1 or more",
        "monitoring_k8s_prometheus_storage_size: 'lots' is not a Kubernetes quantity",
        "monitoring_k8s_prometheus_resources: field 'cpu': 'fast'",
        "monitoring_k8s_rule_groups: ['opsdeck-nope']",
        "monitoring_k8s_values: a mapping",
    ):
        assert needle in text, needle
    with pytest.raises(MonitoringError, match="unknown option"):
        km.stack({"retention": "1d"})
    assert km.stack({"release": "x" * 26})["chart_values"]["fullnameOverride"] == "x" * 26


def test_secret_manifest_is_base64_data_in_the_stack_namespace() -> None:
    secret = km.secret_manifest(
        {"name": "am", "namespace": "mon", "release": "rel"}, {"alertmanager.yaml": "route: {}\n"}
    )
    assert secret["metadata"] == {
        "name": "am",
        "namespace": "mon",
        "labels": {**km.MANAGED, "release": "rel"},
    }
    assert base64.b64decode(secret["data"]["alertmanager.yaml"]).decode() == "route: {}\n"
    assert "stringData" not in secret


SHOP = normalize_apps(
    [
        {
            "name": "shop",
            "image": "acme/shop:1.0.0",
            "ports": [
                {"name": "http", "port": 8080, "public": True, "host": "shop.example.com"},
                {"name": "api", "port": 8081, "public": True, "host": "api.shop.example.com", "tls": False},
                {"name": "admin", "port": 9000},
            ],
        }
    ],
    environment="prod",
)


def _kinds(manifests: list[dict]) -> list[str]:
    return [m["kind"] for m in manifests]


def test_blackbox_exporter_and_a_probe_per_public_url() -> None:
    out = km.stack(
        {
            "environment": "prod",
            "blackbox_image": "reg:5000/prom/blackbox-exporter:v0.27.0",
            "probes": [{"name": "status", "url": "https://status.example.com/", "module": "http_2xx"}],
        },
        apps=SHOP,
        blackbox_config="modules: {}\n",
    )
    manifests = {(m["kind"], m["metadata"]["name"]): m for m in out["manifests"]}
    deployment = manifests[("Deployment", "opsdeck-monitoring-blackbox")]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "reg:5000/prom/blackbox-exporter:v0.27.0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert manifests[("ConfigMap", "opsdeck-monitoring-blackbox")]["data"] == {"blackbox.yml": "modules: {}\n"}
    probes = [m for m in out["manifests"] if m["kind"] == "Probe"]
    static = {
        t: p["spec"]["targets"]["staticConfig"] for p in probes for t in p["spec"]["targets"]["staticConfig"]["static"]
    }
    assert set(static) == {"https://shop.example.com/", "http://api.shop.example.com/", "https://status.example.com/"}
    assert static["https://shop.example.com/"]["labels"] == {
        "app": "shop",
        "team": "platform",
        "env": "prod",
        "probe": "public",
    }
    assert static["https://status.example.com/"]["labels"]["probe"] == "custom"
    assert {p["spec"]["jobName"] for p in probes} == {"blackbox"}
    assert {p["spec"]["prober"]["url"] for p in probes} == {"opsdeck-monitoring-blackbox.monitoring.svc:9115"}
    names = [p["metadata"]["name"] for p in probes]
    assert len(set(names)) == len(names) == 3  # two public probes of one app get distinct names
    # a new module file rolls the exporter
    other = km.stack({}, apps=SHOP, blackbox_config="modules: {x: {}}\n")
    (dep2,) = [m for m in other["manifests"] if m["kind"] == "Deployment"]
    annotation = "opsdeck.io/config-sha256"
    assert (
        dep2["spec"]["template"]["metadata"]["annotations"][annotation]
        != (deployment["spec"]["template"]["metadata"]["annotations"][annotation])
    )


def test_blackbox_off_leaves_exporter_and_probes_out() -> None:
    out = km.stack({"blackbox": False, "grafana": False}, apps=SHOP)
    assert _kinds(out["manifests"]) == ["PrometheusRule"]


def test_bad_probe_is_refused_with_its_index() -> None:
    with pytest.raises(MonitoringError, match=r"monitoring_probes\[0\] \('x'\): field 'url'"):
        km.stack({"probes": [{"name": "x", "url": "ftp://nope"}]}, apps=SHOP)
