# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the model filters: app_model, memory_bytes, cpu_cores, their docs, and a real ansible run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.filter.model import (
    FilterModule,
    app_model,
    app_secrets,
    cpu_cores,
    memory_bytes,
)

ROOT = Path(__file__).resolve().parents[4]
FILTER_DIR = ROOT / "plugins" / "filter"
VENV_BIN = Path(sys.executable).parent
COLLECTIONS = ROOT / ".collections"


def test_filter_module_exposes_the_three_filters() -> None:
    assert FilterModule().filters() == {
        "app_model": app_model,
        "app_secrets": app_secrets,
        "memory_bytes": memory_bytes,
        "cpu_cores": cpu_cores,
    }


def test_app_secrets_returns_only_each_apps_secrets() -> None:
    apps = [{"name": "a", "image": "x/a:1", "secrets": {"T": "s"}, "env": {"E": "1"}}, {"name": "b", "image": "x/b:1"}]
    assert app_secrets(apps) == {"a": {"T": "s"}, "b": {}}


def test_app_model_normalizes() -> None:
    result = app_model([{"name": "a", "image": "x/y:1"}])
    assert result[0]["image_ref"] == "x/y:1"
    assert result[0]["replicas"] == 1
    assert result[0]["environment"] is None


@pytest.mark.parametrize(
    ("kwargs", "image_ref", "environment"),
    [
        ({"environment": "prod", "registry": "127.0.0.1:5000"}, "127.0.0.1:5000/x/y:1", "prod"),
        ({"environment": "local"}, "x/y:1", "local"),
        ({"registry": "mirror.example.com/hub"}, "mirror.example.com/hub/x/y:1", None),
        ({"environment": None, "registry": None}, "x/y:1", None),
    ],
)
def test_app_model_passes_environment_and_registry(
    kwargs: dict[str, Any], image_ref: str, environment: str | None
) -> None:
    result = app_model([{"name": "a", "image": "x/y:1"}], **kwargs)[0]
    assert (result["image_ref"], result["environment"]) == (image_ref, environment)


@pytest.mark.parametrize(
    ("apps", "kwargs", "expected"),
    [
        (
            [{"name": "auth", "image": "x/y:1", "restart": "sometimes"}],
            {},
            "opsdeck_apps is not a valid application model (1 finding):\n"
            "app 'auth': field 'restart': 'sometimes' is not one of always, unless-stopped, on-failure, no",
        ),
        (
            [{"name": "auth", "image": "x/y:1", "replica": 2}, {"image": "x/z:1"}],
            {},
            "opsdeck_apps is not a valid application model (2 findings):\n"
            "app 'auth': field 'replica': unknown field (did you mean 'replicas'?); ",
        ),
        (
            [{"name": "auth", "image": "x/y"}],
            {"environment": "prod"},
            "app 'auth': field 'image': 'x/y' is not pinned",
        ),
        ([], {"environment": "qa"}, "opsdeck_environment: 'qa' is not one of local, dev, staging, prod"),
        ([], {"registry": "not a registry"}, "opsdeck_registry: 'not a registry' is not a registry host"),
    ],
)
def test_app_model_errors_name_the_app_and_the_field(apps: Any, kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(AnsibleFilterError) as info:
        app_model(apps, **kwargs)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("value", "size"), [("512Mi", 536870912), ("512M", 536870912), ("1g", 1073741824), (268435456, 268435456)]
)
def test_memory_bytes(value: Any, size: int) -> None:
    assert memory_bytes(value) == size


@pytest.mark.parametrize("value", ["lots", True, None, -1, "1.5 XB"])
def test_memory_bytes_rejects(value: Any) -> None:
    with pytest.raises(AnsibleFilterError, match=r"is not a memory size \(examples: 512Mi, 1G, 268435456\)"):
        memory_bytes(value)


@pytest.mark.parametrize(("value", "cores"), [("500m", 0.5), (0.5, 0.5), ("2", 2.0), (2, 2.0)])
def test_cpu_cores(value: Any, cores: float) -> None:
    assert cpu_cores(value) == cores


@pytest.mark.parametrize("value", ["fast", False, None, "-1", "2 cores"])
def test_cpu_cores_rejects(value: Any) -> None:
    with pytest.raises(AnsibleFilterError, match=r"is not a CPU amount \(examples: 500m, 0.5, 2\)"):
        cpu_cores(value)


# ---------------------------------------------------------------------------------------------
# Documentation files (the Ansible 2.19 way: one YAML file per filter next to the plugin)


