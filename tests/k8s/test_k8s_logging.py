# SPDX-License-Identifier: GPL-3.0-or-later
"""Logging on Kubernetes (role logging, entry point kubernetes) against the real control plane.

The role runs through ``ansible-playbook playbooks/k8s.yml --tags k8s_logging`` with
``logging_k8s_enabled: true``, for a host of k8s_clusters whose k8s_app_kubeconfig points at the test cluster (the
entry point's default). Seen from the API server: the store's StatefulSet and the shipper's
DaemonSet applied, their pods Ready on the simulated nodes (admitted by Pod Security:
restricted for the store, privileged for the shipper's hostPath), a second run changed=0, check
mode on a fresh cluster creates nothing, bad input refused with its messages before anything is
applied. The DaemonSet rollout wait and its rollback go through module_utils/k8s_release.Release
(pods of a marked revision never get Ready on the simulated nodes).

The simulated nodes run no container, so the rendered store pod and shipper pod are run by the
Docker engine too, with the rig's victorialogs and logship images, what the manifests say (args,
user, read-only root, no capability, the NODE_NAME of the downward API) and a directory laid out
like a node's /var/log/pods in place of the hostPath: LogsQL finds the rows with their fields,
a partial line joined, a rotated file finished, nothing twice after a shipper restart.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_logging as kl
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import Release, ReleaseError

from .conftest import CRDS, STATE, UNREADY_LABEL, Cluster, crd_dir, delete_all, pod_ready, wait_until
from .openapi_schemas import kubeconform_served
from .test_k8s_app import Runner, recap, unique


class LoggingRunner(Runner):
    """playbooks/k8s.yml --tags k8s_logging (logging_k8s_enabled) against the test cluster, k8s_app's inventory."""

    def run(  # type: ignore[override]  # no apps: logging needs none
        self, *extra: str, check: bool = True, **variables: Any
    ) -> subprocess.CompletedProcess:
        variables.setdefault("logging_k8s_enabled", True)
        return super().run([], "--tags", "k8s_logging", *extra, check=check, **variables)


@pytest.fixture
def runner(cluster: Cluster, tmp_path: Path) -> LoggingRunner:
    return LoggingRunner(cluster, tmp_path)


@pytest.fixture
def spaces(cluster: Cluster) -> Iterator[dict[str, str]]:
    """The store's and the shipper's namespaces of one test (role variables), deleted after it."""
    names = {"logging_k8s_namespace": unique("logging"), "logging_k8s_shipper_namespace": unique("logship")}
    yield names
    delete_all(client.CoreV1Api(cluster.api).delete_namespace, list(names.values()))


def _namespaces(cluster: Cluster) -> set[str]:
    return {n.metadata.name for n in client.CoreV1Api(cluster.api).list_namespace().items}


