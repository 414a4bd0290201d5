# SPDX-License-Identifier: GPL-3.0-or-later
"""The database filters: thin wrappers; errors become AnsibleFilterError; plans hold no secret."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.filter.database import FilterModule
from ansible_collections.opsdeck.platform.plugins.filter.plan import FilterModule as PlanFilters

F = FilterModule().filters()
PLAN = PlanFilters().filters()


def planned(apps: list[dict], registry: str | None = None) -> list[dict]:
    """The apps of the run's plan, as the roles pass them (role opsdeck.platform.plan)."""
    return PLAN["app_plan"](apps, registry=registry)["apps"]


HOSTS = [{"name": "a", "groups": ["docker_hosts"]}, {"name": "b", "groups": ["docker_hosts"]}]
IMAGES = {"postgres": {"15": "opsdeck/postgresql:15"}, "redis": {"7.0": "opsdeck/redis:7.0"}}
EXPORTERS = {"postgres": "opsdeck/pe:1", "redis": "opsdeck/re:1"}
APPS = [
    {
        "name": "shop",
        "image": "acme/shop:1",
        "hosts": ["a"],
        "secrets": {"TOKEN": "app-secret-value"},
        "databases": [
            {
                "name": "shopdb",
                "engine": "postgres",
                "managed": True,
                "replicas": 1,
                "hosts": ["docker_hosts"],
                "password": "db-secret-value",
            },
            {"name": "cache", "engine": "redis", "managed": True, "hosts": ["a"]},
        ],
    }
]


def test_plan_holds_no_secret_and_prefixes_the_registry() -> None:
    plan = F["database_plan"](planned(APPS, "127.0.0.1:5000"), HOSTS, "a", IMAGES, EXPORTERS, registry="127.0.0.1:5000")
    assert "secret-value" not in repr(plan)
    server = plan["projects"][0]["definition"]["services"]["server"]
    assert server["image"] == "127.0.0.1:5000/opsdeck/postgresql:15"
    assert plan["clients"] == [
        {
            "app": "shop",
            "databases": [{"name": "shopdb", "primary": "a"}, {"name": "cache", "primary": "a"}],
            "given": ["TOKEN"],
        }
    ]


def test_plan_error_counts_the_findings() -> None:
    bad = [{**APPS[0], "databases": [{**APPS[0]["databases"][0], "replicas": 2}]}]
    with pytest.raises(AnsibleFilterError) as info:
        F["database_plan"](planned(bad), HOSTS, "a", IMAGES, EXPORTERS)
    assert str(info.value).startswith(
        "managed databases: the plan (1 finding):\napp 'shop': field 'databases[0].replicas'"
    )


def test_model_errors_come_through_the_plan() -> None:
    bad = [{**APPS[0], "databases": [{"name": "x", "engine": "mongodb", "managed": True}]}]
    with pytest.raises(
        AnsibleFilterError, match=r"field 'databases\[0\]\.managed': the collection cannot run a mongodb"
    ):
        planned(bad)


def test_given_passwords_and_connection_secrets() -> None:
    assert F["database_given_passwords"](APPS) == {"shop/shopdb": "db-secret-value"}
    creds = {"shopdb": {"app": "p"}, "cache": {"admin": "r"}}
    out = F["database_connection_secrets"](planned(APPS), "shop", creds)
    assert out["PGPASSWORD"] == "p" and out["REDISCLI_AUTH"] == "r"


def test_scrape_targets_of_the_plans_apps() -> None:
    hosts = [{**h, "address": h["name"]} for h in HOSTS]
    apps = [{**APPS[0], "databases": [{**APPS[0]["databases"][0], "metrics_port": 21187}]}]
    raw = F["database_scrape_targets"](planned(apps), hosts, ["a"])
    assert [t["targets"] for t in raw] == [["127.0.0.1:21187"], ["b:21188"]]


def test_env_file_and_exporter_files() -> None:
    assert F["database_env_file"]({"A": 'x"$y'}) == 'A="x\\"\\$y"\n'
    plan = F["database_plan"](planned(APPS), HOSTS, "a", IMAGES, EXPORTERS)
    # postgres_exporter's own replication collector: no query file any more
    assert F["database_exporter_files"](plan["projects"]) == []


def test_the_mariadb_exporter_logs_in_with_a_secret_option_file() -> None:
    apps = [
        {
            "name": "crm",
            "image": "acme/crm:1",
            "hosts": ["a"],
            "databases": [{"name": "crmdb", "engine": "mariadb", "managed": True, "hosts": ["a"]}],
        }
    ]
    images = {"mariadb": {"10.11": "mariadb:10.11.18"}}
    plan = F["database_plan"](planned(apps), HOSTS, "a", images, {"mariadb": "prom/mysqld-exporter:v0.17.2"})
    exporter = plan["projects"][0]["definition"]["services"]["exporter"]
    assert exporter["command"] == ["--config.my-cnf=/etc/mysqld-exporter/my.cnf"]
    assert "DATA_SOURCE_NAME" not in repr(exporter)
    creds = {"admin": "Adm1n", "app": "App1", "replication": "R", "exporter": "E"}
    hostvars = {"a": {"_database_credentials": {"crm/crmdb": creds}}}
    files = F["database_exporter_secret_files"](plan["projects"], hostvars)
    assert [(f["project"], f["file"]) for f in files] == [("crm-crmdb-db", "exporter.my.cnf")]
    assert 'password = "Adm1n"' in files[0]["content"] and "host = crm-crmdb-db" in files[0]["content"]
    bad = {"a": {"_database_credentials": {"crm/crmdb": {**creds, "admin": 'a"b'}}}}
    with pytest.raises(AnsibleFilterError, match="app 'crm': database 'crmdb': the admin password has a double"):
        F["database_exporter_secret_files"](plan["projects"], bad)
