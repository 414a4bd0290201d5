# SPDX-License-Identifier: GPL-3.0-or-later
"""The systemd_timers module before it asks systemd anything: bad input fails before a file is
written, the stale units are the pattern's files that the units do not name, and a host with no
unit to keep or remove is left alone without systemctl. What it does with systemd (timers
written, started, enabled, restarted and removed) is tested on a host that runs systemd, in
molecule/backup (verify.yml lists and reads the timers, removes a database and brings it back).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.opsdeck.platform.plugins.modules import systemd_timers as module


def run(args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def unit(name: str) -> dict[str, str]:
    return {"name": name, "service": "[Service]\nType=oneshot\n", "timer": "[Timer]\nOnCalendar=daily\n"}


@pytest.mark.parametrize(
    ("units", "unit_dir", "message"),
    [
        ([unit("bad name")], None, "units: 'bad name' is not a unit name"),
        ([unit("a/../b")], None, "is not a unit name"),
        ([unit("job-a"), unit("job-a")], None, "units: named twice: job-a"),
        ([unit("job-a")], "/nonexistent/units", "unit_dir: /nonexistent/units is not a directory"),
    ],
)
def test_bad_input_fails_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], units: list[dict[str, str]], unit_dir: str | None, message: str
) -> None:
    out = run({"units": units, "unit_dir": unit_dir or str(tmp_path)}, capsys)
    assert out["failed"] and message in out["msg"], out
    assert not list(tmp_path.iterdir())


def test_stale_units_are_the_matching_files_not_wanted(tmp_path: Path) -> None:
    for name in (
        "opsdeck-backup-a.service",
        "opsdeck-backup-a.timer",
        "opsdeck-backup-b.timer",
        "opsdeck-backup-b.service",
        "opsdeck-backup-c.conf",
        "other-a.timer",
    ):
        (tmp_path / name).write_text("x")
    (tmp_path / "opsdeck-backup-d.timer").mkdir()  # not a file: left alone
    stale = module._stale(str(tmp_path), ["opsdeck-backup-*"], {"opsdeck-backup-a"})
    assert stale == ["opsdeck-backup-b.service", "opsdeck-backup-b.timer"]
    assert module._stale(str(tmp_path), [], {"x"}) == []


def test_nothing_to_keep_or_remove_needs_no_systemd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no systemctl to be found
    (tmp_path / "other.timer").write_text("x")
    out = run({"units": [], "unit_dir": str(tmp_path), "prune": ["opsdeck-backup-*"]}, capsys)
    assert not out.get("failed") and not out["changed"], out
    assert (tmp_path / "other.timer").exists()


def test_units_without_systemctl_fail_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    out = run({"units": [unit("job-a")], "unit_dir": str(tmp_path)}, capsys)
    assert out["failed"] and "systemctl" in out["msg"], out
    assert not list(tmp_path.glob("job-a.*"))  # nothing written
