# SPDX-License-Identifier: GPL-3.0-or-later
"""The monitoring role's ``kubernetes`` entry point against the real control plane.

kube-prometheus-stack cannot be downloaded here, so the Helm plumbing runs with a chart of our
own in its place (tests/k8s/charts/stack-stand-in: a Deployment helm waits for, and a
ConfigMap that shows the values it was given), through ``ansible-playbook playbooks/k8s.yml``
exactly as a site runs it: check mode creates nothing; install; a second run changes nothing;
an upgrade; a broken upgrade (pods kept unready by the simulated nodes) rolled back by
``--atomic`` with the previous revision serving; the Alertmanager configuration in our Secret
and not in the chart values or the output; the rule library as a PrometheusRule against the
Prometheus Operator's CRD; bad input refused before anything exists.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from .conftest import ROOT, UNREADY_LABEL, Cluster, crd_dir, pod_ready
from .test_k8s_app import Runner, recap, unique

CHART = ROOT / "tests" / "k8s" / "charts" / "stack-stand-in"
WEBHOOK = "http://127.0.0.1:9/hooks/opsdeck-secret-path-5e1f"
USER_RULES = [
    {
        "name": "shop-extra",
        "rules": [
            {
                "alert": "ShopQueueLong",
                "expr": "shop_queue_length > 100",
                "for": "10m",
                "labels": {"severity": "warning"},
                "annotations": {"summary": "queue"},
            }
        ],
    }
]


# The model: its public URL is probed (the app itself is k8s_app's, not deployed here).
SHOP = {
    "name": "shop",
    "image": "opsdeck/sampleapp:1.0.0",
    "ports": [{"name": "http", "port": 8080, "public": True, "host": "shop.example.com"}],
    "health": {"path": "/health", "port": "http"},
}


class StackRunner(Runner):
    """playbooks/k8s.yml --tags k8s_monitoring with the stand-in chart in one namespace of the test."""

    def __init__(self, cluster: Cluster, tmp: Path, namespace: str) -> None:
        super().__init__(cluster, tmp)
        self.namespace = namespace

    def stack(self, *extra: str, check: bool = True, **variables: Any) -> subprocess.CompletedProcess:
        settings = {
            "monitoring_k8s_enabled": True,
            "monitoring_k8s_namespace": self.namespace,
            "monitoring_k8s_release": "stack",
            "monitoring_k8s_chart_ref": str(CHART),
            "monitoring_k8s_helm_binary": str(self.cluster.bin / "helm"),
            "monitoring_k8s_timeout": "90s",
            "monitoring_prometheus_retention_time": "30d",
            "monitoring_grafana_admin_password": "grafana-admin-pw-77",
            "monitoring_alertmanager_receivers": [{"name": "team-web", "type": "webhook", "url": WEBHOOK}],
            "monitoring_rules": USER_RULES,
            **variables,
        }
        return self.run([SHOP], "--tags", "k8s_monitoring", *extra, check=check, **settings)


@pytest.fixture
def namespace(cluster: Cluster) -> Any:
    name = unique("mon-stack")
    yield name
    cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false", check=False)


@pytest.fixture
def probe_crd(cluster: Cluster, operator_crds: None) -> Any:
    """The Probe CRD too (operator_crds has the ServiceMonitor and PrometheusRule ones)."""
    path = crd_dir() / "monitoring.coreos.com_probes.yaml"
    cluster.kubectl("apply", "--server-side", "--field-manager=opsdeck-tests", "-f", str(path))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/probes.monitoring.coreos.com")
    cluster.dynamic.resources.invalidate_cache()
    yield
    cluster.kubectl("delete", "--ignore-not-found", "-f", str(path), check=False)
    cluster.dynamic.resources.invalidate_cache()


@pytest.fixture
def stack(cluster: Cluster, tmp_path: Path, namespace: str) -> StackRunner:
    return StackRunner(cluster, tmp_path, namespace)


def helm(cluster: Cluster, *args: str) -> Any:
    argv = [str(cluster.bin / "helm"), "--kubeconfig", str(cluster.kubeconfig), *args, "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def spec_config(core: client.CoreV1Api, namespace: str) -> dict[str, Any]:
    data = core.read_namespaced_config_map("stack-prometheus-spec", namespace).data
    return {k: json.loads(v) for k, v in data.items()}


def operator_pods(core: client.CoreV1Api, namespace: str) -> list[Any]:
    return core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=stack-operator").items


def test_check_mode_on_a_fresh_cluster_creates_nothing(cluster: Cluster, stack: StackRunner, namespace: str) -> None:
    done = stack.stack("--check", "--diff")
    assert recap(done.stdout)["failed"] == 0
    assert f"would create in namespace {namespace}" in done.stdout
    assert namespace not in cluster.kubectl("get", "namespaces", "-o", "name").stdout
    assert WEBHOOK not in done.stdout and "grafana-admin-pw-77" not in done.stdout


def test_stack_installs_upgrades_and_rolls_back_a_broken_upgrade(
    cluster: Cluster, stack: StackRunner, namespace: str, probe_crd: None
) -> None:
    core = client.CoreV1Api(cluster.api)
    done = stack.stack()
    assert WEBHOOK not in done.stdout and "grafana-admin-pw-77" not in done.stdout

    # the namespace at the Pod Security level the node exporter needs
    labels = core.read_namespace(namespace).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    # the release deployed, with values from the inventory that the chart rendered
    status = helm(cluster, "status", "stack", "-n", namespace)
    assert status["info"]["status"] == "deployed" and status["version"] == 1
    spec = spec_config(core, namespace)
    assert spec["prometheus.json"]["retention"] == "30d"
    assert spec["prometheus.json"]["externalLabels"] == {"cluster": "test-cluster", "env": "dev"}
    assert spec["prometheus.json"]["ruleSelectorNilUsesHelmValues"] is False
    assert spec["alertmanager.json"]["configSecret"] == "stack-alertmanager-opsdeck"
    values = helm(cluster, "get", "values", "stack", "-n", namespace)
    assert WEBHOOK not in json.dumps(values)
    assert values["global"] == {"imageRegistry": "127.0.0.1:5000"}
    assert all(pod_ready(p) for p in operator_pods(core, namespace))

    # the Alertmanager configuration: ours, with the receiver, in the Secret the chart points at
    secret = core.read_namespaced_secret("stack-alertmanager-opsdeck", namespace)
    config = yaml.safe_load(base64.b64decode(secret.data["alertmanager.yaml"]))
    hooks = {r["name"]: r for r in config["receivers"]}
    assert hooks["team-web"]["webhook_configs"][0]["url"] == WEBHOOK
    assert config["route"]["receiver"] == "team-web"
    admin = core.read_namespaced_secret("stack-grafana-admin", namespace).data
    assert base64.b64decode(admin["admin-password"]).decode() == "grafana-admin-pw-77"

    # the rule library and the user's rules, accepted by the Prometheus Operator's CRD
    rule = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        "monitoring.coreos.com", "v1", namespace, "prometheusrules", "stack-opsdeck-rules"
    )
    groups = {g["name"]: g for g in rule["spec"]["groups"]}
    assert set(groups) == {"opsdeck-availability", "opsdeck-logging", "shop-extra"}
    alerts = {r.get("alert") for r in groups["opsdeck-availability"]["rules"]}
    assert {"TargetDown", "AppErrorRateHigh", "TLSCertificateExpiring"} <= alerts
    dashboards = core.list_namespaced_config_map(namespace, label_selector="grafana_dashboard=1").items
    assert {d.metadata.name for d in dashboards} == {
        "stack-dashboard-apps",
        "stack-dashboard-backups",
        "stack-dashboard-hosts",
    }

    # the blackbox exporter Ready, and the public URL of the model probed through it
    deployment = client.AppsV1Api(cluster.api).read_namespaced_deployment("stack-blackbox", namespace)
    assert deployment.status.ready_replicas == 1
    (container,) = deployment.spec.template.spec.containers
    assert container.image == "127.0.0.1:5000/prom/blackbox-exporter:v0.27.0"
    probes = client.CustomObjectsApi(cluster.api).list_namespaced_custom_object(
        "monitoring.coreos.com", "v1", namespace, "probes"
    )["items"]
    (probe,) = probes
    assert probe["spec"]["jobName"] == "blackbox"
    assert probe["spec"]["prober"]["url"] == f"stack-blackbox.{namespace}.svc:9115"
    assert probe["spec"]["targets"]["staticConfig"]["static"] == ["https://shop.example.com/"]
    assert probe["spec"]["targets"]["staticConfig"]["labels"] == {
        "app": "shop",
        "team": "platform",
        "env": "dev",
        "probe": "public",
    }

    # a second run changes nothing (the release is not upgraded)
    again = stack.stack()
    assert recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    assert helm(cluster, "status", "stack", "-n", namespace)["version"] == 1

    # check mode of a change says so and changes nothing
    probe = stack.stack("--check", "--diff", monitoring_prometheus_retention_time="45d")
    assert recap(probe.stdout)["changed"] >= 1
    assert "-    retention: 30d" in probe.stdout and "+    retention: 45d" in probe.stdout, probe.stdout[-3000:]
    assert helm(cluster, "status", "stack", "-n", namespace)["version"] == 1

    # an upgrade
    stack.stack(monitoring_prometheus_retention_time="45d")
    assert helm(cluster, "status", "stack", "-n", namespace)["version"] == 2
    assert spec_config(core, namespace)["prometheus.json"]["retention"] == "45d"
    serving = {p.metadata.name for p in operator_pods(core, namespace)}

    # a broken upgrade: its pods never become Ready; --atomic rolls back to revision 2
    broken = stack.stack(
        check=False,
        monitoring_prometheus_retention_time="60d",
        monitoring_k8s_timeout="20s",
        monitoring_k8s_values={"testPodLabels": {UNREADY_LABEL: "true"}},
    )
    assert broken.returncode != 0
    assert "rolled back" in broken.stdout.lower() or "rollback" in broken.stdout.lower(), broken.stdout[-3000:]
    history = helm(cluster, "history", "stack", "-n", namespace)
    assert [h["status"] for h in history][-2:] == ["failed", "deployed"], history
    assert history[-1]["description"].lower().startswith("rollback to 2")
    assert spec_config(core, namespace)["prometheus.json"]["retention"] == "45d"
    pods = operator_pods(core, namespace)
    assert pods and all(pod_ready(p) for p in pods)
    assert all(UNREADY_LABEL not in (p.metadata.labels or {}) for p in pods)
    assert serving & {p.metadata.name for p in pods}, "the pods of revision 2 kept serving"


def test_bad_settings_are_refused_before_anything_is_applied(
    cluster: Cluster, stack: StackRunner, namespace: str
) -> None:
    done = stack.stack(
        check=False,
        monitoring_prometheus_retention_time="forever",
        monitoring_prometheus_retention_size="10 gigs",
        monitoring_k8s_chart_version="latest",
        monitoring_k8s_prometheus_storage_size="lots",
    )
    assert done.returncode != 0
    out = done.stdout
    assert "monitoring_prometheus_retention_time: 'forever' is not a Prometheus duration" in out
    assert "monitoring_prometheus_retention_size: '10 gigs'" in out
    assert "monitoring_k8s_chart_version: 'latest' is not a chart version" in out
    assert "monitoring_k8s_prometheus_storage_size: 'lots' is not a Kubernetes quantity" in out
    assert namespace not in cluster.kubectl("get", "namespaces", "-o", "name").stdout

    no_password = stack.stack(check=False, monitoring_grafana_admin_password="")
    assert no_password.returncode != 0
    assert "monitoring_grafana_admin_password: empty" in no_password.stdout
    bad_receiver = stack.stack(
        check=False, monitoring_alertmanager_receivers=[{"name": "x", "type": "pager", "url": WEBHOOK}]
    )
    assert bad_receiver.returncode != 0
    assert "monitoring_alertmanager_receivers" in bad_receiver.stdout and WEBHOOK not in bad_receiver.stdout
    assert namespace not in cluster.kubectl("get", "namespaces", "-o", "name").stdout
