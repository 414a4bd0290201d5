# SPDX-License-Identifier: GPL-3.0-or-later
"""The k8s_app role and the k8s_release module against the real control plane.

The role runs through ansible-playbook (playbooks/k8s.yml, an inventory whose host of
k8s_clusters points at the test cluster's kubeconfig); the rollback and prune cases call
the module's logic (module_utils/k8s_release.Release) directly, on manifests rendered
from the model, to keep each case short. What is asserted is seen from the API server:
objects, pods Ready on the simulated nodes, Pod Security verdicts, revisions.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import Release, ReleaseError, deploy
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps

from .conftest import ROOT, UNREADY_LABEL, Cluster, pod_ready, wait_until

VENV_PYTHON = os.environ.get("OPSDECK_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
PLAYBOOK = str(Path(VENV_PYTHON).parent / "ansible-playbook")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def sample(name: str, tag: str = "1.0.0", **fields: Any) -> dict[str, Any]:
    app = {
        "name": name,
        "image": f"opsdeck/sampleapp:{tag}",
        "replicas": 2,
        "ports": [{"name": "http", "port": 8080, "public": True, "host": f"{name}.example.com"}],
        "health": {"path": "/health", "port": "http"},
        "metrics": {"path": "/metrics", "port": "http"},
        "env": {"LOG_LEVEL": "info"},
        "secrets": {"API_TOKEN": f"token-{name}-{tag}"},
        "resources": {"cpu": "200m", "memory": "128Mi", "cpu_request": "50m", "memory_request": "64Mi"},
        "slo": {"availability": 99.5},
    }
    app.update(fields)
    return app


def broken(app: dict[str, Any], tag: str) -> dict[str, Any]:
    """A new version of ``app`` whose pods run but never become Ready (the rig's kwok stage)."""
    return {**app, "image": app["image"].rsplit(":", 1)[0] + f":{tag}", "labels": {UNREADY_LABEL: "true"}}


class Runner:
    """ansible-playbook playbooks/k8s.yml against the test cluster, with a model written to a file."""

    def __init__(self, cluster: Cluster, tmp: Path) -> None:
        self.cluster = cluster
        self.tmp = tmp
        inventory = {
            "k8s_clusters": {
                "hosts": {
                    "test-cluster": {
                        "ansible_python_interpreter": VENV_PYTHON,
                        "k8s_app_kubeconfig": str(cluster.kubeconfig),
                    }
                }
            }
        }
        self.inventory = tmp / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump(inventory))

    def run(
        self, apps: list[dict[str, Any]], *extra: str, check: bool = True, **variables: Any
    ) -> subprocess.CompletedProcess:
        varfile = self.tmp / f"vars-{uuid.uuid4().hex[:6]}.yml"
        varfile.write_text(
            yaml.safe_dump(
                {"opsdeck_apps": apps, "opsdeck_environment": "dev", "opsdeck_registry": "127.0.0.1:5000", **variables}
            )
        )
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
        }
        argv = [PLAYBOOK, "-i", str(self.inventory), str(ROOT / "playbooks" / "k8s.yml"), "-e", f"@{varfile}", *extra]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False, cwd=ROOT)
        if check:
            assert done.returncode == 0, f"ansible-playbook failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
        return done


def recap(out: str) -> dict[str, int]:
    line = next(ln for ln in out.splitlines() if ln.startswith("test-cluster") and "ok=" in ln)
    return {k: int(v) for k, v in (part.split("=") for part in line.split(":", 1)[1].split())}


@pytest.fixture
def runner(cluster: Cluster, tmp_path: Path) -> Runner:
    return Runner(cluster, tmp_path)


def release_of(cluster: Cluster, apps: list[dict[str, Any]], **options: Any) -> Release:
    (rel,) = render_apps(normalize_apps(apps, environment="dev", registry="127.0.0.1:5000"), options)
    return Release(cluster.dynamic, rel, secrets=apps[0].get("secrets", {}), wait_timeout=120, poll=0.5)


