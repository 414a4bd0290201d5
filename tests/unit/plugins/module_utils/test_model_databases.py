# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the model's managed-database fields (databases[].managed and what only it allows)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, normalize_apps


def app(*databases: dict[str, Any]) -> dict[str, Any]:
    return {"name": "web", "image": "acme/web:1.0", "databases": list(databases)}


def db_of(database: dict[str, Any]) -> dict[str, Any]:
    return normalize_apps([app(database)])[0]["databases"][0]


def assert_finding(database: dict[str, Any], expected: str) -> None:
    with pytest.raises(ModelError) as info:
        normalize_apps([app(database)])
    pattern = re.compile(".*".join(re.escape(part) for part in expected.split("...")), re.DOTALL)
    errors = info.value.errors
    assert any(pattern.fullmatch(e) for e in errors), f"expected: {expected}\ngot:\n" + "\n".join(errors)


def test_managed_postgres_defaults() -> None:
    db = db_of({"name": "appdb", "engine": "postgres", "managed": True})
    assert db["container"] == "web-appdb-db"
    assert db["host"] is None
    assert db["version"] == "15"
    assert db["replicas"] == 0
    assert db["hosts"] == []
    assert db["host_port"] is None and db["metrics_port"] is None
    assert db["resources"] == {"cpu_cores": None, "memory_bytes": None, "memory_compose": None}
    assert db["redis"] is None
    assert db["upgrade"] is None


def test_managed_fields_normalized() -> None:
    db = db_of(
        {
            "name": "cache",
            "engine": "redis",
            "managed": True,
            "version": "7.0",
            "hosts": ["db1"],
            "host_port": 21379,
            "metrics_port": 21121,
            "resources": {"memory": "256Mi", "cpu": "500m"},
            "redis": {"maxmemory_policy": "allkeys-lru"},
        }
    )
    assert db["resources"] == {"cpu_cores": 0.5, "memory_bytes": 268435456, "memory_compose": "256m"}
    assert db["redis"] == {"appendonly": True, "maxmemory_policy": "allkeys-lru"}
    assert db["user"] is None
    assert (db["hosts"], db["host_port"], db["metrics_port"]) == (["db1"], 21379, 21121)


def test_integer_version_is_a_string() -> None:
    assert db_of({"name": "a", "engine": "postgres", "managed": True, "version": 16})["version"] == "16"


def test_external_database_has_no_runtime_fields() -> None:
    db = db_of({"name": "appdb", "engine": "postgres", "host": "db.example.com"})
    assert db["container"] is None and db["version"] is None and db["redis"] is None


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        (
            {"name": "a", "engine": "cassandra", "managed": True},
            "app 'web': field 'databases[0].engine': 'cassandra' is not one of postgres, mysql, mariadb, "
            "mongodb, redis",
        ),
        (
            {"name": "a", "engine": "mongodb", "managed": True},
            "app 'web': field 'databases[0].managed': the collection cannot run a mongodb server (no MongoDB "
            "server can be had ...); managed engines: postgres, mariadb, redis; set managed: false ...",
        ),
        (
            {"name": "a", "engine": "mysql", "managed": True},
            "app 'web': field 'databases[0].managed': the collection cannot run a mysql server (Debian ships no "
            "MySQL server; run engine: mariadb (MySQL-compatible)); ...",
        ),
        (
            {"name": "a", "engine": "redis", "managed": True, "replicas": 1},
            "app 'web': field 'databases[0].replicas': redis has no replication support here (streaming "
            "replication is for postgres); use replicas: 0",
        ),
        (
            {"name": "a", "engine": "mariadb", "managed": True, "replicas": 2},
            "app 'web': field 'databases[0].replicas': mariadb has no replication support here...",
        ),
        (
            {"name": "App-DB", "engine": "postgres", "managed": True},
            "app 'web': field 'databases[0].name': 'App-DB' is not a valid postgres database name (lowercase ...)",
        ),
        (
            {"name": "my db", "engine": "redis", "managed": True},
            "app 'web': field 'databases[0].name': 'my db' cannot name the container of a managed database ...",
        ),
        (
            {"name": "a", "engine": "postgres", "replicas": 1},
            "app 'web': field 'databases[0].replicas': applies to a database this collection runs; "
            "set managed: true or remove it",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "host": "db1"},
            "app 'web': field 'databases[0].host': is derived for a managed database ...; remove host",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "redis": {"appendonly": True}},
            "app 'web': field 'databases[0].redis': applies to redis databases only, not postgres",
        ),
        (
            {"name": "a", "engine": "redis", "managed": True, "redis": {"maxmemory_policy": "lru"}},
            "app 'web': field 'databases[0].redis.maxmemory_policy': 'lru' is not one of noeviction, allkeys-lru...",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "resources": {"memory": "16Mi"}},
            "app 'web': field 'databases[0].resources.memory': '16Mi' is below 32Mi, too little for a database server",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "resources": {"memory": "lots"}},
            "app 'web': field 'databases[0].resources.memory': ...",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "version": 10.1},
            "app 'web': field 'databases[0].version': 10.1 is ...",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "version": "latest"},
            "app 'web': field 'databases[0].version': 'latest' ...",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "upgrade": "in_place"},
            "app 'web': field 'databases[0].upgrade': 'in_place' is not one of dump_restore...",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "replicas": 6},
            "app 'web': field 'databases[0].replicas': 6 ...",
        ),
        (
            {"name": "a", "engine": "postgres", "managed": True, "host_port": 65535, "replicas": 1},
            "app 'web': field 'databases[0].host_port': 65535 + replicas is above 65535 ...",
        ),
        (
            {"name": "a", "engine": "redis", "managed": True, "user": "app"},
            "app 'web': field 'databases[0].user': a managed redis has no user accounts here ...",
        ),
    ],
)
def test_managed_database_findings(database: dict[str, Any], expected: str) -> None:
    assert_finding(database, expected)


def test_password_is_never_shown() -> None:
    with pytest.raises(ModelError) as info:
        normalize_apps([app({"name": "a", "engine": "postgres", "managed": True, "password": 12345678})])
    assert "12345678" not in str(info.value)
