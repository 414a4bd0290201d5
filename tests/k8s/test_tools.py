# SPDX-License-Identifier: GPL-3.0-or-later
"""The tools built with the control plane: kubectl, helm and kubeconform, at their pinned versions."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from kubernetes import client

from .conftest import RIG, Cluster


def pinned() -> dict[str, str]:
    lines = (RIG / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def run(cluster: Cluster, tool: str, *args: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), **(env or {})}
    done = subprocess.run(
        [str(cluster.bin / tool), *args], capture_output=True, text=True, env=full, timeout=300, check=False
    )
    assert done.returncode == 0, f"{tool} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_versions_are_the_pinned_ones(cluster: Cluster) -> None:
    versions = pinned()
    assert f"Client Version: {versions['K8S_VERSION']}" in run(cluster, "kubectl", "version", "--client")
    assert run(cluster, "helm", "version", "--short").startswith(versions["HELM_VERSION"])
    assert run(cluster, "kubeconform", "-v").strip() == versions["KUBECONFORM_VERSION"]
    assert f"Version: {versions['ETCD_VERSION'].lstrip('v')}" in run(cluster, "etcd", "--version")


def test_helm_installs_a_local_chart(cluster: Cluster, tmp_path: Path) -> None:
    """A chart made on the spot (no repository can be reached) installs and waits for its Deployment."""
    helm_env = {f"HELM_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
    run(cluster, "helm", "create", str(tmp_path / "demo"), env=helm_env)
    namespace = f"helm-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(cluster.api)
    try:
        run(
            cluster,
            "helm",
            "install",
            "demo",
            str(tmp_path / "demo"),
            "--namespace",
            namespace,
            "--create-namespace",
            "--wait",
            "--timeout",
            "120s",
            env=helm_env,
        )
        assert "STATUS: deployed" in run(cluster, "helm", "status", "demo", "-n", namespace, env=helm_env)
        deployment = client.AppsV1Api(cluster.api).read_namespaced_deployment("demo", namespace)
        assert deployment.status.ready_replicas == 1
        assert deployment.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"
    finally:
        core.delete_namespace(namespace)
