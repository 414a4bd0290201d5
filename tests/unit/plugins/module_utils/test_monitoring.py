# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of module_utils/monitoring.py: SLO rules, base library, targets, Alertmanager config."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils import monitoring as m
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, normalize_apps


def app(**over: Any) -> dict[str, Any]:
    base = {
        "name": "shop",
        "image": "acme/shop:1.0.0",
        "team": "web",
        "ports": [{"name": "http", "port": 8080, "host_port": 18091}],
        "health": {"path": "/health"},
        "metrics": {},
        "slo": {"availability": 99.9, "latency_p95_ms": 500},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}  # None: leave the block out


HOSTS = [
    {"name": "mon1", "address": "10.0.0.1", "groups": ["monitoring", "docker_hosts"]},
    {"name": "dock2", "address": "10.0.0.2", "groups": ["docker_hosts"]},
]


def rules_by_alert(groups: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for g in groups:
        for r in g["rules"]:
            out.setdefault(r.get("alert") or r["record"], []).append(r)
    return out


# ----- SLO rules ---------------------------------------------------------------------------------


def test_slo_rules_record_every_window_per_app():
    groups = m.slo_rules([app()])
    assert [g["name"] for g in groups] == ["opsdeck-slo-shop"]
    records = [r for r in groups[0]["rules"] if "record" in r]
    assert [r["record"] for r in records] == [f"opsdeck:http_error_ratio:rate{w}" for w in m.SLO_WINDOWS]
    for rec, window in zip(records, m.SLO_WINDOWS, strict=True):
        assert f'http_requests_total{{app="shop",code=~"5.."}}[{window}]' in rec["expr"]
        assert f'http_requests_total{{app="shop"}}[{window}]' in rec["expr"]
        assert rec["labels"] == {"app": "shop", "team": "web"}


@pytest.mark.parametrize(
    ("availability", "page", "page_slow", "ticket", "ticket_slow"),
    [
        (99.9, "0.0144", "0.006", "0.003", "0.001"),
        (99, "0.144", "0.06", "0.03", "0.01"),
        (99.95, "0.0072", "0.003", "0.0015", "0.0005"),
    ],
)
def test_slo_burn_rate_thresholds(availability, page, page_slow, ticket, ticket_slow):
    alerts = rules_by_alert(m.slo_rules([app(slo={"availability": availability})]))
    fast = alerts["SLOErrorBudgetBurnFast"][0]
    slow = alerts["SLOErrorBudgetBurnSlow"][0]
    assert f'opsdeck:http_error_ratio:rate5m{{app="shop"}} > {page}' in fast["expr"]
    assert f'opsdeck:http_error_ratio:rate1h{{app="shop"}} > {page}' in fast["expr"]
    assert f'opsdeck:http_error_ratio:rate30m{{app="shop"}} > {page_slow}' in fast["expr"]
    assert f'opsdeck:http_error_ratio:rate6h{{app="shop"}} > {page_slow}' in fast["expr"]
    assert f'opsdeck:http_error_ratio:rate2h{{app="shop"}} > {ticket}' in slow["expr"]
    assert f'opsdeck:http_error_ratio:rate1d{{app="shop"}} > {ticket}' in slow["expr"]
    assert f'opsdeck:http_error_ratio:rate3d{{app="shop"}} > {ticket_slow}' in slow["expr"]
    assert fast["labels"] == {
        "app": "shop",
        "team": "web",
        "severity": "critical",
        "slo": "availability",
        "burn": "page",
    }
    assert slow["labels"]["severity"] == "warning" and slow["labels"]["burn"] == "ticket"
    for rule in (fast, slow):
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}


