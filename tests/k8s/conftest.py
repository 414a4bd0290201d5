# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the Kubernetes tier: a real control plane with simulated nodes.

The session fixture ``cluster`` runs tests/rig/k8s/up.sh (which builds the binaries on
the first run of a machine, then starts etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and the kwok controller on 127.0.0.1) and tests/rig/k8s/down.sh at the
end; OPSDECK_K8S_KEEP=1 leaves the cluster running for the next run.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

ROOT = Path(__file__).resolve().parents[2]
RIG = ROOT / "tests" / "rig" / "k8s"
STATE = Path(os.environ.get("OPSDECK_RIG_STATE", ROOT / "tests" / "rig" / ".state"))
FIELD_MANAGER = "opsdeck"
# Pods carrying this label run on the simulated nodes but never become Ready (kwok_config.py).
UNREADY_LABEL = "opsdeck.test/unready"


@dataclass
class Cluster:
    kubeconfig: Path
    bin: Path
    api: client.ApiClient
    dynamic: DynamicClient

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
        argv = [str(self.bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args]
        return subprocess.run(argv, capture_output=True, text=True, check=check, input=stdin, timeout=120)

    def apply(self, body: dict, *, namespace: str | None = None):
        """Server-side apply of one object with the field manager ``opsdeck``."""
        resource = self.dynamic.resources.get(api_version=body["apiVersion"], kind=body["kind"])
        return self.dynamic.server_side_apply(
            resource, body=body, namespace=namespace, field_manager=FIELD_MANAGER, force_conflicts=True
        )


def wait_until(what: str, predicate: Callable[[], object], timeout: float = 90, interval: float = 0.5):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` on time-out."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    up = subprocess.run(
        ["bash", str(RIG / "up.sh")], capture_output=True, text=True, timeout=3600, check=False, cwd=ROOT
    )
    if up.returncode != 0:
        pytest.fail(f"tests/rig/k8s/up.sh failed (exit {up.returncode}):\n{up.stderr[-4000:]}")
    kubeconfig = Path(up.stdout.strip().splitlines()[-1])
    env = dict(line.split("=", 1) for line in (STATE / "k8s.env").read_text().splitlines() if "=" in line)
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield Cluster(kubeconfig=kubeconfig, bin=Path(env["OPSDECK_K8S_BIN"]), api=api, dynamic=DynamicClient(api))
    finally:
        api.close()
        if os.environ.get("OPSDECK_K8S_KEEP") != "1":
            subprocess.run(["bash", str(RIG / "down.sh")], check=False, timeout=300, cwd=ROOT)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace that enforces Pod Security "restricted", applied server-side; deleted after."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            },
        }
    )
    core = client.CoreV1Api(cluster.api)
    # Pods are admitted once the namespace's default ServiceAccount exists.
    wait_until(
        f"the default ServiceAccount of {name}",
        lambda: any(sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items),
    )
    yield name
    core.delete_namespace(name)


def pod_ready(pod) -> bool:
    """The pod's Ready condition is True."""
    ready = next((c for c in (pod.status.conditions or []) if c.type == "Ready"), None)
    return bool(ready and ready.status == "True")


def delete_all(delete: Callable[[str], object], names: list[str]) -> None:
    """Call ``delete`` on each name; one already gone (404) is fine."""
    for name in names:
        try:
            delete(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def app_namespaces(cluster: Cluster) -> Iterator[list[str]]:
    """Names of namespaces a test's apps create (k8s_app: one per app), deleted after the test."""
    names: list[str] = []
    yield names
    delete_all(client.CoreV1Api(cluster.api).delete_namespace, names)


@pytest.fixture
def static_volumes(cluster: Cluster) -> Iterator[str]:
    """A storage class name and three static PersistentVolumes of it, deleted after the test.

    The simulated nodes come with no volume provisioner: claims bind to these (the PV controller
    of kube-controller-manager does that by storage class), so StatefulSets' pods get scheduled.
    """
    storage_class = f"opsdeck-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(cluster.api)
    names = [f"{storage_class}-pv{i}" for i in range(3)]
    for pv in names:
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
    delete_all(core.delete_persistent_volume, names)


# The two Prometheus Operator CRDs k8s_app and the monitoring role use (tests/rig/k8s/crds.sh makes
# them from the Go module github.com/prometheus-operator/prometheus-operator, cached by version).
CRDS = ("monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_prometheusrules.yaml")


def crd_dir() -> Path:
    done = subprocess.run(["bash", str(RIG / "crds.sh")], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def operator_crds(cluster: Cluster) -> Iterator[None]:
    directory = crd_dir()
    for name in CRDS:
        cluster.kubectl("apply", "--server-side", "--field-manager=opsdeck-tests", "-f", str(directory / name))
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/servicemonitors.monitoring.coreos.com",
        "crd/prometheusrules.monitoring.coreos.com",
    )
    cluster.dynamic.resources.invalidate_cache()
    yield
    for name in CRDS:
        cluster.kubectl("delete", "--ignore-not-found", "-f", str(directory / name), check=False)
    cluster.dynamic.resources.invalidate_cache()
