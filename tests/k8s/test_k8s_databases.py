# SPDX-License-Identifier: GPL-3.0-or-later
"""Managed databases of the model on the real control plane (k8s_databases.py through k8s_app).

The role runs through ansible-playbook (playbooks/k8s.yml), as in test_k8s_app.py. What is
asserted is seen from the API server: StatefulSets, Services, claims bound, pods Ready on the
simulated nodes (so admitted by Pod Security "restricted", which the app namespace enforces),
the PodDisruptionBudgets, the generated Secret kept by a second run, the app's Deployment
reading the connection Secret.

The simulated nodes run no container: that a PostgreSQL replica really streams, or that the
exporter answers, is the database role's molecule scenario on docker hosts (the same commands,
from the same database.py definitions). This cluster has no dynamic volume provisioner either:
the test creates static PersistentVolumes (hostPath, a storageClassName of its own) and the PV
controller binds the StatefulSets' claims to them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_databases import keep_or_generate
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_manifests import render_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import fill_secrets
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps

from .conftest import ROOT, Cluster, pod_ready
from .openapi_schemas import LOCATION, write_schemas
from .test_k8s_app import Runner, recap, unique


def shop(name: str, **fields: Any) -> dict[str, Any]:
    app = {
        "name": name,
        "image": "opsdeck/sampleapp:1.0.0",
        "replicas": 1,
        "ports": [{"name": "http", "port": 8080}],
        "health": {"path": "/health", "port": "http"},
        "secrets": {"API_TOKEN": f"token-{name}"},
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "databases": [
            {
                "name": "orders",
                "engine": "postgres",
                "managed": True,
                "replicas": 1,
                "resources": {"memory": "256Mi", "cpu": "250m"},
            },
            {"name": "cache", "engine": "redis", "managed": True, "resources": {"memory": "64Mi"}},
        ],
    }
    app.update(fields)
    return app


@pytest.fixture
def runner(cluster: Cluster, tmp_path: Path) -> Runner:
    return Runner(cluster, tmp_path)


@pytest.fixture
def volumes(cluster: Cluster) -> Iterator[str]:
    """A storage class name and three static PersistentVolumes of it (no provisioner here)."""
    storage_class = f"opsdeck-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(cluster.api)
    names = []
    for i in range(3):
        pv = f"{storage_class}-pv{i}"
        names.append(pv)
        core.create_persistent_volume(
            {
                "metadata": {"name": pv},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": storage_class,
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": f"/tmp/{pv}"},
                },
            }
        )
    yield storage_class
    for pv in names:
        try:
            core.delete_persistent_volume(pv)
        except ApiException as exc:
            if exc.status != 404:
                raise


def _secret(core: client.CoreV1Api, ns: str, name: str) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in core.read_namespaced_secret(name, ns).data.items()}


def test_role_runs_the_managed_databases_and_keeps_their_credentials(
    cluster: Cluster, runner: Runner, volumes: str, app_namespaces: list[str]
) -> None:
    name = unique("dbs")
    app_namespaces.append(name)
    app = shop(name)
    first = runner.run([app], "--diff", k8s_app_storage_class=volumes, k8s_app_wait_timeout=60)
    assert recap(first.stdout)["changed"] == 1

    core = client.CoreV1Api(cluster.api)
    apps = client.AppsV1Api(cluster.api)
    sets = {
        f"{name}-orders-db": 1,
        f"{name}-orders-db-replica": 1,
        f"{name}-cache-db": 1,
    }
    for sts_name, replicas in sets.items():
        sts = apps.read_namespaced_stateful_set(sts_name, name)
        assert sts.status.ready_replicas == replicas, sts_name
        assert sts.spec.service_name == f"{sts_name}-headless"
        assert core.read_namespaced_service(f"{sts_name}-headless", name).spec.cluster_ip == "None"
        assert core.read_namespaced_service(sts_name, name).spec.type == "ClusterIP"
        pdb = client.PolicyV1Api(cluster.api).read_namespaced_pod_disruption_budget(sts_name, name)
        assert pdb.status.expected_pods == replicas
    claims = {c.metadata.name: c for c in core.list_namespaced_persistent_volume_claim(name).items}
    assert set(claims) == {f"data-{s}-0" for s in sets}
    assert all(c.status.phase == "Bound" and c.spec.storage_class_name == volumes for c in claims.values())

    # the pods: admitted under Pod Security "restricted", scheduled on the simulated nodes, Ready
    assert core.read_namespace(name).metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    nodes = {n.metadata.name for n in core.list_node().items}
    pods = core.list_namespaced_pod(name, label_selector="app.kubernetes.io/component=database").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.spec.node_name in nodes and pod_ready(pod), pod.metadata.name
        for c in [*(pod.spec.init_containers or []), *pod.spec.containers]:
            sc = c.security_context
            assert sc.run_as_non_root and sc.read_only_root_filesystem and sc.allow_privilege_escalation is False
            assert sc.capabilities.drop == ["ALL"] and sc.seccomp_profile.type == "RuntimeDefault"
        assert {c.name for c in pod.spec.containers} in ({"postgres", "exporter"}, {"redis", "exporter"})
    replica = next(p for p in pods if p.metadata.name == f"{name}-orders-db-replica-0")
    assert "pg_basebackup" in " ".join(replica.spec.init_containers[0].command)
    # the service endpoints of the primary are filled (clients reach it by its Service)
    endpoints = client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice(
        name, label_selector=f"kubernetes.io/service-name={name}-orders-db"
    )
    assert sum(len(s.endpoints or []) for s in endpoints.items) == 1

    # the credentials: generated, server-side applied by opsdeck, never in the output
    creds = _secret(core, name, f"{name}-orders-db-credentials")
    assert {"admin", "app", "exporter", "replication", "bootstrap.sql"} <= set(creds)
    connection = _secret(core, name, f"{name}-databases")
    assert connection["DATABASE_URL"] == (
        f"postgresql://orders_app:{creds['app']}@{name}-orders-db.{name}.svc:5432/orders"
    )
    redis = _secret(core, name, f"{name}-cache-db-credentials")
    assert connection["REDIS_PASSWORD"] == redis["admin"]
    output = first.stdout + first.stderr
    for value in (creds["admin"], creds["app"], creds["replication"], redis["admin"]):
        assert value not in output, "a generated password reached the output"
    secret = core.read_namespaced_secret(f"{name}-orders-db-credentials", name)
    assert any(m.manager == "opsdeck" and m.operation == "Apply" for m in secret.metadata.managed_fields)
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (secret.metadata.annotations or {})

    # the app's Deployment reads the connection Secret
    dep = apps.read_namespaced_deployment(name, name)
    env_from = [e.secret_ref.name for e in dep.spec.template.spec.containers[0].env_from or [] if e.secret_ref]
    assert f"{name}-databases" in env_from

    # a second run: nothing changes, the generated values are kept
    generations = {s: apps.read_namespaced_stateful_set(s, name).metadata.generation for s in sets}
    second = runner.run([app], k8s_app_storage_class=volumes, k8s_app_wait_timeout=60)
    assert recap(second.stdout)["changed"] == 0, second.stdout[-3000:]
    assert _secret(core, name, f"{name}-orders-db-credentials") == creds
    assert _secret(core, name, f"{name}-databases") == connection
    assert {s: apps.read_namespaced_stateful_set(s, name).metadata.generation for s in sets} == generations


def test_role_refuses_bad_databases_before_applying_anything(cluster: Cluster, runner: Runner) -> None:
    name = unique("baddb")
    cases = [
        (
            shop(name, databases=[{"name": "cache", "engine": "redis", "managed": True, "replicas": 1}]),
            f"app '{name}': field 'databases[0].replicas': redis has no replication support here",
        ),
        (
            shop(name, databases=[{"name": "Orders-DB", "engine": "postgres", "managed": True}]),
            f"app '{name}': field 'databases[0].name': 'Orders-DB' is not a valid postgres database name",
        ),
        (
            shop(name, databases=[{"name": "x", "engine": "oracle", "managed": True}]),
            f"app '{name}': field 'databases[0].engine': 'oracle' is not one of",
        ),
    ]
    core = client.CoreV1Api(cluster.api)
    for app, message in cases:
        done = runner.run([app], check=False)
        assert done.returncode != 0
        assert message in done.stdout, done.stdout[-3000:]
        assert name not in {n.metadata.name for n in core.list_namespace().items}


def test_rendered_database_manifests_pass_kubeconform_with_the_clusters_own_schemas(
    cluster: Cluster, tmp_path: Path
) -> None:
    app = shop("kc", databases=[*shop("kc")["databases"], {"name": "legacy", "engine": "mariadb", "managed": True}])
    (rel,) = render_apps(normalize_apps([app], environment="dev", registry="127.0.0.1:5000"), {"storage_class": "x"})
    manifests = keep_or_generate(lambda _ns, _name: None, fill_secrets(rel["manifests"], app["secrets"]))
    openapi = json.loads(cluster.kubectl("get", "--raw", "/openapi/v2").stdout)
    served = {
        (f"{g['group']}/{g['version']}" if g["group"] else g["version"], g["kind"])
        for d in openapi["definitions"].values()
        for g in d.get("x-kubernetes-group-version-kind", [])
    }
    # ServiceMonitors only when this cluster has the Prometheus Operator CRDs (test_k8s_monitoring installs them)
    checked = [m for m in manifests if (m["apiVersion"], m["kind"]) in served]
    assert {m["kind"] for m in manifests} - {m["kind"] for m in checked} <= {"ServiceMonitor"}
    assert sum(m["kind"] == "StatefulSet" for m in checked) == 4
    schemas = tmp_path / "schemas"
    write_schemas(openapi, schemas, {(m["apiVersion"], m["kind"]) for m in checked})
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(checked))
    done = subprocess.run(
        [
            str(cluster.bin / "kubeconform"),
            "-strict",
            "-summary",
            "-output",
            "json",
            "-schema-location",
            str(schemas / LOCATION),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    report = json.loads(done.stdout)
    assert done.returncode == 0, report
    assert report["summary"] == {"valid": len(checked), "invalid": 0, "errors": 0, "skipped": 0}
