# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of module_utils/grafana.py: provisioning, dashboards, the service's settings.

Grafana cannot run here (AGPL, refused), so nothing in this file is loaded by a Grafana: the
provisioning and the shipped dashboards are checked against Grafana's documented formats
(tests/grafana_schema.py, JSON Schemas written from Grafana's documentation), the datasource
references against the provisioned datasources, and the settings for what they must never do
(a secret as a value, a setting the role owns overridden). The compose service these settings
go into is checked by the real `docker compose config` in tests/integration/test_grafana_compose.py;
the dashboards' PromQL by the real promtool in tests/integration/test_grafana_promql.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils import grafana as g
from ansible_collections.opsdeck.platform.tests import grafana_schema as schema

ROOT = Path(__file__).resolve().parents[4]
BOARDS = ROOT / "roles" / "monitoring" / "files" / "dashboards"
URLS = {
    "prometheus_url": "http://127.0.0.1:9090",
    "alertmanager_url": "http://127.0.0.1:9093",
    "logs_url": "http://127.0.0.1:9428",
}


def boards() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(BOARDS.glob("*.json"))}


def settings(**over):
    return g.settings(**{"listen_address": "127.0.0.1", "port": 3000, **over})


# ----- provisioning ----------------------------------------------------------------------------


@pytest.mark.parametrize("traces", [None, "http://127.0.0.1:16686"])
def test_provisioning_files_follow_grafanas_documented_format(traces):
    out = g.provisioning(**URLS, traces_url=traces)
    assert schema.problems(out["datasources"], schema.DATASOURCES_SCHEMA) == []
    assert schema.problems(out["dashboards"], schema.DASHBOARD_PROVIDERS_SCHEMA) == []
    ds = out["datasources"]["datasources"]
    assert [d["uid"] for d in ds] == ["opsdeck-prometheus", "opsdeck-alertmanager", "opsdeck-logs"] + (
        ["opsdeck-traces"] if traces else []
    )
    assert [d["name"] for d in ds if d.get("isDefault")] == ["Prometheus"]
    assert {d["uid"]: d["type"] for d in ds} == {u: g.DATASOURCES[u] for u in (d["uid"] for d in ds)}
    assert all(d["editable"] is False and d["access"] == "proxy" for d in ds)
    assert not any(d["type"] == "loki" for d in ds)  # the logs are VictoriaLogs (Loki is AGPL)
    assert out["dashboards"]["providers"][0]["options"]["path"] == g.DASHBOARDS_DIR


def test_the_schema_catches_what_grafana_would_ignore():
    bad = g.provisioning(**URLS)["datasources"]
    bad["datasources"][0]["isdefault"] = True  # a typo Grafana ignores silently
    bad["apiVersion"] = 2
    found = schema.problems(bad, schema.DATASOURCES_SCHEMA)
    assert any("isdefault" in p for p in found) and any(p.startswith("apiVersion") for p in found)
    provider = g.provisioning(**URLS)["dashboards"]
    del provider["providers"][0]["options"]["path"]
    assert schema.problems(provider, schema.DASHBOARD_PROVIDERS_SCHEMA) == [
        "providers/0/options: 'path' is a required property"
    ]


# ----- the shipped dashboards ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in BOARDS.glob("*.json")))
def test_shipped_dashboards_follow_the_json_model_and_name_provisioned_datasources(name):
    board = json.loads((BOARDS / name).read_text())
    assert schema.problems(board, schema.DASHBOARD_SCHEMA) == []
    provisioned = {d["uid"]: d["type"] for d in g.provisioning(**URLS)["datasources"]["datasources"]}
    refs = g.datasource_refs(board)  # the same walk the check uses
    assert refs, "every panel names its datasource"
    for where, ref in refs:
        assert provisioned.get(ref["uid"]) == ref["type"], where
    assert len(schema.promql_queries(board)) >= len(board["panels"])


