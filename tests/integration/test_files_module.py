# SPDX-License-Identifier: GPL-3.0-or-later
"""Module opsdeck.platform.files through ``ansible`` on localhost, on real files in a temporary
directory: it makes directories and writes files with their owner, group and mode; a second run
changes nothing; check mode says what would change and changes nothing; a file changed by hand
(content or mode) is put back, and only it; bad input fails before anything is written; diff mode
shows the content unless told not to. Filter file_entries feeds it from a mapping.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.filter.files import file_entries

ROOT = Path(__file__).resolve().parents[2]


def files(args: dict[str, Any], *flags: str) -> dict[str, Any]:
    """``ansible localhost -m opsdeck.platform.files`` with the json callback: the host's result."""
    env = {
        **os.environ,
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
    }
    argv = [str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local"]
    argv += ["-e", f"ansible_python_interpreter={sys.executable}"]
    argv += ["-m", "opsdeck.platform.files", "-a", json.dumps(args), *flags]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=ROOT, timeout=120)
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible printed no JSON (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Any]:
    root = tmp_path / "conf"
    return {
        "directories": [
            {"path": str(root), "mode": "0755"},
            {"path": str(root / "data" / "private"), "owner": "65534", "group": "65534", "mode": "0750"},
        ],
        "files": [
            {"path": str(root / "a.json"), "content": '{"a": 1}\n', "mode": "0644"},
            {"path": str(root / "data" / "private" / "b.txt"), "content": "b\n", "owner": "65534", "mode": "0600"},
        ],
    }


def test_writes_once_then_changes_nothing(tree: dict[str, Any]) -> None:
    root = Path(tree["directories"][0]["path"])
    first = files(tree)
    assert first["changed"] is True and not first.get("failed"), first
    assert (root / "a.json").read_text() == '{"a": 1}\n'
    assert (root / "data" / "private" / "b.txt").read_text() == "b\n"
    assert mode(root / "data" / "private") == "0o750" and owner(root / "data" / "private") == (65534, 65534)
    assert mode(root / "data" / "private" / "b.txt") == "0o600"
    assert owner(root / "data" / "private" / "b.txt")[0] == 65534
    assert mode(root / "data") == "0o755", "a parent made on the way gets 0755"
    assert sorted(first["written"]) == sorted(f["path"] for f in tree["files"])
    assert not list(root.rglob(".opsdeck-*")), "a temporary file was left behind"

    second = files(tree)
    assert second["changed"] is False and second["changed_paths"] == [], second


def test_check_mode_reports_and_writes_nothing(tree: dict[str, Any]) -> None:
    root = Path(tree["directories"][0]["path"])
    dry = files(tree, "--check", "--diff")
    assert dry["changed"] is True
    assert set(dry["changed_paths"]) == {d["path"] for d in tree["directories"]} | {f["path"] for f in tree["files"]}
    assert not root.exists(), "check mode made the tree"
    afters = [d.get("after") for d in dry["diff"]]
    assert '{"a": 1}\n' in afters, dry["diff"]

    files(tree)
    (root / "a.json").write_text("hand edit\n")
    dry = files(tree, "--check")
    assert dry["changed_paths"] == [str(root / "a.json")]
    assert (root / "a.json").read_text() == "hand edit\n", "check mode wrote the file"


def test_a_file_changed_by_hand_is_put_back_and_only_it(tree: dict[str, Any]) -> None:
    root = Path(tree["directories"][0]["path"])
    files(tree)
    (root / "a.json").write_text("hand edit\n")
    os.chmod(root / "data" / "private" / "b.txt", 0o644)
    private_inode = (root / "data" / "private" / "b.txt").stat().st_ino
    out = files(tree, "--diff")
    assert sorted(out["changed_paths"]) == sorted([str(root / "a.json"), str(root / "data" / "private" / "b.txt")])
    assert out["written"] == [str(root / "a.json")], "a file whose content is right is not rewritten"
    assert (root / "a.json").read_text() == '{"a": 1}\n'
    assert mode(root / "data" / "private" / "b.txt") == "0o600"
    assert (root / "data" / "private" / "b.txt").stat().st_ino == private_inode
    content = next(d for d in out["diff"] if d.get("after_header") == str(root / "a.json"))
    assert content["before"] == "hand edit\n" and content["after"] == '{"a": 1}\n'


def test_diff_content_false_hides_the_content(tree: dict[str, Any]) -> None:
    out = files({**tree, "diff_content": False}, "--diff")
    shown = json.dumps(out["diff"])
    assert '{\\"a\\": 1}' not in shown and "b\\n" not in shown, shown
    assert "content hidden" in shown


