# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan of a run (module_utils/plan.py): made once from the model, no secret value in it."""

from __future__ import annotations

import json

import pytest

from ansible_collections.opsdeck.platform.plugins.filter.plan import FilterModule
from ansible_collections.opsdeck.platform.plugins.module_utils import plan as p
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.config import JOB_KEYS
from ansible_collections.opsdeck.platform.plugins.module_utils.compose import deploy_spec
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_manifests import pod_resources
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, normalize_apps

GROUPS = {
    "all": ["docker1", "docker2", "edge1", "db1"],
    "docker_hosts": ["docker1", "docker2"],
    "edge": ["edge1"],
    "database_hosts": ["db1"],
    "blue": ["docker2"],
}
APPS = [
    {
        "name": "shop",
        "image": "acme/shop:1.2.0",
        "ports": [{"name": "http", "port": 8080}],
        "secrets": {"API_TOKEN": "CANARY-app-secret", "SESSION_KEY": "CANARY-session"},
        "databases": [
            {"name": "shopdb", "engine": "postgres", "host": "db1", "password": "CANARY-db-password"},
            {"name": "cache", "engine": "redis", "managed": True, "hosts": ["docker1"]},
        ],
    },
    {"name": "blue-api", "image": "acme/api:2.0.0", "hosts": ["blue"]},
    {"name": "edge-only", "image": "acme/x:1.0.0", "hosts": ["edge1"]},
]


def build(apps: list[dict] | None = None, **kwargs: object) -> dict:
    return p.build(APPS if apps is None else apps, groups=GROUPS, **kwargs)


def test_no_secret_value_is_in_the_plan_only_references() -> None:
    plan = build(environment="dev", registry="127.0.0.1:5000")
    text = json.dumps(plan)
    assert "CANARY" not in text
    shop = plan["apps"][0]
    assert shop["secrets"] == {
        "API_TOKEN": {"secret": "API_TOKEN", "from": "model", "path": "opsdeck_apps[shop].secrets.API_TOKEN"},
        "SESSION_KEY": {"secret": "SESSION_KEY", "from": "model", "path": "opsdeck_apps[shop].secrets.SESSION_KEY"},
    }
    assert shop["databases"][0]["password"] == {
        "secret": "password",
        "from": "model",
        "path": "opsdeck_apps[shop].databases[shopdb].password",
    }
    assert shop["databases"][1]["password"] is None  # none given: the database role generates one


def test_the_plans_apps_are_the_models_normalization_but_for_the_secrets() -> None:
    plan = build(environment="prod", registry="reg.example:5000")
    expected = normalize_apps(APPS, environment="prod", registry="reg.example:5000")
    for planned, normalized in zip(plan["apps"], expected, strict=True):
        assert planned["image_ref"] == normalized["image_ref"]
        assert set(planned["secrets"]) == set(normalized["secrets"])
        for key in normalized:
            if key not in ("secrets", "databases", "resources"):
                assert planned[key] == normalized[key], key
    assert plan["environment"] == "prod" and plan["registry"] == "reg.example:5000"


def test_placement_is_by_host_name_or_group_and_an_app_without_hosts_goes_everywhere() -> None:
    hosts = build()["hosts"]
    assert hosts["docker1"] == {"groups": ["docker_hosts"], "apps": ["shop"]}
    assert hosts["docker2"] == {"groups": ["blue", "docker_hosts"], "apps": ["shop", "blue-api"]}
    assert hosts["edge1"]["apps"] == ["shop", "edge-only"]
    # a host the plan does not know is placed by the groups it is given
    plan = build()
    assert [a["name"] for a in p.host_apps(plan, "new-host", ["blue"])] == ["shop", "blue-api"]
    assert [a["name"] for a in p.host_apps(plan, "docker2")] == ["shop", "blue-api"]


@pytest.mark.parametrize(
    ("wanted", "name", "groups", "expected"),
    [
        ([], "h", [], True),
        (None, "h", None, True),
        (["h"], "h", [], True),
        (["g"], "h", ["g", "x"], True),
        (["g"], "h", ["x"], False),
        (["other"], "h", None, False),
    ],
)
def test_the_one_placement_rule(wanted: list[str] | None, name: str, groups: list[str] | None, expected: bool) -> None:
    assert p.placed(wanted, name, groups) is expected


