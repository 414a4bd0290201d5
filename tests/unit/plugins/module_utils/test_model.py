# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the application model: defaults, normalizations and every error message."""

from __future__ import annotations

import copy
import datetime
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ansible_collections.opsdeck.platform.plugins.module_utils import model
from ansible_collections.opsdeck.platform.plugins.module_utils.model import (
    APP_SCHEMA,
    ModelError,
    format_memory_compose,
    format_memory_k8s,
    normalize_apps,
    parse_cpu,
    parse_memory,
    split_image,
    validate_apps,
)

DIGEST = "sha256:" + "a" * 64


def app(**fields: Any) -> dict[str, Any]:
    """A minimal valid app, with ``fields`` added or replaced."""
    return {"name": "web", "image": "acme/web:1.0", **fields}


def one(**fields: Any) -> dict[str, Any]:
    """Normalize a single app and return it."""
    return normalize_apps([app(**fields)])[0]


def errors_of(apps: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(ModelError) as info:
        normalize_apps(apps, **kwargs)
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


def assert_finding(apps: Any, expected: str, **kwargs: Any) -> list[str]:
    """One finding matches ``expected`` as a whole, where each '...' stands for any text."""
    errors = errors_of(apps, **kwargs)
    pattern = re.compile(".*".join(re.escape(part) for part in expected.split("...")), re.DOTALL)
    assert any(pattern.fullmatch(e) for e in errors), f"expected: {expected}\ngot:\n" + "\n".join(errors)
    return errors


def get(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


# ---------------------------------------------------------------------------------------------
# Defaults

MINIMAL_NORMALIZED = {
    "name": "web",
    "state": "present",
    "environment": None,
    "image": "acme/web:1.0",
    "image_ref": "acme/web:1.0",
    "image_tag": "1.0",
    "image_digest": None,
    "replicas": 1,
    "command": None,
    "args": None,
    "env": {},
    "secrets": {},
    "ports": [],
    "health": None,
    "metrics": None,
    "resources": {
        "cpu": None,
        "memory": None,
        "cpu_request": None,
        "memory_request": None,
        "cpu_cores": None,
        "cpu_millis": None,
        "cpu_request_cores": None,
        "cpu_request_millis": None,
        "memory_bytes": None,
        "memory_compose": None,
        "memory_k8s": None,
        "memory_request_bytes": None,
        "memory_request_compose": None,
        "memory_request_k8s": None,
    },
    "restart": "unless-stopped",
    "volumes": [],
    "tmpfs": ["/tmp"],
    "depends_on": [],
    "profiles": [],
    "networks": [],
    "hardening": {
        "user": "65534:65534",
        "uid": 65534,
        "gid": 65534,
        "read_only_root": True,
        "cap_drop_all": True,
        "cap_add": [],
        "no_new_privileges": True,
        "pids_limit": 512,
    },
    "hooks": {"pre_deploy": [], "smoke": []},
    "slo": None,
    "autoscaling": None,
    "edge": {
        "hsts_max_age_s": 31536000,
        "csp": "default-src 'self'; object-src 'none'; frame-ancestors 'none'",
        "frame_options": "DENY",
        "referrer_policy": "strict-origin-when-cross-origin",
        "headers": {},
        "rate_limit": None,
        "body_size": None,
        "body_size_bytes": None,
        "timeout_s": 60,
        "cors": None,
    },
    "hosts": [],
    "team": "platform",
    "labels": {},
    "databases": [],
}


def test_minimal_app_gets_every_default() -> None:
    assert normalize_apps([app()]) == [MINIMAL_NORMALIZED]


@pytest.mark.parametrize("apps", [None, []])
def test_no_apps_is_an_empty_model(apps: Any) -> None:
    assert normalize_apps(apps) == []


@pytest.mark.parametrize(
    ("fields", "path", "expected"),
    [
        ({"ports": [{"name": "http", "port": 8080}]}, "ports.0.protocol", "tcp"),
        ({"ports": [{"name": "http", "port": 8080}]}, "ports.0.host_port", None),
        ({"ports": [{"name": "http", "port": 8080}]}, "ports.0.host_ip", "127.0.0.1"),
        ({"ports": [{"name": "http", "port": 8080}]}, "ports.0.public", False),
        ({"ports": [{"name": "http", "port": 8080}]}, "ports.0.host", None),
        ({"ports": [{"name": "http", "port": 8080}]}, "ports.0.tls", True),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.type", "http"),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.port", "http"),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.port_number", 8080),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.scheme", "http"),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.interval_s", 5),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.timeout_s", 3),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.retries", 5),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.start_period_s", 10),
        ({"ports": [{"name": "http", "port": 8080}], "health": {"path": "/h"}}, "health.command", None),
        ({"ports": [{"name": "http", "port": 8080}], "metrics": {}}, "metrics.path", "/metrics"),
        ({"ports": [{"name": "http", "port": 8080}], "metrics": {}}, "metrics.port", "http"),
        ({"ports": [{"name": "http", "port": 8080}], "metrics": {}}, "metrics.port_number", 8080),
        ({"volumes": [{"name": "data", "path": "/data"}]}, "volumes.0.read_only", False),
        ({"depends_on": [{"name": "db"}]}, "depends_on.0.condition", "service_healthy"),
        ({"hardening": {}}, "hardening.pids_limit", 512),
        ({"hooks": {"pre_deploy": [{"name": "migrate", "command": ["m"]}]}}, "hooks.pre_deploy.0.timeout_s", 300),
        ({"hooks": {"pre_deploy": []}}, "hooks.smoke", []),
        ({"slo": {"availability": 99.9}}, "slo.window_days", 30),
        ({"slo": {"availability": 99.9}}, "slo.latency_p95_ms", None),
        ({"slo": {"latency_p95_ms": 300}}, "slo.availability", None),
        ({"databases": [{"name": "appdb", "engine": "postgres"}]}, "databases.0.managed", False),
        ({"databases": [{"name": "appdb", "engine": "postgres"}]}, "databases.0.host", None),
        ({"databases": [{"name": "appdb", "engine": "postgres"}]}, "databases.0.backup.enabled", True),
        ({"databases": [{"name": "appdb", "engine": "postgres"}]}, "databases.0.backup.schedule", "0 2 * * *"),
        (
            {"databases": [{"name": "appdb", "engine": "postgres"}]},
            "databases.0.backup.keep",
            {"last": 0, "hourly": 0, "daily": 7, "weekly": 4, "monthly": 6, "yearly": 0},
        ),
    ],
)
def test_defaults(fields: dict[str, Any], path: str, expected: Any) -> None:
    if "depends_on" in fields:
        result = normalize_apps([app(**fields), app(name="db", image="acme/db:1", health={"command": ["true"]})])[0]
    else:
        result = one(**fields)
    assert get(result, path) == expected


@pytest.mark.parametrize(
    ("engine", "port"), [("postgres", 5432), ("mysql", 3306), ("mariadb", 3306), ("mongodb", 27017), ("redis", 6379)]
)
def test_database_port_defaults_per_engine(engine: str, port: int) -> None:
    assert one(databases=[{"name": "appdb", "engine": engine}])["databases"][0]["port"] == port


# ---------------------------------------------------------------------------------------------
# Normalizations


@pytest.mark.parametrize(
    ("image", "registry", "image_ref"),
    [
        ("opsdeck/sampleapp:1.0", "127.0.0.1:5000", "127.0.0.1:5000/opsdeck/sampleapp:1.0"),
        ("opsdeck/sampleapp:1.0", "127.0.0.1:5000/", "127.0.0.1:5000/opsdeck/sampleapp:1.0"),
        ("redis:7", "mirror.example.com/hub", "mirror.example.com/hub/redis:7"),
        ("acme/web@" + DIGEST, "127.0.0.1:5000", "127.0.0.1:5000/acme/web@" + DIGEST),
        ("ghcr.io/acme/web:1.0", "127.0.0.1:5000", "ghcr.io/acme/web:1.0"),
        ("localhost/acme/web:1.0", "127.0.0.1:5000", "localhost/acme/web:1.0"),
        ("registry:5000/acme/web:1.0", "127.0.0.1:5000", "registry:5000/acme/web:1.0"),
        ("opsdeck/sampleapp:1.0", None, "opsdeck/sampleapp:1.0"),
        ("opsdeck/sampleapp:1.0", "", "opsdeck/sampleapp:1.0"),
    ],
)
def test_image_ref_gets_registry_prefix_only_without_own_host(image: str, registry: str | None, image_ref: str) -> None:
    result = normalize_apps([app(image=image)], registry=registry)[0]
    assert result["image"] == image
    assert result["image_ref"] == image_ref


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("web", {"host": None, "path": "web", "tag": None, "digest": None}),
        ("acme/web:1.4.2", {"host": None, "path": "acme/web", "tag": "1.4.2", "digest": None}),
        ("ghcr.io/acme/web:v1_2", {"host": "ghcr.io", "path": "acme/web", "tag": "v1_2", "digest": None}),
        ("127.0.0.1:5000/a/b", {"host": "127.0.0.1:5000", "path": "a/b", "tag": None, "digest": None}),
        ("localhost/a", {"host": "localhost", "path": "a", "tag": None, "digest": None}),
        ("a/b:1@" + DIGEST, {"host": None, "path": "a/b", "tag": "1", "digest": DIGEST}),
        ("my_org/my-app__x.y", {"host": None, "path": "my_org/my-app__x.y", "tag": None, "digest": None}),
    ],
)
def test_split_image(image: str, parts: dict[str, Any]) -> None:
    assert split_image(image) == parts


