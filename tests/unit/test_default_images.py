# SPDX-License-Identifier: GPL-3.0-or-later
"""Every image a role runs by default is upstream (or built by the collection) and in docs/images.md.

The defaults are read from the roles' defaults files and from the module_utils constants that
carry defaults of their own (k8s_databases, k8s_monitoring), never listed here by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_databases, k8s_monitoring

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "images.md"
RIG = ROOT / "tests" / "rig" / "images"
BUILT = "opsdeck/backup-engine"  # the one image the collection builds (playbooks/images.yml)
_ROW = re.compile(
    r"^\| `(?P<image>[^`]+)` \| (?P<variable>[^|]+) \| (?P<upstream>[^|]+) \| (?P<licence>[^|]+) \| (?P<rig>.+) \|$"
)


def _images(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _images(v, f"{where}.{k}")]
    return [(where, str(value))]


def role_defaults() -> list[tuple[str, str]]:
    """(variable, image) of every role default whose name ends in _image or _images."""
    found = []
    for path in sorted(ROOT.glob("roles/*/defaults/main.yml")):
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if key.endswith(("_image", "_images")):
                found += _images(value, key)
    return found


def module_defaults() -> list[tuple[str, str]]:
    return [
        *_images(k8s_databases.IMAGES, "k8s_databases.IMAGES"),
        *_images(k8s_databases.EXPORTER_IMAGES, "k8s_databases.EXPORTER_IMAGES"),
        ("k8s_monitoring.DEFAULTS.blackbox_image", k8s_monitoring.DEFAULTS["blackbox_image"]),
    ]


def table() -> dict[str, dict[str, str]]:
    rows = {}
    for line in TABLE.read_text().splitlines():
        m = _ROW.match(line)
        if m and m["image"] != "Image (default)":
            rows[m["image"]] = {k: v.strip() for k, v in m.groupdict().items()}
    return rows


def _table_key(image: str) -> str:
    """The built image's default is a template of its tag: it is listed by its repository."""
    return f"{BUILT}:<version>-<digest>" if "backup_engine_image" in image else image


def test_the_table_lists_every_default_and_nothing_else() -> None:
    rows = table()
    defaults = {_table_key(image) for _var, image in role_defaults() + module_defaults()}
    assert len(rows) >= 15, "the table of docs/images.md was not parsed"
    assert sorted(defaults - set(rows)) == [], "defaults missing from docs/images.md"
    assert sorted(set(rows) - defaults) == [], "rows of docs/images.md that no default uses"


@pytest.mark.parametrize("variable,image", role_defaults() + module_defaults(), ids=str)
def test_each_default_is_upstream_and_pinned(variable: str, image: str) -> None:
    if "backup_engine_image" in image:
        return  # the collection's own image: its tag is the filter's (tests/unit/plugins/filter)
    name, _sep, tag = image.rpartition(":")
    assert name and tag and tag != "latest" and "{" not in image, f"{variable}: {image!r} is not pinned"
    assert not name.startswith("opsdeck/"), (
        f"{variable}: {image!r} names opsdeck/, which only the test rig builds (docs/images.md)"
    )


def test_the_kubernetes_blackbox_default_is_the_roles() -> None:
    """(The databases' module defaults are held to the role's by test_k8s_databases.)"""
    assert k8s_monitoring.DEFAULTS["blackbox_image"] == dict(role_defaults())["monitoring_blackbox_exporter_image"]


@pytest.mark.parametrize("image", sorted(table()))
def test_a_go_built_rig_image_is_the_version_the_table_says(image: str) -> None:
    rig = table()[image]["rig"]
    m = re.match(r"`(?P<dir>[a-z0-9-]+)`: Go module (?P<module>\S+) (?P<version>v[0-9][^ ]*)", rig)
    if not m:
        assert "Debian bookworm" in rig or "not run" in rig or image.startswith(BUILT), f"{image}: rig column {rig!r}"
        return
    version_file = RIG / m["dir"] / "VERSION"
    assert version_file.is_file(), f"{image}: the rig builds {m['dir']} without a VERSION file"
    assert version_file.read_text().strip() == m["version"], f"{image}: the table says {m['version']}"
