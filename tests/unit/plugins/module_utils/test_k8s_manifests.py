# SPDX-License-Identifier: GPL-3.0-or-later
"""Manifests rendered from the application model (plugins/module_utils/k8s_manifests.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_manifests as km
from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_release as kr
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_common import K8sRenderError
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import slo_rules

WEB: dict[str, Any] = {
    "name": "web",
    "image": "acme/web:1.2.0",
    "replicas": 3,
    "ports": [
        {"name": "http", "port": 8080, "public": True, "host": "web.example.com"},
        {"name": "admin", "port": 9090},
    ],
    "health": {"path": "/ready", "port": "http", "start_period_s": 20, "interval_s": 5, "retries": 3},
    "metrics": {"port": "admin"},
    "env": {"LOG_LEVEL": "info"},
    "secrets": {"DB_PASSWORD": "s3cret"},
    "resources": {"cpu": "500m", "memory": "512Mi", "cpu_request": "250m", "memory_request": "256Mi"},
    "slo": {"availability": 99.9},
}


def render(*apps: dict[str, Any], environment: str | None = "prod", **options: Any) -> list[dict[str, Any]]:
    return render_apps(normalize_apps(list(apps), environment=environment, registry="127.0.0.1:5000"), options)


def kinds(release: dict[str, Any]) -> list[str]:
    return [m["kind"] for m in release["manifests"]]


def find(release: dict[str, Any], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [m for m in release["manifests"] if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, [m["metadata"]["name"] for m in found])
    return found[0]


def test_a_full_app_gets_every_object_in_apply_order() -> None:
    (rel,) = render(WEB)
    assert rel["namespace"] == "web"
    assert rel["selector"] == "app.kubernetes.io/managed-by=opsdeck,app.kubernetes.io/instance=web"
    assert kinds(rel) == [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
        "ConfigMap",
        "Ingress",
        "ServiceMonitor",
        "PrometheusRule",
    ]
    for m in rel["manifests"]:
        labels = m["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "opsdeck"
        assert labels["app.kubernetes.io/instance"] == "web"
        assert m["metadata"].get("namespace", "web") == "web"


def test_namespace_enforces_restricted_pod_security() -> None:
    ns = find(render(WEB)[0], "Namespace")
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"
    assert labels["opsdeck.io/environment"] == "prod"


def test_deployment_is_hardened_and_rolls_one_at_a_time() -> None:
    d = find(render(WEB)[0], "Deployment")
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = d["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "web"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "fsGroup": 65534,
    }
    (c,) = pod["containers"]
    assert c["image"] == "127.0.0.1:5000/acme/web:1.2.0"
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert c["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    assert c["envFrom"] == [{"configMapRef": {"name": "web-env"}}, {"secretRef": {"name": "web-secrets"}}]
    assert {"name": "tmpfs-0", "mountPath": "/tmp"} in c["volumeMounts"]
    assert [t["topologyKey"] for t in pod["topologySpreadConstraints"]] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100


def test_probes_come_from_health() -> None:
    c = find(render(WEB)[0], "Deployment")["spec"]["template"]["spec"]["containers"][0]
    get = {"path": "/ready", "port": "http", "scheme": "HTTP"}
    assert c["readinessProbe"] == {
        "httpGet": get,
        "periodSeconds": 5,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
        "successThreshold": 1,
    }
    assert c["livenessProbe"]["httpGet"] == get
    assert c["startupProbe"]["failureThreshold"] == 4 + 3  # 20 s / 5 s, then the retries


def test_exec_health_and_no_health() -> None:
    app = {"name": "w", "image": "a/w:1", "health": {"command": ["/bin/check"]}}
    c = find(render(app)[0], "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["exec"] == {"command": ["/bin/check"]}
    c = find(render({"name": "w", "image": "a/w:1"})[0], "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "readinessProbe" not in c


def test_secret_values_are_not_in_the_manifests() -> None:
    (rel,) = render(WEB)
    secret = find(rel, "Secret")
    assert secret["data"] == {"DB_PASSWORD": None}
    assert "s3cret" not in repr(rel)


def test_ingress_for_public_ports_with_tls_class_and_rate_limits() -> None:
    ing = find(render(WEB, rate_limit_rps=5, cluster_issuer="internal-ca")[0], "Ingress")
    ann = ing["metadata"]["annotations"]
    assert ann["cert-manager.io/cluster-issuer"] == "internal-ca"
    assert ann["nginx.ingress.kubernetes.io/limit-rps"] == "5"
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"hosts": ["web.example.com"], "secretName": "web-http-tls"}]
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "web.example.com"
    assert rule["http"]["paths"][0]["backend"] == {"service": {"name": "web", "port": {"name": "http"}}}


def test_no_public_port_no_ingress_and_one_replica_no_pdb() -> None:
    (rel,) = render({"name": "w", "image": "a/w:1", "ports": [{"name": "http", "port": 80}]})
    assert "Ingress" not in kinds(rel)
    assert "PodDisruptionBudget" not in kinds(rel)
    assert "HorizontalPodAutoscaler" not in kinds(rel)


def test_autoscaling_renders_an_hpa_and_leaves_replicas_to_it() -> None:
    app = {**WEB, "autoscaling": {"min_replicas": 3, "max_replicas": 10}}
    (rel,) = render(app)
    hpa = find(rel, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] == 3
    assert hpa["spec"]["maxReplicas"] == 10
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert "replicas" not in find(rel, "Deployment")["spec"]
    quota = find(rel, "ResourceQuota")["spec"]["hard"]
    assert quota["pods"] == "11"  # max_replicas + 1 during a rollout
    assert quota["requests.cpu"] == "2750m"
    assert quota["limits.memory"] == "5632Mi"


def test_pdb_keeps_one_disruption_at_a_time() -> None:
    pdb = find(render(WEB)[0], "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/instance": "web",
    }


def test_volumes_make_a_statefulset_with_claims_and_a_headless_service() -> None:
    app = {"name": "db", "image": "a/db:1", "replicas": 2, "ports": [{"name": "pg", "port": 5432}]}
    app["volumes"] = [{"name": "data", "path": "/var/lib/db"}]
    (rel,) = render(app, storage_class="fast", volume_size="5Gi")
    assert "Deployment" not in kinds(rel)
    sts = find(rel, "StatefulSet")
    assert sts["spec"]["serviceName"] == "db-headless"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "fast",
    }
    assert "app.kubernetes.io/version" not in claim["metadata"]["labels"]  # claim templates are immutable
    assert find(rel, "Service", "db-headless")["spec"]["clusterIP"] == "None"
    mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "data", "mountPath": "/var/lib/db", "readOnly": False} in mounts
    assert find(rel, "ResourceQuota")["spec"]["hard"]["requests.storage"] == "10Gi"


def test_network_policies_deny_by_default_and_allow_ingress_monitoring_and_dependents() -> None:
    api = {**WEB, "name": "api", "ports": [{"name": "http", "port": 8080}], "metrics": {}, "slo": None}
    api.pop("slo")
    front = {"name": "front", "image": "a/front:1", "depends_on": ["api"], "ports": [{"name": "http", "port": 80}]}
    rels = {r["app"]: r for r in render(api, front, monitoring_namespace="prom")}
    policies = {m["metadata"]["name"]: m["spec"] for m in rels["api"]["manifests"] if m["kind"] == "NetworkPolicy"}
    assert policies["api-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert policies["api-allow-monitoring"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prom"}}}
    ]
    assert policies["api-allow-dependents"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "front"}}}
    ]
    assert "api-allow-ingress-controller" not in policies
    front_policies = {
        m["metadata"]["name"]: m["spec"] for m in rels["front"]["manifests"] if m["kind"] == "NetworkPolicy"
    }
    assert front_policies["front-allow-egress"]["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "api"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]
    web_policies = [m["metadata"]["name"] for m in render(WEB)[0]["manifests"] if m["kind"] == "NetworkPolicy"]
    assert "web-allow-ingress-controller" in web_policies


def test_monitoring_objects_use_the_monitoring_rule_library() -> None:
    (rel,) = render(WEB)
    sm = find(rel, "ServiceMonitor")
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == "admin"
    assert endpoint["path"] == "/metrics"
    relabel = {r["targetLabel"]: r["replacement"] for r in endpoint["relabelings"]}
    assert relabel == {"job": "apps", "app": "web", "team": "platform", "env": "prod"}
    rule = find(rel, "PrometheusRule")
    assert rule["spec"]["groups"] == slo_rules(normalize_apps([WEB], environment="prod"))


def test_absent_app_has_no_manifests() -> None:
    (rel,) = render({"name": "old", "image": "a/old:1", "state": "absent"})
    assert rel["state"] == "absent"
    assert rel["manifests"] == []


def test_namespace_prefix() -> None:
    (rel,) = render(WEB, namespace_prefix="prod-")
    assert rel["namespace"] == "prod-web"
    assert find(rel, "RoleBinding")["subjects"] == [{"kind": "ServiceAccount", "name": "web", "namespace": "prod-web"}]


@pytest.mark.parametrize(
    ("app", "options", "expected"),
    [
        (
            {"hardening": {"cap_drop_all": False}},
            {},
            "app 'web': field 'hardening.cap_drop_all': false is not allowed on Kubernetes",
        ),
        (
            {"hardening": {"cap_add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}},
            {},
            "app 'web': field 'hardening.cap_add': SYS_ADMIN cannot be added on Kubernetes",
        ),
        ({"hardening": {"user": "0"}}, {}, "app 'web': field 'hardening.user': uid 0 (root)"),
        ({"hardening": {"user": "www"}}, {}, "app 'web': field 'hardening.user': 'www' is a name"),
        (
            {"replicas": 1},
            {"pdb_min_available": 2},
            "app 'web': field 'replicas': 1 is below the PodDisruptionBudget minimum 2",
        ),
        (
            {"replicas": 2, "autoscaling": {"min_replicas": 2, "max_replicas": 5}},
            {"pdb_min_available": 3},
            "app 'web': field 'autoscaling.min_replicas': 2 is below the PodDisruptionBudget minimum 3",
        ),
        ({}, {"ingress_namespace": "Not_A_Namespace"}, "k8s_app: option 'ingress_namespace'"),
        ({}, {"nonsense": 1}, "k8s_app: unknown option 'nonsense'"),
        ({}, {"volume_size": "lots"}, "k8s_app: option 'volume_size'"),
    ],
)
def test_findings_name_the_app_and_field(app: dict[str, Any], options: dict[str, Any], expected: str) -> None:
    with pytest.raises(K8sRenderError) as err:
        render({**WEB, **app}, **options)
    assert any(e.startswith(expected) for e in err.value.errors), err.value.errors


def test_model_errors_come_first_memory_and_host() -> None:
    from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError

    with pytest.raises(ModelError) as err:
        render({**WEB, "resources": {"memory": "128Mi", "memory_request": "256Mi"}})
    assert "app 'web': field 'resources.memory_request'" in str(err.value)
    with pytest.raises(ModelError) as err:
        render({**WEB, "ports": [{"name": "http", "port": 80, "public": True, "host": "not a host"}]})
    assert "app 'web': field 'ports[0].host'" in str(err.value)


# -- the pure parts of the release module ------------------------------------------------------------


def test_fill_secrets_base64_and_missing_value() -> None:
    (rel,) = render(WEB)
    filled = kr.fill_secrets(rel["manifests"], {"DB_PASSWORD": "s3cret"})
    secret = next(m for m in filled if m["kind"] == "Secret")
    assert secret["data"] == {"DB_PASSWORD": "czNjcmV0"}
    assert next(m for m in rel["manifests"] if m["kind"] == "Secret")["data"] == {"DB_PASSWORD": None}
    with pytest.raises(kr.ReleaseError, match=r"Secret web/web-secrets: no value given for secret\(s\) DB_PASSWORD"):
        kr.fill_secrets(rel["manifests"], {})


def test_mask_secret_says_which_keys_changed_not_their_values() -> None:
    before = {"kind": "Secret", "data": {"A": "eA==", "B": "eQ=="}}
    after = {"kind": "Secret", "data": {"A": "eA==", "B": "eg=="}}
    assert kr.mask_secret(after, before)["data"] == {"A": "VALUE_HIDDEN", "B": "VALUE_HIDDEN (changed)"}
    # the before side hides every value alike: the diff differs where, and only where, a value does
    assert kr.mask_secret(before, after, side="before")["data"] == {"A": "VALUE_HIDDEN", "B": "VALUE_HIDDEN"}
    assert kr.mask_secret({"kind": "ConfigMap", "data": {"A": "x"}}) == {"kind": "ConfigMap", "data": {"A": "x"}}


def test_comparable_drops_what_the_server_changes() -> None:
    obj = {
        "kind": "Deployment",
        "metadata": {
            "name": "x",
            "resourceVersion": "7",
            "generation": 2,
            "managedFields": [{}],
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        },
        "spec": {"replicas": 1},
        "status": {"replicas": 1},
    }
    assert kr.comparable(obj) == {"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": 1}}


def _deployment(generation: int = 2, observed: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": observed, **status},
    }


def test_deployment_state_tells_failed_from_slow() -> None:
    done = _deployment(updatedReplicas=2, availableReplicas=2, replicas=2, readyReplicas=2)
    assert kr.deployment_state(done)[0] == "done"
    slow = _deployment(
        updatedReplicas=1,
        availableReplicas=2,
        replicas=3,
        conditions=[{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}],
    )
    assert kr.deployment_state(slow)[0] == "progressing"
    failed = _deployment(
        updatedReplicas=1,
        availableReplicas=2,
        replicas=3,
        conditions=[
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}
        ],
    )
    assert kr.deployment_state(failed) == ("failed", "ProgressDeadlineExceeded: timed out")
    # a failure condition of an older generation (before a rollback) is not taken as this one's
    stale = {**failed, "status": {**failed["status"], "observedGeneration": 1}}
    assert kr.deployment_state(stale)[0] == "progressing"


def test_statefulset_state() -> None:
    base = {"metadata": {"generation": 3}, "spec": {"replicas": 2}}
    done = {
        **base,
        "status": {
            "observedGeneration": 3,
            "readyReplicas": 2,
            "replicas": 2,
            "updatedReplicas": 2,
            "currentRevision": "r2",
            "updateRevision": "r2",
        },
    }
    assert kr.statefulset_state(done)[0] == "done"
    going = {**base, "status": {**done["status"], "currentRevision": "r1", "updatedReplicas": 1}}
    assert kr.statefulset_state(going)[0] == "progressing"


def test_ingress_follows_the_apps_edge_block() -> None:
    edge = {
        "rate_limit": {"rps": 10, "burst": 25},
        "body_size": "8Mi",
        "timeout_s": 120,
        "cors": {"origins": ["https://a.example.com"], "credentials": True},
    }
    ann = find(render({**WEB, "edge": edge})[0], "Ingress")["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/limit-rps"] == "10"
    assert ann["nginx.ingress.kubernetes.io/limit-burst-multiplier"] == "3"
    assert ann["nginx.ingress.kubernetes.io/proxy-body-size"] == str(8 * 1024 * 1024)
    assert ann["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "120"
    assert ann["nginx.ingress.kubernetes.io/enable-cors"] == "true"
    assert ann["nginx.ingress.kubernetes.io/cors-allow-origin"] == "https://a.example.com"
    assert ann["nginx.ingress.kubernetes.io/cors-allow-credentials"] == "true"
    plain = find(render(WEB)[0], "Ingress")["metadata"]["annotations"]
    assert plain["nginx.ingress.kubernetes.io/limit-rps"] == "20"
    assert "nginx.ingress.kubernetes.io/enable-cors" not in plain


def test_the_edge_blocks_security_headers_go_to_a_configmap_named_by_custom_headers() -> None:
    edge = {"hsts_max_age_s": 600, "headers": {"X-Frame-Options": None, "Permissions-Policy": "camera=()"}}
    (rel,) = render({**WEB, "edge": edge})
    ing = find(rel, "Ingress")
    cm = find(rel, "ConfigMap", "web-edge-headers")
    assert ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/custom-headers"] == "web/web-edge-headers"
    assert "nginx.ingress.kubernetes.io/configuration-snippet" not in ing["metadata"]["annotations"]
    # the edge role's computation (edge.security_headers), not a copy: same headers, same order
    normalized = normalize_apps([{**WEB, "edge": edge}])[0]
    assert list(cm["data"].items()) == [tuple(h) for h in km.security_headers(normalized["edge"], True)]
    assert cm["data"]["Strict-Transport-Security"] == "max-age=600; includeSubDomains"
    assert "X-Frame-Options" not in cm["data"] and cm["data"]["Permissions-Policy"] == "camera=()"
    kinds_before_ingress = kinds(rel)[: kinds(rel).index("Ingress")]
    assert kinds_before_ingress[-1] == "ConfigMap"  # applied before the Ingress that names it


def test_no_hsts_without_tls_and_edge_headers_can_be_turned_off() -> None:
    ports = [{"name": "http", "port": 8080, "public": True, "host": "web.example.com", "tls": False}, WEB["ports"][1]]
    plain = {**WEB, "ports": ports}
    cm = find(render(plain)[0], "ConfigMap", "web-edge-headers")
    assert "Strict-Transport-Security" not in cm["data"] and cm["data"]["X-Content-Type-Options"] == "nosniff"
    (rel,) = render(WEB, edge_headers=False)
    assert "web-edge-headers" not in [m["metadata"]["name"] for m in rel["manifests"]]
    assert "nginx.ingress.kubernetes.io/custom-headers" not in find(rel, "Ingress")["metadata"]["annotations"]


def test_pre_deploy_hooks_are_jobs_with_the_new_image_env_secrets_and_hardening_before_the_workload() -> None:
    hooks = {
        "pre_deploy": [
            {"name": "migrate", "command": ["/app/migrate"], "timeout_s": 90},
            {"name": "seed", "command": ["/app/seed"]},
        ]
    }
    (rel,) = render({**WEB, "hooks": hooks, "volumes": [{"name": "data", "path": "/data"}]})
    order = kinds(rel)
    assert order.index("Job") < order.index("StatefulSet") and order.count("Job") == 2
    jobs = [m for m in rel["manifests"] if m["kind"] == "Job"]
    migrate = jobs[0]
    assert migrate["metadata"]["name"].startswith("web-pre-deploy0-")
    assert migrate["metadata"]["annotations"]["opsdeck.io/hook"] == "migrate"
    assert migrate["spec"]["backoffLimit"] == 0 and migrate["spec"]["activeDeadlineSeconds"] == 90
    assert jobs[1]["spec"]["activeDeadlineSeconds"] == 300
    pod = migrate["spec"]["template"]
    (c,) = pod["spec"]["containers"]
    assert c["image"] == "127.0.0.1:5000/acme/web:1.2.0" and c["command"] == ["/app/migrate"]
    assert c["envFrom"] == [{"configMapRef": {"name": "web-env"}}, {"secretRef": {"name": "web-secrets"}}]
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]} and c["securityContext"]["runAsNonRoot"]
    assert "ports" not in c and "readinessProbe" not in c
    assert all(m["name"] != "data" for m in c.get("volumeMounts", []))  # a claim is one StatefulSet pod's
    assert pod["spec"]["restartPolicy"] == "Never"
    # not selected by the Service / PDB / workload, but by the egress policies (DNS)
    assert "app.kubernetes.io/name" not in pod["metadata"]["labels"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/instance"] == "web"
    dns = find(rel, "NetworkPolicy", "web-allow-dns")
    assert dns["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/instance": "web"}}
    # a new image is a new Job (a new revision to prepare); the same one keeps its name
    (newer,) = render({**WEB, "hooks": hooks, "image": "acme/web:1.3.0"})

    def names(r: dict[str, Any]) -> list[str]:
        return [m["metadata"]["name"] for m in r["manifests"] if m["kind"] == "Job"]

    assert names(newer) != names(render({**WEB, "hooks": hooks})[0])
    assert names(render({**WEB, "hooks": hooks})[0]) == names(render({**WEB, "hooks": hooks})[0])
    # room in the quota for the hook's pod beside the app's and the rollout's
    assert find(render({**WEB, "hooks": hooks})[0], "ResourceQuota")["spec"]["hard"]["pods"] == "5"
    assert find(render(WEB)[0], "ResourceQuota")["spec"]["hard"]["pods"] == "4"


def test_release_set_labels_every_object_but_not_the_pod_template() -> None:
    (rel,) = render(WEB, release_set="prod-eu")
    assert rel["release_set"] == "prod-eu"
    for m in rel["manifests"]:
        assert m["metadata"]["labels"]["opsdeck.io/release-set"] == "prod-eu", m["kind"]
    template = find(rel, "Deployment")["spec"]["template"]
    assert "opsdeck.io/release-set" not in template["metadata"]["labels"]  # adding it rolls no pod
    assert "opsdeck.io/release-set" not in find(render(WEB)[0], "Namespace")["metadata"]["labels"]
    with pytest.raises(K8sRenderError, match="option 'release_set': 'not a label' is not a label value"):
        render(WEB, release_set="not a label")