def test_slo_latency_alert_uses_histogram_quantile_in_seconds():
    alerts = rules_by_alert(m.slo_rules([app(slo={"latency_p95_ms": 250})]))
    assert "SLOErrorBudgetBurnFast" not in alerts
    rule = alerts["SLOLatencyHigh"][0]
    assert rule["expr"].startswith("histogram_quantile(0.95,")
    assert 'http_request_duration_seconds_bucket{app="shop"}[5m]' in rule["expr"]
    assert rule["expr"].endswith("> 0.25")
    assert rule["labels"]["severity"] == "warning" and rule["labels"]["team"] == "web"


def test_slo_rules_skip_apps_without_slo_or_absent():
    apps = [
        app(),
        app(name="noslo", slo=None, ports=[{"name": "http", "port": 8080, "host_port": 18092}]),
        app(name="gone", state="absent"),
    ]
    assert [g["name"] for g in m.slo_rules(apps)] == ["opsdeck-slo-shop"]
    assert m.slo_rules([]) == [] and m.slo_rules(None) == []


def test_slo_rules_accept_normalized_apps_unchanged():
    normalized = normalize_apps([app()], environment="prod")
    assert m.slo_rules(normalized) == m.slo_rules([app()])


@pytest.mark.parametrize("availability", [100, 100.5, 0, -1])
def test_slo_over_100_is_refused_by_the_model(availability):
    with pytest.raises(ModelError, match=r"app 'shop': field 'slo.availability'"):
        m.slo_rules([app(slo={"availability": availability})])


def test_alert_for_overrides_and_errors():
    rules = rules_by_alert(m.base_rules(alert_for={"TargetDown": "15s"}))
    assert rules["TargetDown"][0]["for"] == "15s"
    with pytest.raises(m.MonitoringError, match=r"monitoring_alert_for: field 'Nope': unknown alert"):
        m.base_rules(alert_for={"Nope": "1m"})
    with pytest.raises(m.MonitoringError, match=r"field 'TargetDown': 'soon' is not a Prometheus duration"):
        m.base_rules(alert_for={"TargetDown": "soon"})


# ----- base library ------------------------------------------------------------------------------


def test_base_library_has_every_alert_with_severity_and_annotations():
    alerts = rules_by_alert(m.base_rules())
    expected = {
        "TargetDown",
        "ProbeFailing",
        "AppErrorRateHigh",
        "TLSCertificateExpiring",
        "HostCpuHigh",
        "HostMemoryLow",
        "HostDiskFilling",
        "ContainerRestartLoop",
        "BackupStale",
        "BackupFailed",
        "BackupRestoreUnverified",
        "PITRBackupStale",
        "PITRWALArchiveFailing",
        "PITRRepositoryError",
        "PITRMetricsStale",
        "PrometheusConfigReloadFailed",
        "PrometheusRuleEvaluationFailures",
        "PrometheusNotificationsFailing",
        "PrometheusAlertmanagerMissing",
        "AlertmanagerConfigReloadFailed",
        "AlertmanagerNotificationsFailing",
        "Watchdog",
        "LogShipperSendFailed",
        "LogShipperQueueFilling",
        "LogShipperRefused",
        "VictoriaLogsReadOnly",
    }
    assert set(alerts) == expected
    for name, rules in alerts.items():
        for rule in rules:
            assert rule["labels"]["severity"] in ("critical", "warning", "none"), name
            assert rule["annotations"]["runbook_url"].endswith(name.lower())
    assert [r["labels"]["severity"] for r in alerts["AppErrorRateHigh"]] == ["warning", "critical"]
    assert alerts["AppErrorRateHigh"][0]["expr"].endswith("> 0.05")
    assert alerts["AppErrorRateHigh"][1]["expr"].endswith("> 0.10")
    assert "14 * 86400" in alerts["TLSCertificateExpiring"][0]["expr"]
    assert "3 * 86400" in alerts["TLSCertificateExpiring"][1]["expr"]
    assert "predict_linear" in alerts["HostDiskFilling"][0]["expr"]
    assert alerts["Watchdog"][0]["expr"] == "vector(1)" and "for" not in alerts["Watchdog"][0]