def test_image_tag_and_digest_are_exposed() -> None:
    result = one(image="acme/web:2.1@" + DIGEST)
    assert (result["image_tag"], result["image_digest"]) == ("2.1", DIGEST)


@pytest.mark.parametrize("environment", ["local", "dev", "staging", "prod"])
def test_environment_is_copied_into_each_app(environment: str) -> None:
    assert normalize_apps([app()], environment=environment)[0]["environment"] == environment


@pytest.mark.parametrize(
    ("value", "text"), [("info", "info"), (3, "3"), (0.5, "0.5"), (True, "true"), (False, "false"), ("", "")]
)
def test_env_and_label_values_become_strings(value: Any, text: str) -> None:
    result = one(env={"X": value}, labels={"x": value})
    assert result["env"] == {"X": text}
    assert result["labels"] == {"x": text}


def test_secrets_are_kept_as_given() -> None:
    assert one(secrets={"DATABASE_URL": "postgres://u:p@db/app"})["secrets"] == {
        "DATABASE_URL": "postgres://u:p@db/app"
    }


@pytest.mark.parametrize(
    ("memory", "size", "compose", "k8s"),
    [
        ("512Mi", 536870912, "512m", "512Mi"),
        ("512M", 536870912, "512m", "512Mi"),
        ("512m", 536870912, "512m", "512Mi"),
        ("512MiB", 536870912, "512m", "512Mi"),
        ("1Gi", 1073741824, "1g", "1Gi"),
        ("1g", 1073741824, "1g", "1Gi"),
        ("1G", 1073741824, "1g", "1Gi"),
        ("1.5Gi", 1610612736, "1536m", "1536Mi"),
        ("2048Ki", 2097152, "2m", "2Mi"),
        ("256m", 268435456, "256m", "256Mi"),
        (268435456, 268435456, "256m", "256Mi"),
        ("268435456", 268435456, "256m", "256Mi"),
        (1000000000, 1000000000, "1000000000b", "1000000000"),
        ("1536", 1536, "1536b", "1536"),
        ("2t", 2 * 1024**4, "2048g", "2Ti"),
    ],
)
def test_memory_is_normalized_for_compose_and_k8s(memory: Any, size: int, compose: str, k8s: str) -> None:
    resources = one(resources={"memory": memory, "memory_request": memory})["resources"]
    assert resources["memory"] == memory
    assert (resources["memory_bytes"], resources["memory_compose"], resources["memory_k8s"]) == (size, compose, k8s)
    assert (
        resources["memory_request_bytes"],
        resources["memory_request_compose"],
        resources["memory_request_k8s"],
    ) == (size, compose, k8s)


@pytest.mark.parametrize(
    ("cpu", "cores", "millis"),
    [
        ("500m", 0.5, 500),
        (0.5, 0.5, 500),
        ("0.5", 0.5, 500),
        ("2", 2.0, 2000),
        (2, 2.0, 2000),
        ("1500m", 1.5, 1500),
        (0.3, 0.3, 300),
        ("0.0001", 0.0001, 1),  # Kubernetes rounds a finer precision up to 1m
    ],
)
def test_cpu_is_normalized_to_cores_and_millis(cpu: Any, cores: float, millis: int) -> None:
    resources = one(resources={"cpu": cpu, "cpu_request": cpu})["resources"]
    assert resources["cpu"] == cpu
    assert (resources["cpu_cores"], resources["cpu_millis"]) == (cores, millis)
    assert (resources["cpu_request_cores"], resources["cpu_request_millis"]) == (cores, millis)


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        ({"path": "/ready", "port": "admin"}, {"port": "admin", "port_number": 9090}),
        ({"path": "/ready", "port": 7000}, {"port": 7000, "port_number": 7000}),
        ({"path": "/ready", "scheme": "https"}, {"scheme": "https", "port": "http"}),
        (
            {"command": ["/app", "check"], "interval_s": 10},
            {"type": "exec", "path": None, "port": None, "port_number": None, "scheme": None, "interval_s": 10},
        ),
        (
            {"path": "/ready", "interval_s": 2, "timeout_s": 1, "retries": 3, "start_period_s": 0},
            {"interval_s": 2, "timeout_s": 1, "retries": 3, "start_period_s": 0},
        ),
    ],
)
def test_health_is_resolved(health: dict[str, Any], expected: dict[str, Any]) -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}]
    result = one(ports=ports, health=health)["health"]
    assert {key: result[key] for key in expected} == expected


def test_health_exec_needs_no_port() -> None:
    assert one(health={"command": ["true"]})["health"]["command"] == ["true"]


def test_metrics_and_smoke_ports_are_resolved() -> None:
    result = one(
        ports=[{"name": "http", "port": 8080}, {"name": "metrics", "port": 9100}],
        metrics={"port": "metrics", "path": "/prom"},
        hooks={
            "smoke": [
                {"name": "home", "path": "/"},
                {"name": "admin", "path": "/admin", "port": 9100, "status": 401, "body_contains": "login"},
            ]
        },
    )
    assert result["metrics"] == {"path": "/prom", "port": "metrics", "port_number": 9100}
    assert result["hooks"]["smoke"] == [
        {"name": "home", "path": "/", "port": "http", "port_number": 8080, "status": 200, "body_contains": None},
        {"name": "admin", "path": "/admin", "port": 9100, "port_number": 9100, "status": 401, "body_contains": "login"},
    ]


def test_ports_keep_what_is_given() -> None:
    port = {
        "name": "dns",
        "port": 53,
        "protocol": "udp",
        "host_port": 5353,
        "host_ip": "0.0.0.0",
        "public": True,
        "host": "dns.example.com",
        "tls": False,
    }
    assert one(ports=[port])["ports"] == [port]


@pytest.mark.parametrize(
    ("restart", "expected"), [("always", "always"), ("on-failure", "on-failure"), ("no", "no"), (False, "no")]
)
def test_restart(restart: Any, expected: str) -> None:
    assert one(restart=restart)["restart"] == expected


def test_depends_on_bare_name_means_healthy() -> None:
    db = app(name="db", image="acme/db:1", health={"command": ["true"]})
    cache = app(name="cache", image="acme/cache:1")
    result = normalize_apps([app(depends_on=["db", {"name": "cache", "condition": "service_started"}]), db, cache])[0]
    assert result["depends_on"] == [
        {"name": "db", "condition": "service_healthy"},
        {"name": "cache", "condition": "service_started"},
    ]


@pytest.mark.parametrize(
    ("hardening", "expected"),
    [
        ({"user": None}, {"user": None, "uid": None, "gid": None}),
        ({"user": 1000}, {"user": "1000", "uid": 1000, "gid": None}),
        ({"user": "app:app"}, {"user": "app:app", "uid": None, "gid": None}),
        ({"user": "1000:2000"}, {"user": "1000:2000", "uid": 1000, "gid": 2000}),
        ({"read_only_root": False}, {"read_only_root": False}),
        ({"cap_drop_all": False}, {"cap_drop_all": False}),
        ({"no_new_privileges": False}, {"no_new_privileges": False}),
        ({"pids_limit": None}, {"pids_limit": None}),
        ({"pids_limit": 100}, {"pids_limit": 100}),
        ({"cap_add": ["CAP_NET_BIND_SERVICE", "CHOWN"]}, {"cap_add": ["NET_BIND_SERVICE", "CHOWN"]}),
    ],
)
def test_hardening_can_be_turned_off_field_by_field(hardening: dict[str, Any], expected: dict[str, Any]) -> None:
    result = one(hardening=hardening)["hardening"]
    assert {key: result[key] for key in expected} == expected
    untouched = {k: v for k, v in MINIMAL_NORMALIZED["hardening"].items() if k not in expected and k not in hardening}
    assert {key: result[key] for key in untouched} == untouched


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        ({"daily": 14}, {"last": 0, "hourly": 0, "daily": 14, "weekly": 0, "monthly": 0, "yearly": 0}),
        (
            {"last": 3, "hourly": 24, "daily": 7, "weekly": 4, "monthly": 12, "yearly": 2},
            {"last": 3, "hourly": 24, "daily": 7, "weekly": 4, "monthly": 12, "yearly": 2},
        ),
    ],
)
def test_backup_keep_given_replaces_the_default(keep: dict[str, int], expected: dict[str, int]) -> None:
    db = {"name": "appdb", "engine": "postgres", "backup": {"keep": keep, "schedule": "30 */6 * * mon-fri"}}
    backup = one(databases=[db])["databases"][0]["backup"]
    assert backup == {
        "enabled": True,
        "schedule": "30 */6 * * mon-fri",
        "keep": expected,
        "verify": {"schedule": None, "query": None},
        "pitr": model.DEFAULT_PITR,
    }


def test_backup_pitr_defaults_to_off() -> None:
    db = {"name": "appdb", "engine": "postgres"}
    pitr = one(databases=[db])["databases"][0]["backup"]["pitr"]
    assert pitr == {"enabled": False, "full_schedule": "0 1 * * 0", "diff_schedule": "0 1 * * 1-6", "retention_full": 2}