def test_role_deploys_an_app_hardened_and_a_second_run_changes_nothing(
    cluster: Cluster, runner: Runner, app_namespaces: list[str]
) -> None:
    name = unique("shop")
    app_namespaces.append(name)
    edge = {
        "hsts_max_age_s": 600,
        "frame_options": "SAMEORIGIN",
        "referrer_policy": None,
        "rate_limit": {"rps": 7},
        "body_size": "2m",
        "cors": {"origins": ["https://app.example.com"]},
    }
    app = sample(name, replicas=3, autoscaling={"min_replicas": 3, "max_replicas": 6}, edge=edge)

    # check mode on a fresh cluster: reports changes, creates nothing
    dry = runner.run([app], "--check", "--diff")
    assert recap(dry.stdout)["changed"] == 1, dry.stdout[-3000:]
    core = client.CoreV1Api(cluster.api)
    assert name not in {n.metadata.name for n in core.list_namespace().items}
    assert f"token-{name}" not in dry.stdout

    first = runner.run([app], "--diff")
    assert recap(first.stdout)["changed"] == 1
    assert f"token-{name}" not in first.stdout + first.stderr, "a secret value reached the output"

    apps = client.AppsV1Api(cluster.api)
    dep = apps.read_namespaced_deployment(name, name)
    assert dep.status.ready_replicas == 3 and dep.status.updated_replicas == 3
    nodes = {n.metadata.name for n in core.list_node().items}
    pods = core.list_namespaced_pod(name, label_selector=f"app.kubernetes.io/instance={name}").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.spec.node_name in nodes
        assert pod_ready(pod), pod.metadata.name
        sc = pod.spec.containers[0].security_context
        assert sc.run_as_non_root and sc.read_only_root_filesystem and sc.allow_privilege_escalation is False
        assert sc.capabilities.drop == ["ALL"] and sc.seccomp_profile.type == "RuntimeDefault"
        assert pod.spec.containers[0].readiness_probe.http_get.path == "/health"

    ns = core.read_namespace(name)
    assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    endpoints = wait_until("the Service's endpoints", lambda: _addresses(core, name, name) == 3 or None, timeout=30)
    assert endpoints
    ing = client.NetworkingV1Api(cluster.api).read_namespaced_ingress(name, name)
    assert ing.spec.rules[0].host == f"{name}.example.com"
    assert ing.metadata.annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    hpa = client.AutoscalingV2Api(cluster.api).read_namespaced_horizontal_pod_autoscaler(name, name)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (3, 6)
    assert {m.resource.name: m.resource.target.average_utilization for m in hpa.spec.metrics} == {
        "cpu": 70,
        "memory": 80,
    }
    pdb = client.PolicyV1Api(cluster.api).read_namespaced_pod_disruption_budget(name, name)
    assert pdb.spec.max_unavailable == 1
    policies = {p.metadata.name for p in client.NetworkingV1Api(cluster.api).list_namespaced_network_policy(name).items}
    assert {f"{name}-default-deny", f"{name}-allow-ingress-controller", f"{name}-allow-monitoring"} <= policies

    # the secret: its value in data, never in an annotation; applied by our field manager
    secret = core.read_namespaced_secret(f"{name}-secrets", name)
    assert base64.b64decode(secret.data["API_TOKEN"]).decode() == f"token-{name}-1.0.0"
    assert f"token-{name}" not in json.dumps(secret.metadata.annotations or {})
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (secret.metadata.annotations or {})
    assert any(m.manager == "opsdeck" and m.operation == "Apply" for m in secret.metadata.managed_fields)

    second = runner.run([app])
    assert recap(second.stdout)["changed"] == 0, second.stdout[-3000:]
    assert apps.read_namespaced_deployment(name, name).metadata.generation == dep.metadata.generation

    # check mode on the running app: tells the change (diff of the ConfigMap), writes nothing
    changed_env = {**app, "env": {"LOG_LEVEL": "debug"}}
    dry = runner.run([changed_env], "--check", "--diff")
    assert recap(dry.stdout)["changed"] == 1, dry.stdout[-3000:]
    lines = {ln.replace(" ", "") for ln in dry.stdout.splitlines()}
    assert f"+++after:ConfigMap{name}/{name}-env" in lines, dry.stdout[-3000:]
    assert {"+LOG_LEVEL:debug", "-LOG_LEVEL:info"} <= lines, dry.stdout[-3000:]
    assert core.read_namespaced_config_map(f"{name}-env", name).data == {"LOG_LEVEL": "info"}
    assert apps.read_namespaced_deployment(name, name).metadata.generation == dep.metadata.generation

    # the edge block's headers: ingress-nginx annotations, security headers in the ConfigMap it names
    ann = ing.metadata.annotations
    assert ann["nginx.ingress.kubernetes.io/custom-headers"] == f"{name}/{name}-edge-headers"
    assert ann["nginx.ingress.kubernetes.io/proxy-body-size"] == str(2 * 1024 * 1024)
    assert ann["nginx.ingress.kubernetes.io/limit-rps"] == "7"
    assert ann["nginx.ingress.kubernetes.io/enable-cors"] == "true"
    headers = core.read_namespaced_config_map(f"{name}-edge-headers", name).data
    assert headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"  # the app's override
    assert headers["X-Content-Type-Options"] == "nosniff" and "Referrer-Policy" not in headers

    # a new image rolls out
    new_image = {**app, "image": "opsdeck/sampleapp:1.1.0"}
    runner.run([new_image])
    images = {p.spec.containers[0].image for p in _ready_pods(core, name)}
    assert images == {"127.0.0.1:5000/opsdeck/sampleapp:1.1.0"}

    # a new value of one secret (nothing else): a new revision, its pods read the new value;
    # the same value again changes nothing; the cluster holds the Secret's version, no hash of it
    revision = apps.read_namespaced_deployment(name, name).metadata.annotations["deployment.kubernetes.io/revision"]
    rotated = {**new_image, "secrets": {"API_TOKEN": f"token-{name}-rotated"}}
    dry = runner.run([rotated], "--check", "--diff")  # says so, writes nothing
    assert recap(dry.stdout)["changed"] == 1
    lines = {ln.replace(" ", "") for ln in dry.stdout.splitlines()}
    assert "+API_TOKEN:VALUE_HIDDEN(changed)" in lines, dry.stdout[-3000:]
    assert f"+opsdeck.io/secret-versions:{name}-secrets=written-by-this-run" in lines, dry.stdout[-3000:]
    assert f"token-{name}-rotated" not in dry.stdout
    assert apps.read_namespaced_deployment(name, name).metadata.annotations["deployment.kubernetes.io/revision"] == (
        revision
    )
    out = runner.run([rotated])
    assert recap(out.stdout)["changed"] == 1
    dep = apps.read_namespaced_deployment(name, name)
    assert int(dep.metadata.annotations["deployment.kubernetes.io/revision"]) == int(revision) + 1
    secret = core.read_namespaced_secret(f"{name}-secrets", name)
    stamp = dep.spec.template.metadata.annotations["opsdeck.io/secret-versions"]
    assert stamp == f"{name}-secrets={secret.metadata.resource_version}"
    wait_until("the pods of the new revision", lambda: len(_ready_pods(core, name)) == 3 or None, timeout=30)
    again = runner.run([rotated])
    assert recap(again.stdout)["changed"] == 0, again.stdout[-3000:]
    assert apps.read_namespaced_deployment(name, name).metadata.generation == dep.metadata.generation


