# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbooks as Ansible Automation Platform runs them, through ansible-runner (AAP's engine).

AAP hands a job to ansible-runner as a private data directory: the project checked out in
``project/``, the inventory synced from the project's ``inventories/<env>`` in ``inventory/``, the
survey answers and the custom credential's injected variables in ``env/extravars``, settings in
``env/envvars``. These tests build that directory and run the job templates' playbooks with it,
asserting the job's status, rc and the events AAP would show. They also check the
config-as-code in aap/ (every template names a playbook of the project, defined credentials and
inventory, and survey variables the playbooks read).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

from .test_site_inventories import STRONG_SECRETS

ROOT = Path(__file__).resolve().parents[2]

# What the "opsdeck backup store" credential injects plus what a vault of prod holds.
PROD_EXTRAVARS = STRONG_SECRETS


@pytest.fixture(autouse=True)
def _venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-runner finds ansible-playbook on PATH, as in an execution environment."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")


def _private_data_dir(tmp_path: Path, environment: str, extravars: dict[str, Any]) -> Path:
    pdd = tmp_path / "job"
    (pdd / "env").mkdir(parents=True)
    os.symlink(ROOT, pdd / "project")
    shutil.copytree(ROOT / "inventories" / environment, pdd / "inventory", symlinks=False)
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (pdd / "env" / "envvars").write_text(
        yaml.safe_dump(
            {
                "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
                "ANSIBLE_FORCE_COLOR": "0",
            }
        )
    )
    (pdd / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 300, "suppress_ansible_output": True}))
    return pdd


def _run(pdd: Path, playbook: str, cmdline: str | None = None) -> ansible_runner.Runner:
    return ansible_runner.run(
        private_data_dir=str(pdd),
        playbook=playbook,
        inventory=str(pdd / "inventory"),
        cmdline=cmdline,
        quiet=True,
    )


def _failures(runner: ansible_runner.Runner) -> list[str]:
    return [
        str(e["event_data"].get("res", {}).get("msg", ""))
        for e in runner.events
        if e.get("event") == "runner_on_failed" and not e["event_data"].get("ignore_errors")
    ]


def _ok_tasks(runner: ansible_runner.Runner) -> list[str]:
    return [e["event_data"].get("task", "") for e in runner.events if e.get("event") == "runner_on_ok"]


def test_the_preflight_passes_for_prod_as_aap_runs_it(tmp_path: Path) -> None:
    runner = _run(_private_data_dir(tmp_path, "prod", PROD_EXTRAVARS), "playbooks/preflight.yml")
    assert runner.status == "successful", _failures(runner)
    assert runner.rc == 0
    assert "Audit the configuration (fails prod and staging, warns dev and local)" in _ok_tasks(runner)
    stats = runner.stats
    assert stats["failures"] == {} and stats["ok"]["localhost"] >= 4


def test_a_weak_secret_fails_the_job_before_any_host(tmp_path: Path) -> None:
    extravars = {**PROD_EXTRAVARS, "vault_shopdb_password": "changeme"}
    runner = _run(_private_data_dir(tmp_path, "prod", extravars), "site.yml")
    assert runner.status == "failed" and runner.rc != 0
    (message,) = _failures(runner)
    assert "the configuration audit of prod found 2 problems" in message
    assert "app 'shop': field 'databases[0].password': the password is a well-known default password" in message
    assert "changeme" not in json.dumps(list(runner.events))
    hosts = {e["event_data"].get("host") for e in runner.events if e.get("event", "").startswith("runner_on_")}
    assert hosts == {"localhost"}


def test_the_restore_survey_without_confirmation_is_refused_in_prod(tmp_path: Path) -> None:
    survey = {"restore_app": "shop", "restore_database": "shopdb", "restore_force": "false", "restore_confirm": ""}
    runner = _run(_private_data_dir(tmp_path, "prod", {**PROD_EXTRAVARS, **survey}), "playbooks/restore.yml")
    assert runner.status == "failed"
    assert any("-e restore_confirm=shop/shopdb" in m for m in _failures(runner)), _failures(runner)
    assert not [e for e in runner.events if e.get("event") == "runner_on_unreachable"]


