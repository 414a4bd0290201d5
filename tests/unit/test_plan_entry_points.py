# SPDX-License-Identifier: GPL-3.0-or-later
"""The model is validated and normalized in one place: the plan (docs/architecture.md).

Fails when a role or playbook calls the model's normalization (the filters app_model and
app_plan) anywhere but the shared task file of role opsdeck.platform.plan, when Python code
calls ``normalize_apps`` outside the plan and the configuration audit, when a task masks the
model's secrets by hand (``combine({'secrets': {}})``) instead of reading the plan, or when a
placement rule is written a second time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
YAML_DIRS = ("roles", "playbooks")
PLAN_TASKS = ROOT / "roles" / "plan" / "tasks" / "main.yml"
# Python that may normalize: the plan itself, the model (its definition), and the configuration
# audit, which judges the values of secrets (weak passwords) and so needs the raw model.
NORMALIZERS = {"plan.py", "model.py", "config_audit.py"}


def yaml_files() -> list[Path]:
    files = [*(ROOT / "site.yml",)]
    for top in YAML_DIRS:
        files.extend(p for p in (ROOT / top).rglob("*.yml") if "molecule" not in p.parts)
    return sorted(files)


def code_lines(path: Path) -> list[tuple[int, str]]:
    return [
        (number, line)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith("#")
    ]


@pytest.mark.parametrize("name", ["app_model", "app_plan"])
def test_only_the_plan_role_normalizes_the_model(name: str) -> None:
    calls = re.compile(rf"opsdeck\.platform\.{name}\b(?!_)")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in yaml_files()
        if path != PLAN_TASKS
        for number, line in code_lines(path)
        if calls.search(line)
    ]
    assert not found, (
        f"{name} called outside roles/plan/tasks/main.yml (read hostvars['localhost'].opsdeck_plan): {found}"
    )
    if name == "app_plan":
        assert calls.search(PLAN_TASKS.read_text(encoding="utf-8")), "the plan role no longer makes the plan"


def test_no_task_masks_the_secrets_by_hand() -> None:
    mask = re.compile(r"combine\(\s*\{\s*'secrets'\s*:")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in yaml_files()
        for number, line in code_lines(path)
        if mask.search(line)
    ]
    assert not found, f"hand-written masks of the model's secrets (the plan holds references): {found}"


def test_python_normalizes_only_in_the_plan_and_the_audit() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("plugins/module_utils", "plugins/filter", "plugins/modules", "plugins/plugin_utils")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name not in NORMALIZERS
        for number, line in code_lines(path)
        if re.search(r"\bnormalize_apps\s*\(", line)
    ]
    assert not found, f"normalize_apps called outside {sorted(NORMALIZERS)}: {found}"


def test_one_placement_rule() -> None:
    """Matching an app's or a database's ``hosts`` against a host's name and groups is plan.placed."""
    shape = re.compile(r"set\(\s*wanted\s*\)\s*&\s*set\(")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "plugins").rglob("*.py"))
        if path.name != "plan.py"
        for number, line in code_lines(path)
        if shape.search(line)
    ]
    assert not found, f"a second copy of the placement rule (use plan.placed): {found}"