def test_backup_jobs_are_the_present_apps_databases_with_backup_on_and_their_calendars() -> None:
    apps = [
        {
            **APPS[0],
            "databases": [
                {
                    **APPS[0]["databases"][0],
                    "backup": {"schedule": "0 2 * * mon-fri", "verify": {"schedule": "30 3 * * 0"}},
                },
                {"name": "off", "engine": "postgres", "host": "db1", "backup": {"enabled": False}},
            ],
        },
        {"name": "gone", "image": "acme/g:1", "state": "absent", "databases": [{"name": "g", "engine": "redis"}]},
    ]
    plan = build(apps)
    assert [j["key"] for j in plan["backup_jobs"]] == ["shop/shopdb"]
    job = plan["backup_jobs"][0]
    assert job["calendars"] == ["Mon..Fri *-*-* 02:00:00"]
    assert job["verify_calendars"] == ["Sun *-*-* 03:30:00"]
    assert job["unit"] == "opsdeck-backup-shop-shopdb" and job["verify_unit"] == "opsdeck-backup-verify-shop-shopdb"
    assert job["metrics_file"] == "opsdeck_backup_shop_shopdb.prom"
    assert "password" not in job
    assert [d["key"] for d in plan["databases"]] == ["shop/shopdb", "shop/off"]


def test_the_key_follows_the_inputs_but_not_the_secret_values() -> None:
    base = p.key(APPS, environment="dev", groups=GROUPS)
    assert p.key(APPS, environment="dev", groups=GROUPS) == base
    other_secret = [{**APPS[0], "secrets": {"API_TOKEN": "changed", "SESSION_KEY": "x"}}, *APPS[1:]]
    assert p.key(other_secret, environment="dev", groups=GROUPS) == base  # the plan holds no value
    assert p.key(APPS, environment="prod", groups=GROUPS) != base
    assert p.key(APPS, environment="dev", registry="r:5000", groups=GROUPS) != base
    assert p.key(APPS, environment="dev", groups={**GROUPS, "blue": []}) != base
    assert p.key([{**APPS[0], "replicas": 3}, *APPS[1:]], environment="dev", groups=GROUPS) != base
    assert build(environment="dev")["key"] == base


def test_a_bad_model_names_the_app_and_field_and_never_a_secret() -> None:
    bad = [{**APPS[0], "replica": 2, "databases": [{**APPS[0]["databases"][0], "port": "x"}]}]
    with pytest.raises(ModelError) as info:
        build(bad)
    text = str(info.value)
    assert "app 'shop': field 'replica'" in text and "databases[0].port" in text
    assert "CANARY" not in text


def test_secret_values_are_not_read_to_make_the_plan() -> None:
    class Unreadable(dict):
        """A mapping whose values raise when read (a vault variable not defined where the plan is made)."""

        def __getitem__(self, key: str) -> str:
            raise AssertionError(f"the value of {key} was read")

        def values(self):
            raise AssertionError("the values were read")

        def items(self):
            raise AssertionError("the values were read")

    apps = [{**APPS[0], "secrets": Unreadable({"API_TOKEN": "x"})}]
    assert set(build(apps)["apps"][0]["secrets"]) == {"API_TOKEN"}


def test_injected_secrets_are_added_by_name_and_the_apps_own_win() -> None:
    apps = build()["apps"][:1]
    out = p.with_injected_secrets(apps, {"shop": ["DATABASE_URL", "API_TOKEN"]}, "/etc/opsdeck/databases")
    assert out[0]["secrets"]["DATABASE_URL"] == {
        "secret": "DATABASE_URL",
        "from": "file",
        "path": "/etc/opsdeck/databases/shop/app.json",
    }
    assert out[0]["secrets"]["API_TOKEN"]["from"] == "model"
    assert "DATABASE_URL" not in apps[0]["secrets"]  # the plan itself is not changed


def test_passwords_come_from_the_raw_model_only_for_the_task_that_writes_them() -> None:
    assert p.database_passwords(APPS) == {"shop/shopdb": "CANARY-db-password", "shop/cache": None}