def test_bad_input_fails_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    out = files(
        {
            "directories": [{"path": str(tmp_path / "new")}],
            "files": [{"path": "relative.txt", "content": "x"}],
        }
    )
    assert out.get("failed") and "'relative.txt' is not an absolute path" in out["msg"], out
    assert not (tmp_path / "new").exists()
    out = files({"directories": [{"path": str(tmp_path / "taken")}]})
    assert out.get("failed") and "exists and is not a directory" in out["msg"], out
    out = files({"files": [{"path": str(tmp_path / "missing" / "f"), "content": "x"}]})
    assert out.get("failed") and "does not exist" in out["msg"], out


def test_file_entries_feeds_the_module_from_a_mapping(tmp_path: Path) -> None:
    entries = file_entries(
        {"apps": [{"targets": ["h:1"]}], "nodes": []}, str(tmp_path / "{}.json"), as_json=True, mode="0640"
    )
    assert entries[0] == {
        "path": str(tmp_path / "apps.json"),
        "content": '[\n  {\n    "targets": [\n      "h:1"\n    ]\n  }\n]\n',
        "mode": "0640",
    }
    out = files({"files": entries})
    assert out["changed"] is True
    assert json.loads((tmp_path / "nodes.json").read_text()) == []
    assert mode(tmp_path / "apps.json") == "0o640"


def test_a_rewritten_file_keeps_the_owner_and_mode_the_entry_leaves_unset(tmp_path: Path) -> None:
    target = tmp_path / "kept"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    os.chown(target, 65534, 65534)
    out = files({"files": [{"path": str(target), "content": "new\n"}]})
    assert out["written"] == [str(target)]
    assert target.read_text() == "new\n"
    assert mode(target) == "0o640" and owner(target) == (65534, 65534)


def test_validate_checks_each_new_file_and_replaces_none_unless_all_pass(tmp_path: Path) -> None:
    """validate with a real checker (python's json module): a file that fails leaves every file of
    the task as it was; files whose content is right are not checked again."""
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"old": true}\n')
    bad.write_text('{"old": true}\n')
    check = f"{sys.executable} -m json.tool %s"
    out = files(
        {
            "files": [{"path": str(good), "content": '{"new": 1}\n'}, {"path": str(bad), "content": "{not json\n"}],
            "validate": check,
        }
    )
    assert out.get("failed") and f"{bad} failed its check" in out["msg"], out
    assert good.read_text() == '{"old": true}\n', "a file was replaced although another failed its check"
    assert bad.read_text() == '{"old": true}\n'
    assert not list(tmp_path.glob(".opsdeck-*")), "a temporary file was left behind"

    out = files(
        {
            "files": [{"path": str(good), "content": '{"new": 1}\n'}, {"path": str(bad), "content": '{"fixed": 1}\n'}],
            "validate": check,
        }
    )
    assert out["changed"] and sorted(out["written"]) == sorted([str(good), str(bad)]), out
    assert json.loads(bad.read_text()) == {"fixed": 1}

    # unchanged content is not checked: a checker that always fails changes nothing and passes
    out = files({"files": [{"path": str(good), "content": '{"new": 1}\n'}], "validate": "false %s"})
    assert not out.get("failed") and not out["changed"], out

    out = files({"files": [{"path": str(good), "content": "x"}], "validate": "true"})
    assert out.get("failed") and "has no %s" in out["msg"], out
    assert good.read_text() == '{"new": 1}\n'


def test_absent_removes_files_once_and_refuses_directories(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text("{}\n")
    dry = files({"absent": [str(old), str(tmp_path / "never")]}, "--check")
    assert dry["changed_paths"] == [str(old)] and old.exists(), dry
    out = files({"absent": [str(old), str(tmp_path / "never")]})
    assert out["changed_paths"] == [str(old)] and not old.exists(), out
    assert files({"absent": [str(old)]})["changed"] is False
    (tmp_path / "dir").mkdir()
    out = files({"absent": [str(tmp_path / "dir")]})
    assert out.get("failed") and "is a directory" in out["msg"], out
    assert (tmp_path / "dir").is_dir()


def test_prune_removes_what_the_task_no_longer_writes_and_only_that(tmp_path: Path) -> None:
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / "gone.py").write_text("old\n")
    (engine / "notes.txt").write_text("kept: not matched\n")
    (engine / "sub.py").mkdir()  # a directory that matches stays
    wanted = {"files": [{"path": str(engine / "cli.py"), "content": "new\n"}], "prune": [f"{engine}/*.py"]}

    dry = files(wanted, "--check")
    assert sorted(dry["changed_paths"]) == [str(engine / "cli.py"), str(engine / "gone.py")], dry
    assert (engine / "gone.py").exists() and not (engine / "cli.py").exists()

    out = files(wanted)
    assert sorted(out["changed_paths"]) == [str(engine / "cli.py"), str(engine / "gone.py")], out
    assert sorted(p.name for p in engine.iterdir()) == ["cli.py", "notes.txt", "sub.py"]
    assert files(wanted)["changed"] is False

    out = files({"prune": [f"{tmp_path}/*/x.py"]})
    assert out.get("failed") and "last part only" in out["msg"], out
