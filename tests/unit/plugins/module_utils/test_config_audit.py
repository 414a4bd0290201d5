# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the configuration audit (plugins/module_utils/config_audit.py) and its module's exits."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils import config_audit
from ansible_collections.opsdeck.platform.plugins.module_utils.config_audit import (
    AuditError,
    audit,
    password_problem,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError

STRONG = "Vq7-pX2m!rT9wLz4"
AGE = "age1pdzheu2kayaqnpv0y8l5jffw95dj0jyg6vkpu439zsypgqmptf5s05gqw6"

GOOD_APP: dict[str, Any] = {
    "name": "shop",
    "image": "opsdeck/sampleapp:1.0.0",
    "replicas": 3,
    "env": {"LOG_LEVEL": "info", "DEBUG": "false"},
    "secrets": {"DB_PASSWORD": STRONG, "DATABASE_URL": f"postgres://shop:{STRONG}@db:5432/shop"},
    "ports": [{"name": "http", "port": 8080, "public": True, "host": "shop.example.com"}],
    "resources": {"cpu": "500m", "memory": "256Mi"},
    "databases": [{"name": "shopdb", "engine": "postgres", "host": "db.internal", "password": STRONG}],
}
GOOD_BACKUP = {
    "store": {"type": "s3", "bucket": "b", "endpoint_url": "https://s3.example.com"},
    "recipients": [AGE],
}


def run(apps: list[dict[str, Any]], environment: str = "prod", **kw: Any) -> dict[str, Any]:
    kw.setdefault("backup", GOOD_BACKUP)
    return audit(apps, environment=environment, **kw)


def app(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(GOOD_APP)
    out.update(changes)
    return out


def fields(result: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(f["app"], f["field"], f["rule"]) for f in result["findings"]]


def test_a_prod_shaped_model_has_no_finding() -> None:
    result = run([GOOD_APP])
    assert result["findings"] == []
    assert result["errors"] == [] and result["warnings"] == []
    assert result["strict"] is True


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"resources": {"cpu": "500m"}}, ("shop", "resources.memory", "resource_limits")),
        ({"resources": {"memory": "1Gi"}}, ("shop", "resources.cpu", "resource_limits")),
        (
            {"ports": [{"name": "http", "port": 8080, "public": True, "host": "shop.example.com", "tls": False}]},
            ("shop", "ports[0].tls", "plain_http"),
        ),
        ({"secrets": {"ADMIN_PASSWORD": "changeme"}}, ("shop", "secrets.ADMIN_PASSWORD", "weak_password")),
        ({"secrets": {"API_TOKEN": "short1"}}, ("shop", "secrets.API_TOKEN", "weak_password")),
        (
            {"secrets": {"DATABASE_URL": "postgres://shop:postgres@db/shop"}},
            ("shop", "secrets.DATABASE_URL", "weak_password"),
        ),
        (
            {"databases": [{"name": "shopdb", "engine": "postgres", "host": "db", "password": "Password123!"}]},
            ("shop", "databases[0].password", "weak_password"),
        ),
        (
            {"databases": [{"name": "shopdb", "engine": "postgres", "host": "db"}]},
            ("shop", "databases[0].password", "weak_password"),
        ),
        (
            {
                "databases": [
                    {
                        "name": "shopdb",
                        "engine": "postgres",
                        "host": "db",
                        "password": STRONG,
                        "backup": {"enabled": False},
                    }
                ]
            },
            ("shop", "databases[0].backup.enabled", "database_backup"),
        ),
        ({"env": {"DEBUG": "true"}}, ("shop", "env.DEBUG", "debug")),
        ({"env": {"APP_DEBUG": "1"}}, ("shop", "env.APP_DEBUG", "debug")),
        ({"env": {"LOG_LEVEL": "DEBUG"}}, ("shop", "env.LOG_LEVEL", "debug")),
    ],
)
def test_each_rule_names_the_app_and_the_field(changes: dict[str, Any], expected: tuple[str, str, str]) -> None:
    result = run([app(**changes)])
    assert fields(result) == [expected]
    line = result["errors"][0]
    assert line.startswith(f"app 'shop': field '{expected[1]}': ")
    assert line.endswith(f"[{expected[2]}]")


@pytest.mark.parametrize("image", ["opsdeck/sampleapp:latest", "opsdeck/sampleapp"])
def test_unpinned_images_in_staging(image: str) -> None:
    # (in prod the model's own schema check refuses them before the audit)
    result = run([app(image=image)], "staging")
    assert fields(result) == [("shop", "image", "unpinned_image")]
    assert run([app(image=image + "@sha256:" + "a" * 64)], "staging")["findings"] == []


def test_secret_values_are_never_in_a_message() -> None:
    result = run([app(secrets={"ADMIN_PASSWORD": "hunter2", "DATABASE_URL": "postgres://u:toor@h/d"})])
    text = json.dumps(result)
    assert "hunter2" not in text and "toor" not in text
    assert {f["field"] for f in result["findings"]} == {"secrets.ADMIN_PASSWORD", "secrets.DATABASE_URL"}


def test_strict_in_prod_and_staging_warnings_in_dev_and_local() -> None:
    bad = [app(image="opsdeck/sampleapp:latest")]
    for env in ("staging",):  # prod: the model's own schema check refuses :latest before the audit
        result = run(bad, env)
        assert result["strict"] and result["errors"] and not result["warnings"]
    for env in ("dev", "local"):
        result = run(bad, env)
        assert not result["strict"] and result["warnings"] and not result["errors"]