def test_the_filters_wrap_the_model_errors() -> None:
    filters = FilterModule().filters()
    plan = filters["app_plan"](APPS, environment="dev", groups=GROUPS)
    assert filters["app_plan_key"](APPS, environment="dev", groups=GROUPS) == plan["key"]
    assert [a["name"] for a in filters["plan_host_apps"](plan, "docker1")] == ["shop"]
    with pytest.raises(Exception, match=r"opsdeck_apps is not a valid application model \(1 finding\)"):
        filters["app_plan"]([{"name": "x"}])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"cpu_request": "100m", "memory_request": "128Mi", "memory": "256Mi"}),
        ({"memory": "1Gi"}, {"cpu_request": "100m", "memory_request": "1Gi", "memory": "1Gi"}),
        ({"memory": "64Mi"}, {"cpu_request": "100m", "memory_request": "64Mi", "memory": "64Mi"}),
        ({"memory_request": "512Mi"}, {"cpu_request": "100m", "memory_request": "512Mi", "memory": "512Mi"}),
        ({"cpu": "2"}, {"cpu": "2", "cpu_request": "2", "memory_request": "128Mi", "memory": "256Mi"}),
        ({"cpu_request": "250m"}, {"cpu_request": "250m", "memory_request": "128Mi", "memory": "256Mi"}),
    ],
)
def test_default_resources_fill_what_the_app_leaves_out(given: dict, expected: dict) -> None:
    app = build([{"name": "a", "image": "x/a:1", "resources": given}])["apps"][0]
    assert {
        k: app["resources"][k] for k in ("cpu", "cpu_request", "memory", "memory_request") if app["resources"][k]
    } == (expected)


def test_an_app_gets_the_same_limits_on_docker_hosts_and_on_kubernetes() -> None:
    for resources in ({}, {"memory": "1Gi"}, {"cpu": "500m", "memory_request": "300Mi"}):
        app = build([{"name": "a", "image": "x/a:1", "resources": resources}])["apps"][0]
        service = deploy_spec(app)["definition"]["services"]["a"]
        compose = service["deploy"]["resources"]
        k8s = pod_resources(app, {"default_resources": {}})
        assert k8s["_numbers"]["mem_limit"] == app["resources"]["memory_bytes"] > 0
        assert compose["limits"]["memory"] == app["resources"]["memory_compose"]
        assert compose["reservations"]["memory"] == app["resources"]["memory_request_compose"]
        assert k8s["limits"]["memory"] == app["resources"]["memory_k8s"]
        assert k8s["requests"]["memory"] == app["resources"]["memory_request_k8s"]
        assert float(compose["reservations"]["cpus"]) * 1000 == k8s["_numbers"]["cpu_req"]


def test_the_site_sets_its_own_defaults_and_bad_ones_are_named() -> None:
    plan = build([{"name": "a", "image": "x/a:1"}], default_resources={"memory": "512Mi"})
    assert plan["apps"][0]["resources"]["memory_k8s"] == "512Mi"
    assert plan["apps"][0]["resources"]["cpu_request"] is None
    assert plan["default_resources"] == {"memory": "512Mi"}
    with pytest.raises(ModelError, match=r"opsdeck_default_resources.memory: .*examples"):
        build([{"name": "a", "image": "x/a:1"}], default_resources={"memory": "lots"})
    with pytest.raises(ModelError, match=r"opsdeck_default_resources.disk: unknown key"):
        build([{"name": "a", "image": "x/a:1"}], default_resources={"disk": "1Gi"})


def test_the_engines_jobs_have_one_shape_on_database_hosts_and_in_backup_pods() -> None:
    plan = build([{**APPS[0], "databases": [APPS[0]["databases"][0]]}])
    jobs = FilterModule().filters()["backup_engine_jobs"](plan["backup_jobs"], p.database_passwords(APPS))
    assert set(jobs) == {"shop/shopdb"}
    assert tuple(jobs["shop/shopdb"]) == JOB_KEYS
    assert jobs["shop/shopdb"]["password"] == "CANARY-db-password"
    assert jobs["shop/shopdb"]["host"] == "db1" and jobs["shop/shopdb"]["port"] == 5432
