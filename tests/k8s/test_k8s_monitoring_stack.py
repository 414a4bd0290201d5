# SPDX-License-Identifier: GPL-3.0-or-later
"""The monitoring role's ``kubernetes`` entry point with the real kube-prometheus-stack chart.

The chart is the upstream kube-prometheus-stack 81.2.2 with its subcharts, unmodified, from
``../shared/charts`` (no chart repository can be reached here; ``OPSDECK_SHARED_CHARTS`` names
another directory). It is installed on the real control plane through ``ansible-playbook
playbooks/k8s.yml`` with ``monitoring_k8s_chart_ref`` pointing at the archive, exactly as an
air-gapped site runs it, together with k8s_app (one app with metrics and an SLO), and what is
asserted is read from the API server:

- the Prometheus Operator CRDs of the chart's crds subchart, established, at the chart's
  operator version; the Prometheus and Alertmanager objects admitted, with the values of the
  inventory; the operator, kube-state-metrics, Grafana and the node exporter pods Ready;
- the live Prometheus object's rule, ServiceMonitor and Probe selectors and their namespace
  selectors, evaluated against the live labels of our PrometheusRule and Probe and of
  k8s_app's ServiceMonitor and PrometheusRule (and of their namespaces); with the chart's own
  defaults (``*SelectorNilUsesHelmValues: true``) the app's objects would not be selected;
- Grafana's dashboard sidecar: the label name and value read from the live Deployment's env,
  found on our dashboard ConfigMaps; the datasource uid our dashboards name defined by a
  ConfigMap of the datasource sidecar's label;
- the Alertmanager object's ``configSecret`` is our Secret, with the receivers; the chart made
  no configuration Secret of its own; no secret in the release's values, its manifest or the
  play's output;
- ``helm template`` of the chart with the values of the live release (``--kube-version 1.34.4``)
  passes kubeconform against schemas made from this cluster's /openapi/v2, the chart's CRDs
  included; every key of our values is one the chart has;
- check mode on a fresh cluster creates nothing; a second run changes nothing; ``--check
  --diff`` of a change shows it and changes nothing; an upgrade; a broken upgrade (the
  operator's new pods kept unready by the simulated nodes) rolled back by ``--atomic``, the
  previous revision's values back on the Prometheus object; bad input refused first (a chart
  archive that is not the pinned version included: helm ignores --version for a path);
- the role's default ``monitoring_k8s_chart_version`` is the chart tested here.

What the simulated nodes cannot show: no container runs, so the operator never reconciles
(no Prometheus or Alertmanager StatefulSet, nothing is scraped, no rule evaluated) and the
admission webhook does not serve. The chart's certgen hook Jobs (create the webhook's
certificate before install and upgrade, patch the webhook configurations after) complete on
KWOK's pod-complete stage without running, so helm's hooks pass but no certificate is made.

Test-only override (not the role's defaults, which keep the chart's admission webhooks and
certgen Jobs, docs/monitoring.md): ``TEST_VALUES`` scopes the chart's cluster-wide admission
webhooks to namespaces labelled ``opsdeck.test/admission-webhook: served`` (none is). Unscoped,
the API server would call them for every PrometheusRule of the cluster, other tests' too, at the
operator Service's cluster IP, which nothing routes on these machines: each call fails open
(the configurations keep the install-time ``failurePolicy: Ignore`` because the patch Job did
not run) after a connection error or a 10 s time-out. The webhooks are still installed and
pointed at the operator; that is asserted.

The stand-in chart of earlier versions of this test is gone: the real chart shows everything
it showed, the broken upgrade included (the operator's ``podLabels`` carry the unready marker).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_monitoring import deep_merge

from .conftest import ROOT, UNREADY_LABEL, Cluster, pod_ready
from .openapi_schemas import kubeconform_served
from .test_k8s_app import Runner, recap, unique

CHARTS = Path(
    os.environ.get("OPSDECK_SHARED_CHARTS")
    # ../shared beside the checkout, else the workplace's /work/shared (a clean clone made elsewhere)
    or next(
        (p for p in (ROOT.parent / "shared" / "charts", Path("/work/shared/charts")) if p.is_dir()),
        ROOT.parent / "shared" / "charts",
    )
)
CHART_VERSION = "81.2.2"
CHART = CHARTS / f"kube-prometheus-stack-{CHART_VERSION}.tgz"
KUBE_VERSION = "1.34.4"
GROUP = "monitoring.coreos.com"
WEBHOOK = "http://127.0.0.1:9/hooks/opsdeck-secret-path-5e1f"
GRAFANA_PASSWORD = "grafana-admin-pw-77"
# Test-only: the chart's admission webhooks scoped to no namespace of this cluster (docstring).
WEBHOOK_SCOPE = {"opsdeck.test/admission-webhook": "served"}
TEST_VALUES = {"prometheusOperator": {"admissionWebhooks": {"namespaceSelector": {"matchLabels": WEBHOOK_SCOPE}}}}
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


def shop(name: str) -> dict[str, Any]:
    """The model's app: metrics (k8s_app's ServiceMonitor), an SLO (its PrometheusRule), a public URL (our Probe)."""
    return {
        "name": name,
        "image": "opsdeck/sampleapp:1.0.0",
        "ports": [{"name": "http", "port": 8080, "public": True, "host": "shop.example.com"}],
        "health": {"path": "/health", "port": "http"},
        "metrics": {"path": "/metrics", "port": "http"},
        "slo": {"availability": 99.9},
    }


class CrdLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading a plain ``=`` (in the CRDs' enums) as the string it is in YAML 1.2."""


CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def chart_file(member: str) -> str:
    with tarfile.open(CHART) as archive:
        handle = archive.extractfile(f"kube-prometheus-stack/{member}")
        assert handle is not None, member
        return handle.read().decode()


def chart_members(prefix: str, suffix: str) -> dict[str, str]:
    """Files of the chart archive under ``kube-prometheus-stack/<prefix>`` ending in ``suffix``."""
    with tarfile.open(CHART) as archive:
        return {
            m.name.removeprefix("kube-prometheus-stack/"): archive.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile() and m.name.startswith(f"kube-prometheus-stack/{prefix}") and m.name.endswith(suffix)
        }


class StackRunner(Runner):
    """playbooks/k8s.yml --tags k8s_monitoring (and k8s_app) with the real chart in a namespace of the test."""

    def __init__(self, cluster: Cluster, tmp: Path, namespace: str, release: str, apps: list[dict[str, Any]]):
        super().__init__(cluster, tmp)
        self.namespace, self.release, self.apps = namespace, release, apps

    def stack(
        self, *extra: str, check: bool = True, tags: str = "k8s_monitoring", **variables: Any
    ) -> subprocess.CompletedProcess:
        settings = {
            "monitoring_k8s_enabled": True,
            "monitoring_k8s_namespace": self.namespace,
            "monitoring_k8s_release": self.release,
            "monitoring_k8s_chart_ref": str(CHART),
            "monitoring_k8s_helm_binary": str(self.cluster.bin / "helm"),
            "monitoring_k8s_timeout": "180s",
            "monitoring_k8s_values": TEST_VALUES,
            "monitoring_prometheus_retention_time": "30d",
            "monitoring_grafana_admin_password": GRAFANA_PASSWORD,
            "monitoring_alertmanager_receivers": [{"name": "team-web", "type": "webhook", "url": WEBHOOK}],
            "monitoring_rules": USER_RULES,
            # the apps' NetworkPolicies admit Prometheus from the stack's namespace
            "k8s_app_monitoring_namespace": self.namespace,
            **variables,
        }
        return self.run(self.apps, "--tags", tags, *extra, check=check, **settings)


