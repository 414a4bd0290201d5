# SPDX-License-Identifier: GPL-3.0-or-later
"""ServiceMonitor and PrometheusRule against the Prometheus Operator CRDs, and kubeconform.

The CRDs come from the Go module github.com/prometheus-operator/prometheus-operator
(tests/rig/k8s/crds.sh); only the two the role uses are installed, and removed after.
kubeconform checks every rendered manifest against JSON Schemas made in this run from the
cluster's own /openapi/v2 (tests/k8s/openapi_schemas.py): nothing is downloaded.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import Release, fill_secrets
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import slo_rules

from .conftest import Cluster, wait_until
from .openapi_schemas import kubeconform, write_schemas


def model(name: str, **fields: Any) -> list[dict[str, Any]]:
    app = {
        "name": name,
        "image": "opsdeck/sampleapp:1.0.0",
        "replicas": 2,
        "ports": [
            {"name": "http", "port": 8080, "public": True, "host": f"{name}.example.com"},
            {"name": "metrics", "port": 9100},
        ],
        "health": {"path": "/health"},
        "metrics": {"port": "metrics"},
        "env": {"MODE": "test"},
        "secrets": {"TOKEN": "t0ken"},
        "slo": {"availability": 99.9, "latency_p95_ms": 300},
        "autoscaling": {"min_replicas": 2, "max_replicas": 4},
        **fields,
    }
    return normalize_apps([app], environment="staging", registry="127.0.0.1:5000")


def test_without_the_crds_monitoring_objects_are_reported_not_applied(
    cluster: Cluster, app_namespaces: list[str]
) -> None:
    crds = {c.metadata.name for c in client.ApiextensionsV1Api(cluster.api).list_custom_resource_definition().items}
    if "servicemonitors.monitoring.coreos.com" in crds:
        pytest.skip("the Prometheus Operator CRDs are installed on this cluster")
    name = f"nomon-{uuid.uuid4().hex[:6]}"
    app_namespaces.append(name)
    (release,) = render_apps(model(name))
    result = Release(cluster.dynamic, release, secrets={"TOKEN": "t0ken"}, wait_timeout=120).run()
    assert {(o["kind"], o["name"]) for o in result["not_applied"]} == {
        ("ServiceMonitor", name),
        ("PrometheusRule", name),
    }
    assert result["rollout"]["state"] == "done"


def test_service_monitor_and_rules_are_applied_with_the_crds(
    cluster: Cluster, operator_crds: None, app_namespaces: list[str]
) -> None:
    name = f"mon-{uuid.uuid4().hex[:6]}"
    app_namespaces.append(name)
    apps = model(name)
    (release,) = render_apps(apps)
    result = Release(cluster.dynamic, release, secrets={"TOKEN": "t0ken"}, wait_timeout=120).run()
    assert result["not_applied"] == []
    custom = client.CustomObjectsApi(cluster.api)
    sm = custom.get_namespaced_custom_object("monitoring.coreos.com", "v1", name, "servicemonitors", name)
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert {r["targetLabel"]: r["replacement"] for r in endpoint["relabelings"]} == {
        "job": "apps",
        "app": name,
        "team": "platform",
        "env": "staging",
    }
    rule = custom.get_namespaced_custom_object("monitoring.coreos.com", "v1", name, "prometheusrules", name)
    assert rule["spec"]["groups"] == slo_rules(apps)
    alerts = {r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"SLOErrorBudgetBurnFast", "SLOErrorBudgetBurnSlow", "SLOLatencyHigh"} <= alerts

    again = Release(cluster.dynamic, release, secrets={"TOKEN": "t0ken"}, wait_timeout=120).run()
    assert again["changed"] is False, [o for o in again["objects"] if o["action"] != "unchanged"]

    # a rule the CRD's schema refuses is refused by the server's dry-run, before anything is written
    bad = json.loads(json.dumps(release))
    rule_manifest = next(m for m in bad["manifests"] if m["kind"] == "PrometheusRule")
    rule_manifest["spec"]["groups"][0]["rules"][0]["expr"] = {"not": "a string"}
    cm = next(m for m in bad["manifests"] if m["kind"] == "ConfigMap")
    cm["data"]["MODE"] = "changed"
    from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import ReleaseError

    with pytest.raises(ReleaseError) as err:
        Release(cluster.dynamic, bad, secrets={"TOKEN": "t0ken"}, wait_timeout=120).run()
    assert f"PrometheusRule {name}/{name} was refused by the server's dry-run (nothing of the app was applied)" in str(
        err.value
    )
    assert client.CoreV1Api(cluster.api).read_namespaced_config_map(f"{name}-env", name).data == {"MODE": "test"}


def test_rendered_manifests_pass_kubeconform_with_the_clusters_own_schemas(
    cluster: Cluster, operator_crds: None, tmp_path: Path
) -> None:
    stateful = model("store", volumes=[{"name": "data", "path": "/data"}])
    releases = render_apps(model("web")) + render_apps(stateful, {"storage_class": "standard"})
    manifests = [m for r in releases for m in fill_secrets(r["manifests"], {"TOKEN": "t0ken"})]
    kinds = {(m["apiVersion"], m["kind"]) for m in manifests}
    assert {"StatefulSet", "Deployment", "HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule"} <= {
        k for _group, k in kinds
    }

    wait_until(
        "the CRDs in /openapi/v2",
        lambda: "com.coreos.monitoring.v1.ServiceMonitor" in cluster.kubectl("get", "--raw", "/openapi/v2").stdout,
        timeout=60,
        interval=2,
    )
    openapi = json.loads(cluster.kubectl("get", "--raw", "/openapi/v2").stdout)
    schemas = tmp_path / "schemas"
    write_schemas(openapi, schemas, kinds)

    def check(docs: list[dict[str, Any]]) -> dict[str, Any]:
        return kubeconform(cluster.bin / "kubeconform", schemas, docs, tmp_path)

    report = check(manifests)
    assert report["returncode"] == 0, report
    assert report["summary"] == {"valid": len(manifests), "invalid": 0, "errors": 0, "skipped": 0}

    # the schemas bite: a misspelled field and a wrong type are caught
    wrong = json.loads(json.dumps(next(m for m in manifests if m["kind"] == "Deployment")))
    wrong["spec"]["replica"] = 2
    hpa = json.loads(json.dumps(next(m for m in manifests if m["kind"] == "HorizontalPodAutoscaler")))
    hpa["spec"]["minReplicas"] = "two"
    report = check([wrong, hpa])
    assert report["returncode"] != 0
    assert report["summary"]["invalid"] == 2, report
    messages = " ".join(r.get("msg", "") for r in report["resources"])
    assert "replica" in messages and "minReplicas" in messages, messages
