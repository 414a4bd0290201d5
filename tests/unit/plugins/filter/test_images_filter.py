# SPDX-License-Identifier: GPL-3.0-or-later
"""backup_engine_image: the tag follows the build's inputs, and only them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.filter.images import ROOT, FilterModule

image = FilterModule().filters()["backup_engine_image"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the collection's image inputs (and galaxy.yml for the version)."""
    for rel in ("images/backup-engine", "plugins/module_utils/backup"):
        shutil.copytree(ROOT / rel, tmp_path / rel, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "galaxy.yml", tmp_path / "galaxy.yml")
    return tmp_path


def test_the_reference_is_the_version_and_a_digest_and_names_no_registry(tree: Path) -> None:
    out = image("", root=str(tree))
    version = next(
        line.split(":", 1)[1].strip()
        for line in (tree / "galaxy.yml").read_text().splitlines()
        if line.startswith("version:")
    )
    assert out["repository"] == "opsdeck/backup-engine"
    assert out["tag"].startswith(f"{version}-") and len(out["tag"]) == len(version) + 13
    assert out["reference"] == f"opsdeck/backup-engine:{out['tag']}"
    assert out["dockerfile"] == "images/backup-engine/Dockerfile"
    assert (
        "plugins/module_utils/backup/pipeline.py" in out["files"] and "images/backup-engine/Dockerfile" in out["files"]
    )
    # what the Dockerfile COPYs is in the context (Dockerfile.dockerignore lets these through)
    assert {"images/backup-engine/opsdeck-backup.py", "images/backup-engine/opsdeck-backup-job.py"} <= set(out["files"])
    assert image("", root=str(tree)) == out  # same files, same tag


def test_a_changed_engine_file_or_base_is_a_new_tag_and_an_unrelated_file_is_not(tree: Path) -> None:
    before = image("", root=str(tree))["tag"]
    (tree / "plugins/module_utils/backup/notes.txt").write_text("not an input\n")
    assert image("", root=str(tree))["tag"] == before
    assert image("", root=str(tree), base="registry.example.com/debian:bookworm-slim")["tag"] != before
    engine = tree / "plugins/module_utils/backup/pipeline.py"
    engine.write_text(engine.read_text() + "\n# changed\n")
    assert image("", root=str(tree))["tag"] != before


def test_an_installed_collection_takes_its_version_from_manifest_json(tree: Path) -> None:
    (tree / "galaxy.yml").unlink()
    (tree / "MANIFEST.json").write_text('{"collection_info": {"version": "9.8.7"}}')
    assert image("", root=str(tree))["tag"].startswith("9.8.7-")


def test_missing_inputs_and_a_bad_base_are_named(tree: Path) -> None:
    with pytest.raises(AnsibleFilterError, match="opsdeck_backup_engine_base"):
        image("", root=str(tree), base="")
    (tree / "images/backup-engine/opsdeck-backup.py").unlink()
    with pytest.raises(AnsibleFilterError, match=re.escape("images/backup-engine/opsdeck-backup.py is missing")):
        image("", root=str(tree))
