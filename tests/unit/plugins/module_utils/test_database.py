# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of managed databases: placement, compose definitions, secrets, versions, monitoring."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from ansible_collections.opsdeck.platform.plugins.module_utils import database as d
from ansible_collections.opsdeck.platform.plugins.module_utils.compose import render_definition
from ansible_collections.opsdeck.platform.plugins.module_utils.compose_project import dump_definition
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps

IMAGES = {"postgres": {"15": "opsdeck/postgresql:15", "16": "opsdeck/postgresql:16"}, "redis": {"7.0": "r:7"}}
EXPORTERS = {"postgres": "pe:1", "redis": "re:1", "mariadb": "me:1"}
HOSTS = [
    {"name": "a", "groups": ["docker_hosts", "db"]},
    {"name": "b", "groups": ["docker_hosts", "db"]},
    {"name": "c", "groups": ["docker_hosts"]},
]
PG = {
    "name": "appdb",
    "engine": "postgres",
    "managed": True,
    "replicas": 1,
    "hosts": ["db"],
    "host_port": 21432,
    "metrics_port": 21187,
    "resources": {"memory": "1Gi", "cpu": 1},
}
REDIS = {"name": "cache", "engine": "redis", "managed": True, "hosts": ["a"], "resources": {"memory": "256Mi"}}


def model(*dbs: dict[str, Any], **fields: Any) -> list[dict[str, Any]]:
    return normalize_apps([{"name": "shop", "image": "acme/shop:1", "hosts": ["c"], "databases": list(dbs), **fields}])


def plan(apps: list[dict[str, Any]], host: str, **kwargs: Any) -> dict[str, Any]:
    return d.plan(apps, HOSTS, host, images=kwargs.pop("images", IMAGES), exporter_images=EXPORTERS, **kwargs)


def test_placement_primary_first_match_replicas_next() -> None:
    apps = model(PG)
    assert d.placement(apps[0], 0, HOSTS) == {"primary": "a", "replicas": ["b"]}


def test_placement_defaults_to_the_apps_hosts() -> None:
    apps = model({**PG, "hosts": [], "replicas": 0})
    assert d.placement(apps[0], 0, HOSTS) == {"primary": "c", "replicas": []}


def test_placement_needs_a_host_per_replica() -> None:
    apps = model({**PG, "replicas": 2})
    with pytest.raises(d.DatabaseError) as info:
        d.placement(apps[0], 0, HOSTS)
    assert str(info.value) == (
        "app 'shop': field 'databases[0].replicas': the primary and 2 replicas, each on its own host, need "
        "3 docker hosts matching databases[0].hosts (db); found 2: a, b"
    )


def test_plan_per_host() -> None:
    apps = model(PG, REDIS)
    a, b, c = (plan(apps, h) for h in "abc")
    assert [p["name"] for p in a["projects"]] == ["shop-appdb-db", "shop-cache-db"]
    assert [(p["name"], p["role"], p["primary_host"]) for p in b["projects"]] == [
        ("shop-appdb-replica-1", "replica", "a")
    ]
    assert c["projects"] == []
    assert c["clients"] == [
        {
            "app": "shop",
            "databases": [{"name": "appdb", "primary": "a"}, {"name": "cache", "primary": "a"}],
            "given": [],
        }
    ]
    assert a["networks"] == b["networks"] == c["networks"] == ["shop-databases"]
    assert a["clients"] == [] and b["clients"] == []


def test_plan_collects_every_error_of_every_host() -> None:
    apps = model({**PG, "replicas": 3}, {**REDIS, "version": "6.2"})
    with pytest.raises(d.DatabaseError) as info:
        plan(apps, "c")
    assert len(info.value.errors) == 2
    assert info.value.errors[1] == (
        "app 'shop': field 'databases[1].version': no redis image for version '6.2' in database_images.redis "
        "(versions with an image: 7.0)"
    )