def test_check_dashboards_parses_all_and_keeps_uids_apart():
    parsed = g.check_dashboards(boards(), ["opsdeck-prometheus"])
    assert sorted(parsed) == ["apps.json", "backups.json", "hosts.json"]
    assert len({b["uid"] for b in parsed.values()}) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.pop("uid"), r"apps.json: field 'uid'"),
        (lambda b: b.update(panels=[]), r"field 'panels': a non-empty list"),
        (lambda b: b["panels"][1].update(id=1), r"panels\[1\]: field 'id'"),
        (lambda b: b["panels"][0].pop("targets"), r"panels\[0\] \('Request rate'\): field 'targets'"),
        (
            lambda b: b["panels"][0].update(datasource={"type": "prometheus", "uid": "other"}),
            r"panels\[0\] \('Request rate'\): datasource .*other.* is not a provisioned one",
        ),
        (
            lambda b: b["panels"][0].update(datasource={"type": "loki", "uid": "opsdeck-prometheus"}),
            r"datasource opsdeck-prometheus has type 'prometheus', not 'loki'",
        ),
        (
            lambda b: b["templating"]["list"][0].update(datasource="Prometheus"),
            r"templating.list\[0\] \('app'\): datasource \"Prometheus\"",
        ),
    ],
)
def test_check_dashboards_names_the_file_and_the_panel(change, message):
    board = json.loads((BOARDS / "apps.json").read_text())
    change(board)
    with pytest.raises(g.GrafanaError, match=message):
        g.check_dashboards({"apps.json": board})


def test_check_dashboards_refuses_bad_json_and_a_uid_twice():
    with pytest.raises(g.GrafanaError, match=r"x\.json: not JSON"):
        g.check_dashboards({"x.json": "{"})
    text = (BOARDS / "apps.json").read_text()
    with pytest.raises(g.GrafanaError, match=r"is also the uid of a\.json"):
        g.check_dashboards({"a.json": text, "b.json": text})


def test_a_datasource_not_provisioned_is_refused():
    board = json.loads((BOARDS / "apps.json").read_text())
    board["panels"][0]["datasource"] = {"type": "jaeger", "uid": "opsdeck-traces"}
    with pytest.raises(g.GrafanaError, match="opsdeck-traces"):
        g.check_dashboards({"apps.json": board}, ["opsdeck-prometheus"])  # tracing off
    assert g.check_dashboards({"apps.json": board})  # tracing on: provisioned


# ----- settings --------------------------------------------------------------------------------