def test_role_applies_the_store_and_the_shipper_and_a_second_run_changes_nothing(
    cluster: Cluster, runner: LoggingRunner, spaces: dict[str, str], static_volumes: str
) -> None:
    store_ns, ship_ns = spaces["logging_k8s_namespace"], spaces["logging_k8s_shipper_namespace"]
    settings = {
        **spaces,
        "logging_k8s_storage_class": static_volumes,
        "logging_k8s_volume_size": "1Gi",
        "logging_retention_max_disk_usage": "512MiB",
        "logging_retention_period": "14d",
        "logging_k8s_namespace_prefix": "shop-",
        "logging_shipper_fields": {"cluster": "test"},
    }
    # check mode on a fresh cluster: the change is told, nothing is created
    dry = runner.run("--check", "--diff", **settings)
    assert recap(dry.stdout)["changed"] == 1, dry.stdout[-3000:]
    assert f"+++ after: StatefulSet {store_ns}/victorialogs" in dry.stdout
    assert f"+++ after: DaemonSet {ship_ns}/logship" in dry.stdout
    assert not {store_ns, ship_ns} & _namespaces(cluster)

    first = runner.run(**settings)
    assert recap(first.stdout)["changed"] == 1
    assert "rollout: 3 of 3 nodes run the updated pod, ready" in first.stdout, first.stdout[-3000:]

    core, apps = client.CoreV1Api(cluster.api), client.AppsV1Api(cluster.api)
    sts = apps.read_namespaced_stateful_set("victorialogs", store_ns)
    assert sts.status.ready_replicas == 1
    args = sts.spec.template.spec.containers[0].args
    assert "-retentionPeriod=14d" in args and "-retention.maxDiskSpaceUsageBytes=512MiB" in args
    (claim,) = core.list_namespaced_persistent_volume_claim(store_ns).items
    assert claim.status.phase == "Bound" and claim.spec.storage_class_name == static_volumes
    ds = apps.read_namespaced_daemon_set("logship", ship_ns)
    nodes = {n.metadata.name for n in core.list_node().items}
    assert ds.status.desired_number_scheduled == len(nodes) == ds.status.number_ready
    pods = core.list_namespaced_pod(ship_ns, label_selector="app.kubernetes.io/name=logship").items
    assert {p.spec.node_name for p in pods} == nodes and all(pod_ready(p) for p in pods)
    (store_pod,) = core.list_namespaced_pod(store_ns, label_selector="app.kubernetes.io/name=victorialogs").items
    assert pod_ready(store_pod) and store_pod.spec.containers[0].security_context.run_as_non_root
    labels = {
        ns: core.read_namespace(ns).metadata.labels["pod-security.kubernetes.io/enforce"] for ns in spaces.values()
    }
    assert labels == {store_ns: "restricted", ship_ns: "privileged"}
    ship_args = pods[0].spec.containers[0].args
    assert "-namespace-prefix=shop-" in ship_args and "-field=cluster=test" in ship_args
    assert f"-url=http://victorialogs.{store_ns}.svc:9428/insert/jsonline" in ship_args
    assert core.read_namespaced_service_account("logship", ship_ns).automount_service_account_token is False
    policies = {
        p.metadata.name for p in client.NetworkingV1Api(cluster.api).list_namespaced_network_policy(ship_ns).items
    }
    assert policies == {"logship-default-deny", "logship-allow-egress", "logship-allow-monitoring"}

    second = runner.run("--diff", **settings)
    assert recap(second.stdout)["changed"] == 0, second.stdout[-4000:]

    # check mode with another retention: a diff of the StatefulSet's args, nothing written
    other = runner.run("--check", "--diff", **{**settings, "logging_retention_period": "30d"})
    assert recap(other.stdout)["changed"] == 1
    assert "-retentionPeriod=30d" in other.stdout
    sts = apps.read_namespaced_stateful_set("victorialogs", store_ns)
    assert "-retentionPeriod=14d" in sts.spec.template.spec.containers[0].args

    # absent: both namespaces go (the shipper's first)
    gone = runner.run(**{**settings, "logging_k8s_state": "absent"})
    assert recap(gone.stdout)["changed"] == 1
    wait_until("the namespaces deleted", lambda: not {store_ns, ship_ns} & _namespaces(cluster), timeout=120)


@pytest.mark.parametrize(
    ("variables", "messages"),
    [
        (
            {"logging_retention_period": "3 days", "logging_k8s_volume_size": "big"},
            ["logging_retention_period: '3 days' is not a duration", "logging_k8s_volume_size: 'big' is not a"],
        ),
        (
            {"logging_retention_max_disk_usage": "30GiB"},
            ["logging_retention_max_disk_usage: '30GiB' does not fit in the store's volume (logging_k8s_volume_size"],
        ),
        (
            {"logging_shipper_fields": {"host": "x"}, "logging_k8s_namespace_prefix": "Shop_"},
            ["logging_shipper_fields: field name 'host' is not allowed", "logging_k8s_namespace_prefix: 'Shop_'"],
        ),
        (
            {"logging_extra_flags": ["-retentionPeriod=1d"]},
            ["logging_extra_flags[0]: -retentionPeriod is set by the role"],
        ),
        ({"logging_k8s_state": "gone"}, ["logging_k8s_state", "present, absent"]),
    ],
)
def test_bad_input_is_refused_before_anything_is_applied(
    cluster: Cluster, runner: LoggingRunner, spaces: dict[str, str], variables: dict[str, Any], messages: list[str]
) -> None:
    done = runner.run(check=False, **spaces, **variables)
    assert done.returncode != 0
    for message in messages:
        assert message in done.stdout, done.stdout[-3000:]
    assert "TASK [opsdeck.platform.logging : Apply the store" not in done.stdout
    assert not set(spaces.values()) & _namespaces(cluster)


