# SPDX-License-Identifier: GPL-3.0-or-later
"""The execution environment image, built with ansible-builder, and the collection run INSIDE it.

tests/rig/ee/build.py builds ``execution-environment.yml`` with ``tests/rig/ee/override.yml`` (the
rig's Debian base, apt-get, the collections of the PyPI ``ansible`` package, this collection from its
``ansible-galaxy collection build`` tarball), tagged by a hash of its inputs: an unchanged tree builds
nothing. The jobs then run through ansible-runner's container mode (``process_isolation`` with
docker: the private data directory mounted at /runner, ``ansible-playbook`` run in the image), the way
ansible-navigator and AAP's execution nodes run an EE: the collection's own playbook
``opsdeck.platform.preflight`` from the copy installed in the image, and tests/rig/ee/check.yml, which
reports what the roles call (CLIs, Python libraries, collections, modules).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import ansible
import ansible_runner
import pytest
import yaml

from .test_site_aap import _failures
from .test_site_inventories import STRONG_SECRETS

ROOT = Path(__file__).resolve().parents[2]
EE = ROOT / "tests" / "rig" / "ee"


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location("opsdeck_ee_build", EE / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build() -> tuple[str, float]:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(EE / "build.py")], capture_output=True, text=True, timeout=1800, check=False
    )
    assert result.returncode == 0, f"the EE build failed:\n{result.stderr[-4000:]}"
    return result.stdout.split()[-1], time.monotonic() - start


@pytest.fixture(scope="module")
def ee_image() -> str:
    ref, seconds = _build()
    print(f"execution environment {ref} ready in {seconds:.0f} s")
    return ref


def _job(tmp_path: Path, image: str, playbook: str, extravars: dict[str, Any], inventory: str | None = None):
    pdd = tmp_path / "job"
    (pdd / "env").mkdir(parents=True)
    (pdd / "project").mkdir()
    shutil.copy(EE / "check.yml", pdd / "project" / "check.yml")
    if inventory:
        shutil.copytree(ROOT / "inventories" / inventory, pdd / "inventory")
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (pdd / "env" / "envvars").write_text(yaml.safe_dump({"ANSIBLE_FORCE_COLOR": "0"}))
    (pdd / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 600, "suppress_ansible_output": True}))
    runner = ansible_runner.run(
        private_data_dir=str(pdd),
        playbook=playbook,
        process_isolation=True,
        process_isolation_executable="docker",
        container_image=image,
        quiet=True,
    )
    command = runner.config.command
    # the job ran in a container of the EE image, not on this machine's Ansible
    assert command[:2] == ["docker", "run"] and image in command, command
    return runner


def _stats_data(runner) -> dict[str, Any]:
    (stats,) = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    return stats["event_data"]["artifact_data"]


def test_the_ee_has_what_the_roles_call(tmp_path: Path, ee_image: str) -> None:
    runner = _job(tmp_path, ee_image, "check.yml", {})
    assert runner.status == "successful", _failures(runner) or runner.stdout.read()[-3000:]
    data = _stats_data(runner)

    # the collection's filter and module, from the copy installed in the image
    assert data["ee_model"] == ["shop"]
    fields = {(f["app"], f["field"]) for f in data["ee_audit"]}
    assert {("shop", "image"), ("shop", "resources.cpu"), ("shop", "resources.memory")} <= fields, data["ee_audit"]

    # ansible-core as the tests run it, on the image's python3.11
    assert data["ee_ansible_version"] == ansible.__version__
    assert data["ee_python_path"] == "/usr/bin/python3.11"

    collections = {name for path in data["ee_collections"].values() for name in path}
    assert {
        "opsdeck.platform",
        "kubernetes.core",
        "community.docker",
        "amazon.aws",
        "community.general",
        "community.postgresql",
        "community.crypto",
        "ansible.posix",
        "community.sops",
        "community.hashi_vault",
    } <= collections
    assert "/usr/share/ansible/collections/ansible_collections" in data["ee_collections"]
    platform_paths = [p for p, names in data["ee_collections"].items() if "opsdeck.platform" in names]
    assert platform_paths == ["/usr/share/ansible/collections/ansible_collections"], platform_paths
    assert {"opsdeck.platform.config_audit", "community.docker.docker_compose_v2", "kubernetes.core.k8s"} <= set(
        data["ee_modules"]
    )

    clis = data["ee_clis"]
    assert clis["age"].startswith("v1.") or clis["age"].startswith("1."), clis["age"]
    assert "Zstandard" in clis["zstd"] or "zstd" in clis["zstd"], clis["zstd"]
    assert clis["docker"].startswith("Docker version "), clis["docker"]
    assert "Docker Compose version v2." in clis["docker compose"], clis["docker compose"]
    assert "PostgreSQL" in clis["psql"] and " 15." in clis["psql"], clis["psql"]
    assert "MariaDB" in clis["mysql"], clis["mysql"]
    assert clis["redis-cli"].startswith("redis-cli 7."), clis["redis-cli"]
    assert "DiG 9." in data["ee_clis_stderr"]["dig"] or "DiG 9." in clis["dig"]
    assert "OpenSSH" in data["ee_clis_stderr"]["ssh"]
    assert clis["git"].startswith("git version 2."), clis["git"]

    python = data["ee_python"]
    for library in ("boto3", "botocore", "kubernetes", "docker", "jsonschema", "dns", "yaml", "ansible_runner"):
        assert library in python, python
    requirements = (ROOT / "requirements.txt").read_text()
    assert "boto3" in requirements and "kubernetes" in requirements

    # kubectl and helm: in the image when the rig's Kubernetes binaries were built (make cluster-up)
    # when the image was: the build's own copy of them (its context, part of the image's hash), not
    # the cache now (make test builds the control plane in the background while this tier runs).
    bins = {b.name for b in (_build_module().WORK / "bin").iterdir()}
    if "kubectl" in bins:
        assert "Client Version: v1." in data["ee_k8s"], data["ee_k8s"]
    else:
        assert "Client Version" not in data["ee_k8s"]
    if "helm" in bins:
        assert "v3." in data["ee_k8s"], data["ee_k8s"]


def test_the_preflight_passes_for_prod_inside_the_ee(tmp_path: Path, ee_image: str) -> None:
    runner = _job(tmp_path, ee_image, "opsdeck.platform.preflight", STRONG_SECRETS, inventory="prod")
    assert runner.status == "successful", _failures(runner) or runner.stdout.read()[-3000:]
    assert runner.rc == 0
    oks = [e["event_data"].get("task", "") for e in runner.events if e.get("event") == "runner_on_ok"]
    assert "Audit the configuration (fails prod and staging, warns dev and local)" in oks
    assert runner.stats["failures"] == {}


def test_a_weak_secret_fails_the_preflight_inside_the_ee(tmp_path: Path, ee_image: str) -> None:
    extravars = {**STRONG_SECRETS, "vault_shopdb_password": "changeme"}
    runner = _job(tmp_path, ee_image, "opsdeck.platform.preflight", extravars, inventory="prod")
    assert runner.status == "failed" and runner.rc != 0
    (message,) = _failures(runner)
    assert "the configuration audit of prod found 2 problems" in message
    assert "app 'shop': field 'databases[0].password': the password is a well-known default password" in message
    assert "changeme" not in json.dumps(list(runner.events))


def test_an_unchanged_tree_builds_nothing(ee_image: str) -> None:
    # the tree as it is now (in a shared checkout, files may have changed since the fixture's build)
    first, _seconds = _build()
    before = _image_id(first)
    ref, seconds = _build()
    if ref != first:
        pytest.skip(f"the working tree changed between two builds a few seconds apart ({first} -> {ref})")
    assert _image_id(ref) == before
    assert seconds < 60, f"a warm EE check took {seconds:.0f} s"


def _image_id(ref: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