@pytest.mark.parametrize("name", sorted(FilterModule().filters()))
def test_each_filter_has_its_documentation_file(name: str) -> None:
    doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert doc["DOCUMENTATION"]["name"] == name
    assert doc["DOCUMENTATION"]["options"]["_input"]["required"] is True
    assert doc["RETURN"]["_value"]["type"]
    assert f"opsdeck.platform.{name}" in doc["EXAMPLES"]
    assert isinstance(yaml.safe_load(doc["EXAMPLES"]), list)


def test_app_model_documents_its_keyword_arguments() -> None:
    options = yaml.safe_load((FILTER_DIR / "app_model.yml").read_text())["DOCUMENTATION"]["options"]
    assert set(options) == {"_input", "environment", "registry"}
    assert options["environment"]["choices"] == ["local", "dev", "staging", "prod"]


# ---------------------------------------------------------------------------------------------
# A real ansible run: the filter is found by its FQCN and its error reaches the user.


def _ansible(cwd: Path, expression: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``ansible localhost -m debug -a msg=<expression>`` away from any ansible.cfg, results as JSON."""
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_NOCOLOR": "1",
    }
    env.pop("ANSIBLE_CONFIG", None)
    argv = [
        str(VENV_BIN / "ansible"),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        *extra,
        "-m",
        "debug",
        "-a",
        f"msg={expression}",
    ]
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _debug_msg(stdout: str) -> Any:
    return json.loads(stdout[stdout.index("{") :])["msg"]


@pytest.fixture(scope="module")
def ansible_available() -> None:
    if not (VENV_BIN / "ansible").exists():
        pytest.skip("the ansible command is not installed next to this Python")
    if not (COLLECTIONS / "ansible_collections" / "opsdeck" / "platform").exists():
        pytest.skip(".collections/ansible_collections/opsdeck/platform is missing")


@pytest.mark.usefixtures("ansible_available")
def test_ansible_run_uses_the_filter(tmp_path: Path) -> None:
    result = _ansible(tmp_path, "{{ [{'name':'a','image':'x/y:1'}] | opsdeck.platform.app_model }}")
    assert result.returncode == 0, result.stdout + result.stderr
    msg = _debug_msg(result.stdout)
    assert msg[0]["name"] == "a"
    assert msg[0]["hardening"]["user"] == "65534:65534"


@pytest.mark.usefixtures("ansible_available")
def test_ansible_run_with_inventory_style_vars(tmp_path: Path) -> None:
    """Variables from a file reach the filter as Ansible's own (lazy, tagged) types, with templates inside."""
    vars_file = tmp_path / "apps.yml"
    vars_file.write_text(
        yaml.safe_dump(
            {
                "opsdeck_environment": "prod",
                "opsdeck_registry": "127.0.0.1:5000",
                "vault_url": "postgres://app:pw@db/app",
                "opsdeck_apps": [
                    {
                        "name": "auth",
                        "image": "opsdeck/sampleapp:1.0.0",
                        "ports": [{"name": "http", "port": 8080}],
                        "health": {"path": "/health"},
                        "secrets": {"DATABASE_URL": "{{ vault_url }}"},
                        "resources": {"memory": "512Mi", "cpu": "500m"},
                        "restart": False,
                    }
                ],
            }
        )
    )
    result = _ansible(
        tmp_path,
        "{{ opsdeck_apps | opsdeck.platform.app_model(environment=opsdeck_environment, registry=opsdeck_registry) }}",
        "-e",
        f"@{vars_file}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    msg = _debug_msg(result.stdout)[0]
    assert msg["image_ref"] == "127.0.0.1:5000/opsdeck/sampleapp:1.0.0"
    assert msg["secrets"] == {"DATABASE_URL": "postgres://app:pw@db/app"}
    assert msg["health"]["port_number"] == 8080
    assert msg["resources"]["memory_compose"] == "512m"
    assert msg["restart"] == "no"


@pytest.mark.usefixtures("ansible_available")
def test_ansible_run_fails_on_a_bad_model_naming_app_and_field(tmp_path: Path) -> None:
    result = _ansible(
        tmp_path,
        "{{ [{'name':'auth','image':'x/y:1','restart':'sometimes'},"
        " {'name':'web','image':'x/z:1','resources':{'memory':'lots'} }] | opsdeck.platform.app_model }}",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "app 'auth': field 'restart': 'sometimes' is not one of always, unless-stopped, on-failure, no" in output
    assert "app 'web': field 'resources.memory': 'lots' is not a memory size" in output


@pytest.mark.usefixtures("ansible_available")
def test_ansible_run_unit_filters(tmp_path: Path) -> None:
    result = _ansible(tmp_path, "{{ ['512Mi' | opsdeck.platform.memory_bytes, '500m' | opsdeck.platform.cpu_cores] }}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _debug_msg(result.stdout) == [536870912, 0.5]