def _addresses(core: client.CoreV1Api, ns: str, name: str) -> int:
    slices = client.DiscoveryV1Api(core.api_client).list_namespaced_endpoint_slice(
        ns, label_selector=f"kubernetes.io/service-name={name}"
    )
    return sum(1 for s in slices.items for e in s.endpoints or [] if e.conditions and e.conditions.ready)


def _ready_pods(core: client.CoreV1Api, ns: str, selector: str = "") -> list[Any]:
    pods = core.list_namespaced_pod(ns, label_selector=selector).items
    return [p for p in pods if pod_ready(p) and not p.metadata.deletion_timestamp]


def test_role_refuses_bad_input_before_applying_anything(cluster: Cluster, runner: Runner) -> None:
    name = unique("bad")
    cases = [
        (
            sample(name, replicas=1),
            {"k8s_app_pdb_min_available": 2},
            f"app '{name}': field 'replicas': 1 is below the PodDisruptionBudget minimum 2",
        ),
        (
            sample(name, resources={"memory": "64Mi", "memory_request": "128Mi"}),
            {},
            f"app '{name}': field 'resources.memory_request': '128Mi' is more than the limit resources.memory",
        ),
        (
            sample(name, ports=[{"name": "http", "port": 8080, "public": True, "host": "not_a_dns.name!"}]),
            {},
            f"app '{name}': field 'ports[0].host'",
        ),
    ]
    core = client.CoreV1Api(cluster.api)
    for app, variables, message in cases:
        done = runner.run([app], check=False, **variables)
        assert done.returncode != 0
        assert message in done.stdout, done.stdout[-3000:]
        assert name not in {n.metadata.name for n in core.list_namespace().items}