def test_primary_definition() -> None:
    apps = model(PG)
    compose = d.definition(apps[0], 0, replica=0, images=IMAGES, exporter_images=EXPORTERS, registry="127.0.0.1:5000")
    server, exporter = compose["services"]["server"], compose["services"]["exporter"]
    assert server["image"] == "127.0.0.1:5000/opsdeck/postgresql:15"
    assert server["container_name"] == "shop-appdb-db"
    assert compose["volumes"]["data"]["name"] == "shop-appdb-db-data-15"
    assert server["volumes"] == [{"type": "volume", "source": "data", "target": "/var/lib/postgresql/data"}]
    assert "shared_buffers=256MB" in server["command"] and "effective_cache_size=768MB" in server["command"]
    assert server["deploy"]["resources"]["limits"] == {"pids": 1024, "memory": "1g", "cpus": "1.0"}
    assert server["ports"] == [{"target": 5432, "published": "21432", "host_ip": "127.0.0.1", "protocol": "tcp"}]
    assert exporter["ports"][0]["published"] == "21187" and exporter["ports"][0]["target"] == 9187
    assert server["read_only"] and server["cap_drop"] == ["ALL"]
    assert compose["networks"]["app"] == {"name": "shop-databases", "external": True}
    assert server["env_file"] == [{"path": "secrets.env", "required": True}]
    assert exporter["env_file"] == [{"path": "exporter.env", "required": True}]


def test_replica_definition_clones_the_primary_without_a_password_in_argv() -> None:
    apps = model(PG)
    compose = d.definition(apps[0], 0, replica=1, images=IMAGES, exporter_images=EXPORTERS)
    server = compose["services"]["server"]
    assert server["container_name"] == "shop-appdb-replica-1"
    assert server["environment"]["PRIMARY_HOST"] == "shop-appdb-db"
    assert server["ports"][0]["published"] == "21433"
    assert compose["services"]["exporter"]["ports"][0]["published"] == "21188"
    script = server["entrypoint"][2]
    assert "pg_basebackup" in script and '"$$REPLICATION_PASSWORD"' in script
    # Compose reads $$ as a literal $: nothing is interpolated from the controller's environment
    assert re.search(r"(?<!\$)\$(?!\$)", script) is None


def test_replica_upstream_by_address() -> None:
    apps = model(PG)
    out = plan(apps, "b", addresses={"a": "10.0.0.1"})
    env = out["projects"][0]["definition"]["services"]["server"]["environment"]
    assert (env["PRIMARY_HOST"], env["PRIMARY_PORT"]) == ("10.0.0.1", "21432")


def test_replica_upstream_by_address_needs_host_port() -> None:
    apps = model({k: v for k, v in PG.items() if k != "host_port"})
    with pytest.raises(d.DatabaseError, match=r"field 'databases\[0\].host_port': a replica on another host"):
        plan(apps, "b", addresses={"a": "10.0.0.1"})


