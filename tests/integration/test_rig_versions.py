# SPDX-License-Identifier: GPL-3.0-or-later
"""Each image of the test rig reports the version of the role default it stands in for.

The rig builds its stand-ins from the Go module proxy at the default's release
(tests/rig/images/<dir>/VERSION). Where no source can be had it runs Debian bookworm's package:
DEBIAN below states the version that package reports and why the rig runs it, and the test fails
when that version changes or when an exception (another release than the default's) is no longer
needed. The defaults are read from the roles' defaults files when the test runs.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Check:
    name: str  # test id: the image, or the second binary of an image
    image: str  # key of the rig's images.json (tests/rig/images.yml)
    default: str  # role/variable[/key...] of the role default it stands in for
    pattern: str  # finds the version in the output (group "v")
    entrypoint: str | None = None  # the binary, when it is not the image's entrypoint
    argv: tuple[str, ...] = ("--version",)  # what follows the image on `docker run`


def _stamped(image: str, program: str, default: str, entrypoint: str | None = None) -> Check:
    """A binary stamped with github.com/prometheus/common/version: 'PROGRAM, version X (...)'."""
    name = entrypoint.rpartition("/")[2] if entrypoint else image
    return Check(name, image, default, rf"^{program}, version (?P<v>\S+)", entrypoint)


CHECKS = [
    _stamped("prometheus", "prometheus", "monitoring/monitoring_prometheus_image"),
    _stamped("prometheus", "promtool", "monitoring/monitoring_prometheus_image", "/bin/promtool"),
    _stamped("alertmanager", "alertmanager", "monitoring/monitoring_alertmanager_image"),
    _stamped("alertmanager", "amtool", "monitoring/monitoring_alertmanager_image", "/bin/amtool"),
    _stamped("node-exporter", "node_exporter", "monitoring/monitoring_node_exporter_image"),
    _stamped("blackbox-exporter", "blackbox_exporter", "monitoring/monitoring_blackbox_exporter_image"),
    _stamped("postgres-exporter", "postgres_exporter", "database/database_exporter_images/postgres"),
    _stamped("mysqld-exporter", "mysqld_exporter", "database/database_exporter_images/mariadb"),
    _stamped("nginx-exporter", "nginx_exporter", "edge/edge_exporter_image"),
    Check(
        "redis-exporter", "redis-exporter", "database/database_exporter_images/redis", r"Metrics Exporter (?P<v>\S+)"
    ),
    Check(
        "jaeger", "jaeger", "monitoring/monitoring_jaeger_image", r'"gitVersion":\s*"(?P<v>[^"]*)"', argv=("version",)
    ),
    Check(
        "victorialogs",
        "victorialogs",
        "logging/logging_victorialogs_image",
        r"^victoria-logs-(?P<v>\S+)$",
        argv=("-version",),
    ),
    Check("otelcol", "otelcol", "logging/logging_shipper_image", r"^otelcol-contrib version (?P<v>\S+)"),
    # The servers' defaults are keyed by major line: the line of the version the rig reports.
    Check(
        "postgresql",
        "postgresql",
        "database/database_images/postgres",
        r"^postgres \(PostgreSQL\) (?P<v>\S+)",
        "postgres",
    ),
    Check("mariadb", "mariadb", "database/database_images/mariadb", r"\bVer (?P<v>[0-9.]+)-MariaDB", "mariadbd"),
    Check("redis", "redis", "database/database_images/redis", r"^Redis server v=(?P<v>\S+)", "redis-server"),
    Check("nginx", "nginx", "edge/edge_nginx_image", r"^nginx version: nginx/(?P<v>\S+)", "nginx", ("-v",)),
]


@dataclass(frozen=True)
class Debian:
    version: str  # what bookworm's package in the rig's image reports
    why: str  # why the rig runs Debian's package
    same_release: bool  # whether that is the release of the role's default


DEBIAN = {
    "postgresql": Debian("15.18", "no PostgreSQL server builds from the Go module proxy", same_release=True),
    "mariadb": Debian("10.11.18", "no MariaDB server builds from the Go module proxy", same_release=True),
    "redis": Debian(
        "7.0.15",
        "no Redis server builds from the Go module proxy; 7.0 is the last BSD-licensed line",
        same_release=True,
    ),
    "nginx": Debian(
        "1.22.1",
        "no nginx builds from the Go module proxy and bookworm ships 1.22, not the default's stable line: "
        "the edge role's configuration is checked with nginx -t on 1.22 and uses nothing newer",
        same_release=False,
    ),
    "mysqld-exporter": Debian(
        "0.14.0",
        "the Go module proxy refuses github.com/prometheus/mysqld_exporter v0.17.2 (403); the database role's "
        "login, an option file given with --config.my-cnf, is read by both releases",
        same_release=False,
    ),
}

# Rig images that stand in for no role default: test scaffolding, or built from the product's
# own recipe (its tag is checked by the backup_engine_image filter's tests).
NOT_A_DEFAULT = {
    "base": "the debootstrap base of every rig image",
    "host": "a molecule host",
    "dbhost": "a molecule host",
    "dockerhost": "a molecule host",
    "pebble": "the ACME test server of the edge scenario",
    "s3": "the test S3 server",
    "sampleapp-v1": "the tests' application",
    "sampleapp-v2": "the tests' application",
    "sampleapp-v3": "the tests' application",
    "database-client-v1": "the database scenario's application",
    "database-client-v2": "the database scenario's application",
    "backup-engine": "the collection's own recipe (images/backup-engine/), not an upstream image",
}

_XFAIL: dict[str, str] = {}


def _params() -> list:
    marks = {name: pytest.mark.xfail(strict=True, reason=reason) for name, reason in _XFAIL.items()}
    return [pytest.param(c, id=c.name, marks=[marks[c.name]] if c.name in marks else []) for c in CHECKS]


def _defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def _release(version: str) -> str:
    """The release a tag or a version string names: no leading v, no distribution variant."""
    return re.sub(r"-(bookworm|bullseye|trixie|alpine[0-9.]*)$", "", version.removeprefix("v"))


def _default_image(check: Check, reported: str) -> str:
    role, var, *keys = check.default.split("/")
    value: Any = _defaults(role)[var]
    for key in keys:
        value = value[key]
    if isinstance(value, dict):  # keyed by major line
        lines = [k for k in value if reported == str(k) or reported.startswith(f"{k}.")]
        assert lines, f"{check.name}: the rig runs {reported}; {role}'s {var} has no default of its line: {value}"
        value = value[lines[0]]
    return str(value)


def _reported(ref: str, check: Check) -> str:
    argv = ["docker", "run", "--rm", "--network", "none"]
    if check.entrypoint:
        argv += ["--entrypoint", check.entrypoint]
    proc = subprocess.run([*argv, ref, *check.argv], capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    m = re.search(check.pattern, out, re.M)
    assert m, f"{check.name}: no version in the output of {' '.join(check.argv)} (exit {proc.returncode}): {out[-800:]}"
    return m["v"]


def test_every_rig_image_is_checked_or_stands_for_no_default():
    rig = {"base", *(yaml.safe_load((ROOT / "tests" / "rig" / "images.yml").read_text())["images"])}
    checked = {c.image for c in CHECKS}
    assert sorted(rig - checked - set(NOT_A_DEFAULT)) == [], "rig images with no version check here"
    assert sorted((checked | set(NOT_A_DEFAULT)) - rig) == [], "images named here that the rig does not build"
    assert set(DEBIAN) <= checked


@pytest.mark.parametrize("check", _params())
def test_rig_image_reports_the_role_default_version(images, check: Check):
    ref = images.get(check.image)
    assert ref, f"the rig built no {check.image} image: run `make rig`"
    reported = _reported(ref, check)
    default = _default_image(check, reported)
    default_release = _release(default.rpartition(":")[2])
    debian = DEBIAN.get(check.image)
    if debian is None:
        assert _release(reported) == default_release, (
            f"{check.name}: the rig's image reports {reported}, the role default is {default}: build the rig's "
            f"at the default's release (tests/rig/images.yml, its directory's VERSION)"
        )
        return
    assert reported == debian.version, (
        f"{check.name}: Debian's package now reports {reported}, not {debian.version}: update DEBIAN here "
        "and docs/images.md"
    )
    if debian.same_release:
        assert _release(reported) == default_release, (
            f"{check.name}: the default is {default}, bookworm's package {reported}: no longer the same release; "
            "say why the rig may differ (DEBIAN, docs/images.md)"
        )
    else:
        assert _release(reported) != default_release, (
            f"{check.name}: bookworm's {reported} is the default's release ({default}) now: the exception "
            f"({debian.why}) is no longer needed"
        )
