# SPDX-License-Identifier: GPL-3.0-or-later
"""The test control plane behaves like a real cluster, seen from its API.

What the k8s_app role will stand on: server-side apply with our field manager, a
hardened Deployment rolled out on simulated nodes, Pod Security Admission refusing a
privileged pod, a rollout that really fails with ProgressDeadlineExceeded while the old
pods keep serving, and RBAC denying a ServiceAccount what no Role grants it.
"""

from __future__ import annotations

import base64
import copy
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import FIELD_MANAGER, UNREADY_LABEL, Cluster, pod_ready, wait_until

RESTRICTED_CONTAINER = {
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
}


def deployment(name: str, *, replicas: int, image: str, extra_labels: dict | None = None, **spec) -> dict:
    labels = {"app.kubernetes.io/name": name}
    container = {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}
    container.update(copy.deepcopy(RESTRICTED_CONTAINER))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            **spec,
            "template": {
                "metadata": {"labels": {**labels, **(extra_labels or {})}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                },
            },
        },
    }


def condition(obj, kind: str):
    return next((c for c in (obj.status.conditions or []) if c.type == kind), None)


def available(apps: client.AppsV1Api, ns: str, name: str, replicas: int):
    d = apps.read_namespaced_deployment(name, ns)
    c = condition(d, "Available")
    done = (
        c is not None
        and c.status == "True"
        and d.status.observed_generation == d.metadata.generation
        and (d.status.updated_replicas or 0) == replicas
        and (d.status.ready_replicas or 0) == replicas
        and (d.status.replicas or 0) == replicas
    )
    return d if done else None


def test_version_is_the_one_built(cluster: Cluster) -> None:
    info = client.VersionApi(cluster.api).get_code()
    assert info.git_version.startswith("v1.34."), info.git_version
    assert (info.major, info.minor) == ("1", "34")


def test_nodes_are_simulated_and_ready(cluster: Cluster) -> None:
    nodes = client.CoreV1Api(cluster.api).list_node().items
    assert len(nodes) >= 3
    for node in nodes:
        assert node.metadata.annotations.get("kwok.x-k8s.io/node") == "fake", node.metadata.name
        assert condition(node, "Ready").status == "True", node.metadata.name


def test_restricted_deployment_becomes_available(cluster: Cluster, namespace: str) -> None:
    ns = client.CoreV1Api(cluster.api).read_namespace(namespace)
    assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert any(m.manager == FIELD_MANAGER and m.operation == "Apply" for m in ns.metadata.managed_fields)

    applied = cluster.apply(deployment("web", replicas=3, image="registry.invalid/web:1"), namespace=namespace)
    managers = {(m.manager, m.operation) for m in applied.metadata.managedFields}
    assert (FIELD_MANAGER, "Apply") in managers

    apps = client.AppsV1Api(cluster.api)
    wait_until("deployment web Available with 3 ready replicas", lambda: available(apps, namespace, "web", 3))

    nodes = {n.metadata.name for n in client.CoreV1Api(cluster.api).list_node().items}
    pods = client.CoreV1Api(cluster.api).list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=web")
    assert len(pods.items) == 3
    for pod in pods.items:
        assert pod.status.phase == "Running"
        assert pod_ready(pod), pod.metadata.name
        assert pod.spec.node_name in nodes
        assert pod.status.pod_ip

    # A second apply of the same object is a no-op: the generation does not move.
    again = cluster.apply(deployment("web", replicas=3, image="registry.invalid/web:1"), namespace=namespace)
    assert again.metadata.generation == applied.metadata.generation


