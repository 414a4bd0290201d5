# SPDX-License-Identifier: GPL-3.0-or-later
"""The database filters: thin wrappers; errors become AnsibleFilterError; plans hold no secret."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.filter.database import FilterModule

F = FilterModule().filters()
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
    plan = F["database_plan"](APPS, HOSTS, "a", IMAGES, EXPORTERS, registry="127.0.0.1:5000")
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
        F["database_plan"](bad, HOSTS, "a", IMAGES, EXPORTERS)
    assert str(info.value).startswith(
        "managed databases: the plan (1 finding):\napp 'shop': field 'databases[0].replicas'"
    )


def test_model_errors_come_through() -> None:
    bad = [{**APPS[0], "databases": [{"name": "x", "engine": "mongodb", "managed": True}]}]
    with pytest.raises(
        AnsibleFilterError, match=r"field 'databases\[0\]\.managed': the collection cannot run a mongodb"
    ):
        F["database_plan"](bad, HOSTS, "a", IMAGES, EXPORTERS)


def test_given_passwords_and_connection_secrets() -> None:
    assert F["database_given_passwords"](APPS) == {"shop/shopdb": "db-secret-value"}
    creds = {"shopdb": {"app": "p"}, "cache": {"admin": "r"}}
    out = F["database_connection_secrets"](APPS, "shop", creds)
    assert out["PGPASSWORD"] == "p" and out["REDISCLI_AUTH"] == "r"


def test_scrape_targets_take_raw_or_normalized_apps() -> None:
    hosts = [{**h, "address": h["name"]} for h in HOSTS]
    apps = [{**APPS[0], "databases": [{**APPS[0]["databases"][0], "metrics_port": 21187}]}]
    raw = F["database_scrape_targets"](apps, hosts, ["a"])
    assert [t["targets"] for t in raw] == [["127.0.0.1:21187"], ["b:21188"]]


def test_env_file_and_exporter_files() -> None:
    assert F["database_env_file"]({"A": 'x"$y'}) == 'A="x\\"\\$y"\n'
    plan = F["database_plan"](APPS, HOSTS, "a", IMAGES, EXPORTERS)
    files = F["database_exporter_files"](plan["projects"])
    assert [(f["project"], f["file"]) for f in files] == [("shop-shopdb-db", "exporter-queries.yaml")]
    assert "pg_last_wal_replay_lsn" in files[0]["content"]
