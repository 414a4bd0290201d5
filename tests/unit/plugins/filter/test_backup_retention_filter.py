# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the backup_retention filter: a thin wrapper, AnsibleFilterError messages, its doc, a real run."""

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

from ansible_collections.opsdeck.platform.plugins.filter.backup_retention import FilterModule, backup_retention

ROOT = Path(__file__).resolve().parents[4]
DOC = ROOT / "plugins" / "filter" / "backup_retention.yml"
VENV_BIN = Path(sys.executable).parent
COLLECTIONS = ROOT / ".collections"

BACKUPS = [
    {"id": "b1", "time": "2026-11-30T02:00:00Z", "verified": True},
    {"id": "b2", "time": 1796090400, "verified": False},  # 2026-12-01T02:00:00Z
    {"id": "b0", "time": "2026-11-29T02:00:00Z", "locked_until": "2027-01-01T00:00:00Z"},
    {"id": "old", "time": "2026-11-28T02:00:00Z", "key": "authdb/old.dump"},
]


def test_the_filter_is_registered_and_documented() -> None:
    assert FilterModule().filters() == {"backup_retention": backup_retention}
    doc = yaml.safe_load(DOC.read_text())
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert doc["DOCUMENTATION"]["name"] == "backup_retention"
    assert set(doc["DOCUMENTATION"]["options"]) == {"_input", "keep", "now"}
    assert doc["DOCUMENTATION"]["positional"] == "keep, now"
    assert "opsdeck.platform.backup_retention" in doc["EXAMPLES"]
    assert isinstance(yaml.safe_load(doc["EXAMPLES"]), list)
    assert doc["RETURN"]["_value"]["type"] == "dictionary"


def test_the_filter_returns_the_plan_as_a_dict() -> None:
    result = backup_retention(BACKUPS, {"last": 1}, now="2026-12-01T04:00:00Z")
    assert [(e["id"], e["reasons"]) for e in result["keep"]] == [
        ("b2", ["last 1/1"]),
        ("b1", ["newest verified"]),
        ("b0", ["locked until 2027-01-01T00:00:00Z"]),
    ]
    assert result["delete"] == [
        {
            "id": "old",
            "time": "2026-11-28T02:00:00Z",
            "key": "authdb/old.dump",
            "verified": False,
            "locked_until": None,
            "reasons": [],
        }
    ]
    assert result["locked"] == ["b0"]
    assert result["now"] == "2026-12-01T04:00:00Z"
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize(
    ("backups", "keep", "message"),
    [
        (BACKUPS, {}, "backup_retention: keep: keeps no backup at all; set at least one of last, hourly, daily"),
        (BACKUPS, {"days": 7}, "backup_retention: keep: unknown key 'days'; allowed: last, hourly, daily, weekly"),
        (BACKUPS, {"daily": -2}, "backup_retention: keep.daily: expected an integer >= 0, got -2"),
        ([{"id": "x", "time": "2026-12-01T02:00:00"}], {"daily": 1}, "backups[0] (id 'x'): field 'time': '2026"),
        ([*BACKUPS, {"id": "b1", "time": 0}], {"daily": 1}, "backups[4]: duplicate id 'b1' (first at backups[0])"),
        ("b1", {"daily": 1}, "backups: expected a list of backups (mappings with id and time), got str"),
    ],
)
def test_bad_input_raises_ansible_filter_error(backups: Any, keep: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as exc:
        backup_retention(backups, keep)
    assert message in str(exc.value)


def test_bad_now_raises_ansible_filter_error() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^backup_retention: now: 'tomorrow' is not an ISO-8601 time"):
        backup_retention(BACKUPS, {"daily": 1}, now="tomorrow")


# ---------------------------------------------------------------------------------------------
# A real ansible run: found by its FQCN, variables as Ansible's own types, the error reaches the user.


def _ansible(cwd: Path, expression: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_NOCOLOR": "1",
    }
    env.pop("ANSIBLE_CONFIG", None)
    argv = [str(VENV_BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local"]
    argv += ["-e", f"ansible_python_interpreter={sys.executable}", *extra, "-m", "debug", "-a", f"msg={expression}"]
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def ansible_available() -> None:
    if not (VENV_BIN / "ansible").exists():
        pytest.skip("the ansible command is not installed next to this Python")
    if not (COLLECTIONS / "ansible_collections" / "opsdeck" / "platform").exists():
        pytest.skip(".collections/ansible_collections/opsdeck/platform is missing")


@pytest.mark.usefixtures("ansible_available")
def test_ansible_run_with_vars_from_a_file(tmp_path: Path) -> None:
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text(yaml.safe_dump({"keep": {"last": 1}, "backups": BACKUPS}))
    expression = "{{ backups | opsdeck.platform.backup_retention(keep, now='2026-12-01T04:00:00Z') }}"
    result = _ansible(tmp_path, expression, "-e", f"@{vars_file}")
    assert result.returncode == 0, result.stdout + result.stderr
    msg = json.loads(result.stdout[result.stdout.index("{") :])["msg"]
    assert [e["id"] for e in msg["keep"]] == ["b2", "b1", "b0"]
    assert [e["id"] for e in msg["delete"]] == ["old"]
    assert msg["locked"] == ["b0"]
    assert msg["keep"][0]["time"] == "2026-12-01T02:00:00Z"


@pytest.mark.usefixtures("ansible_available")
def test_ansible_run_fails_with_the_message(tmp_path: Path) -> None:
    result = _ansible(tmp_path, "{{ [] | opsdeck.platform.backup_retention({'weekly': 'four'}) }}")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "backup_retention: keep.weekly: expected an integer >= 0, got 'four' (str)" in output