def test_logging_alerts_read_the_collectors_own_metrics_of_job_otelcol():
    groups = {g["name"]: g["rules"] for g in m.base_rules()}
    logging = {r["alert"]: r for r in groups["opsdeck-logging"]}
    assert list(logging) == [
        "LogShipperSendFailed",
        "LogShipperQueueFilling",
        "LogShipperRefused",
        "VictoriaLogsReadOnly",
    ]
    assert logging["LogShipperSendFailed"]["expr"] == (
        'increase(otelcol_exporter_send_failed_log_records{job="otelcol"}[10m]) > 0'
    )
    assert logging["LogShipperQueueFilling"]["expr"] == (
        'max by (job, instance, exporter) (otelcol_exporter_queue_size{job="otelcol"})'
        ' / max by (job, instance, exporter) (otelcol_exporter_queue_capacity{job="otelcol"}) > 0.8'
    )
    assert logging["LogShipperRefused"]["expr"] == (
        'increase(otelcol_receiver_refused_log_records{job="otelcol"}[10m]) > 0'
        ' or increase(otelcol_processor_memory_limiter_refused_log_records{job="otelcol"}[10m]) > 0'
    )
    assert [logging[n]["for"] for n in logging] == ["1m", "5m", "1m", "5m"]
    assert [logging[n]["labels"]["severity"] for n in logging] == ["warning", "warning", "warning", "critical"]
    assert not any("logship" in r["expr"] for rules in groups.values() for r in rules)


def test_backup_thresholds_and_errors():
    alerts = rules_by_alert(m.base_rules(backup_max_age_hours=2, restore_max_age_days=1))
    assert alerts["BackupStale"][0]["expr"].endswith("> 7200")
    assert alerts["BackupRestoreUnverified"][0]["expr"].endswith("> 86400")
    with pytest.raises(m.MonitoringError, match="monitoring_backup_max_age_hours: 0 is not a number above 0"):
        m.base_rules(backup_max_age_hours=0)


def test_backup_rules_one_per_enabled_database():
    apps = [
        app(
            databases=[
                {"name": "a", "engine": "postgres"},
                {"name": "b", "engine": "redis", "backup": {"enabled": False}},
            ]
        )
    ]
    groups = m.backup_rules(apps)
    rules = groups[0]["rules"]
    assert len(rules) == 1
    assert rules[0]["expr"] == 'absent(opsdeck_backup_last_success_timestamp_seconds{app="shop",database="a"})'
    assert rules[0]["labels"] == {"severity": "warning", "app": "shop", "database": "a", "team": "web"}
    assert m.backup_rules([app()]) == []


# ----- user rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ("x", "monitoring_rules: expected a list"),
        ([{"rules": []}], r"monitoring_rules\[0\]: a rule group needs a non-empty 'name'"),
        ([{"name": "g", "rules": []}], r"\('g'\): field 'rules': a non-empty list"),
        ([{"name": "opsdeck-x", "rules": [{"alert": "A", "expr": "up"}]}], "reserved"),
        ([{"name": "g", "rules": [{"alert": "A"}]}], r"rules\[0\] \('A'\): field 'expr'"),
        ([{"name": "g", "rules": [{"alert": "A", "record": "b", "expr": "1"}]}], "exactly one of"),
        ([{"name": "g", "rules": [{"record": "up{job='x'}", "expr": "1"}]}], "not a PromQL expression"),
        ([{"name": "g", "rules": [{"record": "", "expr": "1"}]}], "field 'record': a metric name"),
        ([{"name": "g", "rules": [{"alert": "A", "expr": "up", "for": "5 min"}]}], r"\('A'\): field 'for'"),
        ([{"name": "g", "rules": [{"alert": "A", "expr": "up", "keep_firing_for": "x"}]}], "field 'keep_firing_for'"),
        ([{"name": "g", "query_offset": "1 m", "rules": [{"alert": "A", "expr": "up"}]}], "field 'query_offset'"),
        ([{"name": "g", "labels": ["x"], "rules": [{"alert": "A", "expr": "up"}]}], "field 'labels': a mapping"),
        ([{"name": "g", "lmit": 1, "rules": [{"alert": "A", "expr": "up"}]}], r"unknown field\(s\) lmit; allowed"),
        ([{"name": "g", "rules": [{"alert": "A", "expr": "up", "lables": {}}]}], r"unknown field\(s\) lables"),
    ],
)
def test_user_rules_structure_errors_name_the_rule(groups, message):
    with pytest.raises(m.MonitoringError, match=message):
        m.validate_user_rules(groups)