def test_backup_pitr_given_is_filled_with_defaults() -> None:
    db = {"name": "appdb", "engine": "postgres", "backup": {"pitr": {"enabled": True, "retention_full": 4}}}
    pitr = one(databases=[db])["databases"][0]["backup"]["pitr"]
    assert pitr == {"enabled": True, "full_schedule": "0 1 * * 0", "diff_schedule": "0 1 * * 1-6", "retention_full": 4}


@pytest.mark.parametrize(
    ("pitr", "expected"),
    [
        (
            {"enabled": True},
            "app 'web': field 'databases[0].backup.pitr.enabled': point-in-time recovery (pgBackRest) is for "
            "postgres databases only, not mariadb; set backup.pitr.enabled: false or remove backup.pitr",
        ),
        ({"retention_full": 0}, "app 'web': field 'databases[0].backup.pitr.retention_full': 0 is not an integer >= 1"),
        (
            {"full_schedule": "0 1 * *"},
            "app 'web': field 'databases[0].backup.pitr.full_schedule': '0 1 * *' is not a 5-field cron schedule "
            "(minute hour day-of-month month day-of-week, e.g. '0 1 * * 0'): it has 4 fields",
        ),
        (
            {"diff_schedule": "0 25 * * *"},
            "app 'web': field 'databases[0].backup.pitr.diff_schedule': ...: the hour field '25': 25 is outside 0-23",
        ),
        (
            {"enabled": "yes"},
            "app 'web': field 'databases[0].backup.pitr.enabled': 'yes' is a string, not true or false",
        ),
        ({"stanza": "x"}, "app 'web': field 'databases[0].backup.pitr.stanza': unknown field..."),
    ],
)
def test_backup_pitr_findings(pitr: dict[str, Any], expected: str) -> None:
    assert_finding([app(databases=[{"name": "d", "engine": "mariadb", "backup": {"pitr": pitr}}])], expected)


def test_backup_pitr_disabled_is_allowed_for_any_engine() -> None:
    db = {"name": "c", "engine": "redis", "backup": {"pitr": {"enabled": False}}}
    assert one(databases=[db])["databases"][0]["backup"]["pitr"]["enabled"] is False


def test_backup_disabled_may_keep_nothing() -> None:
    db = {"name": "c", "engine": "redis", "backup": {"enabled": False, "keep": {}}}
    assert one(databases=[db])["databases"][0]["backup"]["enabled"] is False


def test_database_fields_are_kept() -> None:
    db = {"name": "App_DB", "engine": "mariadb", "managed": False, "host": "db.internal", "port": 3307}
    assert one(databases=[db])["databases"][0] == {
        **db,
        "user": "root",
        "password": None,
        "container": None,
        # the fields of a database the collection runs (managed: true): empty for an external one
        "version": None,
        "replicas": 0,
        "hosts": [],
        "host_port": None,
        "metrics_port": None,
        "resources": {"cpu_cores": None, "memory_bytes": None, "memory_compose": None},
        "redis": None,
        "upgrade": None,
        "backup": {
            "enabled": True,
            "schedule": "0 2 * * *",
            "keep": model.DEFAULT_KEEP,
            "verify": {"schedule": None, "query": None},
            "pitr": model.DEFAULT_PITR,
        },
    }


@pytest.mark.parametrize(("engine", "user"), [("postgres", "postgres"), ("mysql", "root"), ("redis", None)])
def test_database_user_defaults_per_engine(engine: str, user: str | None) -> None:
    assert one(databases=[{"name": "d", "engine": engine}])["databases"][0]["user"] == user


def test_database_connection_fields() -> None:
    db = {
        "name": "authdb",
        "engine": "postgres",
        "user": "backup",
        "password": "s3cret",
        "container": "auth-db-1",
        "backup": {"verify": {"schedule": "0 5 * * 0", "query": "SELECT count(*) > 0 FROM users"}},
    }
    got = one(databases=[db])["databases"][0]
    assert (got["user"], got["password"], got["container"]) == ("backup", "s3cret", "auth-db-1")
    assert got["backup"]["verify"] == {"schedule": "0 5 * * 0", "query": "SELECT count(*) > 0 FROM users"}


def test_database_password_never_shown_in_errors() -> None:
    with pytest.raises(model.ModelError) as err:
        model.normalize_apps(
            [{"name": "web", "image": "x:1", "databases": [{"name": "d", "engine": "redis", "password": 42}]}]
        )
    assert "42" not in str(err.value)
    assert "databases[0].password" in str(err.value)


@pytest.mark.parametrize(
    ("slo", "expected"),
    [
        (
            {"availability": 99.9, "latency_p95_ms": 500},
            {
                "availability": 99.9,
                "objective_ratio": 0.999,
                "error_budget_ratio": 0.001,
                "latency_p95_ms": 500,
                "window_days": 30,
            },
        ),
        (
            {"availability": 99, "window_days": 7},
            {
                "availability": 99.0,
                "objective_ratio": 0.99,
                "error_budget_ratio": 0.01,
                "latency_p95_ms": None,
                "window_days": 7,
            },
        ),
    ],
)
def test_slo(slo: dict[str, Any], expected: dict[str, Any]) -> None:
    assert one(slo=slo)["slo"] == expected


@pytest.mark.parametrize(
    ("fields", "path", "expected"),
    [
        ({"replicas": 0}, "replicas", 0),
        ({"replicas": 3}, "replicas", 3),
        ({"state": "absent"}, "state", "absent"),
        ({"command": ["/app", "serve"]}, "command", ["/app", "serve"]),
        ({"args": []}, "args", []),
        ({"args": ["--verbose"]}, "args", ["--verbose"]),
        ({"tmpfs": []}, "tmpfs", []),
        ({"tmpfs": ["/tmp", "/run"]}, "tmpfs", ["/tmp", "/run"]),
        ({"volumes": [{"name": "data", "path": "/data", "read_only": True}]}, "volumes.0.read_only", True),
        ({"profiles": ["debug"]}, "profiles", ["debug"]),
        ({"networks": ["backend", "front.end"]}, "networks", ["backend", "front.end"]),
        ({"team": "payments"}, "team", "payments"),
        ({"labels": {"app.kubernetes.io/part-of": "shop"}}, "labels", {"app.kubernetes.io/part-of": "shop"}),
        ({"env": {"LOG.LEVEL": "debug"}}, "env", {"LOG.LEVEL": "debug"}),
    ],
)
def test_values_given_are_kept(fields: dict[str, Any], path: str, expected: Any) -> None:
    assert get(one(**fields), path) == expected


def test_input_is_not_changed_and_output_is_a_copy() -> None:
    apps = [app(restart=False, ports=[{"name": "http", "port": 80}], env={"A": 1}, command=["x"])]
    before = copy.deepcopy(apps)
    result = normalize_apps(apps)
    assert apps == before
    result[0]["command"].append("y")
    result[0]["ports"][0]["port"] = 81
    assert apps == before


class _Tagged(str):
    """Stands for Ansible's tagged strings: a str subclass."""