def test_default_settings_are_hardened_and_carry_no_secret():
    out = settings(secrets={"GF_DATABASE_PASSWORD": "s3cret-db"})
    env = out["environment"]
    assert env["GF_SERVER_HTTP_ADDR"] == "127.0.0.1" and env["GF_SERVER_HTTP_PORT"] == "3000"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_ANALYTICS_REPORTING_ENABLED"] == "false"
    assert env["GF_ANALYTICS_CHECK_FOR_UPDATES"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_METRICS_ENABLED"] == "true"
    assert "GF_PLUGINS_PREINSTALL_SYNC" not in env  # no plugins given
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana/GF_SECURITY_ADMIN_PASSWORD"
    assert env["GF_DATABASE_PASSWORD__FILE"] == "/run/secrets/grafana/GF_DATABASE_PASSWORD"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env and "GF_DATABASE_PASSWORD" not in env
    assert "s3cret-db" not in json.dumps(out)
    assert out["secrets"] == ["GF_DATABASE_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD"]
    assert "GF_SERVER_ROOT_URL" not in env
    assert out["memory"] == "512m" and out["cpus"] == 1.0
    assert all(isinstance(v, str) for v in env.values())


def test_plugins_are_installed_by_grafana_or_come_from_a_directory():
    online = settings(plugins=["victoriametrics-logs-datasource", "grafana-clock-panel@2.1.8"])
    assert (
        online["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
        == "victoriametrics-logs-datasource,grafana-clock-panel@2.1.8"
    )
    assert "GF_PATHS_PLUGINS" not in online["environment"]
    offline = settings(
        plugins=["victoriametrics-logs-datasource"],
        plugins_dir="/srv/grafana-plugins",
        plugins_found=["victoriametrics-logs-datasource"],
    )
    env = offline["environment"]
    assert env["GF_PATHS_PLUGINS"] == g.PLUGINS_DIR and env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true"
    assert "GF_PLUGINS_PREINSTALL_SYNC" not in env


def test_root_url_behind_the_edge():
    env = settings(root_url="https://grafana.example.com/")["environment"]
    assert env["GF_SERVER_ROOT_URL"] == "https://grafana.example.com/"
    assert env["GF_SECURITY_COOKIE_SECURE"] == "true" and "GF_SERVER_SERVE_FROM_SUB_PATH" not in env
    sub = settings(root_url="https://ops.example.com/grafana/")["environment"]
    assert sub["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true"
    plain = settings(root_url="http://10.0.0.5:3000/")["environment"]
    assert "GF_SECURITY_COOKIE_SECURE" not in plain


def test_extra_env_overrides_the_defaults_only():
    env = settings(env={"GF_AUTH_ANONYMOUS_ENABLED": True, "GF_USERS_DEFAULT_THEME": "light", "GF_X_N": 3})
    assert env["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["environment"]["GF_USERS_DEFAULT_THEME"] == "light" and env["environment"]["GF_X_N"] == "3"


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"port": 70000}, r"monitoring_grafana_port: 70000 is not a port"),
        (
            {"port": 9090, "taken_ports": {"monitoring_prometheus_port": 9090}},
            "9090 is also monitoring_prometheus_port",
        ),
        ({"admin_user": "ad min"}, "monitoring_grafana_admin_user"),
        ({"root_url": "grafana.example.com"}, "monitoring_grafana_root_url: 'grafana.example.com' is not an http"),
        ({"root_url": "https://g.example.com/?x=1"}, "no query or fragment"),
        ({"plugins": ["Bad Plugin"]}, r"monitoring_grafana_plugins\[0\]: 'Bad Plugin' is not a plugin id"),
        ({"plugins": "victoriametrics-logs-datasource"}, "monitoring_grafana_plugins: expected a list"),
        (
            {"plugins": ["victoriametrics-logs-datasource"], "plugins_dir": "/srv/p", "plugins_found": ["other"]},
            r"plugin 'victoriametrics-logs-datasource' is not in monitoring_grafana_plugins_dir \(/srv/p\): "
            "it holds other",
        ),
        ({"plugins_dir": "plugins"}, "monitoring_grafana_plugins_dir: 'plugins' is not an absolute path"),
        ({"env": {"GF_SECURITY_ADMIN_PASSWORD": "x"}}, "key GF_SECURITY_ADMIN_PASSWORD: set by the role from"),
        ({"env": {"GF_SERVER_HTTP_PORT": "1"}}, "set by the role from monitoring_grafana_port"),
        ({"env": {"GF_DATABASE_PASSWORD": "x"}}, "looks like a secret.*monitoring_grafana_secrets"),
        ({"env": {"GF_SECURITY_SECRET_KEY": "x"}}, "GF_SECURITY_SECRET_KEY: looks like a secret"),
        ({"env": {"GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE": "/x"}}, "looks like a secret"),
        ({"env": {"gf_lower": "x"}}, "key 'gf_lower': a Grafana setting"),
        ({"env": {"GF_A_B": ["x"]}}, "GF_A_B: a string, number or boolean"),
        ({"env": ["GF_A_B=1"]}, "monitoring_grafana_env: expected a mapping"),
        ({"secrets": {"GF_SECURITY_ADMIN_PASSWORD": "x"}}, "set by the role from monitoring_grafana_admin_password"),
        (
            {"secrets": {"GF_DATABASE_PASSWORD": ""}},
            r"GF_DATABASE_PASSWORD: a non-empty string is required \(value not shown\)",
        ),
        ({"secrets": {"GF_DATABASE_PASSWORD__FILE": "/x"}}, "without __FILE"),
        ({"memory": "lots"}, "monitoring_grafana_memory: 'lots' is not a memory size"),
        ({"cpus": 0}, "monitoring_grafana_cpus"),
        ({"cpus": "x"}, "monitoring_grafana_cpus"),
    ],
)
def test_bad_settings_name_the_variable(over, message):
    with pytest.raises(g.GrafanaError, match=message):
        settings(**over)


def test_a_secret_value_is_never_in_a_message():
    with pytest.raises(g.GrafanaError) as info:
        settings(secrets={"GF_DATABASE_PASSWORD": ["s3cret-in-a-list"], "bad": "s3cret-two"}, port="x")
    text = str(info.value)
    assert "s3cret" not in text and len(info.value.errors) == 3