def test_user_rules_valid_pass_through():
    groups = [{"name": "mine", "rules": [{"alert": "A", "expr": "up == 0", "for": "1m", "labels": {"severity": "x"}}]}]
    assert m.validate_user_rules(groups) is groups
    # Prometheus 3 fields: group labels and query_offset, keep_firing_for, UTF-8 record names
    prom3 = [
        {
            "name": "v3",
            "interval": "1m",
            "query_offset": "30s",
            "limit": 10,
            "labels": {"team": "web"},
            "rules": [
                {"alert": "B", "expr": "up == 0", "keep_firing_for": "5m"},
                {"record": "opsdeck.http.ratio", "expr": "1"},
            ],
        }
    ]
    assert m.validate_user_rules(prom3) is prom3
    assert m.validate_user_rules(None) == []


# ----- scrape targets ----------------------------------------------------------------------------


def test_targets_for_local_host_use_loopback_and_carry_labels():
    t = m.scrape_targets([app()], HOSTS[:1], local_hosts=["mon1"], environment="prod")
    assert t["apps"] == [
        {
            "targets": ["127.0.0.1:18091"],
            "labels": {
                "app": "shop",
                "team": "web",
                "env": "prod",
                "instance": "mon1:18091",
                "__metrics_path__": "/metrics",
            },
        }
    ]
    assert t["nodes"] == [{"targets": ["127.0.0.1:9100"], "labels": {"instance": "mon1", "env": "prod"}}]
    assert t["probes"][0]["targets"] == ["http://127.0.0.1:18091/health"]
    assert t["probes"][0]["labels"]["probe"] == "health"
    assert t["docker"] == []


def test_loopback_app_on_a_remote_host_is_an_error_naming_the_app():
    with pytest.raises(
        m.MonitoringError, match=r"app 'shop': field 'ports' \(port 8080\): published on 127.0.0.1 only"
    ):
        m.scrape_targets([app()], HOSTS, local_hosts=["mon1"])


@pytest.mark.parametrize(
    ("host_ip", "expected"),
    [("0.0.0.0", "10.0.0.2:18091"), ("10.9.9.9", "10.9.9.9:18091"), ("fd00::5", "[fd00::5]:18091")],
)
def test_published_address_on_a_remote_host(host_ip, expected):
    a = app(hosts=["dock2"], ports=[{"name": "http", "port": 8080, "host_port": 18091, "host_ip": host_ip}])
    t = m.scrape_targets([a], HOSTS, local_hosts=["mon1"], docker_metrics_port=9323)
    assert t["apps"][0]["targets"] == [expected]
    assert t["apps"][0]["labels"]["instance"] == "dock2:18091"
    assert t["docker"][1] == {"targets": ["10.0.0.2:9323"], "labels": {"instance": "dock2", "env": ""}}


def test_placement_by_group_name():
    a = app(hosts=["monitoring"])
    t = m.scrape_targets([a], HOSTS, local_hosts=["mon1"])
    assert [x["labels"]["instance"] for x in t["apps"]] == ["mon1:18091"]
    assert len(t["nodes"]) == 2


def test_unpublished_metrics_port_is_an_error():
    a = app(ports=[{"name": "http", "port": 8080}])
    with pytest.raises(
        m.MonitoringError, match=r"app 'shop': field 'metrics.port': container port 8080 is not published"
    ):
        m.scrape_targets([a], HOSTS[:1], local_hosts=["mon1"])