def test_pod_security_refuses_a_non_hardened_pod_in_an_app_namespace(
    cluster: Cluster, app_namespaces: list[str]
) -> None:
    name = unique("psa")
    app_namespaces.append(name)
    release_of(cluster, [sample(name)]).run()
    core = client.CoreV1Api(cluster.api)
    assert len(_ready_pods(core, name)) == 2  # ours were admitted
    rogue = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "rogue"},
        "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1", "securityContext": {"runAsUser": 0}}]},
    }
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(name, rogue)
    assert err.value.status == 403
    message = json.loads(err.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert "allowPrivilegeEscalation != false" in message


def test_deployment_rollout_failure_is_rolled_back_with_the_reason(cluster: Cluster, app_namespaces: list[str]) -> None:
    name = unique("roll")
    app_namespaces.append(name)
    good = sample(name)
    release_of(cluster, [good], progress_deadline_s=8).run()
    core = client.CoreV1Api(cluster.api)
    apps = client.AppsV1Api(cluster.api)
    before = {p.metadata.name for p in _ready_pods(core, name)}
    assert len(before) == 2

    with pytest.raises(ReleaseError) as err:
        release_of(cluster, [broken(good, "2.0.0")], progress_deadline_s=8).run()
    msg = err.value.msg
    assert f"app '{name}': rollout of Deployment {name}/{name} failed: ProgressDeadlineExceeded" in msg
    assert "has timed out progressing" in msg
    assert "rolled back to revision 1" in msg
    assert err.value.result["rollout"]["rollback_state"] == "done"

    dep = apps.read_namespaced_deployment(name, name)
    assert dep.spec.template.spec.containers[0].image == "127.0.0.1:5000/opsdeck/sampleapp:1.0.0"
    assert UNREADY_LABEL not in (dep.spec.template.metadata.labels or {})
    assert dep.metadata.annotations["deployment.kubernetes.io/revision"] == "3"  # revision 1 again, renumbered
    pods = _ready_pods(core, name)
    assert {p.metadata.name for p in pods} == before, "the previous pods are not the ones serving"
    wait_until(
        "the failed ReplicaSet scaled to 0",
        lambda: all(
            (rs.spec.replicas or 0) == 0
            for rs in apps.list_namespaced_replica_set(name).items
            if rs.spec.template.metadata.labels.get(UNREADY_LABEL) == "true"
        ),
        timeout=30,
    )


def test_a_slow_rollout_is_not_rolled_back(cluster: Cluster, app_namespaces: list[str]) -> None:
    """Within its progress deadline a stalled rollout is slow, not failed: wait_timeout ends it, no rollback."""
    name = unique("slow")
    app_namespaces.append(name)
    good = sample(name)
    release_of(cluster, [good], progress_deadline_s=120).run()
    release = release_of(cluster, [broken(good, "2.0.0")], progress_deadline_s=120)
    release.wait_timeout = 4
    with pytest.raises(ReleaseError) as err:
        release.run()
    assert "is still rolling out after 4 s" in err.value.msg
    assert "was not rolled back" in err.value.msg
    dep = client.AppsV1Api(cluster.api).read_namespaced_deployment(name, name)
    assert dep.spec.template.spec.containers[0].image.endswith(":2.0.0")


def test_statefulset_rollout_failure_is_rolled_back_to_the_previous_controller_revision(
    cluster: Cluster, app_namespaces: list[str], static_volumes: str
) -> None:
    name = unique("db")
    app_namespaces.append(name)
    storage_class = static_volumes
    core = client.CoreV1Api(cluster.api)
    good = sample(name, image="redis:7.0.15", volumes=[{"name": "data", "path": "/data"}])
    opts = {"progress_deadline_s": 8, "storage_class": storage_class}
    first = release_of(cluster, [good], **opts).run()
    assert first["rollout"]["kind"] == "StatefulSet" and first["rollout"]["state"] == "done"
    apps = client.AppsV1Api(cluster.api)
    sts = apps.read_namespaced_stateful_set(name, name)
    good_revision = sts.status.current_revision
    claims = core.list_namespaced_persistent_volume_claim(name).items
    assert sorted(c.metadata.name for c in claims) == [f"data-{name}-0", f"data-{name}-1"]
    assert all(c.status.phase == "Bound" for c in claims)

    with pytest.raises(ReleaseError) as err:
        release_of(cluster, [broken(good, "7.0.16")], **opts).run()
    msg = err.value.msg
    assert f"app '{name}': rollout of StatefulSet {name}/{name} failed: ProgressDeadlineExceeded" in msg
    assert f"rolled back to revision 1 ({good_revision})" in msg
    assert err.value.result["rollout"]["rollback_state"] == "done"

    sts = apps.read_namespaced_stateful_set(name, name)
    assert sts.spec.template.spec.containers[0].image == "127.0.0.1:5000/redis:7.0.15"
    pods = _ready_pods(core, name)
    assert len(pods) == 2
    assert {p.metadata.labels["controller-revision-hash"] for p in pods} == {good_revision}
    assert all(UNREADY_LABEL not in p.metadata.labels for p in pods)


def test_prune_removes_what_left_the_model(cluster: Cluster, app_namespaces: list[str]) -> None:
    name = unique("prune")
    app_namespaces.append(name)
    app = sample(name)
    release_of(cluster, [app]).run()
    net = client.NetworkingV1Api(cluster.api)
    assert net.read_namespaced_ingress(name, name)
    # an object of someone else in the same namespace, without our labels, must survive
    core = client.CoreV1Api(cluster.api)
    core.create_namespaced_config_map(name, {"metadata": {"name": "not-ours"}, "data": {"a": "b"}})

    private = {**app, "ports": [{"name": "http", "port": 8080}], "env": {}, "secrets": {}}
    result = release_of(cluster, [private]).run()
    pruned = {(p["kind"], p["name"]) for p in result["pruned"]}
    assert pruned == {
        ("Ingress", name),
        ("NetworkPolicy", f"{name}-allow-ingress-controller"),
        ("Secret", f"{name}-secrets"),
        ("ConfigMap", f"{name}-env"),
        ("ConfigMap", f"{name}-edge-headers"),
    }
    with pytest.raises(ApiException) as err:
        net.read_namespaced_ingress(name, name)
    assert err.value.status == 404
    assert core.read_namespaced_config_map("not-ours", name).data == {"a": "b"}
    assert client.AppsV1Api(cluster.api).read_namespaced_deployment(name, name).status.ready_replicas == 2

    # state: absent removes the app's namespace
    gone = release_of(cluster, [{**private, "state": "absent"}]).run()
    assert gone["pruned"] == [{"kind": "Namespace", "name": name}]
    try:
        ns = core.read_namespace(name)
        assert ns.metadata.deletion_timestamp is not None
    except ApiException as exc:
        assert exc.status == 404


def test_a_first_deploy_that_never_gets_ready_fails_without_a_revision_to_roll_back_to(
    cluster: Cluster, app_namespaces: list[str]
) -> None:
    name = unique("first")
    app_namespaces.append(name)
    with pytest.raises(ReleaseError) as err:
        release_of(cluster, [broken(sample(name), "1.0.0")], progress_deadline_s=6).run()
    assert f"app '{name}': rollout of Deployment {name}/{name} failed and there is no previous revision" in str(
        err.value
    )
    assert "(first deploy): ProgressDeadlineExceeded: ReplicaSet" in str(err.value)
    assert err.value.result["rollout"]["state"] == "failed"


def test_apps_that_left_the_model_are_pruned_only_when_asked_and_only_of_this_release_set(
    cluster: Cluster, runner: Runner, app_namespaces: list[str]
) -> None:
    """Two apps deployed, one dropped from the model: it stays without pruning; with
    k8s_app_prune_apps, check mode lists it and deletes nothing, then a run deletes its
    namespace. An app of another release set on the same cluster (another inventory) survives.
    The role runs the pruning steps; the deploys around them call the module's logic directly."""
    keep, drop, foreign = unique("keep"), unique("drop"), unique("other")
    app_namespaces.extend([keep, drop, foreign])
    release_set = unique("set")

    def releases(names: list[str], rset: str = release_set) -> list[dict[str, Any]]:
        apps = normalize_apps([sample(n, replicas=1) for n in names], environment="dev", registry="127.0.0.1:5000")
        return render_apps(apps, {"release_set": rset})

    tokens = {n: {"API_TOKEN": f"token-{n}-1.0.0"} for n in (keep, drop, foreign)}
    deploy(cluster.dynamic, releases([keep, drop]), tokens, wait=False)
    deploy(cluster.dynamic, releases([foreign], f"{release_set}-b"), tokens, wait=False)
    core = client.CoreV1Api(cluster.api)

    def present(name: str) -> bool:
        try:
            return core.read_namespace(name).metadata.deletion_timestamp is None
        except ApiException as exc:
            assert exc.status == 404
            return False

    # dropped from the model, no pruning asked: it stays
    assert deploy(cluster.dynamic, releases([keep]), tokens, wait=False)["changed"] is False
    assert present(drop)
    # the role, check mode with pruning: said, with the namespace in the diff, and nothing deleted
    quick = {"k8s_app_wait": False, "k8s_app_release_set": release_set, "k8s_app_prune_apps": True}
    dry = runner.run([sample(keep, replicas=1)], "--check", "--diff", **quick)
    assert recap(dry.stdout)["changed"] == 1
    assert f"would delete the apps that left the model (release set {release_set}): {drop}" in dry.stdout
    assert f"Namespace {drop} (app '{drop}' left the model" in dry.stdout
    assert present(drop)
    # pruning: its namespace goes, the kept app and the other set's app stay
    done = runner.run([sample(keep, replicas=1)], **quick)
    assert recap(done.stdout)["changed"] == 1
    assert f"deleted the apps that left the model (release set {release_set}): {drop}" in done.stdout
    assert not present(drop)
    assert present(keep) and present(foreign)
    assert client.AppsV1Api(cluster.api).read_namespaced_deployment(foreign, foreign)
    again = deploy(cluster.dynamic, releases([keep]), tokens, prune_apps_of=release_set, keep_namespaces=[keep])
    assert again["changed"] is False and again["pruned_apps"] == []


def test_a_pre_deploy_hook_runs_as_a_job_before_the_rollout_and_a_failed_one_keeps_the_old_revision(
    cluster: Cluster, app_namespaces: list[str]
) -> None:
    name = unique("hook")
    app_namespaces.append(name)
    hooks = {"pre_deploy": [{"name": "migrate", "command": ["/app/migrate", "--up"], "timeout_s": 60}]}
    good = sample(name, hooks=hooks)
    first = release_of(cluster, [good]).run()
    assert first["hooks"] == [{"name": "migrate", "job": first["hooks"][0]["job"], "state": "complete"}]
    batch = client.BatchV1Api(cluster.api)
    core = client.CoreV1Api(cluster.api)
    (job,) = batch.list_namespaced_job(name).items
    assert job.status.succeeded == 1
    (pod,) = core.list_namespaced_pod(name, label_selector=f"batch.kubernetes.io/job-name={job.metadata.name}").items
    container = pod.spec.containers[0]
    assert container.image == "127.0.0.1:5000/opsdeck/sampleapp:1.0.0"
    assert container.command == ["/app/migrate", "--up"]
    assert {e.secret_ref.name for e in container.env_from if e.secret_ref} == {f"{name}-secrets"}
    assert container.security_context.run_as_non_root and container.security_context.capabilities.drop == ["ALL"]
    assert "app.kubernetes.io/name" not in pod.metadata.labels  # not one of the Service's endpoints
    # the job finished before the workload was applied
    dep = client.AppsV1Api(cluster.api).read_namespaced_deployment(name, name)
    assert job.status.completion_time <= dep.metadata.creation_timestamp

    # the same revision again: the hook is not run a second time, nothing changes
    again = release_of(cluster, [good]).run()
    assert again["changed"] is False and "hooks" not in again

    # a new version whose hook fails: the deploy stops with the reason, the old revision serves
    serving = f"app.kubernetes.io/name={name}"
    before = {p.metadata.name for p in _ready_pods(core, name, serving)}
    failing = {**good, "image": "opsdeck/sampleapp:1.1.0", "labels": {"opsdeck.test/fail": "true"}}
    with pytest.raises(ReleaseError) as err:
        release_of(cluster, [failing]).run()
    msg = err.value.msg
    assert f"app '{name}': pre_deploy hook 'migrate' (Job {name}/{name}-pre-deploy0-" in msg
    assert "failed: BackoffLimitExceeded" in msg and "exit code 1 (Error)" in msg
    assert "the new revision was not applied, the running one keeps serving" in msg
    dep = client.AppsV1Api(cluster.api).read_namespaced_deployment(name, name)
    assert dep.spec.template.spec.containers[0].image == "127.0.0.1:5000/opsdeck/sampleapp:1.0.0"
    assert {p.metadata.name for p in _ready_pods(core, name, serving)} == before