def test_a_host_outside_the_clusters_group_is_refused(runner: LoggingRunner, spaces: dict[str, str]) -> None:
    done = runner.run(check=False, logging_k8s_clusters_group="other_clusters", **spaces)
    assert done.returncode != 0
    assert (
        "logging on Kubernetes runs for hosts of the group 'other_clusters' (logging_k8s_clusters_group)" in done.stdout
    )


def test_rendered_manifests_pass_kubeconform(cluster: Cluster, tmp_path: Path) -> None:
    manifests = [m for r in kl.releases({"storage_class": "x"}) for m in r["manifests"]]
    openapi = json.loads(cluster.kubectl("get", "--raw", "/openapi/v2").stdout)
    checked, report = kubeconform_served(openapi, manifests, cluster.bin / "kubeconform", tmp_path)
    # ServiceMonitors only when this cluster has the Prometheus Operator CRDs
    assert {m["kind"] for m in manifests} - {m["kind"] for m in checked} <= {"ServiceMonitor"}
    assert {"StatefulSet", "DaemonSet", "NetworkPolicy", "Namespace"} <= {m["kind"] for m in checked}
    assert report.pop("returncode") == 0, report
    assert report["summary"] == {"valid": len(checked), "invalid": 0, "errors": 0, "skipped": 0}


def test_a_daemonset_that_never_gets_ready_is_rolled_back(cluster: Cluster, spaces: dict[str, str]) -> None:
    ship_ns = spaces["logging_k8s_shipper_namespace"]
    _store, shipper = kl.releases(
        {"namespace": spaces["logging_k8s_namespace"], "shipper_namespace": ship_ns, "progress_deadline_s": 8}
    )
    Release(cluster.dynamic, shipper, wait_timeout=120, poll=0.5).run()
    apps, core = client.AppsV1Api(cluster.api), client.CoreV1Api(cluster.api)
    good = apps.read_namespaced_daemon_set("logship", ship_ns).spec.template.spec.containers[0].args
    broken = copy.deepcopy(shipper)
    ds = next(m for m in broken["manifests"] if m["kind"] == "DaemonSet")
    ds["spec"]["template"]["metadata"]["labels"][UNREADY_LABEL] = "true"
    ds["spec"]["template"]["spec"]["containers"][0]["args"].append("-interval=2s")
    with pytest.raises(ReleaseError) as err:
        Release(cluster.dynamic, broken, wait_timeout=120, poll=0.5).run()
    msg = err.value.msg
    assert msg.startswith(f"logging release 'opsdeck-logship': rollout of DaemonSet {ship_ns}/logship failed: ")
    assert "ProgressDeadlineExceeded: DaemonSet 'logship' made no progress in 8 s" in msg
    assert "rolled back to revision" in msg and "which is not healthy" not in msg, msg
    live = apps.read_namespaced_daemon_set("logship", ship_ns)
    assert live.spec.template.spec.containers[0].args == good
    assert UNREADY_LABEL not in live.spec.template.metadata.labels
    pods = core.list_namespaced_pod(ship_ns, label_selector="app.kubernetes.io/name=logship").items
    assert len(pods) == live.status.desired_number_scheduled and all(pod_ready(p) for p in pods)