def test_public_urls_are_probed_https_or_http():
    a = app(
        metrics=None,
        ports=[
            {"name": "http", "port": 8080, "host_port": 18091, "public": True, "host": "shop.example.com"},
            {"name": "plain", "port": 8081, "public": True, "host": "plain.example.com", "tls": False},
        ],
    )
    t = m.scrape_targets([a], HOSTS[:1], local_hosts=["mon1"])
    assert t["apps"] == []
    urls = {x["targets"][0]: x["labels"]["probe"] for x in t["probes"]}
    assert urls == {
        "http://127.0.0.1:18091/health": "health",
        "https://shop.example.com/": "public",
        "http://plain.example.com/": "public",
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "contains white space"),
        ("shop.example.com/health", "scheme must be http or https"),
        ("ftp://x.example.com/", "scheme must be http or https"),
        ("https:///path", "names no host"),
        ("http://x:99999/", "not a URL"),
        (None, "a URL such as"),
    ],
)
def test_probe_url_that_is_not_a_url(url, message):
    with pytest.raises(m.MonitoringError, match=r"monitoring_probes\[0\] \('ext'\): field 'url': .*" + message):
        m.scrape_targets([], [], probes=[{"name": "ext", "url": url}])


def test_custom_probe_labels():
    t = m.scrape_targets([], [], probes=[{"name": "ext", "url": "https://status.example.com/", "team": "ops"}])
    assert t["probes"] == [
        {
            "targets": ["https://status.example.com/"],
            "labels": {"app": "ext", "team": "ops", "env": "", "probe": "custom", "module": "http_2xx"},
        }
    ]


def test_logging_targets_only_when_asked():
    t = m.scrape_targets([], HOSTS[:1], local_hosts=["mon1"], logging_hosts=[{"name": "logs1", "address": "10.0.0.9"}])
    assert t["victorialogs"] == [] and t["otelcol"] == []
    assert "logship" not in t


def test_logging_targets_stores_and_shippers_like_nodes():
    t = m.scrape_targets(
        [],
        HOSTS,
        local_hosts=["mon1"],
        environment="prod",
        scrape_logging=True,
        logging_hosts=[{"name": "logs1", "address": "10.0.0.9"}, {"name": "mon1", "address": "10.0.0.1"}],
        logging_store_port=19428,
        logging_shipper_port=19430,
    )
    assert t["victorialogs"] == [
        {"targets": ["10.0.0.9:19428"], "labels": {"instance": "logs1", "env": "prod"}},
        {"targets": ["127.0.0.1:19428"], "labels": {"instance": "mon1", "env": "prod"}},
    ]
    assert [e["labels"]["instance"] for e in t["otelcol"]] == [h["name"] for h in HOSTS]
    assert t["otelcol"][0] == {"targets": ["127.0.0.1:19430"], "labels": {"instance": "mon1", "env": "prod"}}
    assert all(e["targets"][0].endswith(":19430") for e in t["otelcol"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"logging_hosts": "logs1"}, r"logging hosts: expected a list of \{name, address\}, got str"),
        ({"logging_hosts": [{"name": "logs1"}]}, r"logging hosts\[0\]: needs 'name'"),
        ({"logging_hosts": [], "logging_store_port": 0}, r"monitoring_logging_store_port: 0 is not a TCP port"),
        ({"logging_hosts": [], "logging_shipper_port": "x"}, r"monitoring_logging_shipper_port: 'x' is not a TCP"),
    ],
)
def test_logging_targets_errors(kwargs, message):
    with pytest.raises(m.MonitoringError, match=message):
        m.scrape_targets([], HOSTS, scrape_logging=True, **kwargs)


def test_hosts_shape_is_checked():
    with pytest.raises(m.MonitoringError, match=r"hosts\[0\]: needs 'name'"):
        m.scrape_targets([], [{"name": "x"}])


# ----- Alertmanager ------------------------------------------------------------------------------

