# SPDX-License-Identifier: GPL-3.0-or-later
"""Logging on Kubernetes (role logging, entry point kubernetes) against the real control plane.

The role runs through ``ansible-playbook playbooks/k8s.yml --tags k8s_logging`` with
``logging_k8s_enabled: true``, for a host of k8s_clusters whose k8s_app_kubeconfig points at the test cluster (the
entry point's default). Seen from the API server: the store's StatefulSet and the collector's
DaemonSet with its ConfigMap applied, their pods Ready on the simulated nodes (admitted by Pod
Security: restricted for the store, privileged for the collector's hostPath), a second run
changed=0, check mode on a fresh cluster creates nothing, bad input refused with its messages
before anything is applied, a cluster that ran logship (the shipper before the collector) left
with the collector only. The DaemonSet rollout wait and its rollback go through
module_utils/k8s_release.Release (pods of a marked revision never get Ready on the simulated nodes).

The simulated nodes run no container, so the rendered store pod and collector pod are run by the
Docker engine too, with the rig's victorialogs and otelcol images (the collector built at the
upstream image's version and layout), what the manifests say (args, the ConfigMap's
configuration file, user, read-only root, no capability, memory limit, the NODE_NAME of the
downward API, the probes' ports) and a directory laid out like a node's /var/log/pods in place
of the hostPath: LogsQL finds the rows with their fields, partial lines joined, a rotated file
finished, and every line exactly once (count and count_uniq) across a collector restart while
the store is stopped.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
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
import yaml
from kubernetes import client

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_logging as kl
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import Release, ReleaseError
from ansible_collections.opsdeck.platform.plugins.module_utils.model import parse_memory

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
    names = {"logging_k8s_namespace": unique("logging"), "logging_k8s_shipper_namespace": unique("shipper")}
    yield names
    delete_all(client.CoreV1Api(cluster.api).delete_namespace, list(names.values()))


def _namespaces(cluster: Cluster) -> set[str]:
    return {n.metadata.name for n in client.CoreV1Api(cluster.api).list_namespace().items}


def _shipper(settings: dict[str, Any]) -> dict[str, Any]:
    store, shipper, legacy = kl.releases(settings)
    assert (store["app"], shipper["app"], legacy["app"]) == (kl.STORE_RELEASE, kl.SHIPPER_RELEASE, "opsdeck-logship")
    return shipper


def _collector_config(cm: Any) -> dict[str, Any]:
    return yaml.safe_load(cm.data["config.yaml"])


def _store_on(spaces: dict[str, str], static_volumes: str) -> dict[str, Any]:
    """The role's settings that put the store on the test cluster's static volumes."""
    return {
        **spaces,
        "logging_k8s_storage_class": static_volumes,
        "logging_k8s_volume_size": "1Gi",
        "logging_retention_max_disk_usage": "512MiB",
    }


def test_role_applies_the_store_and_the_collector_and_a_second_run_changes_nothing(
    cluster: Cluster, runner: LoggingRunner, spaces: dict[str, str], static_volumes: str
) -> None:
    store_ns, ship_ns = spaces["logging_k8s_namespace"], spaces["logging_k8s_shipper_namespace"]
    settings = {
        **_store_on(spaces, static_volumes),
        "logging_retention_period": "14d",
        "logging_k8s_namespace_prefix": "shop-",
        "logging_shipper_fields": {"cluster": "test"},
    }
    # check mode on a fresh cluster: the change is told, nothing is created
    dry = runner.run("--check", "--diff", **settings)
    assert recap(dry.stdout)["changed"] == 1, dry.stdout[-3000:]
    assert f"+++ after: StatefulSet {store_ns}/victorialogs" in dry.stdout
    assert f"+++ after: DaemonSet {ship_ns}/otelcol" in dry.stdout
    assert f"+++ after: ConfigMap {ship_ns}/otelcol" in dry.stdout
    assert not {store_ns, ship_ns} & _namespaces(cluster)

    first = runner.run(**settings)
    assert recap(first.stdout)["changed"] == 1
    assert "rollout: 3 of 3 nodes run the updated pod, ready" in first.stdout, first.stdout[-3000:]
    assert f"opsdeck-logship (namespace {ship_ns}): 0 of 0 objects written, 0 pruned" in first.stdout

    core, apps = client.CoreV1Api(cluster.api), client.AppsV1Api(cluster.api)
    sts = apps.read_namespaced_stateful_set("victorialogs", store_ns)
    assert sts.status.ready_replicas == 1
    args = sts.spec.template.spec.containers[0].args
    assert "-retentionPeriod=14d" in args and "-retention.maxDiskSpaceUsageBytes=512MiB" in args
    (claim,) = core.list_namespaced_persistent_volume_claim(store_ns).items
    assert claim.status.phase == "Bound" and claim.spec.storage_class_name == static_volumes
    ds = apps.read_namespaced_daemon_set("otelcol", ship_ns)
    nodes = {n.metadata.name for n in core.list_node().items}
    assert ds.status.desired_number_scheduled == len(nodes) == ds.status.number_ready
    pods = core.list_namespaced_pod(ship_ns, label_selector="app.kubernetes.io/name=otelcol").items
    assert {p.spec.node_name for p in pods} == nodes and all(pod_ready(p) for p in pods)
    (store_pod,) = core.list_namespaced_pod(store_ns, label_selector="app.kubernetes.io/name=victorialogs").items
    assert pod_ready(store_pod) and store_pod.spec.containers[0].security_context.run_as_non_root
    labels = {
        ns: core.read_namespace(ns).metadata.labels["pod-security.kubernetes.io/enforce"] for ns in spaces.values()
    }
    assert labels == {store_ns: "restricted", ship_ns: "privileged"}
    # the collector's pods: the image with the registry prefix, its configuration from the ConfigMap
    pod = pods[0].spec
    container = pod.containers[0]
    assert container.image == "127.0.0.1:5000/otel/opentelemetry-collector-contrib:0.165.1"
    assert container.args == ["--config", "/etc/otelcol-contrib/config.yaml"]
    assert {(m.name, m.mount_path, bool(m.read_only)) for m in container.volume_mounts} == {
        ("config", "/etc/otelcol-contrib", True),
        ("pods", "/var/log/pods", True),
        ("state", "/var/lib/otelcol/file_storage", False),
    }
    volumes = {v.name: v for v in pod.volumes}
    assert volumes["state"].host_path.path == "/var/lib/opsdeck-otelcol"
    assert volumes["config"].config_map.name == "otelcol"
    cm = core.read_namespaced_config_map("otelcol", ship_ns)
    digest = "sha256:" + hashlib.sha256(cm.data["config.yaml"].encode()).hexdigest()
    assert pods[0].metadata.annotations["opsdeck.io/config-digest"] == digest
    config = _collector_config(cm)
    exporter = config["exporters"]["otlp_http/victorialogs"]
    assert exporter["logs_endpoint"] == f"http://victorialogs.{store_ns}.svc:9428/insert/opentelemetry/v1/logs"
    operators = config["receivers"]["file_log/pods"]["operators"]
    assert {"type": "add", "field": 'attributes["cluster"]', "value": "test"} in operators
    assert any('"shop-"' in op.get("if", "") for op in operators)
    assert container.readiness_probe.http_get.port == "health"
    assert {p.name: p.container_port for p in container.ports} == {"http": 9430, "health": 13133}
    assert core.read_namespaced_service_account("otelcol", ship_ns).automount_service_account_token is False
    assert pod.automount_service_account_token is False
    policies = {
        p.metadata.name for p in client.NetworkingV1Api(cluster.api).list_namespaced_network_policy(ship_ns).items
    }
    assert policies == {"otelcol-default-deny", "otelcol-allow-egress", "otelcol-allow-monitoring"}

    second = runner.run("--diff", **settings)
    assert recap(second.stdout)["changed"] == 0, second.stdout[-4000:]

    # another static field: a new ConfigMap and a new digest on the pod template (the pods roll)
    other = runner.run(**{**settings, "logging_shipper_fields": {"cluster": "other"}})
    assert recap(other.stdout)["changed"] == 1
    cm = core.read_namespaced_config_map("otelcol", ship_ns)
    assert {"type": "add", "field": 'attributes["cluster"]', "value": "other"} in (
        _collector_config(cm)["receivers"]["file_log/pods"]["operators"]
    )
    ds = apps.read_namespaced_daemon_set("otelcol", ship_ns)
    new_digest = ds.spec.template.metadata.annotations["opsdeck.io/config-digest"]
    assert new_digest == "sha256:" + hashlib.sha256(cm.data["config.yaml"].encode()).hexdigest() != digest

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


def _as_logship(release: dict[str, Any]) -> dict[str, Any]:
    """The collector's release renamed to what logship's release left on a cluster: the release
    ``opsdeck-logship``, objects named ``logship*`` with its labels (the namespace included)."""
    text = json.dumps(release)
    for old, new in (('"opsdeck-otelcol"', '"opsdeck-logship"'), ('"otelcol', '"logship')):
        text = text.replace(old, new)
    out = json.loads(text)
    out["selector"] = out["selector"].replace("opsdeck-otelcol", "opsdeck-logship")
    out["title"] = "logship's release (the old shipper)"
    assert out["namespace"] == release["namespace"], "the shipper's namespace must not hold 'otelcol'"
    return out


def test_a_cluster_that_ran_logship_gets_the_collector_and_loses_logship(
    cluster: Cluster, runner: LoggingRunner, spaces: dict[str, str], static_volumes: str
) -> None:
    store_ns, ship_ns = spaces["logging_k8s_namespace"], spaces["logging_k8s_shipper_namespace"]
    settings = _store_on(spaces, static_volumes)
    shipper = _shipper({"namespace": store_ns, "shipper_namespace": ship_ns})
    made = Release(cluster.dynamic, _as_logship(shipper), wait_timeout=120, poll=0.5).run()
    core, apps = client.CoreV1Api(cluster.api), client.AppsV1Api(cluster.api)
    assert core.read_namespace(ship_ns).metadata.labels["app.kubernetes.io/instance"] == "opsdeck-logship"
    old = {(o["kind"], o["name"]) for o in made["objects"] if o["kind"] != "Namespace"}
    assert {("DaemonSet", "logship"), ("Service", "logship"), ("NetworkPolicy", "logship-allow-egress")} <= old

    # check mode tells the truth: logship's objects to be pruned, its namespace kept, nothing deleted
    dry = runner.run("--check", "--diff", **settings)
    assert recap(dry.stdout)["changed"] == 1
    assert f"opsdeck-logship (namespace {ship_ns}): 0 of 0 objects to write, {len(old)} pruned" in dry.stdout, (
        dry.stdout[-4000:]
    )
    assert apps.read_namespaced_daemon_set("logship", ship_ns)

    done = runner.run(**settings)
    assert f"opsdeck-logship (namespace {ship_ns}): 0 of 0 objects written, {len(old)} pruned" in done.stdout
    assert "rollout: 3 of 3 nodes run the updated pod, ready" in done.stdout, done.stdout[-3000:]
    namespace = core.read_namespace(ship_ns)
    assert namespace.status.phase == "Active" and namespace.metadata.deletion_timestamp is None
    assert namespace.metadata.labels["app.kubernetes.io/instance"] == "opsdeck-otelcol"
    assert "OpenTelemetry Collector" in namespace.metadata.annotations["opsdeck.io/pod-security-justification"]
    left = {
        (kind, item.metadata.name)
        for kind, items in (
            ("DaemonSet", apps.list_namespaced_daemon_set(ship_ns).items),
            ("Service", core.list_namespaced_service(ship_ns).items),
            ("ServiceAccount", core.list_namespaced_service_account(ship_ns).items),
            ("ConfigMap", core.list_namespaced_config_map(ship_ns).items),
            (
                "NetworkPolicy",
                client.NetworkingV1Api(cluster.api).list_namespaced_network_policy(ship_ns).items,
            ),
        )
        for item in items
        if item.metadata.deletion_timestamp is None
    }
    assert not left & old, left
    assert ("DaemonSet", "otelcol") in left and ("ConfigMap", "otelcol") in left
    again = runner.run(**settings)
    assert recap(again.stdout)["changed"] == 0, again.stdout[-3000:]


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
        ({"logging_shipper_interval": "1 second"}, ["logging_shipper_interval: '1 second' is not a duration"]),
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
    assert {"StatefulSet", "DaemonSet", "ConfigMap", "NetworkPolicy", "Namespace"} <= {m["kind"] for m in checked}
    assert report.pop("returncode") == 0, report
    assert report["summary"] == {"valid": len(checked), "invalid": 0, "errors": 0, "skipped": 0}


def test_a_daemonset_that_never_gets_ready_is_rolled_back(cluster: Cluster, spaces: dict[str, str]) -> None:
    ship_ns = spaces["logging_k8s_shipper_namespace"]
    shipper = _shipper(
        {"namespace": spaces["logging_k8s_namespace"], "shipper_namespace": ship_ns, "progress_deadline_s": 8}
    )
    Release(cluster.dynamic, shipper, wait_timeout=120, poll=0.5).run()
    apps, core = client.AppsV1Api(cluster.api), client.CoreV1Api(cluster.api)
    good = apps.read_namespaced_daemon_set("otelcol", ship_ns).spec.template.spec.containers[0].env
    broken = copy.deepcopy(shipper)
    ds = next(m for m in broken["manifests"] if m["kind"] == "DaemonSet")
    ds["spec"]["template"]["metadata"]["labels"][UNREADY_LABEL] = "true"
    ds["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "GOMAXPROCS", "value": "2"})
    with pytest.raises(ReleaseError) as err:
        Release(cluster.dynamic, broken, wait_timeout=120, poll=0.5).run()
    msg = err.value.msg
    assert msg.startswith(f"logging release 'opsdeck-otelcol': rollout of DaemonSet {ship_ns}/otelcol failed: ")
    assert "ProgressDeadlineExceeded: DaemonSet 'otelcol' made no progress in 8 s" in msg
    assert "rolled back to revision" in msg and "which is not healthy" not in msg, msg
    live = apps.read_namespaced_daemon_set("otelcol", ship_ns)
    assert live.spec.template.spec.containers[0].env == good
    assert UNREADY_LABEL not in live.spec.template.metadata.labels
    pods = core.list_namespaced_pod(ship_ns, label_selector="app.kubernetes.io/name=otelcol").items
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
    shipper = _shipper(
        {"namespace": spaces["logging_k8s_namespace"], "shipper_namespace": spaces["logging_k8s_shipper_namespace"]}
    )
    result = Release(stale, shipper, wait_timeout=120, poll=0.5).run()
    assert result["not_applied"] == [
        {"kind": "ServiceMonitor", "name": "otelcol", "why": "no Prometheus Operator CRDs"}
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
    """What Kubernetes gives the pod's container, as docker run options (securityContext, memory limit)."""
    c = pod["spec"]["containers"][0]
    sc = {**pod["spec"].get("securityContext", {}), **c["securityContext"]}
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["allowPrivilegeEscalation"] is False and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    user = f"{sc['runAsUser']}:{sc.get('runAsGroup', 0)}"
    memory = parse_memory(c["resources"]["limits"]["memory"])
    return [
        "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", user,
        "--memory", str(memory),
    ]  # fmt: skip