class _LazyMapping(Mapping):
    """Stands for Ansible's lazy containers: a Mapping that is not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_ansible_subclasses_become_plain_data() -> None:
    result = normalize_apps((_LazyMapping({"name": _Tagged("web"), "image": _Tagged("acme/web:1")}),))
    assert type(result[0]["name"]) is str  # pylint: disable=unidiomatic-typecheck
    assert result[0]["image_ref"] == "acme/web:1"


def test_non_string_keys_are_judged_as_strings() -> None:
    assert one(labels={8080: "x", True: "y"})["labels"] == {"8080": "x", "true": "y"}
    assert_finding([app(env={1: "x"})], "app 'web': field 'env': key '1' is not an environment variable name...")


def test_other_python_types_are_named_in_messages() -> None:
    # YAML reads an unquoted 2024-01-01 as a date
    assert_finding(
        [app(replicas=datetime.date(2024, 1, 1))],
        "app 'web': field 'replicas': datetime.date(2024, 1, 1) is a date, not an integer >= 0",
    )


def test_boolean_port_reference_is_a_type_error() -> None:
    assert_finding(
        [app(ports=[{"name": "h", "port": 80}], health={"path": "/", "port": True})],
        "app 'web': field 'health.port': true is a boolean, not a port name of this app or a port number 1..65535",
    )


@pytest.mark.parametrize("image", [5, "", "a" * 600, None])
def test_split_image_rejects(image: Any) -> None:
    with pytest.raises(ModelError, match="is not an image reference"):
        split_image(image)


def test_several_apps_keep_their_order() -> None:
    result = normalize_apps([app(name="b"), app(name="a")])
    assert [a["name"] for a in result] == ["b", "a"]


# ---------------------------------------------------------------------------------------------
# Units


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("512Mi", 536870912),
        ("512M", 536870912),
        ("1Gi", 1073741824),
        ("1g", 1073741824),
        ("256m", 268435456),
        (268435456, 268435456),
        ("64k", 65536),
        ("64KB", 65536),
        ("64kib", 65536),
        ("10b", 10),
        ("10", 10),
        (0, 0),
        ("0.5k", 512),
        ("0.1k", 103),  # 102.4 bytes, rounded up
        (".5Mi", 524288),
        (" 1 Gi ", 1073741824),
    ],
)
def test_parse_memory(value: Any, size: int) -> None:
    assert parse_memory(value) == size


@pytest.mark.parametrize("value", ["", "abc", "512Xi", "1.2.3G", "-1G", -1, True, None, 1.5, [512], "512 M B", "Mi"])
def test_parse_memory_rejects(value: Any) -> None:
    with pytest.raises(ModelError, match=r"is not a memory size \(examples: 512Mi, 1G, 268435456\)"):
        parse_memory(value)


@pytest.mark.parametrize(
    ("value", "cores"),
    [("500m", 0.5), (0.5, 0.5), ("2", 2.0), (2, 2.0), ("0.25", 0.25), (".5", 0.5), ("1500m", 1.5), (0, 0.0)],
)
def test_parse_cpu(value: Any, cores: float) -> None:
    assert parse_cpu(value) == cores


@pytest.mark.parametrize(
    "value", ["", "abc", "1 core", "-1", -0.5, "500M", "1e3", True, None, [1], float("inf"), float("nan"), "m"]
)
def test_parse_cpu_rejects(value: Any) -> None:
    with pytest.raises(ModelError, match=r"is not a CPU amount \(examples: 500m, 0.5, 2\)"):
        parse_cpu(value)


@pytest.mark.parametrize(
    ("size", "compose", "k8s"),
    [(1, "1b", "1"), (1024, "1k", "1Ki"), (1536, "1536b", "1536"), (3 * 1024**2, "3m", "3Mi"), (0, "0b", "0")],
)
def test_memory_formats(size: int, compose: str, k8s: str) -> None:
    assert (format_memory_compose(size), format_memory_k8s(size)) == (compose, k8s)


# ---------------------------------------------------------------------------------------------
# Errors: arguments and the list itself


def test_environment_must_be_known() -> None:
    assert errors_of([app()], environment="qa") == ["opsdeck_environment: 'qa' is not one of local, dev, staging, prod"]


@pytest.mark.parametrize("registry", ["bad reg", "http://registry", "reg/UPPER", 5000])
def test_registry_must_be_a_host(registry: Any) -> None:
    assert_finding([app()], "opsdeck_registry: ... is not a registry host[:port][/path]...", registry=registry)


@pytest.mark.parametrize(
    ("apps", "expected"),
    [
        ({"name": "web"}, "opsdeck_apps: is a mapping; expected a list of apps (mappings with name and image)"),
        ("web", "opsdeck_apps: is a string; expected a list of apps (mappings with name and image)"),
        (["web"], "app #0: is a string; expected a mapping with at least name and image"),
        ([app(), None], "app #1: is null; expected a mapping with at least name and image"),
    ],
)
def test_the_list_and_its_items_must_have_the_right_shape(apps: Any, expected: str) -> None:
    assert_finding(apps, expected)


# ---------------------------------------------------------------------------------------------
# Errors: one per field. Each case is (id, app fields, one expected finding), where '...' stands
# for any text. Every finding names the app and the field.

FIELD_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    # name and image
    ("name missing", {"name": None}, "app #0: field 'name': is empty (null); expected a DNS-1123 label..."),
    ("name pattern", {"name": "Auth_Service"}, "app 'Auth_Service': field 'name': 'Auth_Service' is not a DNS-1123..."),
    ("name too long", {"name": "a" * 41}, f"app '{'a' * 41}': field 'name': ... is not a DNS-1123 label..."),
    ("name not a string", {"name": 5}, "app #0: field 'name': 5 is an integer, not a DNS-1123 label..."),
    ("image type", {"image": 5}, "app 'web': field 'image': 5 is an integer, not an image reference..."),
    ("image empty", {"image": ""}, "app 'web': field 'image': '' is not an image reference..."),
    ("image upper", {"image": "Acme/web:1"}, "app 'web': field 'image': 'Acme/web:1' is not an image reference; ..."),
    ("image tag", {"image": "acme/web:bad tag"}, "app 'web': field 'image': 'acme/web:bad tag' is not an image..."),
    ("image empty tag", {"image": "acme/web:"}, "app 'web': field 'image': 'acme/web:' is not an image reference..."),
    ("image digest", {"image": "acme/web@sha256:abc"}, "app 'web': field 'image': 'acme/web@sha256:abc' is not..."),
    ("image host", {"image": "-bad.io/web:1"}, "app 'web': field 'image': '-bad.io/web:1' is not an image..."),
    ("image slash", {"image": "acme//web:1"}, "app 'web': field 'image': 'acme//web:1' is not an image..."),
    # unknown keys, at every level
    (
        "unknown app key",
        {"replica": 3},
        "app 'web': field 'replica': unknown field (did you mean 'replicas'?); allowed fields: args, autoscaling, "
        "command, ...",
    ),
    (
        "unknown far key",
        {"zzz": 1},
        "app 'web': field 'zzz': unknown field; allowed fields: args, autoscaling, command, ...",
    ),
    (
        "unknown health key",
        {"health": {"path": "/", "intervl": 5}, "ports": [{"name": "http", "port": 80}]},
        "app 'web': field 'health.intervl': unknown field (did you mean 'interval_s'?); allowed fields: command, ...",
    ),
    (
        "unknown port key",
        {"ports": [{"name": "http", "port": 80, "hostport": 80}]},
        "app 'web': field 'ports[0].hostport': unknown field (did you mean 'host_port'?); allowed fields: host, ...",
    ),
    (
        "unknown keep key",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"keep": {"dayly": 7}}}]},
        "app 'web': field 'databases[0].backup.keep.dayly': unknown field (did you mean 'daily'?); allowed fields: "
        "daily, hourly, last, monthly, weekly, yearly",
    ),
    ("unknown hardening key", {"hardening": {"usr": "1"}}, "app 'web': field 'hardening.usr': unknown field..."),
    ("unknown hooks key", {"hooks": {"post": []}}, "app 'web': field 'hooks.post': unknown field..."),
    ("unknown slo key", {"slo": {"availability": 99, "p99": 1}}, "app 'web': field 'slo.p99': unknown field..."),
    ("unknown resources key", {"resources": {"mem": "1G"}}, "app 'web': field 'resources.mem': unknown field..."),
    (
        "unknown volume key",
        {"volumes": [{"name": "d", "path": "/d", "ro": True}]},
        "app 'web': field 'volumes[0].ro': unknown field...",
    ),
    ("unknown metrics key", {"metrics": {"url": "/m"}}, "app 'web': field 'metrics.url': unknown field..."),
    (
        "unknown database key",
        {"databases": [{"name": "d", "engine": "redis", "usr": "x"}]},
        "app 'web': field 'databases[0].usr': unknown field...",
    ),
    (
        "unknown smoke key",
        {"hooks": {"smoke": [{"name": "s", "path": "/", "code": 200}]}},
        "app 'web': field 'hooks.smoke[0].code': unknown field...",
    ),
    # enums
    (
        "restart",
        {"restart": "sometimes"},
        "app 'web': field 'restart': 'sometimes' is not one of always, unless-stopped, on-failure, no",
    ),
    ("restart true", {"restart": True}, "app 'web': field 'restart': true is not one of always, ..."),
    ("state", {"state": "gone"}, "app 'web': field 'state': 'gone' is not one of present, absent"),
    (
        "protocol",
        {"ports": [{"name": "h", "port": 80, "protocol": "sctp"}]},
        "app 'web': field 'ports[0].protocol': 'sctp' is not one of tcp, udp",
    ),
    (
        "scheme",
        {"ports": [{"name": "h", "port": 80}], "health": {"path": "/", "scheme": "ftp"}},
        "app 'web': field 'health.scheme': 'ftp' is not one of http, https",
    ),
    (
        "engine",
        {"databases": [{"name": "d", "engine": "oracle"}]},
        "app 'web': field 'databases[0].engine': 'oracle' is not one of postgres, mysql, mariadb, mongodb, redis",
    ),
    # replicas, command, args
    ("replicas type", {"replicas": "three"}, "app 'web': field 'replicas': 'three' is a string, not an integer >= 0"),
    ("replicas negative", {"replicas": -1}, "app 'web': field 'replicas': -1 is not an integer >= 0"),
    ("replicas bool", {"replicas": True}, "app 'web': field 'replicas': true is a boolean, not an integer >= 0"),
    (
        "command empty",
        {"command": []},
        "app 'web': field 'command': [] is not a non-empty list of strings (argv, no shell)",
    ),
    (
        "command string",
        {"command": "/app serve"},
        "app 'web': field 'command': '/app serve' is a string, not a non-empty list of strings (argv, no shell)",
    ),
    ("command item", {"command": ["/app", 1]}, "app 'web': field 'command[1]': 1 is an integer, not a string"),
    ("args type", {"args": {"a": 1}}, "app 'web': field 'args': is a mapping; expected a list of strings"),
    # env and secrets
    (
        "env null value",
        {"env": {"A": None}},
        "app 'web': field 'env.A': is empty (null); expected a string, number or boolean",
    ),
    (
        "env list value",
        {"env": {"A": [1]}},
        "app 'web': field 'env.A': is a list; expected a string, number or boolean",
    ),
    ("env key", {"env": {"1A": "x"}}, "app 'web': field 'env': key '1A' is not an environment variable name..."),
    ("env type", {"env": ["A=1"]}, "app 'web': field 'env': is a list; expected a mapping of variable names..."),
    ("secret key", {"secrets": {"db_url": "x"}}, "app 'web': field 'secrets': key 'db_url' is not a secret name..."),
    (
        "secret value hidden",
        {"secrets": {"DB_PASSWORD": 123456}},
        "app 'web': field 'secrets.DB_PASSWORD': the value is an integer, not a string (quote numbers)",
    ),
    (
        "secrets hidden",
        {"secrets": "hunter2"},
        "app 'web': field 'secrets': the value is a string, not a mapping of NAME to a string...",
    ),
    (
        "env and secrets overlap",
        {"env": {"DB": "x"}, "secrets": {"DB": "y"}},
        "app 'web': field 'secrets.DB': is also set in env; a variable comes from env or from secrets, not both",
    ),
    # ports
    ("ports type", {"ports": {"http": 80}}, "app 'web': field 'ports': is a mapping; expected a list of ports"),
    ("port missing", {"ports": [{"name": "h"}]}, "app 'web': field 'ports[0].port': is missing; it is required..."),
    ("port name missing", {"ports": [{"port": 80}]}, "app 'web': field 'ports[0].name': is missing; it is required..."),
    (
        "port range",
        {"ports": [{"name": "h", "port": 70000}]},
        "app 'web': field 'ports[0].port': 70000 is not a port number 1..65535",
    ),
    (
        "port string",
        {"ports": [{"name": "h", "port": "80"}]},
        "app 'web': field 'ports[0].port': '80' is a string, not a port number 1..65535",
    ),
    (
        "host_port range",
        {"ports": [{"name": "h", "port": 80, "host_port": 0}]},
        "app 'web': field 'ports[0].host_port': 0 is not a port number 1..65535",
    ),
    (
        "host_ip",
        {"ports": [{"name": "h", "port": 80, "host_ip": "localhost"}]},
        "app 'web': field 'ports[0].host_ip': 'localhost' is not an IP address such as 127.0.0.1 or 0.0.0.0",
    ),
    (
        "public type",
        {"ports": [{"name": "h", "port": 80, "public": "yes"}]},
        "app 'web': field 'ports[0].public': 'yes' is a string, not true or false",
    ),
    (
        "tls type",
        {"ports": [{"name": "h", "port": 80, "tls": 1}]},
        "app 'web': field 'ports[0].tls': 1 is an integer, not true or false",
    ),
    (
        "port name upper",
        {"ports": [{"name": "HTTP", "port": 80}]},
        "app 'web': field 'ports[0].name': 'HTTP' is not...",
    ),
    ("port name long", {"ports": [{"name": "a" * 16, "port": 80}]}, "app 'web': field 'ports[0].name': 'aaaa..."),
    ("port name --", {"ports": [{"name": "a--b", "port": 80}]}, "app 'web': field 'ports[0].name': 'a--b' is not..."),
    (
        "port name digits",
        {"ports": [{"name": "8080", "port": 80}]},
        "app 'web': field 'ports[0].name': '8080' is not...",
    ),
    (
        "port name twice",
        {"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}]},
        "app 'web': field 'ports[1].name': 'http' is already the name of ports[0]; port names must be unique within "
        "an app",
    ),
    (
        "container port twice",
        {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
        "app 'web': field 'ports[1].port': 80/tcp is already declared by ports[0]",
    ),
    (
        "host port twice in an app",
        {"ports": [{"name": "a", "port": 80, "host_port": 8080}, {"name": "b", "port": 81, "host_port": 8080}]},
        "app 'web': field 'ports[1].host_port': 8080/tcp is already published by ports[0]",
    ),
    (
        "public needs host",
        {"ports": [{"name": "h", "port": 80, "public": True}]},
        "app 'web': field 'ports[0].host': is required when public is true: a DNS name such as app.example.com",
    ),
    (
        "host upper",
        {"ports": [{"name": "h", "port": 80, "public": True, "host": "Auth.example.com"}]},
        "app 'web': field 'ports[0].host': 'Auth.example.com' is not a DNS name: it has upper-case letters; write it "
        "in lower case",
    ),
    (
        "host ip",
        {"ports": [{"name": "h", "port": 80, "public": True, "host": "10.0.0.1"}]},
        "app 'web': field 'ports[0].host': '10.0.0.1' is not a DNS name: it is an IP address; ...",
    ),
    (
        "host empty label",
        {"ports": [{"name": "h", "port": 80, "public": True, "host": "a..example.com"}]},
        "app 'web': field 'ports[0].host': 'a..example.com' is not a DNS name: it has an empty label...",
    ),
    (
        "host trailing dot",
        {"ports": [{"name": "h", "port": 80, "public": True, "host": "example.com."}]},
        "app 'web': field 'ports[0].host': 'example.com.' is not a DNS name: it has an empty label...",
    ),
    (
        "host bad label",
        {"ports": [{"name": "h", "port": 80, "public": True, "host": "a_b.example.com"}]},
        "app 'web': field 'ports[0].host': 'a_b.example.com' is not a DNS name: label 'a_b' may only hold a-z, 0-9 "
        "and '-', and may not start or end with '-'",
    ),
    (
        "host label long",
        {"ports": [{"name": "h", "port": 80, "public": True, "host": "a" * 64 + ".com"}]},
        "app 'web': field 'ports[0].host': ... is not a DNS name: label ... is 64 characters long, at most 63...",
    ),
    (
        "host too long",
        {"ports": [{"name": "h", "port": 80, "public": True, "host": ".".join(["a" * 60] * 5)}]},
        "app 'web': field 'ports[0].host': ... is not a DNS name: it is 304 characters long, at most 253 are allowed",
    ),
    (
        "host type",
        {"ports": [{"name": "h", "port": 80, "public": True, "host": 5}]},
        "app 'web': field 'ports[0].host': 5 is an integer, not a DNS name such as app.example.com",
    ),
    (
        "host twice in an app",
        {
            "ports": [
                {"name": "a", "port": 80, "public": True, "host": "x.example.com"},
                {"name": "b", "port": 81, "public": True, "host": "x.example.com"},
            ]
        },
        "app 'web': field 'ports[1].host': 'x.example.com' is already the public host of ports[0]",
    ),
    # health
    (
        "health path relative",
        {"ports": [{"name": "h", "port": 80}], "health": {"path": "health"}},
        "app 'web': field 'health.path': 'health' is not a URL path starting with '/'",
    ),
    (
        "health port unknown",
        {"ports": [{"name": "http", "port": 80}], "health": {"path": "/", "port": "web"}},
        "app 'web': field 'health.port': 'web' is not a port of this app (ports: http); give a port name or a number",
    ),
    (
        "health port unknown without ports",
        {"health": {"path": "/", "port": "web"}},
        "app 'web': field 'health.port': 'web' is not a port of this app (the app has no ports); give a port name "
        "or a number",
    ),
    (
        "health port range",
        {"health": {"path": "/", "port": 70000}},
        "app 'web': field 'health.port': 70000 is not a port number 1..65535",
    ),
    (
        "health port type",
        {"health": {"path": "/", "port": 1.5}},
        "app 'web': field 'health.port': 1.5 is a number, not a port name of this app or a port number 1..65535",
    ),
    (
        "health port needed",
        {"health": {"path": "/"}},
        "app 'web': field 'health.port': is not set and the app has no ports to default to; give a port number or "
        "add ports",
    ),
    (
        "health without path",
        {"ports": [{"name": "h", "port": 80}], "health": {}},
        "app 'web': field 'health.path': is missing; a health check needs a path (HTTP) or a command",
    ),
    (
        "health both",
        {"ports": [{"name": "h", "port": 80}], "health": {"path": "/", "command": ["true"]}},
        "app 'web': field 'health.command': an exec health check (command) takes no path, port or scheme; give "
        "either command or path",
    ),
    (
        "health interval",
        {"health": {"command": ["true"], "interval_s": 0}},
        "app 'web': field 'health.interval_s': 0 is not a whole number of seconds >= 1",
    ),
    (
        "health timeout",
        {"health": {"command": ["true"], "timeout_s": "3s"}},
        "app 'web': field 'health.timeout_s': '3s' is a string, not a whole number of seconds >= 1",
    ),
    (
        "health retries",
        {"health": {"command": ["true"], "retries": 0}},
        "app 'web': field 'health.retries': 0 is not an integer >= 1",
    ),
    (
        "health start period",
        {"health": {"command": ["true"], "start_period_s": -1}},
        "app 'web': field 'health.start_period_s': -1 is not a whole number of seconds >= 0",
    ),
    (
        "health command",
        {"health": {"command": "curl localhost"}},
        "app 'web': field 'health.command': 'curl localhost' is a string, not a non-empty list of strings...",
    ),
    ("health type", {"health": "/health"}, "app 'web': field 'health': '/health' is a string, not a mapping {path..."),
    # metrics
    (
        "metrics port unknown",
        {"ports": [{"name": "http", "port": 80}], "metrics": {"port": "prom"}},
        "app 'web': field 'metrics.port': 'prom' is not a port of this app (ports: http); give a port name or a number",
    ),
    (
        "metrics port needed",
        {"metrics": {}},
        "app 'web': field 'metrics.port': is not set and the app has no ports to default to; give a port number or "
        "add ports",
    ),
    (
        "metrics path",
        {"metrics": {"path": "metrics", "port": 9100}},
        "app 'web': field 'metrics.path': 'metrics' is...",
    ),
    ("metrics type", {"metrics": True}, "app 'web': field 'metrics': true is a boolean, not a mapping {path, port}"),
    # resources
    (
        "memory invalid",
        {"resources": {"memory": "512Mb?"}},
        "app 'web': field 'resources.memory': '512Mb?' is not a memory size (examples: 512Mi, 1G, 268435456)",
    ),
    (
        "memory unit",
        {"resources": {"memory": "1Xi"}},
        "app 'web': field 'resources.memory': '1Xi' is not a memory size (examples: 512Mi, 1G, 268435456)",
    ),
    (
        "memory zero",
        {"resources": {"memory": 0}},
        "app 'web': field 'resources.memory': 0 is not above 0 bytes (examples: 512Mi, 1G, 268435456)",
    ),
    (
        "memory float",
        {"resources": {"memory": 1.5}},
        "app 'web': field 'resources.memory': 1.5 is a number, not a memory size (examples: 512Mi, 1G, 268435456)",
    ),
    (
        "memory request invalid",
        {"resources": {"memory_request": "lots"}},
        "app 'web': field 'resources.memory_request': 'lots' is not a memory size (examples: 512Mi, 1G, 268435456)",
    ),
    (
        "memory request over limit",
        {"resources": {"memory": "512Mi", "memory_request": "1Gi"}},
        "app 'web': field 'resources.memory_request': '1Gi' is more than the limit resources.memory '512Mi'; a "
        "request may not exceed its limit",
    ),
    (
        "cpu invalid",
        {"resources": {"cpu": "1.5 cores"}},
        "app 'web': field 'resources.cpu': '1.5 cores' is not a CPU amount (examples: 500m, 0.5, 2)",
    ),
    (
        "cpu negative",
        {"resources": {"cpu": -1}},
        "app 'web': field 'resources.cpu': -1 is not a CPU amount (examples: 500m, 0.5, 2)",
    ),
    ("cpu zero", {"resources": {"cpu": "0m"}}, "app 'web': field 'resources.cpu': '0m' is not above 0 (examples: ...)"),
    (
        "cpu bool",
        {"resources": {"cpu": True}},
        "app 'web': field 'resources.cpu': true is a boolean, not a CPU amount (examples: 500m, 0.5, 2)",
    ),
    (
        "cpu request invalid",
        {"resources": {"cpu_request": "fast"}},
        "app 'web': field 'resources.cpu_request': 'fast' is not a CPU amount (examples: 500m, 0.5, 2)",
    ),
    (
        "cpu request over limit",
        {"resources": {"cpu": "500m", "cpu_request": 1}},
        "app 'web': field 'resources.cpu_request': 1 is more than the limit resources.cpu '500m'; a request may not "
        "exceed its limit",
    ),
    # volumes, tmpfs
    ("volume path", {"volumes": [{"name": "d", "path": "data"}]}, "app 'web': field 'volumes[0].path': 'data' is..."),
    ("volume name", {"volumes": [{"name": "My_Vol", "path": "/d"}]}, "app 'web': field 'volumes[0].name': 'My_Vol'..."),
    (
        "volume missing path",
        {"volumes": [{"name": "d"}]},
        "app 'web': field 'volumes[0].path': is missing; it is required (an absolute path (starting with '/'))",
    ),
    (
        "volume read_only",
        {"volumes": [{"name": "d", "path": "/d", "read_only": "yes"}]},
        "app 'web': field 'volumes[0].read_only': 'yes' is a string, not true or false",
    ),
    (
        "volume name twice",
        {"volumes": [{"name": "d", "path": "/a"}, {"name": "d", "path": "/b"}]},
        "app 'web': field 'volumes[1].name': 'd' is already the name of volumes[0]",
    ),
    (
        "volume path twice",
        {"volumes": [{"name": "a", "path": "/d"}, {"name": "b", "path": "/d"}]},
        "app 'web': field 'volumes[1].path': '/d' is already the path of volumes[0]",
    ),
    ("tmpfs relative", {"tmpfs": ["tmp"]}, "app 'web': field 'tmpfs[0]': 'tmp' is not an absolute path (starting..."),
    (
        "tmpfs twice",
        {"tmpfs": ["/tmp", "/tmp"]},
        "app 'web': field 'tmpfs': ['/tmp', '/tmp'] is not a list of absolute paths without duplicates",
    ),
    # depends_on (within one app; across apps below)
    (
        "depends_on type",
        {"depends_on": [5]},
        "app 'web': field 'depends_on[0]': 5 is an integer, not an app name or a mapping {name, condition}",
    ),
    (
        "depends_on name pattern",
        {"depends_on": ["Bad_Name"]},
        "app 'web': field 'depends_on[0]': 'Bad_Name' is not a DNS-1123 label...",
    ),
    (
        "depends_on condition",
        {"depends_on": [{"name": "web", "condition": "started"}]},
        "app 'web': field 'depends_on[0].condition': 'started' is not one of service_started, service_healthy, "
        "service_completed_successfully",
    ),
    (
        "depends_on itself",
        {"depends_on": ["web"]},
        "app 'web': field 'depends_on[0]': an app cannot depend on itself",
    ),
    (
        "depends_on unknown",
        {"depends_on": [{"name": "db"}]},
        "app 'web': field 'depends_on[0].name': 'db' is not an app in opsdeck_apps (apps: web)",
    ),
    # profiles, networks
    ("profile name", {"profiles": ["my profile"]}, "app 'web': field 'profiles[0]': 'my profile' is not a profile..."),
    ("profiles twice", {"profiles": ["a", "a"]}, "app 'web': field 'profiles': ['a', 'a'] is not a list of profile..."),
    ("network name", {"networks": ["-net"]}, "app 'web': field 'networks[0]': '-net' is not a network name..."),
    ("networks type", {"networks": "backend"}, "app 'web': field 'networks': 'backend' is a string, not a list of..."),
    # hardening
    (
        "user pattern",
        {"hardening": {"user": "root user"}},
        "app 'web': field 'hardening.user': 'root user' is not user[:group] as names or numbers (e.g. 65534:65534), "
        "or null to keep the image's user",
    ),
    ("user negative", {"hardening": {"user": -1}}, "app 'web': field 'hardening.user': -1 is not user[:group]..."),
    ("user type", {"hardening": {"user": ["a"]}}, "app 'web': field 'hardening.user': is a list; expected user..."),
    (
        "cap_add lower",
        {"hardening": {"cap_add": ["net_admin"]}},
        "app 'web': field 'hardening.cap_add[0]': 'net_admin' is not a capability name in upper case, such as "
        "NET_BIND_SERVICE",
    ),
    (
        "pids_limit zero",
        {"hardening": {"pids_limit": 0}},
        "app 'web': field 'hardening.pids_limit': 0 is not an integer >= 1, or null for no limit",
    ),
    (
        "read_only_root",
        {"hardening": {"read_only_root": "no"}},
        "app 'web': field 'hardening.read_only_root': 'no' is a string, not true or false",
    ),
    # hooks
    (
        "pre_deploy command missing",
        {"hooks": {"pre_deploy": [{"name": "migrate"}]}},
        "app 'web': field 'hooks.pre_deploy[0].command': is missing; it is required (a non-empty list of strings...",
    ),
    (
        "pre_deploy timeout",
        {"hooks": {"pre_deploy": [{"name": "m", "command": ["m"], "timeout_s": 0}]}},
        "app 'web': field 'hooks.pre_deploy[0].timeout_s': 0 is not a whole number of seconds >= 1",
    ),
    (
        "pre_deploy name twice",
        {"hooks": {"pre_deploy": [{"name": "m", "command": ["a"]}, {"name": "m", "command": ["b"]}]}},
        "app 'web': field 'hooks.pre_deploy[1].name': 'm' is already the name of hooks.pre_deploy[0]",
    ),
    (
        "smoke path missing",
        {"ports": [{"name": "h", "port": 80}], "hooks": {"smoke": [{"name": "s"}]}},
        "app 'web': field 'hooks.smoke[0].path': is missing; it is required (a URL path starting with '/')",
    ),
    (
        "smoke status",
        {"ports": [{"name": "h", "port": 80}], "hooks": {"smoke": [{"name": "s", "path": "/", "status": 700}]}},
        "app 'web': field 'hooks.smoke[0].status': 700 is not an HTTP status 100..599",
    ),
    (
        "smoke port unknown",
        {"ports": [{"name": "h", "port": 80}], "hooks": {"smoke": [{"name": "s", "path": "/", "port": "x"}]}},
        "app 'web': field 'hooks.smoke[0].port': 'x' is not a port of this app (ports: h); give a port name or a "
        "number",
    ),
    (
        "smoke port needed",
        {"hooks": {"smoke": [{"name": "s", "path": "/"}]}},
        "app 'web': field 'hooks.smoke[0].port': is not set and the app has no ports to default to; ...",
    ),
    (
        "smoke body empty",
        {"ports": [{"name": "h", "port": 80}], "hooks": {"smoke": [{"name": "s", "path": "/", "body_contains": ""}]}},
        "app 'web': field 'hooks.smoke[0].body_contains': '' is not a non-empty string",
    ),
    # slo
    (
        "availability 100",
        {"slo": {"availability": 100}},
        "app 'web': field 'slo.availability': 100 is not a percentage above 0 and below 100 (e.g. 99.9); an objective "
        "of 100 or over is impossible (it leaves no error budget), and one of 0 or less means nothing",
    ),
    ("availability over", {"slo": {"availability": 100.5}}, "app 'web': field 'slo.availability': 100.5 is not a..."),
    (
        "availability zero",
        {"slo": {"availability": 0}},
        "app 'web': field 'slo.availability': 0 is not a percentage...",
    ),
    ("availability below", {"slo": {"availability": -1}}, "app 'web': field 'slo.availability': -1 is not a..."),
    (
        "availability string",
        {"slo": {"availability": "99.9%"}},
        "app 'web': field 'slo.availability': '99.9%' is a string, not a percentage above 0 and below 100, e.g. 99.9",
    ),
    (
        "latency zero",
        {"slo": {"latency_p95_ms": 0}},
        "app 'web': field 'slo.latency_p95_ms': 0 is not a number of milliseconds above 0",
    ),
    (
        "window",
        {"slo": {"availability": 99, "window_days": 0}},
        "app 'web': field 'slo.window_days': 0 is not a whole number of days 1..365",
    ),
    (
        "slo empty",
        {"slo": {}},
        "app 'web': field 'slo': sets no objective; give availability and/or latency_p95_ms",
    ),
    # team and labels
    ("team", {"team": "Platform Team"}, "app 'web': field 'team': 'Platform Team' is not a team name usable as a..."),
    (
        "label key",
        {"labels": {"Bad Key": "x"}},
        "app 'web': field 'labels': key 'Bad Key' is not a Kubernetes label...",
    ),
    (
        "label value",
        {"labels": {"tier": "has space"}},
        "app 'web': field 'labels.tier': 'has space' is not a Kubernetes label value (at most 63 letters, digits, "
        "'-', '_' and '.', starting and ending with a letter or digit, or empty)",
    ),
    ("label value long", {"labels": {"tier": "a" * 64}}, "app 'web': field 'labels.tier': ... is not a Kubernetes..."),
    # databases
    (
        "database missing engine",
        {"databases": [{"name": "d"}]},
        "app 'web': field 'databases[0].engine': is missing; it is required (postgres, mysql, mariadb, mongodb, redis)",
    ),
    (
        "postgres name",
        {"databases": [{"name": "Auth-DB", "engine": "postgres"}]},
        "app 'web': field 'databases[0].name': 'Auth-DB' is not a valid postgres database name (lowercase letters, "
        "digits and '_', starting with a letter or '_', at most 63 characters)",
    ),
    (
        "postgres name digit",
        {"databases": [{"name": "1db", "engine": "postgres"}]},
        "app 'web': field 'databases[0].name': '1db' is not a valid postgres database name...",
    ),
    (
        "postgres name long",
        {"databases": [{"name": "a" * 64, "engine": "postgres"}]},
        "app 'web': field 'databases[0].name': ... is not a valid postgres database name...",
    ),
    (
        "mysql name",
        {"databases": [{"name": "auth-db", "engine": "mysql"}]},
        "app 'web': field 'databases[0].name': 'auth-db' is not a valid mysql database name (letters, digits and '_', "
        "1 to 64 characters)",
    ),
    (
        "mariadb name long",
        {"databases": [{"name": "a" * 65, "engine": "mariadb"}]},
        "app 'web': field 'databases[0].name': ... is not a valid mariadb database name...",
    ),
    (
        "mongodb name",
        {"databases": [{"name": "a.b", "engine": "mongodb"}]},
        "app 'web': field 'databases[0].name': 'a.b' is not a valid mongodb database name...",
    ),
    (
        "database name empty",
        {"databases": [{"name": "", "engine": "redis"}]},
        "app 'web': field 'databases[0].name': '' is not a non-empty string",
    ),
    (
        "database twice",
        {"databases": [{"name": "d", "engine": "redis"}, {"name": "d", "engine": "redis"}]},
        "app 'web': field 'databases[1].name': redis database 'd' is already declared by databases[0]",
    ),
    (
        "database port",
        {"databases": [{"name": "d", "engine": "redis", "port": 0}]},
        "app 'web': field 'databases[0].port': 0 is not a port number 1..65535",
    ),
    (
        "database managed",
        {"databases": [{"name": "d", "engine": "redis", "managed": "yes"}]},
        "app 'web': field 'databases[0].managed': 'yes' is a string, not true or false",
    ),
    (
        "schedule fields",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": "0 2 * *"}}]},
        "app 'web': field 'databases[0].backup.schedule': '0 2 * *' is not a 5-field cron schedule (minute hour "
        "day-of-month month day-of-week, e.g. '0 2 * * *'): it has 4 fields",
    ),
    (
        "schedule macro",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": "@daily"}}]},
        "app 'web': field 'databases[0].backup.schedule': '@daily' is not a 5-field cron schedule ...: macros such as "
        "@daily are not accepted; write the 5 fields: '0 0 * * *'",
    ),
    (
        "schedule minute",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": "60 2 * * *"}}]},
        "app 'web': field 'databases[0].backup.schedule': '60 2 * * *' is not a ...: the minute field '60': 60 is "
        "outside 0-59",
    ),
    (
        "schedule month",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": "0 2 * 13 *"}}]},
        "app 'web': field 'databases[0].backup.schedule': ...: the month field '13': 13 is outside 1-12",
    ),
    (
        "schedule name",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": "0 2 * * funday"}}]},
        "app 'web': field 'databases[0].backup.schedule': ...: the day-of-week field 'funday': 'funday' is not a "
        "number or a name (sun, mon, tue, wed, thu, fri, sat)",
    ),
    (
        "schedule step",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": "*/0 2 * * *"}}]},
        "app 'web': field 'databases[0].backup.schedule': ...: the minute field '*/0': a step of 0 never advances",
    ),
    (
        "schedule syntax",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": "0 2 ? * *"}}]},
        "app 'web': field 'databases[0].backup.schedule': ...: the day-of-month field '?': '?' is not '*', a value, "
        "a range or a step",
    ),
    (
        "schedule wrapping range",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": "0 2 * * 5-1"}}]},
        "app 'web': field 'databases[0].backup.schedule': ...: the day-of-week field '5-1': the range '5-1' runs "
        "backwards (a range does not wrap around the end of the field); write it as two ranges (e.g. '5-6,0-1')",
    ),
    (
        "schedule never fires",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"verify": {"schedule": "0 0 31 2 *"}}}]},
        "app 'web': field 'databases[0].backup.verify.schedule': ...: the day-of-month field '31' names no day that "
        "a month of the month field '2' has ..., so it never fires",
    ),
    (
        "schedule type",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"schedule": 2}}]},
        "app 'web': field 'databases[0].backup.schedule': 2 is an integer, not a 5-field cron schedule such as "
        "'0 2 * * *'",
    ),
    (
        "keep nothing",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"keep": {"daily": 0}}}]},
        "app 'web': field 'databases[0].backup.keep': keeps no backup at all; set at least one of last, hourly, daily, "
        "weekly, monthly, yearly above 0 (or set backup.enabled: false)",
    ),
    (
        "keep negative",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"keep": {"daily": -1}}}]},
        "app 'web': field 'databases[0].backup.keep.daily': -1 is not an integer >= 0",
    ),
    (
        "backup enabled",
        {"databases": [{"name": "d", "engine": "redis", "backup": {"enabled": "true"}}]},
        "app 'web': field 'databases[0].backup.enabled': 'true' is a string, not true or false",
    ),
    ("databases type", {"databases": {"d": 1}}, "app 'web': field 'databases': is a mapping; expected a list of..."),
]


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in FIELD_ERRORS], ids=[c[0] for c in FIELD_ERRORS])
def test_field_error(fields: dict[str, Any], expected: str) -> None:
    assert_finding([app(**fields)], expected)


@pytest.mark.parametrize("name", ["Auth_DB", "authdb", "a" * 64])
def test_mysql_and_mariadb_names(name: str) -> None:
    for engine in ("mysql", "mariadb"):
        assert one(databases=[{"name": name, "engine": engine}])["databases"][0]["name"] == name


@pytest.mark.parametrize("name", ["cache 0", "Anything-Goes.1", "0"])
def test_redis_name_is_only_a_label(name: str) -> None:
    assert one(databases=[{"name": name, "engine": "redis"}])["databases"][0]["name"] == name


@pytest.mark.parametrize(
    "schedule", ["0 2 * * *", "*/15 * * * *", "0 0-6/2 1,15 jan-jun mon-fri", "0 3 * * 7", "5 4 * * SUN"]
)
def test_cron_schedules_accepted(schedule: str) -> None:
    db = {"name": "d", "engine": "redis", "backup": {"schedule": schedule}}
    assert one(databases=[db])["databases"][0]["backup"]["schedule"] == schedule


def test_missing_name_and_image_use_the_index() -> None:
    errors = errors_of([app(), {"replicas": 2}])
    assert errors[0].startswith("app #1: field 'image': is missing; it is required (an image reference")
    assert errors[1].startswith("app #1: field 'name': is missing; it is required (a DNS-1123 label")


def test_secret_values_never_appear_in_messages() -> None:
    errors = errors_of([app(secrets={"A": 424242, "b": "s3cr3t", "C": ["s3cr3t"]}, env={"A": "x"})])
    text = "\n".join(errors)
    assert "424242" not in text
    assert "s3cr3t" not in text
    assert "app 'web': field 'secrets.C': is a list; expected a string (quote numbers)" in errors


# ---------------------------------------------------------------------------------------------
# Errors: rules that depend on the environment or span apps


@pytest.mark.parametrize("image", ["acme/web", "acme/web:latest", "ghcr.io/acme/web"])
def test_prod_needs_pinned_images(image: str) -> None:
    assert_finding(
        [app(image=image)],
        f"app 'web': field 'image': {image!r} is not pinned; in prod an image needs a version tag other than latest "
        "or a @sha256 digest, so that rollbacks and disaster-recovery deploys run what was tested",
        environment="prod",
    )


@pytest.mark.parametrize(
    ("image", "environment"),
    [("acme/web", "staging"), ("acme/web:latest", "dev"), ("acme/web@" + DIGEST, "prod"), ("acme/web:1", "prod")],
)
def test_unpinned_images_elsewhere_and_pinned_in_prod_pass(image: str, environment: str) -> None:
    assert normalize_apps([app(image=image)], environment=environment)[0]["image"] == image


@pytest.mark.parametrize(
    ("apps", "expected"),
    [
        ([app(), app(image="acme/other:1")], "opsdeck_apps: app name 'web' is used twice (apps #0 and #1)"),
        (
            [app(), app(name="api"), app(), app()],
            "opsdeck_apps: app name 'web' is used 3 times (apps #0, #2 and #3)",
        ),
        (
            [
                app(ports=[{"name": "http", "port": 80, "host_port": 8080}]),
                app(name="api", ports=[{"name": "x", "port": 81}, {"name": "y", "port": 82, "host_port": 8080}]),
            ],
            "opsdeck_apps: host port 8080/tcp is published by both app 'web' (ports[0]) and app 'api' (ports[1])",
        ),
        (
            [
                app(ports=[{"name": "dns", "port": 53, "protocol": "udp", "host_port": 53}]),
                app(name="api", ports=[{"name": "dns", "port": 53, "protocol": "udp", "host_port": 53}]),
            ],
            "opsdeck_apps: host port 53/udp is published by both app 'web' (ports[0]) and app 'api' (ports[0])",
        ),
        (
            [
                app(ports=[{"name": "http", "port": 80, "public": True, "host": "www.example.com"}]),
                app(name="api", ports=[{"name": "http", "port": 80, "public": True, "host": "www.example.com"}]),
            ],
            "opsdeck_apps: public host 'www.example.com' is claimed by both app 'web' (ports[0]) and app 'api' "
            "(ports[0])",
        ),
        (
            [app(depends_on=["db"]), app(name="db")],
            "app 'web': field 'depends_on[0]': service_healthy needs a health check on app 'db', which has none; add "
            "health to 'db' or use condition service_started",
        ),
        (
            [app(depends_on=[{"name": "db", "condition": "service_healthy"}]), app(name="db")],
            "app 'web': field 'depends_on[0].condition': service_healthy needs a health check on app 'db', which has "
            "none; add health to 'db' or use condition service_started",
        ),
        (
            [app(depends_on=["db"]), app(name="db", state="absent", health={"command": ["true"]})],
            "app 'web': field 'depends_on[0]': app 'db' has state absent; a present app cannot depend on it",
        ),
        (
            [
                app(depends_on=[{"name": "b", "condition": "service_started"}]),
                app(name="b", depends_on=[{"name": "c", "condition": "service_started"}]),
                app(name="c", depends_on=[{"name": "web", "condition": "service_started"}]),
            ],
            "opsdeck_apps: depends_on forms a cycle: b -> c -> web -> b",
        ),
    ],
)
def test_cross_app_errors(apps: list[dict[str, Any]], expected: str) -> None:
    assert_finding(apps, expected)


@pytest.mark.parametrize(
    "apps",
    [
        # the same host port with another protocol
        [
            app(ports=[{"name": "dns", "port": 53, "host_port": 53}]),
            app(name="api", ports=[{"name": "dns", "port": 53, "protocol": "udp", "host_port": 53}]),
        ],
        # an app being removed frees its host port and public host
        [
            app(ports=[{"name": "http", "port": 80, "host_port": 8080, "public": True, "host": "a.example.com"}]),
            app(
                name="old",
                state="absent",
                ports=[{"name": "http", "port": 80, "host_port": 8080, "public": True, "host": "a.example.com"}],
            ),
        ],
        # the same host on ports that are not public (no routing is made for them)
        [
            app(ports=[{"name": "http", "port": 80, "host": "a.example.com"}]),
            app(name="api", ports=[{"name": "http", "port": 80, "host": "a.example.com"}]),
        ],
    ],
)
def test_cross_app_rules_allow(apps: list[dict[str, Any]]) -> None:
    assert len(normalize_apps(apps)) == len(apps)


def test_all_findings_are_reported_sorted_by_path() -> None:
    errors = errors_of(
        [
            app(restart="sometimes", replica=3, resources={"memory": "lots"}, image="BAD"),
            {"image": 5},
            app(),
        ],
        environment="qa",
    )
    assert errors == [
        "opsdeck_environment: 'qa' is not one of local, dev, staging, prod",
        "app 'web': field 'image': 'BAD' is not an image reference; " + model.IMAGE_HELP,
        "app 'web': field 'replica': unknown field (did you mean 'replicas'?); allowed fields: "
        + ", ".join(sorted(APP_SCHEMA["properties"])),
        "app 'web': field 'resources.memory': 'lots' is not a memory size (examples: 512Mi, 1G, 268435456)",
        "app 'web': field 'restart': 'sometimes' is not one of always, unless-stopped, on-failure, no",
        "app #1: field 'image': 5 is an integer, not an image reference repo[:tag][@sha256:digest], e.g. "
        "ghcr.io/acme/app:1.4.2",
        "app #1: field 'name': is missing; it is required (" + APP_SCHEMA["properties"]["name"]["x-allowed"] + ")",
        "opsdeck_apps: app name 'web' is used twice (apps #0 and #2)",
    ]


def test_list_indexes_sort_as_numbers() -> None:
    ports = [{"name": f"p{i}", "port": i + 1} for i in range(12)]
    ports[2]["port"] = 0
    ports[11]["port"] = 70000
    errors = errors_of([app(ports=ports)])
    assert [e.split("'")[3] for e in errors] == ["ports[2].port", "ports[11].port"]


def test_validate_apps_returns_findings_without_raising() -> None:
    assert validate_apps([app()]) == []
    assert validate_apps([app(restart="no")], environment="prod") == []
    assert validate_apps([app(replicas=-1)]) == ["app 'web': field 'replicas': -1 is not an integer >= 0"]


def test_model_error_carries_every_finding() -> None:
    error = ModelError(["one", "two"])
    assert error.errors == ["one", "two"]
    assert str(error) == "one\ntwo"
    assert isinstance(error, ValueError)
    assert ModelError("single").errors == ["single"]


def test_missing_jsonschema_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "_VALIDATOR", None)
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(ModelError, match="pip install jsonschema"):
        normalize_apps([app()])


# ---------------------------------------------------------------------------------------------
# The schema itself


def test_schema_is_valid_draft_2020_12() -> None:
    assert APP_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(APP_SCHEMA)


def _schema_nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "type" in node or "enum" in node or "pattern" in node:
            yield path, node
        for key, value in node.items():
            if key in ("if",):
                continue
            if key == "properties":
                for name, sub in value.items():
                    yield from _schema_nodes(sub, f"{path}.{name}")
            else:
                yield from _schema_nodes(value, f"{path}/{key}")


def test_every_constrained_schema_node_says_what_is_allowed() -> None:
    missing = [path for path, node in _schema_nodes(APP_SCHEMA) if "x-allowed" not in node]
    assert missing == []


def test_every_object_forbids_unknown_keys() -> None:
    objects = [(p, n) for p, n in _schema_nodes(APP_SCHEMA) if n.get("type") == "object" and "properties" in n]
    assert len(objects) > 10
    assert [p for p, n in objects if n.get("additionalProperties") is not False] == []


# ---------------------------------------------------------------------------------------------
# docs/model.md stays true to the code


def _yaml_blocks_after(heading: str) -> list[str]:
    text = (Path(__file__).resolve().parents[4] / "docs" / "model.md").read_text()
    section = text[text.index(heading) :]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


def test_documented_full_example_normalizes_as_documented() -> None:
    example, normalized = (yaml.safe_load(block) for block in _yaml_blocks_after("## A full example")[:2])
    result = normalize_apps(
        example["opsdeck_apps"], environment=example["opsdeck_environment"], registry=example["opsdeck_registry"]
    )
    assert result[0]["secrets"] == {"DATABASE_URL": "{{ vault_auth_database_url }}"}
    result[0]["secrets"] = {"DATABASE_URL": "<the vault value>"}
    assert result[0] == normalized
    assert len(result) == 2
