# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/images.yml against the real engine and the rig's registry (127.0.0.1:5000): check mode
builds nothing and says it would; the first run builds the backup engine's image from the
collection's files and pushes it; the registry serves it under the tag k8s_app's default names;
the image runs the engine; a second run changes nothing; no registry is refused.

The base is the rig's debootstrap image (a Debian bookworm, as the recipe wants), because
debian:bookworm-slim cannot be pulled here. To keep the test independent of images the engine
already has, the repository is a throwaway path under the registry, removed from the engine after.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from ansible_collections.opsdeck.platform.plugins.filter.images import backup_engine_image

ROOT = Path(__file__).resolve().parents[2]


def ansible_json(tool: str, *args: str) -> tuple[int, dict]:
    """``ansible-playbook`` or ``ansible`` on localhost with the json callback: (rc, its output)."""
    env = {
        **os.environ,
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / tool), "-i", "localhost,", "-c", "local", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=900,
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"{tool} printed no JSON (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def playbook(*args: str, extra: dict) -> tuple[int, dict]:
    return ansible_json("ansible-playbook", str(ROOT / "playbooks" / "images.yml"), "-e", json.dumps(extra), *args)


def tasks(out: dict) -> dict[str, dict]:
    return {t["task"]["name"]: t["hosts"].get("localhost", {}) for play in out["plays"] for t in play["tasks"]}


def changed(out: dict) -> int:
    return out["stats"]["localhost"]["changed"]


def in_registry(client: docker.DockerClient, ref: str) -> bool:
    """Whether the registry serves ``ref`` (the engine asks it: distribution inspect)."""
    try:
        client.images.get_registry_data(ref)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if "manifest unknown" in str(exc) or "not found" in str(exc).lower():
            return False
        raise
    return True


def test_images_playbook_builds_pushes_once_and_tells_the_truth_in_check_mode(images: dict[str, str]) -> None:
    base = images["base"]
    registry = f"127.0.0.1:5000/opsdeck-it-{uuid.uuid4().hex[:8]}"
    extra = {
        "opsdeck_registry": registry,
        "opsdeck_backup_engine_base": base,
        "ansible_python_interpreter": sys.executable,
    }
    expected = backup_engine_image("", base=base)
    name = f"{registry}/{expected['repository']}"
    client = docker.from_env()
    try:
        rc, out = playbook("--check", extra=extra)
        assert rc == 0, out["stats"]
        t = tasks(out)
        assert t["Say that check mode would build it"].get("changed") is True
        assert t["Push it to the registry (nothing moves when the registry has every layer)"].get("skipped") is True
        assert not in_registry(client, f"{name}:{expected['tag']}")
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(f"{name}:{expected['tag']}")

        rc, out = playbook(extra=extra)
        assert rc == 0, out["stats"]
        assert tasks(out)["Build it"].get("changed") is True
        assert in_registry(client, f"{name}:{expected['tag']}"), "the image was not pushed under the tag k8s_app names"
        # what was pushed is the engine, built from the collection's files
        image = client.images.get(f"{name}:{expected['tag']}")
        assert image.labels["org.opencontainers.image.version"] == expected["tag"]
        assert image.attrs["Config"]["User"] == "10001:10001"
        help_text = client.containers.run(
            f"{name}:{expected['tag']}", entrypoint=["opsdeck-backup", "--help"], remove=True
        ).decode()
        assert "usage" in help_text.lower()

        rc, out = playbook(extra=extra)
        assert rc == 0 and changed(out) == 0, [k for k, v in tasks(out).items() if v.get("changed")]
        rc, out = playbook("--check", extra=extra)
        assert rc == 0 and changed(out) == 0
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(f"{name}:{expected['tag']}", force=True)


def test_images_playbook_refuses_without_a_registry() -> None:
    rc, out = playbook(extra={"opsdeck_registry": "", "ansible_python_interpreter": sys.executable})
    assert rc != 0
    msg = json.dumps(tasks(out)["Refuse to run without a registry to push to"])
    assert "opsdeck_registry is empty" in msg


def test_k8s_app_default_names_the_pushed_tag(images: dict[str, str]) -> None:
    """k8s_app's default k8s_app_backup_image, rendered by Ansible, is the reference the playbook pushes."""
    base = images["base"]
    rc, out = ansible_json(
        "ansible",
        "localhost",
        "-m",
        "ansible.builtin.debug",
        "-a",
        "var=k8s_app_backup_image",
        "-e",
        f"@{ROOT / 'roles' / 'k8s_app' / 'defaults' / 'main.yml'}",
        "-e",
        json.dumps({"opsdeck_backup_engine_base": base}),
    )
    assert rc == 0, out
    rendered = out["plays"][0]["tasks"][0]["hosts"]["localhost"]["k8s_app_backup_image"]
    assert rendered == backup_engine_image("", base=base)["reference"]