def _demo_up() -> bool:
    try:
        with urllib.request.urlopen("http://127.0.0.1:22090/-/ready", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.mark.skipif(not _demo_up(), reason="the local stack of `make demo` is not running (Prometheus on :22090)")
def test_verify_passes_on_the_demo_as_aap_runs_it(tmp_path: Path) -> None:
    pdd = _private_data_dir(tmp_path, "local", {"opsdeck_verify_timeout": 60})
    images = json.loads((ROOT / "tests" / "rig" / ".state" / "images.json").read_text())
    extravars = yaml.safe_load((pdd / "env" / "extravars").read_text())
    extravars.update(opsdeck_rig_images=images, opsdeck_rig_registry="127.0.0.1:5000")
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    # AAP's Vault credential gives the password as a file of its own; so does this job
    (pdd / "env" / "passwords").write_text("{}")
    cmdline = f"--vault-password-file {ROOT / 'inventories' / 'local' / 'vault-password.txt'}"
    runner = _run(pdd, "playbooks/verify.yml", cmdline)
    assert runner.status == "successful", _failures(runner)
    oks = _ok_tasks(runner)
    for task in (
        "Check that every app runs its planned revision, healthy",
        "Check that every target is up",
        "Check that the latest backup of each database is fresh",
    ):
        assert task in oks


# -- the config-as-code -------------------------------------------------------------------


def _aap(name: str) -> Any:
    return yaml.safe_load((ROOT / "aap" / name).read_text())


def test_every_template_names_what_exists() -> None:
    templates = _aap("controller_templates.yml")["controller_templates"]
    credentials = {c["name"] for c in _aap("controller_credentials.yml")["controller_credentials"]}
    inventories = {i["name"] for i in _aap("controller_inventories.yml")["controller_inventories"]}
    types = {t["name"] for t in _aap("controller_credential_types.yml")["controller_credential_types"]}
    projects = {p["name"] for p in _aap("controller_projects.yml")["controller_projects"]}
    names = {t["name"].split()[-1] for t in templates}
    assert {"deploy", "backup", "restore", "dr_failover", "verify"} <= names
    sources = "\n".join(p.read_text() for p in [*ROOT.glob("playbooks/**/*.yml"), *ROOT.glob("roles/*/defaults/*.yml")])
    sources += "\n".join(p.read_text() for p in ROOT.glob("roles/*/tasks/*.yml"))
    for template in templates:
        assert (ROOT / template["playbook"]).is_file(), template["name"]
        assert template["project"] in projects
        assert template["inventory"] in inventories
        assert set(template["credentials"]) <= credentials, template["name"]
        for question in (template.get("survey_spec") or {}).get("spec", []):
            assert question["variable"] in sources, f"{template['name']}: {question['variable']} is read by no playbook"
    for credential in _aap("controller_credentials.yml")["controller_credentials"]:
        assert credential["credential_type"] in types | {"Machine", "Vault"}
        for value in credential["inputs"].values():
            assert "vault_aap_" in str(value) or not any(k in str(value) for k in ("BEGIN", "AGE-SECRET")), value
    restore = next(t for t in templates if t["name"].endswith(" restore"))
    assert {q["variable"] for q in restore["survey_spec"]["spec"]} >= {
        "restore_app",
        "restore_database",
        "restore_confirm",
    }


def test_schedules_run_backups_and_dr_drills() -> None:
    templates = {t["name"] for t in _aap("controller_templates.yml")["controller_templates"]}
    schedules = _aap("controller_schedules.yml")["controller_schedules"]
    assert {s["unified_job_template"] for s in schedules} <= templates
    kinds = {s["unified_job_template"].split()[-1] for s in schedules}
    assert {"backup", "dr_drill"} <= kinds
    for schedule in schedules:
        assert schedule["rrule"].startswith("DTSTART;TZID=UTC:") and "RRULE:FREQ=" in schedule["rrule"]


def test_the_execution_environment_definition_builds_a_context(tmp_path: Path) -> None:
    builder = Path(sys.executable).parent / "ansible-builder"
    assert builder.is_file(), "ansible-builder is missing from the venv: `make venv` (tests/requirements.lock)"
    context = tmp_path / "context"
    result = subprocess.run(
        [
            str(builder),
            "create",
            "-f",
            "execution-environment.yml",
            "--context",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-core>=2.19,<2.20" in containerfile
    assert "ansible-galaxy collection install --offline --no-deps /tmp/opsdeck-collection/" in containerfile
    assert (context / "_build" / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {"community.docker", "kubernetes.core", "amazon.aws"} <= {c["name"] for c in galaxy["collections"]}
    bindep = (context / "_build" / "bindep.txt").read_text()
    for package in ("postgresql [platform:rpm]", "zstd [platform:rpm]", "bind-utils [platform:rpm]"):
        assert package in bindep