def test_privileged_pod_is_refused_by_pod_security(cluster: Cluster, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {
            "containers": [{"name": "app", "image": "registry.invalid/app:1", "securityContext": {"privileged": True}}]
        },
    }
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(cluster.api).create_namespaced_pod(namespace, pod)
    assert err.value.status == 403
    message = json.loads(err.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert 'container "app" must not set securityContext.privileged=true' in message
    names = [p.metadata.name for p in client.CoreV1Api(cluster.api).list_namespaced_pod(namespace).items]
    assert "privileged" not in names

    # The same namespace admits a compliant pod.
    ok = copy.deepcopy(pod)
    ok["metadata"]["name"] = "compliant"
    ok["spec"] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "registry.invalid/app:1", **RESTRICTED_CONTAINER}],
    }
    client.CoreV1Api(cluster.api).create_namespaced_pod(namespace, ok)


def test_marked_version_fails_with_progress_deadline_exceeded(cluster: Cluster, namespace: str) -> None:
    apps = client.AppsV1Api(cluster.api)
    core = client.CoreV1Api(cluster.api)
    spec = {"progressDeadlineSeconds": 8, "minReadySeconds": 0}
    cluster.apply(deployment("api", replicas=2, image="registry.invalid/api:1", **spec), namespace=namespace)
    wait_until("deployment api Available", lambda: available(apps, namespace, "api", 2))
    selector = "app.kubernetes.io/name=api"
    old = {p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=selector).items}
    assert len(old) == 2

    bad = deployment("api", replicas=2, image="registry.invalid/api:2", extra_labels={UNREADY_LABEL: "true"}, **spec)
    cluster.apply(bad, namespace=namespace)

    def deadline_exceeded():
        d = apps.read_namespaced_deployment("api", namespace)
        c = condition(d, "Progressing")
        return d if c is not None and c.status == "False" and c.reason == "ProgressDeadlineExceeded" else None

    d = wait_until("Progressing=False ProgressDeadlineExceeded", deadline_exceeded, timeout=120)
    assert "has timed out progressing" in condition(d, "Progressing").message
    assert condition(d, "Available").status == "True"
    assert d.status.available_replicas == 2
    assert d.status.updated_replicas == 1

    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    by_name = {p.metadata.name: p for p in pods}
    assert old <= set(by_name), "the old pods were replaced"
    for name in old:
        assert pod_ready(by_name[name]), f"old pod {name} is not Ready"
    new = [p for p in pods if (p.metadata.labels or {}).get(UNREADY_LABEL) == "true"]
    assert len(new) == 1
    assert new[0].status.phase == "Running"
    assert not pod_ready(new[0])


def test_serviceaccount_without_role_cannot_list_secrets(cluster: Cluster, namespace: str) -> None:
    core = client.CoreV1Api(cluster.api)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    token = core.create_namespaced_service_account_token(
        "nobody", namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token

    def as_nobody() -> client.CoreV1Api:
        conf = client.Configuration()
        conf.host = cluster.api.configuration.host
        conf.ssl_ca_cert = cluster.api.configuration.ssl_ca_cert
        conf.api_key = {"authorization": token}
        conf.api_key_prefix = {"authorization": "Bearer"}
        return client.CoreV1Api(client.ApiClient(conf))

    with pytest.raises(ApiException) as err:
        as_nobody().list_namespaced_secret(namespace)
    assert err.value.status == 403
    message = json.loads(err.value.body)["message"]
    assert f'"system:serviceaccount:{namespace}:nobody" cannot list resource "secrets"' in message

    nobody = f"system:serviceaccount:{namespace}:nobody"
    can_i = cluster.kubectl("auth", "can-i", "list", "secrets", "-n", namespace, f"--as={nobody}", check=False)
    assert can_i.stdout.strip() == "no", can_i

    # A Role that grants it makes the same token work: the refusal came from RBAC.
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "read-secrets"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "nobody-reads-secrets"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"},
            "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": namespace}],
        },
    )

    def listed():
        try:
            return as_nobody().list_namespaced_secret(namespace).items
        except ApiException as exc:
            if exc.status == 403:
                return None
            raise

    secrets = wait_until("the Role to take effect", listed, timeout=30)
    assert [base64.b64decode(s.data["k"]).decode() for s in secrets if s.metadata.name == "s"] == ["v"]