def _address(name: str) -> str:
    out = _docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout
    return out.strip()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return answer.status, answer.read().decode()
    except OSError:
        return 0, ""


def _query(address: str, query: str) -> list[dict[str, Any]]:
    body = urllib.parse.urlencode({"query": query, "limit": "1000"}).encode()
    with urllib.request.urlopen(f"http://{address}:9428/select/logsql/query", data=body, timeout=10) as answer:
        return [json.loads(line) for line in answer.read().decode().splitlines() if line.strip()]


def _metric(text: str, name: str) -> float:
    """The sum of a Prometheus metric's samples (every label set) in an exposition ``text``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((f"{name}{{", f"{name} ")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _cri(msg: str, tag: str = "F", stream: str = "stdout") -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"
    return f"{stamp} {stream} {tag} {msg}\n"


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)
    path.chmod(0o640)  # as the container runtime writes them: root's, not world-readable


def test_the_rendered_store_and_collector_pods_ship_cri_logs_exactly_once(tmp_path: Path) -> None:
    if _docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine")
    images = {"store": _rig_image("victorialogs"), "shipper": _rig_image("otelcol")}
    store_rel, ship_rel, _legacy = kl.releases(
        {"environment": "dev", "namespace_prefix": "shop-", "fields": {"cluster": "test"}}
    )
    sts = next(m for m in store_rel["manifests"] if m["kind"] == "StatefulSet")
    ds = next(m for m in ship_rel["manifests"] if m["kind"] == "DaemonSet")
    cm = next(m for m in ship_rel["manifests"] if m["kind"] == "ConfigMap")
    prefix = f"k8slog-{uuid.uuid4().hex[:6]}"
    network, volume = prefix, f"{prefix}-data"
    store, shipper = f"{prefix}-store", f"{prefix}-otelcol"
    pods_dir, state_dir, config_dir = tmp_path / "pods", tmp_path / "state", tmp_path / "config"
    web_dir = pods_dir / "shop-web_web-7d9f8b-x2k4q_3f1c2a9e-0d4b-4c55-9a1e-5b2f7c8d9e01" / "web"
    api_dir = pods_dir / "shop-api_api-5c6d7e-p9q8r_8a7b6c5d-4e3f-4a1b-9c2d-1e0f9a8b7c6d" / "api"
    web_dir.mkdir(parents=True)
    state_dir.mkdir(mode=0o755)
    config_dir.mkdir()
    # the ConfigMap's volume: its key as a file, mode 0444 (defaultMode)
    for key, text in cm["data"].items():
        (config_dir / key).write_text(text)
        (config_dir / key).chmod(0o444)
    log = web_dir / "0.log"
    token = f"t{uuid.uuid4().hex[:10]}"
    sent: list[str] = []  # every whole line written, in order

    def line(n: int) -> str:
        sent.append(f"{token} line {n:04d}")
        return _cri(sent[-1])

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

        def store_address() -> str:
            address = _address(store)
            return address if address and _get(f"http://{address}:9428/health")[0] == 200 else ""

        address = wait_until("the store's /health", store_address, timeout=60)

        # the collector: its pod's args and env (NODE_NAME from the downward API), the ConfigMap
        # and the two hostPaths at their mount paths, the ports of its probes and metrics
        pod = ds["spec"]["template"]
        c = pod["spec"]["containers"][0]
        assert c["env"] == [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
        assert c["args"] == ["--config", "/etc/otelcol-contrib/config.yaml"]
        assert ds["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert mounts["pods"]["readOnly"] is True and mounts["config"]["readOnly"] is True
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["config"]["configMap"]["name"] == cm["metadata"]["name"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert c["readinessProbe"]["httpGet"] == c["livenessProbe"]["httpGet"] == {"path": "/", "port": "health"}
        assert ds["spec"]["template"]["spec"]["containers"][0]["image"].startswith("otel/opentelemetry-collector-")
        assert images["shipper"].split("/", 1)[1].startswith("otel/opentelemetry-collector-contrib:")

        def start_collector() -> str:
            _docker(
                "run", "-d", "--name", shipper, "--network", network, *_run_args(pod),
                "-e", "NODE_NAME=kwok-node-1",
                "-v", f"{config_dir}:{mounts['config']['mountPath']}:ro",
                "-v", f"{pods_dir}:{mounts['pods']['mountPath']}:ro",
                "-v", f"{state_dir}:{mounts['state']['mountPath']}",
                images["shipper"], *c["args"],
            )  # fmt: skip

            def ready() -> str:
                if _docker("inspect", "-f", "{{.State.Running}}", shipper).stdout.strip() != "true":
                    logs = _docker("logs", "--tail", "30", shipper, check=False)
                    pytest.fail(f"the collector stopped:\n{logs.stdout}{logs.stderr}")
                ip = _address(shipper)
                probe = f"http://{ip}:{ports['health']}{c['readinessProbe']['httpGet']['path']}"
                return ip if ip and _get(probe)[0] == 200 else ""

            return wait_until("the collector's readiness probe (health_check)", ready, timeout=60)

        def metrics(ip: str) -> str:
            status, text = _get(f"http://{ip}:{ports['http']}/metrics")
            return text if status == 200 else ""

        def counted() -> tuple[int, int]:
            (row,) = _query(address, f'"{token}" | stats count() as n, count_uniq(_msg) as u') or [{}]
            return int(row.get("n", 0)), int(row.get("u", 0))

        def arrived(n: int) -> tuple[int, int] | None:
            got = counted()
            return got if got[0] >= n else None

        # a whole line; a line the runtime split (P, P, F) on stderr; a split line whose end the
        # runtime writes a moment later (after the collector read the start)
        _append(log, line(1) + _cri(f"{token} line 0002 tw", "P", "stderr") + _cri("o ha", "P", "stderr"))
        _append(log, _cri("lves", "F", "stderr") + _cri(f"{token} line 0003 sta", "P"))
        sent.append(f"{token} line 0002 two halves")
        ip = start_collector()
        wait_until("the first rows in the store", lambda: arrived(2), timeout=60)
        time.sleep(1.5)  # the collector polls every second: it has read the partial line
        _append(log, _cri("rted, then finished"))
        sent.append(f"{token} line 0003 started, then finished")
        wait_until("the joined line", lambda: arrived(3), timeout=60)
        found = _query(address, f'"{token}" | sort by (_time)')
        assert sorted(r["_msg"] for r in found) == sorted(sent), found
        row = next(r for r in found if r["_msg"].endswith("two halves"))
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
        }
        assert {k: row.get(k) for k in expected} == expected, row
        for field in ('app="web"', 'env="dev"', 'host="kwok-node-1"', 'namespace="shop-web"', 'service="web"'):
            assert field in row["_stream"], row["_stream"]
        assert _metric(metrics(ip), "otelcol_exporter_sent_log_records") >= 3  # no _total suffix

        # the kubelet rotates: 0.log -> 0.log.<timestamp>; the runtime still writes one line to
        # the renamed file before it reopens 0.log; an older rotated file is compressed (never read)
        _append(log, line(4))
        rotated = web_dir / "0.log.20261202-130000"
        log.rename(rotated)
        _append(rotated, line(5))
        _append(log, line(6) + line(7))
        with gzip.open(web_dir / "0.log.20261202-120000.gz", "wt") as gz:
            gz.write(_cri(f"{token} compressed, read before it was compressed"))
        wait_until("the rotated file's and the new file's rows", lambda: arrived(len(sent)), timeout=60)

        # the store stops; lines keep coming (in a pod that starts meanwhile too) and the
        # collector queues them on the node (file_storage)
        _docker("stop", store)
        api_dir.mkdir(parents=True)
        for n in range(8, 108):
            _append(log, line(n))
        _append(api_dir / "0.log", "".join(line(n) for n in range(108, 158)))
        wait_until(
            "the collector to read every line into its queue",
            lambda: _metric(metrics(ip), "otelcol_receiver_accepted_log_records") >= len(sent),
            timeout=60,
        )
        # the pod is replaced (SIGTERM, its grace period), more lines meanwhile, then a new pod
        # over the same hostPath state: the queue survives (not empty after the restart)
        grace = ds["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        _docker("stop", "-t", str(grace), shipper, timeout=grace + 30)
        _docker("rm", shipper)
        _append(log, "".join(line(n) for n in range(158, 178)))
        ip = start_collector()
        wait_until(
            "the restarted collector's persistent queue (not empty)",
            lambda: _metric(metrics(ip), "otelcol_exporter_queue_size") > 0,
            timeout=30,
        )
        _docker("start", store)
        address = wait_until("the store's /health after the outage", store_address, timeout=60)
        wait_until("every line in the store", lambda: arrived(len(sent)), timeout=120)
        time.sleep(5)  # more cycles of the collector: anything sent twice would show now
        assert counted() == (len(sent), len(sent))
        found = _query(address, f'"{token}" | stats by (app, namespace, container, host) count() as n')
        assert sorted((r["app"], r["namespace"], r["container"], r["host"], int(r["n"])) for r in found) == [
            ("api", "shop-api", "api", "kwok-node-1", 50),
            ("web", "shop-web", "web", "kwok-node-1", len(sent) - 50),
        ], found
        assert not _query(address, f'"{token}" compressed')
        # the positions and the queue are on the node's hostPath
        assert list(state_dir.iterdir()), "file_storage wrote nothing to the state hostPath"
    finally:
        for name in (shipper, store):
            _docker("rm", "-f", "-v", name, check=False)
        _docker("volume", "rm", "-f", volume, check=False)
        _docker("network", "rm", network, check=False)