def test_debug_is_a_finding_only_in_prod() -> None:
    debug_app = [app(env={"DEBUG": "true"})]
    assert fields(run(debug_app, "staging")) == []
    assert fields(run(debug_app, "dev")) == []
    assert fields(run([GOOD_APP], "prod", debug=True)) == [(None, "opsdeck_debug", "debug")]
    assert fields(run([GOOD_APP], "dev", debug=True)) == []


@pytest.mark.parametrize(
    ("backup", "field"),
    [
        ({"store": GOOD_BACKUP["store"], "recipients": []}, "opsdeck_backup_recipients"),
        ({"store": GOOD_BACKUP["store"]}, "opsdeck_backup_recipients"),
        ({"store": GOOD_BACKUP["store"], "recipients": ["AGE-SECRET-KEY-1ABC"]}, "opsdeck_backup_recipients"),
        (
            {"store": {"type": "s3", "bucket": "b", "endpoint_url": "http://s3:9000"}, "recipients": [AGE]},
            "opsdeck_backup_store.endpoint_url",
        ),
        (
            {
                "store": GOOD_BACKUP["store"],
                "recipients": [AGE],
                "prune_store": {"type": "s3", "bucket": "b", "validate_certs": False},
            },
            "opsdeck_backup_prune_store.validate_certs",
        ),
    ],
)
def test_unencrypted_backups(backup: dict[str, Any], field: str) -> None:
    result = run([GOOD_APP], backup=backup)
    assert fields(result) == [(None, field, "backup_encryption")]
    assert result["errors"][0].startswith(f"{field}: ")
    assert "AGE-SECRET-KEY-1ABC" not in json.dumps(result)


def test_backup_settings_do_not_matter_without_backed_up_databases() -> None:
    no_db = app(databases=[])
    assert run([no_db], backup={})["findings"] == []


def test_pitr_needs_a_strong_cipher_pass() -> None:
    pitr = app(
        databases=[
            {
                "name": "shopdb",
                "engine": "postgres",
                "host": "db",
                "password": STRONG,
                "backup": {"pitr": {"enabled": True}},
            }
        ]
    )
    assert fields(run([pitr])) == [(None, "opsdeck_backup_pitr_cipher_pass", "backup_encryption")]
    ok = dict(GOOD_BACKUP, pitr_cipher_pass="x" * 4 + STRONG)
    assert run([pitr], backup=ok)["findings"] == []


def test_databases_in_containers_may_have_no_password() -> None:
    inside = app(databases=[{"name": "shopdb", "engine": "postgres", "container": "shop-db"}])
    assert run([inside])["findings"] == []


def test_absent_apps_are_not_audited() -> None:
    assert run([app(state="absent", image="opsdeck/sampleapp:latest", resources={})], "dev")["findings"] == []


def test_extra_secrets_are_checked_by_name() -> None:
    result = run([GOOD_APP], secrets={"monitoring_grafana_admin_password": "admin"})
    assert fields(result) == [(None, "monitoring_grafana_admin_password", "weak_password")]


def test_waivers_move_a_finding_aside() -> None:
    bad = [app(image="opsdeck/sampleapp:latest", resources={})]
    result = run(bad, "staging", waivers=["shop:unpinned_image", "*:resource_limits:resources.cpu"])
    assert fields(result) == [("shop", "resources.memory", "resource_limits")]
    assert {f["field"] for f in result["waived"]} == {"image", "resources.cpu"}
    result = run([GOOD_APP], backup={}, waivers=["-:backup_encryption"])
    assert result["findings"] == [] and len(result["waived"]) == 1


@pytest.mark.parametrize("waivers", [["shop"], ["shop:no_such_rule"], "shop:debug", [":debug"]])
def test_bad_waivers_are_refused(waivers: Any) -> None:
    with pytest.raises(AuditError, match="waivers"):
        run([GOOD_APP], waivers=waivers)


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(AuditError, match="opsdeck_environment: 'production' is not one of local, dev, staging, prod"):
        run([GOOD_APP], "production")


def test_an_invalid_model_raises_the_model_errors() -> None:
    with pytest.raises(ModelError, match="app 'shop': field 'replica': unknown field"):
        run([app(replica=2)])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is not set"),
        ("", "is empty"),
        ("postgres", "well-known default"),
        ("Admin2024!", "well-known default"),
        ("aaaaaaaaaaaaaaaa", "repeats"),
        ("shop", "same as the user"),
        ("x7!Kp2", "shorter than 12"),
        (STRONG, None),
    ],
)
def test_password_problem(value: Any, problem: str | None) -> None:
    got = password_problem(value, also_not=("shop",))
    assert (got is None) if problem is None else (problem in got)


def test_every_rule_has_a_description() -> None:
    assert set(config_audit.RULES) == {
        "weak_password",
        "plain_http",
        "resource_limits",
        "unpinned_image",
        "database_backup",
        "backup_encryption",
        "debug",
    }


def test_secret_values_are_the_secrets_passwords_and_store_keys_only() -> None:
    store = {"type": "s3", "bucket": "b", "prefix": "prod", "access_key": "AK", "secret_key": "SK"}
    values = config_audit.secret_values([GOOD_APP, "not an app", {"name": "x", "databases": "bad"}], store, None)
    assert values == {STRONG, f"postgres://shop:{STRONG}@db:5432/shop", "AK", "SK"}


def test_strict_can_be_set_against_the_environment() -> None:
    bad = [app(image="opsdeck/sampleapp:latest")]
    relaxed = run(bad, "staging", strict=False)
    assert relaxed["warnings"] and not relaxed["errors"] and relaxed["strict"] is False
    assert run(bad, "dev", strict=True)["errors"]