def test_a_crd_removed_after_discovery_leaves_the_service_monitor_not_applied(
    cluster: Cluster, operator_crds: None, spaces: dict[str, str]
) -> None:
    """The DynamicClient's discovery (cached in memory and in a file that processes share) still
    lists ServiceMonitors after their CRD was deleted: the server answers the dry-run with a bare
    404; the release reports the ServiceMonitor not applied instead of failing."""
    from kubernetes.dynamic import DynamicClient

    stale = DynamicClient(cluster.api)
    assert stale.resources.get(api_version="monitoring.coreos.com/v1", kind="ServiceMonitor")
    for name in CRDS:
        cluster.kubectl("delete", "--ignore-not-found", "-f", str(crd_dir() / name))
    _store, shipper = kl.releases(
        {"namespace": spaces["logging_k8s_namespace"], "shipper_namespace": spaces["logging_k8s_shipper_namespace"]}
    )
    result = Release(stale, shipper, wait_timeout=120, poll=0.5).run()
    assert result["not_applied"] == [
        {"kind": "ServiceMonitor", "name": "logship", "why": "no Prometheus Operator CRDs"}
    ], result
    assert result["rollout"]["state"] == "done"


# ---------------------------------------------------------------------------------------------
# The rendered pods, run by the Docker engine (the simulated nodes run no container).


def _docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def _rig_image(name: str) -> str:
    env_file = STATE / "images.env"
    if not env_file.exists():
        pytest.skip("the rig's images are not built (make rig)")
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    key = f"OPSDECK_IMAGE_{name.upper()}"
    if key not in env:
        pytest.skip(f"the rig has no image {name}")
    return env[key]


def _run_args(pod: dict[str, Any]) -> list[str]:
    """What Kubernetes gives the pod's container, as docker run options (securityContext, env)."""
    c = pod["spec"]["containers"][0]
    sc = {**pod["spec"].get("securityContext", {}), **c["securityContext"]}
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["allowPrivilegeEscalation"] is False
    user = f"{sc['runAsUser']}:{sc.get('runAsGroup', 0)}"
    return ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", user]


def _query(address: str, query: str) -> list[dict[str, Any]]:
    body = urllib.parse.urlencode({"query": query, "limit": "1000"}).encode()
    with urllib.request.urlopen(f"http://{address}:9428/select/logsql/query", data=body, timeout=10) as answer:
        return [json.loads(line) for line in answer.read().decode().splitlines() if line.strip()]


def _cri(msg: str, tag: str = "F", stream: str = "stdout") -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"
    return f"{stamp} {stream} {tag} {msg}\n"


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)
    path.chmod(0o640)  # as the container runtime writes them: root's, not world-readable


