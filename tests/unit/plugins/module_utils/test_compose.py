# SPDX-License-Identifier: GPL-3.0-or-later
"""Rendering compose projects from the application model (pure functions)."""

from __future__ import annotations

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.compose import (
    ComposeRenderError,
    deploy_order,
    deploy_plan,
    info_queries,
    render_definition,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.compose_project import (
    dump_definition,
    render_env_file,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps, secrets_by_app
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import build as build_plan
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import host_apps


def one(**fields):
    app = {"name": "web", "image": "acme/web:1.2.3", **fields}
    return normalize_apps([app], environment="prod", registry="mirror.example.com:5000")[0]


def svc(definition, name="web"):
    return definition["services"][name]


def test_minimal_app_is_hardened_by_default():
    d = render_definition(one())
    s = svc(d)
    assert d["name"] == "web"
    assert s["image"] == "mirror.example.com:5000/acme/web:1.2.3"
    assert s["user"] == "65534:65534"
    assert s["read_only"] is True
    assert s["tmpfs"] == ["/tmp"]
    assert s["cap_drop"] == ["ALL"]
    assert s["security_opt"] == ["no-new-privileges:true"]
    assert s["deploy"]["resources"]["limits"]["pids"] == 512
    assert s["restart"] == "unless-stopped"
    assert s["labels"]["io.opsdeck.app"] == "web"
    assert s["labels"]["io.opsdeck.environment"] == "prod"
    assert s["labels"]["io.opsdeck.version"] == "1.2.3"
    assert "ports" not in s and "env_file" not in s


@pytest.mark.parametrize(
    ("hardening", "key", "absent_or_value"),
    [
        ({"read_only_root": False}, "read_only", None),
        ({"cap_drop_all": False}, "cap_drop", None),
        ({"no_new_privileges": False}, "security_opt", None),
        ({"user": None}, "user", None),
        ({"cap_add": ["NET_BIND_SERVICE"]}, "cap_add", ["NET_BIND_SERVICE"]),
    ],
)
def test_each_hardening_piece_has_an_opt_out(hardening, key, absent_or_value):
    s = svc(render_definition(one(hardening=hardening)))
    assert s.get(key) == absent_or_value


def test_ports_publish_on_loopback_by_default_and_unpublished_ports_are_exposed():
    s = svc(
        render_definition(
            one(ports=[{"name": "http", "port": 8080, "host_port": 18080}, {"name": "admin", "port": 9000}])
        )
    )
    assert s["ports"] == [{"target": 8080, "protocol": "tcp", "published": "18080", "host_ip": "127.0.0.1"}]
    assert s["expose"] == ["9000"]


def test_resources_become_limits_and_reservations():
    s = svc(render_definition(one(resources={"cpu": "500m", "memory": "512Mi", "memory_request": "256Mi"})))
    assert s["deploy"]["resources"]["limits"] == {"pids": 512, "cpus": "0.5", "memory": "512m"}
    assert s["deploy"]["resources"]["reservations"] == {"memory": "256m"}


def test_secrets_are_referenced_never_inlined():
    d = render_definition(one(secrets={"DATABASE_URL": "postgres://u:hunter2@db/x"}))
    s = svc(d)
    assert "hunter2" not in dump_definition(d)
    assert s["env_file"] == [{"path": "secrets.env", "required": True}]
    assert {
        "type": "bind",
        "source": "./secrets/DATABASE_URL",
        "target": "/run/secrets/DATABASE_URL",
        "read_only": True,
    } in s["volumes"]


def test_exec_health_check_becomes_a_compose_healthcheck_and_http_one_does_not():
    s = svc(render_definition(one(health={"command": ["/bin/check"], "interval_s": 7})))
    assert s["healthcheck"]["test"] == ["CMD", "/bin/check"]
    assert s["healthcheck"]["interval"] == "7s"
    http = one(ports=[{"name": "http", "port": 8080}], health={"path": "/health", "port": "http"})
    assert "healthcheck" not in svc(render_definition(http))


def test_volumes_networks_profiles_command():
    d = render_definition(
        one(
            volumes=[{"name": "data", "path": "/var/lib/web"}],
            networks=["shared"],
            profiles=["batch"],
            command=["/bin/web"],
            args=["--serve"],
        )
    )
    s = svc(d)
    assert {"type": "volume", "source": "data", "target": "/var/lib/web", "read_only": False} in s["volumes"]
    assert d["volumes"] == {"data": {"labels": {"io.opsdeck.app": "web"}}}
    assert d["networks"]["shared"] == {"name": "shared", "external": True}
    assert s["networks"] == ["default", "shared"]
    assert s["profiles"] == ["batch"]
    assert s["entrypoint"] == ["/bin/web"] and s["command"] == ["--serve"]


def test_replicas_with_a_host_port_are_refused_naming_app_and_field():
    app = one(replicas=3, ports=[{"name": "http", "port": 8080, "host_port": 18080}])
    with pytest.raises(
        ComposeRenderError, match=r"app 'web': field 'replicas': 3 replicas cannot all publish host port 18080"
    ):
        render_definition(app)


def test_deploy_order_puts_dependencies_first():
    apps = normalize_apps(
        [
            {"name": "api", "image": "a/api:1", "depends_on": [{"name": "db", "condition": "service_started"}]},
            {"name": "web", "image": "a/web:1", "depends_on": [{"name": "api", "condition": "service_started"}]},
            {"name": "db", "image": "a/db:1"},
        ]
    )
    assert [a["name"] for a in deploy_order(apps)] == ["db", "api", "web"]


def test_deploy_plan_of_a_hosts_apps_reports_every_render_error():
    run = build_plan(
        [
            {"name": "a", "image": "x/a:1", "hosts": ["docker_hosts"]},
            {"name": "b", "image": "x/b:1", "hosts": ["edge1"]},
            {"name": "c", "image": "x/c:1"},
        ],
        groups={"all": ["docker1", "edge1"], "docker_hosts": ["docker1"]},
    )
    plan = deploy_plan(host_apps(run, "docker1"))
    assert [p["name"] for p in plan] == ["a", "c"]
    assert plan[0]["definition"]["services"]["a"]["image"] == "x/a:1"
    bad = normalize_apps(
        [
            {"name": "p", "image": "x/p:1", "replicas": 2, "ports": [{"name": "h", "port": 1, "host_port": 18001}]},
            {"name": "q", "image": "x/q:1", "replicas": 2, "ports": [{"name": "h", "port": 1, "host_port": 18002}]},
        ]
    )
    with pytest.raises(ComposeRenderError) as err:
        deploy_plan(bad)
    assert "app 'p'" in str(err.value) and "app 'q'" in str(err.value)


def test_plan_carries_checks_and_hooks_but_no_secret():
    app = one(
        ports=[{"name": "http", "port": 8080}],
        health={"path": "/health", "port": "http"},
        secrets={"TOKEN": "s3cret"},
        hooks={
            "pre_deploy": [{"name": "migrate", "command": ["/app", "migrate"]}],
            "smoke": [{"name": "home", "path": "/", "port": "http", "body_contains": "ok"}],
        },
    )
    (spec,) = deploy_plan([app])
    assert spec["health_checks"] == [
        {"service": "web", "scheme": "http", "port": 8080, "path": "/health", "timeout_s": 3}
    ]
    assert spec["smoke_checks"][0]["body_contains"] == "ok"
    assert spec["pre_deploy"] == [
        {"name": "migrate", "service": "web", "command": ["/app", "migrate"], "timeout_s": 300}
    ]
    assert "s3cret" not in repr(spec)


def test_env_file_escapes_what_compose_unescapes():
    # Compose itself reading these back is checked in tests/integration/test_compose_project.py
    assert render_env_file({"B": 'it\'s "$HOME" a\\b', "A": "x\ny"}) == 'A="x\\ny"\nB="it\'s \\"\\$HOME\\" a\\\\b"\n'


def test_info_queries_carry_desired_state_and_secrets_by_app():
    apps = normalize_apps(
        [{"name": "a", "image": "x/a:1", "secrets": {"T": "1"}}, {"name": "b", "image": "x/b:1", "state": "absent"}]
    )
    queries = info_queries(deploy_plan(apps), secrets_by_app(apps), "/srv/apps/", ["batch"])
    assert [q["project_dir"] for q in queries] == ["/srv/apps/a", "/srv/apps/b"]
    assert queries[0]["secrets"] == {"T": "1"} and queries[1]["secrets"] == {}
    assert queries[0]["definition"]["services"]["a"]["image"] == "x/a:1"
    assert queries[1]["definition"] is None  # an absent app is never "in sync"
    assert queries[0]["profiles"] == ["batch"]