def helm(cluster: Cluster, *args: str, output: bool = True) -> Any:
    argv = [str(cluster.bin / "helm"), "--kubeconfig", str(cluster.kubeconfig), *args]
    done = subprocess.run(
        [*argv, *(["-o", "json"] if output else [])], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"helm {' '.join(args)}: {done.stderr[-2000:]}"
    return json.loads(done.stdout) if output else done.stdout


def monitoring_crds(cluster: Cluster) -> dict[str, Any]:
    crds = client.ApiextensionsV1Api(cluster.api).list_custom_resource_definition().items
    return {c.metadata.name: c for c in crds if c.spec.group == GROUP}


def custom(cluster: Cluster, namespace: str, plural: str, name: str) -> dict[str, Any]:
    return client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(GROUP, "v1", namespace, plural, name)


def custom_list(cluster: Cluster, plural: str) -> list[dict[str, Any]]:
    return client.CustomObjectsApi(cluster.api).list_cluster_custom_object(GROUP, "v1", plural)["items"]


def selects(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """A metav1.LabelSelector on ``labels``: an empty selector selects everything, a null one nothing."""
    if selector is None:
        return False
    labels = labels or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def picked_up(prometheus: dict[str, Any], field: str, obj: dict[str, Any], namespaces: dict[str, dict]) -> bool:
    """Whether the Prometheus object selects ``obj`` by ``<field>Selector`` and ``<field>NamespaceSelector``
    (the operator's rules: a null object selector selects nothing, a null namespace selector the
    Prometheus object's own namespace only)."""
    spec, meta = prometheus["spec"], obj["metadata"]
    ns_selector = spec.get(f"{field}NamespaceSelector")
    if ns_selector is None:
        in_namespace = meta["namespace"] == prometheus["metadata"]["namespace"]
    else:
        in_namespace = selects(ns_selector, namespaces[meta["namespace"]])
    return in_namespace and selects(spec.get(f"{field}Selector"), meta.get("labels"))


def env_of(container: Any) -> dict[str, str]:
    return {e.name: e.value for e in container.env or [] if e.value is not None}


def drop_nulls(node: Any) -> Any:
    """The manifest as the API server takes it: a null field is an unset field (the chart renders
    a few, e.g. an empty ``annotations:``); kubeconform's schemas here are strict about types."""
    if isinstance(node, dict):
        return {k: drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [drop_nulls(v) for v in node]
    return node


def unknown_keys(values: dict[str, Any], defaults: Any, readers: list[str], path: tuple[str, ...] = ()) -> list[str]:
    """Dotted paths of ``values`` that the chart neither has a default for nor reads in a template
    (``readers``: the template texts, where a subchart's ``.Values.x`` is written ``.Values.<alias>.x``)."""
    out: list[str] = []
    for key, value in values.items():
        here = (*path, key)
        if isinstance(defaults, dict) and key in defaults:
            default = defaults[key]
            if isinstance(value, dict) and isinstance(default, dict) and default:
                out += unknown_keys(value, default, readers, here)
            continue
        if not any(f".Values.{'.'.join(here)}" in text for text in readers):
            out.append(".".join(here))
    return out


@dataclass
class Stack:
    runner: StackRunner
    namespace: str
    release: str
    app: str
    install: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def installed(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack installed once through the role (and the app through k8s_app), for the tests that
    read it; removed after: the release (its cluster-scoped objects and those in kube-system), the
    namespaces, and the CRDs the chart brought (helm never deletes CRDs; other tests install
    their own versions)."""
    assert CHART.is_file(), f"{CHART}: the shared kube-prometheus-stack chart is missing (../shared/charts/README.md)"
    before = set(monitoring_crds(cluster))
    namespace, release, app = unique("mon-kps"), unique("kps"), unique("shop")
    runner = StackRunner(cluster, tmp_path_factory.mktemp("stack"), namespace, release, [shop(app)])
    try:
        started = time.monotonic()
        install = runner.stack(tags="k8s_monitoring,k8s_app")
        print(f"install through the role: {time.monotonic() - started:.0f} s")
        yield Stack(runner, namespace, release, app, install)
    finally:
        argv = [str(cluster.bin / "helm"), "--kubeconfig", str(cluster.kubeconfig)]
        subprocess.run([*argv, "uninstall", release, "-n", namespace, "--wait", "--timeout", "120s"], check=False)
        cluster.kubectl("delete", "namespace", namespace, app, "--ignore-not-found", "--wait=false", check=False)
        brought = sorted(set(monitoring_crds(cluster)) - before)
        if brought:
            cluster.kubectl("delete", "crd", *brought, "--ignore-not-found", "--timeout=120s", check=False)
        cluster.dynamic.resources.invalidate_cache()


def test_check_mode_on_a_fresh_cluster_creates_nothing(cluster: Cluster, tmp_path: Path) -> None:
    namespace = unique("mon-kps")
    runner = StackRunner(cluster, tmp_path, namespace, unique("kps"), [shop(unique("shop"))])
    crds = set(monitoring_crds(cluster))
    done = runner.stack("--check", "--diff")
    assert recap(done.stdout)["failed"] == 0
    assert f"would create in namespace {namespace}" in done.stdout
    assert namespace not in cluster.kubectl("get", "namespaces", "-o", "name").stdout
    assert set(monitoring_crds(cluster)) == crds, "check mode installed CRDs"
    assert WEBHOOK not in done.stdout and GRAFANA_PASSWORD not in done.stdout


def test_bad_settings_are_refused_before_anything_is_applied(cluster: Cluster, tmp_path: Path) -> None:
    namespace = unique("mon-kps")
    runner = StackRunner(cluster, tmp_path, namespace, unique("kps"), [])
    done = runner.stack(
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

    no_password = runner.stack(check=False, monitoring_grafana_admin_password="")
    assert no_password.returncode != 0
    assert "monitoring_grafana_admin_password: empty" in no_password.stdout
    bad_receiver = runner.stack(
        check=False, monitoring_alertmanager_receivers=[{"name": "x", "type": "pager", "url": WEBHOOK}]
    )
    assert bad_receiver.returncode != 0
    assert "monitoring_alertmanager_receivers" in bad_receiver.stdout and WEBHOOK not in bad_receiver.stdout

    # a chart on disk is held to the pinned version (helm ignores --version for a path)
    other = runner.stack(check=False, monitoring_k8s_chart_version="81.2.1")
    assert other.returncode != 0
    assert (
        f"monitoring_k8s_chart_ref: {CHART} is kube-prometheus-stack {CHART_VERSION}, "
        "not the pinned monitoring_k8s_chart_version 81.2.1"
    ) in " ".join(other.stdout.split()), other.stdout[-2000:]
    missing = runner.stack(check=False, monitoring_k8s_chart_ref=str(CHARTS / "no-such-chart.tgz"))
    assert missing.returncode != 0
    assert "no-such-chart.tgz is not a chart helm can read" in " ".join(missing.stdout.split()), missing.stdout[-2000:]
    assert namespace not in cluster.kubectl("get", "namespaces", "-o", "name").stdout


def test_the_roles_default_chart_version_is_the_tested_chart() -> None:
    chart = yaml.safe_load(chart_file("Chart.yaml"))
    defaults = yaml.safe_load((ROOT / "roles" / "monitoring" / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROOT / "roles" / "monitoring" / "meta" / "argument_specs.yml").read_text())
    (spec,) = {
        str(s["options"]["monitoring_k8s_chart_version"]["default"])
        for s in specs["argument_specs"].values()
        if "monitoring_k8s_chart_version" in s.get("options", {})
    }
    assert chart["name"] == "kube-prometheus-stack"
    assert str(defaults["monitoring_k8s_chart_version"]) == chart["version"] == spec == CHART_VERSION
    assert defaults["monitoring_k8s_chart_ref"] == chart["name"]


def test_the_chart_brings_its_crds_and_the_operator_objects_are_admitted(cluster: Cluster, installed: Stack) -> None:
    ns, release = installed.namespace, installed.release
    assert WEBHOOK not in installed.install.stdout and GRAFANA_PASSWORD not in installed.install.stdout
    (listed,) = helm(cluster, "list", "-n", ns)
    assert listed["chart"] == f"kube-prometheus-stack-{CHART_VERSION}" and listed["status"] == "deployed"

    # the CRDs of the crds subchart: all of them, established, at the chart's operator version
    shipped = {}
    for text in chart_members("charts/crds/crds/", ".yaml").values():
        doc = yaml.load(text, Loader=CrdLoader)  # a SafeLoader
        shipped[doc["metadata"]["name"]] = doc["metadata"]["annotations"]["operator.prometheus.io/version"]
    assert len(shipped) == 10 and "prometheuses.monitoring.coreos.com" in shipped
    live = monitoring_crds(cluster)
    assert set(shipped) <= set(live)
    for name, version in shipped.items():
        crd = live[name]
        assert crd.metadata.annotations["operator.prometheus.io/version"] == version, name
        assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True", name
    app_version = yaml.safe_load(chart_file("Chart.yaml"))["appVersion"]
    assert set(shipped.values()) == {app_version.lstrip("v")}

    # the operator's objects, admitted by their CRDs, with the inventory's values
    prometheus = custom(cluster, ns, "prometheuses", f"{release}-prometheus")
    spec = prometheus["spec"]
    assert spec["retention"] == "30d" and spec["retentionSize"] == "10GB"
    assert spec["scrapeInterval"] == "30s" and spec["evaluationInterval"] == "30s"
    assert spec["externalLabels"] == {"cluster": "test-cluster", "env": "dev"}
    assert spec["replicas"] == 1
    assert spec["resources"] == {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}
    assert spec["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert spec["image"].startswith("127.0.0.1:5000/"), spec["image"]  # opsdeck_registry: global.imageRegistry
    (target,) = spec["alerting"]["alertmanagers"]
    alertmanager = custom(cluster, ns, "alertmanagers", target["name"])
    assert alertmanager["spec"]["replicas"] == 1
    assert alertmanager["spec"]["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "2Gi"

    # the chart's workloads Ready on the simulated nodes (Pod Security "privileged" admitted the node exporter)
    core, apps = client.CoreV1Api(cluster.api), client.AppsV1Api(cluster.api)
    assert core.read_namespace(ns).metadata.labels["pod-security.kubernetes.io/enforce"] == "privileged"
    deployments = {d.metadata.name: d for d in apps.list_namespaced_deployment(ns).items}
    for name in (f"{release}-operator", f"{release}-kube-state-metrics", f"{release}-grafana", f"{release}-blackbox"):
        assert deployments[name].status.ready_replicas == 1, name
    (exporter,) = apps.list_namespaced_daemon_set(ns).items
    assert exporter.status.number_ready == exporter.status.desired_number_scheduled >= 1
    running = [p for p in core.list_namespaced_pod(ns).items if p.status.phase != "Succeeded"]  # not the hooks'
    assert running and all(pod_ready(p) for p in running), [p.metadata.name for p in running if not pod_ready(p)]
    defaults = yaml.safe_load((ROOT / "roles" / "monitoring" / "defaults" / "main.yml").read_text())
    (blackbox,) = deployments[f"{release}-blackbox"].spec.template.spec.containers
    assert blackbox.image == f"127.0.0.1:5000/{defaults['monitoring_blackbox_exporter_image']}"

    # the admission webhooks: installed, pointed at the operator's Service, which selects the operator's pod
    admission = client.AdmissionregistrationV1Api(cluster.api)
    validating = admission.read_validating_webhook_configuration(f"{release}-admission")
    mutating = admission.read_mutating_webhook_configuration(f"{release}-admission")
    paths = {w.client_config.service.path for w in validating.webhooks + mutating.webhooks}
    assert {"/admission-prometheusrules/validate", "/admission-prometheusrules/mutate"} <= paths
    (service_name,) = {w.client_config.service.name for w in validating.webhooks + mutating.webhooks}
    service = core.read_namespaced_service(service_name, ns)
    operator = deployments[f"{release}-operator"]
    assert selects({"matchLabels": service.spec.selector}, operator.spec.template.metadata.labels)
    assert all(w.namespace_selector.match_labels == WEBHOOK_SCOPE for w in validating.webhooks)  # test-only
    # every image the chart runs, its hooks and the operator's config reloader included, is behind
    # opsdeck_registry (what an air-gapped site mirrors: docs/monitoring.md)
    pods = [d.spec.template.spec for d in deployments.values()] + [exporter.spec.template.spec]
    images = {c.image for spec in pods for c in spec.containers + (spec.init_containers or [])}
    hooks = [d for d in yaml.safe_load_all(helm(cluster, "get", "hooks", release, "-n", ns, output=False)) if d]
    images |= {c["image"] for d in hooks if d["kind"] == "Job" for c in d["spec"]["template"]["spec"]["containers"]}
    (reloader,) = [a for c in operator.spec.template.spec.containers for a in c.args or [] if "config-reloader=" in a]
    images |= {prometheus["spec"]["image"], alertmanager["spec"]["image"], reloader.split("=", 1)[1]}
    assert any("kube-webhook-certgen" in i for i in images), images
    assert all(i.startswith("127.0.0.1:5000/") for i in images), images
    # the certgen hook Jobs ran to completion (helm deleted them after: hook-succeeded)
    events = core.list_namespaced_event(ns, field_selector="involvedObject.kind=Job").items
    completed = {e.involved_object.name for e in events if e.reason == "Completed"}
    assert {f"{release}-admission-create", f"{release}-admission-patch"} <= completed, completed


def test_prometheus_selects_our_rules_probes_and_the_apps_service_monitors(cluster: Cluster, installed: Stack) -> None:
    ns, release, app = installed.namespace, installed.release, installed.app
    prometheus = custom(cluster, ns, "prometheuses", f"{release}-prometheus")
    namespaces = {
        n.metadata.name: n.metadata.labels or {} for n in client.CoreV1Api(cluster.api).list_namespace().items
    }

    rules = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in custom_list(cluster, "prometheusrules")}
    ours = rules[(ns, f"{release}-opsdeck-rules")]
    groups = {g["name"] for g in ours["spec"]["groups"]}
    assert groups == {"opsdeck-availability", "opsdeck-logging", "shop-extra"}
    apps_rule = rules[(app, app)]  # k8s_app's SLO rules in the app's namespace
    assert {r.get("alert") for g in apps_rule["spec"]["groups"] for r in g["rules"]} >= {"SLOErrorBudgetBurnFast"}
    (monitor,) = [m for m in custom_list(cluster, "servicemonitors") if m["metadata"]["namespace"] == app]
    probes = [p for p in custom_list(cluster, "probes") if p["metadata"]["namespace"] == ns]
    (probe,) = probes
    assert probe["spec"]["targets"]["staticConfig"]["static"] == ["https://shop.example.com/"]
    assert probe["spec"]["prober"]["url"] == f"{release}-blackbox.{ns}.svc:9115"

    for field, obj in (("rule", ours), ("rule", apps_rule), ("serviceMonitor", monitor), ("probe", probe)):
        name = f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
        assert picked_up(prometheus, field, obj, namespaces), f"{name} is not selected by {field}Selector"
    # ... and the chart's own rules and monitors too (the same selectors)
    assert picked_up(prometheus, "rule", rules[(ns, f"{release}-general.rules")], namespaces)
    # the evaluation bites: a selector of the chart's kind that the app's objects do not meet
    assert not selects({"matchLabels": {"release": release}}, monitor["metadata"].get("labels"))
    assert not picked_up({**prometheus, "spec": {}}, "serviceMonitor", monitor, namespaces)

    # with the chart's defaults (NilUsesHelmValues: true) the selectors are the release's label:
    # our objects carry it, k8s_app's do not (why the role sets them false)
    values = helm(cluster, "get", "values", release, "-n", ns)
    for key in ("serviceMonitor", "podMonitor", "probe", "rule", "scrapeConfig"):
        values["prometheus"]["prometheusSpec"][f"{key}SelectorNilUsesHelmValues"] = True
    docs = template(cluster, installed, values)
    (default_prometheus,) = [d for d in docs if d["kind"] == "Prometheus"]
    assert picked_up(default_prometheus, "rule", ours, namespaces)
    assert picked_up(default_prometheus, "probe", probe, namespaces)
    assert not picked_up(default_prometheus, "serviceMonitor", monitor, namespaces)

    # the app's NetworkPolicy lets the stack's namespace in to the metrics port
    policy = client.NetworkingV1Api(cluster.api).read_namespaced_network_policy(f"{app}-allow-monitoring", app)
    (rule,) = policy.spec.ingress
    assert any(selects({"matchLabels": peer.namespace_selector.match_labels}, namespaces[ns]) for peer in rule._from)


def test_grafana_sidecars_find_our_dashboards_and_datasource(cluster: Cluster, installed: Stack) -> None:
    ns, release = installed.namespace, installed.release
    core = client.CoreV1Api(cluster.api)
    grafana = client.AppsV1Api(cluster.api).read_namespaced_deployment(f"{release}-grafana", ns)
    containers = {c.name: c for c in grafana.spec.template.spec.containers}
    dashboards_env = env_of(containers["grafana-sc-dashboard"])
    datasources_env = env_of(containers["grafana-sc-datasources"])
    assert dashboards_env["NAMESPACE"] in ("ALL", ns) or ns in dashboards_env["NAMESPACE"].split(",")

    label, value = dashboards_env["LABEL"], dashboards_env["LABEL_VALUE"]
    ours = core.list_namespaced_config_map(ns, label_selector="app.kubernetes.io/managed-by=opsdeck").items
    boards = [cm for cm in ours if any(k.endswith(".json") for k in cm.data or {})]
    assert {cm.metadata.name for cm in boards} == {f"{release}-dashboard-{n}" for n in ("apps", "backups", "hosts")}
    for cm in boards:
        assert (cm.metadata.labels or {}).get(label) == value, cm.metadata.name
    found = core.list_namespaced_config_map(ns, label_selector=f"{label}={value}").items
    assert {cm.metadata.name for cm in boards} <= {cm.metadata.name for cm in found}

    # the datasource uid our dashboards query is the one the chart provisions (datasource sidecar's label)
    named = {
        p["datasource"]["uid"]
        for cm in boards
        for board in map(json.loads, cm.data.values())
        for p in board["panels"]
        if isinstance(p.get("datasource"), dict) and "uid" in p["datasource"]
    }
    assert named == {"opsdeck-prometheus"}
    source_label = f"{datasources_env['LABEL']}={datasources_env['LABEL_VALUE']}"
    provided = {
        source["uid"]
        for cm in core.list_namespaced_config_map(ns, label_selector=source_label).items
        for text in (cm.data or {}).values()
        for source in (yaml.safe_load(text) or {}).get("datasources", [])
    }
    assert named <= provided, provided
    # the admin login from our Secret, not the chart's generated one
    env = {e.name: e.value_from for e in containers["grafana"].env or []}
    assert env["GF_SECURITY_ADMIN_PASSWORD"].secret_key_ref.name == f"{release}-grafana-admin"
    admin = core.read_namespaced_secret(f"{release}-grafana-admin", ns).data
    assert base64.b64decode(admin["admin-password"]).decode() == GRAFANA_PASSWORD


def test_alertmanager_reads_our_secret_and_no_secret_is_in_the_release(cluster: Cluster, installed: Stack) -> None:
    ns, release = installed.namespace, installed.release
    core = client.CoreV1Api(cluster.api)
    prometheus = custom(cluster, ns, "prometheuses", f"{release}-prometheus")
    (target,) = prometheus["spec"]["alerting"]["alertmanagers"]
    alertmanager = custom(cluster, ns, "alertmanagers", target["name"])
    secret = core.read_namespaced_secret(alertmanager["spec"]["configSecret"], ns)
    assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "opsdeck"
    config = yaml.safe_load(base64.b64decode(secret.data["alertmanager.yaml"]))
    hooks = {r["name"]: r for r in config["receivers"]}
    assert hooks["team-web"]["webhook_configs"][0]["url"] == WEBHOOK
    assert config["route"]["receiver"] == "team-web"
    # the chart made no configuration Secret of its own (the operator's default name)
    names = {s.metadata.name for s in core.list_namespaced_secret(ns).items}
    assert f"alertmanager-{target['name']}" not in names

    values = helm(cluster, "get", "values", release, "-n", ns)
    manifest = helm(cluster, "get", "manifest", release, "-n", ns, output=False)
    for text in (json.dumps(values), manifest):
        assert WEBHOOK not in text and GRAFANA_PASSWORD not in text
        assert "opsdeck-secret-path" not in text


def template(cluster: Cluster, stack: Stack, values: dict[str, Any]) -> list[dict[str, Any]]:
    """``helm template`` of the chart with ``values`` (Kubernetes 1.34.4, the stack's namespace)."""
    path = stack.runner.tmp / f"values-{len(list(stack.runner.tmp.iterdir()))}.json"
    path.write_text(json.dumps(values))
    out = helm(
        cluster,
        "template",
        stack.release,
        str(CHART),
        "-n",
        stack.namespace,
        "-f",
        str(path),
        "--kube-version",
        KUBE_VERSION,
        output=False,
    )
    return [d for d in yaml.safe_load_all(out) if d]


def test_helm_template_with_our_values_passes_kubeconform(cluster: Cluster, installed: Stack) -> None:
    ns, release = installed.namespace, installed.release
    values = helm(cluster, "get", "values", release, "-n", ns)  # what the role gave the release
    docs = [drop_nulls(d) for d in template(cluster, installed, values)]
    kinds = {(d["apiVersion"], d["kind"]) for d in docs}
    assert {(f"{GROUP}/v1", k) for k in ("Prometheus", "Alertmanager", "PrometheusRule", "ServiceMonitor")} <= kinds
    openapi = json.loads(cluster.kubectl("get", "--raw", "/openapi/v2").stdout)
    checked, report = kubeconform_served(openapi, docs, cluster.bin / "kubeconform", installed.runner.tmp)
    assert len(checked) == len(docs), sorted(kinds - {(d["apiVersion"], d["kind"]) for d in checked})
    assert report["returncode"] == 0, [r for r in report.get("resources", []) if r["status"] != "statusValid"]
    assert report["summary"] == {"valid": len(docs), "invalid": 0, "errors": 0, "skipped": 0}

    # the CRD schemas bite: a retention size the Prometheus CRD's pattern refuses
    wrong = deep_merge(values, {"prometheus": {"prometheusSpec": {"retentionSize": "10 gigs"}}})
    bad = [d for d in map(drop_nulls, template(cluster, installed, wrong)) if d["kind"] == "Prometheus"]
    _checked, report = kubeconform_served(openapi, bad, cluster.bin / "kubeconform", installed.runner.tmp)
    assert report["summary"]["invalid"] == 1, report
    assert "retentionSize" in json.dumps(report["resources"])

    # every key of the role's values is one the chart has (a default, or read by a template)
    defaults = yaml.safe_load(chart_file("values.yaml"))
    chart = yaml.safe_load(chart_file("Chart.yaml"))
    readers = list(chart_members("templates/", "").values())
    for dep in chart["dependencies"]:
        alias = dep.get("alias") or dep["name"]
        sub = yaml.safe_load(chart_file(f"charts/{dep['name']}/values.yaml")) or {}
        defaults[alias] = deep_merge(sub, defaults.get(alias) or {})
        readers += [
            t.replace(".Values.", f".Values.{alias}.")
            for t in chart_members(f"charts/{dep['name']}/templates/", "").values()
        ]
    ours = dict(values)
    ours["prometheusOperator"] = {}  # TEST_VALUES, not the role's
    assert unknown_keys(ours, defaults, readers) == []
    assert unknown_keys({"prometheus": {"prometheusSpec": {"retentionsize": "1GB"}}}, defaults, readers) == [
        "prometheus.prometheusSpec.retentionsize"
    ]


def test_second_run_check_mode_upgrade_and_a_broken_upgrade_rolled_back(cluster: Cluster, installed: Stack) -> None:
    ns, release, runner = installed.namespace, installed.release, installed.runner
    core = client.CoreV1Api(cluster.api)

    def retention() -> str:
        return custom(cluster, ns, "prometheuses", f"{release}-prometheus")["spec"]["retention"]

    def operator_pods() -> list[Any]:
        selector = f"app.kubernetes.io/component=prometheus-operator,app.kubernetes.io/instance={release}"
        return [
            p for p in core.list_namespaced_pod(ns, label_selector=selector).items if not p.metadata.deletion_timestamp
        ]

    # a second run (the app's too) changes nothing: the release is not upgraded
    again = runner.stack(tags="k8s_monitoring,k8s_app")
    assert recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    assert helm(cluster, "status", release, "-n", ns)["version"] == 1

    # check mode of a change says so and changes nothing
    probe = runner.stack("--check", "--diff", monitoring_prometheus_retention_time="45d")
    assert recap(probe.stdout)["changed"] >= 1
    assert "-    retention: 30d" in probe.stdout and "+    retention: 45d" in probe.stdout, probe.stdout[-3000:]
    assert helm(cluster, "status", release, "-n", ns)["version"] == 1 and retention() == "30d"

    # an upgrade, seen on the Prometheus object
    runner.stack(monitoring_prometheus_retention_time="45d")
    assert helm(cluster, "status", release, "-n", ns)["version"] == 2
    assert retention() == "45d"
    serving = {p.metadata.name for p in operator_pods()}
    assert serving and all(pod_ready(p) for p in operator_pods())

    # a broken upgrade: the operator's new pods never become Ready; --atomic rolls back to revision 2
    broken = runner.stack(
        check=False,
        monitoring_prometheus_retention_time="60d",
        monitoring_k8s_timeout="15s",
        monitoring_k8s_values=deep_merge(TEST_VALUES, {"prometheusOperator": {"podLabels": {UNREADY_LABEL: "true"}}}),
    )
    assert broken.returncode != 0
    assert "rolled back" in broken.stdout.lower() or "rollback" in broken.stdout.lower(), broken.stdout[-3000:]
    history = helm(cluster, "history", release, "-n", ns)
    assert [h["status"] for h in history][-2:] == ["failed", "deployed"], history
    assert history[-1]["description"].lower().startswith("rollback to 2")
    assert retention() == "45d"
    pods = operator_pods()
    assert pods and all(pod_ready(p) for p in pods)
    assert all(UNREADY_LABEL not in (p.metadata.labels or {}) for p in pods)
    assert serving & {p.metadata.name for p in pods}, "the operator pod of revision 2 kept serving"