RECEIVERS = [
    {"name": "mail", "type": "email", "to": "ops@example.com", "auth_password": "pw"},
    {"name": "slack", "type": "slack", "api_url": "https://hooks.slack.com/x", "channel": "#web"},
    {"name": "pd", "type": "pagerduty", "routing_key": "key"},
    {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/"},
    {"name": "quiet", "type": "null"},
]


def test_alertmanager_config_receivers_routes_inhibition():
    cfg = m.alertmanager_config(
        copy.deepcopy(RECEIVERS), routes=[{"receiver": "pd", "severity": "critical", "continue": True}]
    )
    by_name = {r["name"]: r for r in cfg["receivers"]}
    assert by_name["mail"]["email_configs"][0]["auth_password"] == "pw"
    assert by_name["slack"]["slack_configs"][0]["channel"] == "#web"
    assert by_name["pd"]["pagerduty_configs"][0]["routing_key"] == "key"
    assert by_name["hook"]["webhook_configs"][0] == {"url": "http://127.0.0.1:9/", "send_resolved": True}
    assert by_name["quiet"] == {"name": "quiet"} and by_name["opsdeck-null"] == {"name": "opsdeck-null"}
    assert cfg["route"]["receiver"] == "mail"
    watchdog, pd = cfg["route"]["routes"]
    assert watchdog["matchers"] == ['alertname="Watchdog"'] and watchdog["receiver"] == "opsdeck-null"
    assert pd == {"receiver": "pd", "matchers": ['severity="critical"'], "continue": True}
    assert cfg["inhibit_rules"] == [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["alertname", "instance"],
        }
    ]


def test_watchdog_goes_to_dead_mans_switch_when_given():
    cfg = m.alertmanager_config([], watchdog_url="https://dms.example.com/ping")
    assert cfg["route"]["receiver"] == "opsdeck-null"
    assert cfg["route"]["routes"][0]["receiver"] == "opsdeck-watchdog"


@pytest.mark.parametrize(
    ("receivers", "kwargs", "message"),
    [
        ([{"name": "x", "type": "sms"}], {}, r"\[0\] \('x'\): field 'type': 'sms' is not one of email, slack"),
        ([{"name": "x", "type": "email"}], {}, r"field 'to': required for a email receiver"),
        (
            [{"name": "x", "type": "webhook", "url": "nope"}],
            {},
            r"field 'url': not an http\(s\) URL \(value not shown\)",
        ),
        ([{"name": "x", "type": "slack", "api_url": "https://h/", "chanel": "#a"}], {}, r"unknown field\(s\) chanel"),
        ([{"name": "x", "type": "null"}, {"name": "x", "type": "null"}], {}, "used twice"),
        ([{"type": "null"}], {}, "field 'name'"),
        ([], {"routes": [{"receiver": "nobody"}]}, r"routes\[0\]: field 'receiver': 'nobody' is not a receiver"),
        ([{"name": "x", "type": "null"}], {"routes": [{"receiver": "x", "severity": "high"}]}, "'high' is not one of"),
        ([{"name": "x", "type": "null"}], {"routes": [{"receiver": "x", "tem": "a"}]}, r"unknown field\(s\) tem"),
        ([], {"default_receiver": "x"}, "monitoring_alertmanager_default_receiver: 'x' is not a receiver"),
        ([], {"group_wait": "soon"}, "monitoring_alertmanager_group_wait"),
        ("x", {}, "expected a list of receivers"),
    ],
)
def test_alertmanager_config_errors(receivers, kwargs, message):
    with pytest.raises(m.MonitoringError, match=message):
        m.alertmanager_config(receivers, **kwargs)


def test_secret_values_never_in_messages():
    with pytest.raises(m.MonitoringError) as exc:
        m.alertmanager_config([{"name": "x", "type": "webhook", "url": "s3cr3t-token-value"}])
    assert "s3cr3t" not in str(exc.value)
    assert "url" in m.secret_fields()