def test_the_rendered_store_and_shipper_pods_ship_cri_logs(tmp_path: Path) -> None:
    if _docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine")
    images = {"store": _rig_image("victorialogs"), "shipper": _rig_image("logship")}
    store_rel, ship_rel = kl.releases(
        {"environment": "dev", "namespace_prefix": "shop-", "fields": {"cluster": "test"}}
    )
    sts = next(m for m in store_rel["manifests"] if m["kind"] == "StatefulSet")
    ds = next(m for m in ship_rel["manifests"] if m["kind"] == "DaemonSet")
    prefix = f"k8slog-{uuid.uuid4().hex[:6]}"
    network, volume = prefix, f"{prefix}-data"
    store, shipper = f"{prefix}-store", f"{prefix}-shipper"
    pods_dir, state_dir = tmp_path / "pods", tmp_path / "state"
    container_dir = pods_dir / "shop-web_web-7d9f8b-x2k4q_3f1c2a9e-0d4b-4c55-9a1e-5b2f7c8d9e01" / "web"
    container_dir.mkdir(parents=True)
    state_dir.mkdir(mode=0o755)
    log = container_dir / "0.log"
    token = uuid.uuid4().hex[:8]
    _docker("network", "create", network)
    try:
        # the store: its pod's args, user 65534, the claim as a volume owned by the fsGroup
        pod = sts["spec"]["template"]
        c = pod["spec"]["containers"][0]
        gid = pod["spec"]["securityContext"]["fsGroup"]
        _docker(
            "run", "--rm", "--user", "0", "-v", f"{volume}:/v", "--entrypoint", "/bin/sh", images["store"],
            "-c", f"chgrp {gid} /v && chmod 2775 /v",
        )  # fmt: skip
        _docker(
            "run", "-d", "--name", store, "--network", network,
            "--network-alias", f"victorialogs.{store_rel['namespace']}.svc",
            *_run_args(pod), "--group-add", str(gid), "-v", f"{volume}:{c['volumeMounts'][0]['mountPath']}",
            images["store"], *c["args"],
        )  # fmt: skip
        address = _docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", store).stdout
        address = address.strip()

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://{address}:9428/health", timeout=2) as answer:
                    return answer.status == 200
            except OSError:
                return False

        wait_until("the store's /health", healthy, timeout=60)

        # the shipper: its pod's args and env (NODE_NAME from the downward API), the two hostPaths
        pod = ds["spec"]["template"]
        c = pod["spec"]["containers"][0]
        assert c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert mounts["pods"]["readOnly"] is True

        def start_shipper() -> None:
            _docker(
                "run", "-d", "--name", shipper, "--network", network, *_run_args(pod),
                "-e", "NODE_NAME=kwok-node-1",
                "-v", f"{pods_dir}:{mounts['pods']['mountPath']}:ro",
                "-v", f"{state_dir}:{mounts['state']['mountPath']}",
                images["shipper"], *c["args"],
            )  # fmt: skip

        def rows(expected: int) -> list[dict[str, Any]]:
            found = _query(address, f"{token} | sort by (_time)")
            return found if len(found) >= expected else []

        # a whole line, a line the runtime split (P, P, F) and an incomplete last line
        _append(log, _cri(f"{token} one") + _cri(f"{token} tw", "P", "stderr") + _cri("o ", "P", "stderr"))
        _append(log, _cri("halves", "F", "stderr") + _cri(f"{token} three", "P"))
        start_shipper()
        found = wait_until("the first rows in the store", lambda: rows(2), timeout=60)
        assert [r["_msg"] for r in found] == [f"{token} one", f"{token} two halves"]
        row = found[1]
        expected = {
            "app": "web",
            "namespace": "shop-web",
            "pod": "web-7d9f8b-x2k4q",
            "container": "web",
            "service": "web",
            "env": "dev",
            "host": "kwok-node-1",
            "cluster": "test",
            "stream": "stderr",
            "source": "container",
        }
        assert {k: row.get(k) for k in expected} == expected, row
        for field in ('app="web"', 'env="dev"', 'host="kwok-node-1"', 'namespace="shop-web"', 'service="web"'):
            assert field in row["_stream"], row["_stream"]

        # the kubelet rotates: 0.log -> 0.log.<timestamp> (the end of the split line and one
        # more line are still written to it), then a new 0.log
        _append(log, _cri(" finished"))
        log.rename(container_dir / "0.log.20261202-130000")
        _append(container_dir / "0.log.20261202-130000", _cri(f"{token} four"))
        _append(log, _cri(f"{token} five"))
        wait_until("the rotated file's and the new file's rows", lambda: rows(5), timeout=60)

        # a restart of the shipper (a new container, the same hostPath state): nothing twice
        _docker("rm", "-f", shipper)
        _append(log, _cri(f"{token} six"))
        start_shipper()
        found = wait_until("the row written while the shipper was down", lambda: rows(6), timeout=60)
        time.sleep(3)  # a few more cycles of the restarted shipper
        found = _query(address, f"{token} | sort by (_time)")
        assert [r["_msg"] for r in found] == [
            f"{token} one",
            f"{token} two halves",
            f"{token} three finished",
            f"{token} four",
            f"{token} five",
            f"{token} six",
        ], found
        # the positions on the node's hostPath, keyed by the file under /var/log/pods
        positions = json.loads((state_dir / "positions.json").read_text())
        assert list(positions) == [str((container_dir / "0.log").relative_to(pods_dir))]
    finally:
        for name in (shipper, store):
            _docker("rm", "-f", "-v", name, check=False)
        _docker("volume", "rm", "-f", volume, check=False)
        _docker("network", "rm", network, check=False)