def test_redis_definition() -> None:
    apps = model({**REDIS, "redis": {"maxmemory_policy": "allkeys-lru"}})
    server = d.definition(apps[0], 0, replica=0, images=IMAGES, exporter_images=EXPORTERS)["services"]["server"]
    args = server["command"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "allkeys-lru"
    assert args[args.index("--maxmemory") + 1] == str(256 * 1024 * 1024 * 3 // 4)
    assert "requirepass" in server["entrypoint"][2] and "$$REDIS_PASSWORD" in server["entrypoint"][2]


def test_redis_without_aof() -> None:
    apps = model({**REDIS, "redis": {"appendonly": False}})
    args = d.definition(apps[0], 0, replica=0, images=IMAGES, exporter_images=EXPORTERS)["services"]["server"][
        "command"
    ]
    assert args[args.index("--appendonly") + 1] == "no"
    assert "--maxmemory-policy" in args and args[args.index("--maxmemory-policy") + 1] == "noeviction"


def test_mariadb_definition() -> None:
    apps = model({"name": "shopdb", "engine": "mariadb", "managed": True, "resources": {"memory": "2Gi"}}, hosts=[])
    images = {"mariadb": {"10.11": "m:10.11"}}
    server = d.definition(apps[0], 0, replica=0, images=images, exporter_images=EXPORTERS)["services"]["server"]
    assert "--innodb-buffer-pool-size=1024M" in server["command"]
    assert server["environment"]["MARIADB_USER"] == "shopdb_app"
    # server and clients find the socket in /tmp through a mounted option file (clients ignore
    # MYSQL_UNIX_PORT when an option file names a socket)
    assert server["read_only"] is True and server["tmpfs"] == ["/tmp"]
    mount = [v for v in server["volumes"] if v["type"] == "bind"]
    assert mount == [
        {"type": "bind", "source": "./" + d.MARIADB_OPTION_FILE, "target": d.MARIADB_OPTION_PATH, "read_only": True}
    ]
    files = d.exporter_files({"engine": "mariadb"})
    assert "socket = /tmp/mysqld.sock" in files[d.MARIADB_OPTION_FILE].splitlines()


@pytest.mark.parametrize(
    ("engine", "memory", "expected"),
    [
        ("postgres", None, {}),
        ("postgres", 512 * d.MIB, {"shared_buffers": "128MB", "effective_cache_size": "384MB"}),
        ("mariadb", 64 * d.MIB, {"innodb_buffer_pool_size": "32M"}),
        ("redis", 100 * d.MIB, {"maxmemory": str(75 * d.MIB)}),
    ],
)
def test_memory_settings(engine: str, memory: int | None, expected: dict[str, str]) -> None:
    assert d.memory_settings(engine, memory) == expected


def test_definition_renders_as_yaml_compose_reads() -> None:
    apps = model(PG)
    text = dump_definition(d.definition(apps[0], 0, replica=1, images=IMAGES, exporter_images=EXPORTERS))
    assert yaml.safe_load(text)["services"]["server"]["healthcheck"]["test"][0] == "CMD"


CREDS = {"admin": "adm'in", "app": "ap p@ss", "replication": "rep", "exporter": "exp"}


def test_project_secrets_per_engine() -> None:
    apps = model(PG, REDIS)
    primary, replica = plan(apps, "a")["projects"][0], plan(apps, "b")["projects"][0]
    assert d.project_secrets(primary, CREDS) == {
        "server": {"POSTGRES_PASSWORD": "adm'in"},
        "exporter": {"DATA_SOURCE_PASS": "exp"},
        "exporter_files": {},
    }
    assert d.project_secrets(replica, CREDS)["server"] == {"REPLICATION_PASSWORD": "rep"}
    redis = plan(apps, "a")["projects"][1]
    assert d.project_secrets(redis, CREDS)["server"] == {"REDIS_PASSWORD": "adm'in", "REDISCLI_AUTH": "adm'in"}


def test_project_secrets_need_the_credentials() -> None:
    primary = plan(model(PG), "a")["projects"][0]
    with pytest.raises(d.DatabaseError, match="app 'shop': database 'appdb': no exporter password"):
        d.project_secrets(primary, {"admin": "x"})


def test_bootstrap_sql_quotes_and_creates_once() -> None:
    primary = plan(model(PG), "a")["projects"][0]
    sql = d.bootstrap_sql(primary, CREDS)
    assert "CREATE ROLE \"appdb_app\" LOGIN PASSWORD 'ap p@ss';" in sql
    assert "CREATE ROLE \"replicator\" LOGIN REPLICATION PASSWORD 'rep';" in sql
    assert sql.count("\\if :missing") == 3
    assert 'ALTER DATABASE "appdb" OWNER TO "appdb_app";' in sql
    assert "GRANT pg_monitor TO opsdeck_exporter;" in sql


def test_connection_secrets() -> None:
    apps = model(PG, REDIS)
    out = d.connection_secrets(apps[0], {"appdb": CREDS, "cache": {"admin": "r/s"}})
    assert out["DATABASE_URL"] == "postgresql://appdb_app:ap%20p%40ss@shop-appdb-db:5432/appdb"
    assert out["DB_APPDB_URL"] == out["DATABASE_URL"]
    assert (out["PGHOST"], out["PGUSER"], out["PGPASSWORD"], out["PGDATABASE"]) == (
        "shop-appdb-db",
        "appdb_app",
        "ap p@ss",
        "appdb",
    )
    assert out["REDIS_URL"] == "redis://:r%2Fs@shop-cache-db:6379/0"
    assert out["REDISCLI_AUTH"] == "r/s"


def test_connection_secrets_leave_the_apps_own() -> None:
    apps = model(PG)
    out = d.connection_secrets(apps[0], {"appdb": CREDS}, given={"DATABASE_URL": "x"})
    assert "DATABASE_URL" not in out and "PGHOST" in out


@pytest.mark.parametrize(
    ("engine", "deployed", "version", "upgrade", "expected"),
    [
        ("postgres", None, "15", None, None),
        ("postgres", "15", "15", None, None),
        ("postgres", "15.3", "15.8", None, None),
        ("redis", "7.0", "7.2", None, None),
        ("postgres", "15", "16", "dump_restore", None),
        (
            "postgres",
            "15",
            "16",
            None,
            "app 'shop': field 'databases[0].version': '16' is a major-version change from '15' (running as "
            "shop-appdb-db); the volume is never recreated, so set upgrade: dump_restore ...",
        ),
        ("postgres", "16", "15", "dump_restore", "...going back to major version 15 is refused..."),
        ("mariadb", "10.6", "10.11", None, "...'10.11' is a major-version change from '10.6'..."),
        ("redis", "6.2", "7.0", "dump_restore", "...dump_restore is implemented for postgres only..."),
    ],
)
def test_version_problem(
    engine: str, deployed: str | None, version: str, upgrade: str | None, expected: str | None
) -> None:
    project = {
        "engine": engine,
        "version": version,
        "major": d.major_version(engine, version),
        "upgrade": upgrade,
        "role": "primary",
        "server": "shop-appdb-db",
        "field": "app 'shop': field 'databases[0].version'",
    }
    problem = d.version_problem(project, deployed)
    if expected is None:
        assert problem is None
    else:
        pattern = ".*".join(re.escape(p) for p in expected.split("..."))
        assert problem is not None and re.fullmatch(pattern, problem, re.DOTALL), problem


def test_volume_name_carries_the_major_version() -> None:
    app = model({**PG, "version": "15.4"})[0]
    assert d.volume_name(app, app["databases"][0]) == "shop-appdb-db-data-15"
    app = model({"name": "x", "engine": "mariadb", "managed": True, "version": "10.11"})[0]
    assert d.volume_name(app, app["databases"][0]) == "shop-x-db-data-1011"


def test_scrape_targets() -> None:
    apps = model(PG, REDIS)
    hosts = [{**h, "address": f"10.0.0.{i}"} for i, h in enumerate(HOSTS, 1)]
    targets = d.scrape_targets(apps, hosts, local_hosts=["a"])
    assert [t["targets"] for t in targets] == [["127.0.0.1:21187"], ["10.0.0.2:21188"]]
    assert targets[1]["labels"] == {
        "app": "shop",
        "team": "platform",
        "env": "",
        "database": "appdb",
        "engine": "postgres",
        "role": "replica",
        "instance": "b:21188",
    }


def test_alert_rules_cover_the_issue() -> None:
    (group,) = d.alert_rules()
    names = {r["alert"] for r in group["rules"]}
    assert {
        "DatabaseExporterDown",
        "DatabaseDown",
        "DatabaseReplicationLag",
        "DatabaseConnectionsNearLimit",
        "DatabaseMemoryNearLimit",
        "DatabaseEvictions",
    } <= names


def test_compose_app_joins_the_database_network() -> None:
    app = model(PG)[0]
    definition = render_definition(app)
    assert definition["networks"]["shop-databases"] == {"name": "shop-databases", "external": True}
    assert "shop-databases" in definition["services"]["shop"]["networks"]
    plain = normalize_apps([{"name": "web", "image": "acme/web:1"}])[0]
    assert "web-databases" not in render_definition(plain)["networks"]
