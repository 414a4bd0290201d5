# SPDX-License-Identifier: GPL-3.0-or-later
"""The generated rules and Alertmanager config, checked by the REAL promtool and amtool.

promtool and amtool run in the rig's prometheus and alertmanager images (`docker run --rm`).
`promtool test rules` fixtures prove the alert behaviour: the fast-burn page fires when both
the 5m and the 1h windows burn over 14.4x and not for a short spike only the 5m window sees;
the slow-burn ticket fires for a 1.5x burn over days; TLS expiry thresholds; Watchdog; the
logging stack's alerts (the OpenTelemetry Collector's records given up on, its sending queue
filling, records refused; VictoriaLogs read-only); the point-in-time recovery alerts on the
backup role's opsdeck_pitr_* metrics.

Annotations are templated with $value; the behaviour tests compare labels only, so they run on
copies of the rules without annotations (`promtool check rules` checks the templates).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.opsdeck.platform.plugins.module_utils import monitoring as m

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("OPSDECK_RIG_STATE", ROOT / "tests" / "rig" / ".state"))

APP = {
    "name": "shop",
    "image": "acme/shop:1.0.0",
    "team": "web",
    "ports": [{"name": "http", "port": 8080, "host_port": 18091, "public": True, "host": "shop.example.com"}],
    "health": {"path": "/health"},
    "metrics": {},
    "slo": {"availability": 99, "latency_p95_ms": 300},
    "databases": [{"name": "shopdb", "engine": "postgres"}],
}
SLO_LABELS = {"app": "shop", "team": "web", "slo": "availability"}


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    path = STATE / "images.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make rig` (tests/rig/up.sh) first")
    if not shutil.which("docker"):
        pytest.fail("docker CLI not found")
    return json.loads(path.read_text())


def _tool(image: str, entrypoint: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # -u 0: pytest's tmp dirs are 0700 and the images run as nobody; the tool only reads them
    return subprocess.run(
        [
            *("docker", "run", "--rm", "--network", "none", "-u", "0", "-v", f"{workdir}:/w:ro", "-w", "/w"),
            *("--entrypoint", entrypoint, image, *args),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def promtool(images: dict[str, str], workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _tool(images["prometheus"], "/bin/promtool", workdir, *args)


def _write_rules(path: Path, groups: list[dict[str, Any]], *, strip_annotations: bool) -> None:
    groups = copy.deepcopy(groups)
    if strip_annotations:
        for group in groups:
            for rule in group["rules"]:
                if rule.get("alert") != "Watchdog":
                    rule.pop("annotations", None)
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))


def _all_groups() -> list[dict[str, Any]]:
    return m.base_rules() + m.slo_rules([APP]) + m.backup_rules([APP])


def test_promtool_check_rules_passes_on_library_and_slo_rules(images, tmp_path):
    _write_rules(tmp_path / "rules.yml", _all_groups(), strip_annotations=False)
    result = promtool(images, tmp_path, "check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_names_the_rule_with_invalid_promql(images, tmp_path):
    groups = m.validate_user_rules([{"name": "custom", "rules": [{"alert": "BrokenRule", "expr": "rate(foo[5m]"}]}])
    _write_rules(tmp_path / "user.yml", groups, strip_annotations=False)
    result = promtool(images, tmp_path, "check", "rules", "user.yml")
    assert result.returncode != 0
    assert "BrokenRule" in result.stdout + result.stderr


def _alert(name: str, **labels: str) -> dict[str, Any]:
    return {"exp_labels": {**labels}}


BEHAVIOUR = {
    "evaluation_interval": "1m",
    "tests": [
        {
            "name": "page: 33% errors burn both 5m and 1h windows over 14.4x",
            "interval": "1m",
            "input_series": [
                {"series": 'http_requests_total{job="apps",app="shop",code="200"}', "values": "0+100x90"},
                {"series": 'http_requests_total{job="apps",app="shop",code="500"}', "values": "0+50x90"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "65m",
                    "alertname": "SLOErrorBudgetBurnFast",
                    "exp_alerts": [{"exp_labels": {**SLO_LABELS, "severity": "critical", "burn": "page"}}],
                },
            ],
        },
        {
            "name": "page: an 8-minute spike only the 5m window sees does not page",
            "interval": "1m",
            "input_series": [
                {"series": 'http_requests_total{job="apps",app="shop",code="200"}', "values": "0+100x130"},
                {"series": 'http_requests_total{job="apps",app="shop",code="500"}', "values": "0x120 50+50x7"},
            ],
            "promql_expr_test": [
                # the short window alone is far over 14.4x (ratio 1/3 against 0.144)
                {
                    "expr": 'opsdeck:http_error_ratio:rate5m{app="shop"} > bool 0.144',
                    "eval_time": "128m",
                    "exp_samples": [{"labels": '{app="shop",team="web"}', "value": 1}],
                }
            ],
            "alert_rule_test": [{"eval_time": "128m", "alertname": "SLOErrorBudgetBurnFast", "exp_alerts": []}],
        },
        {
            "name": "HTTP error rate over 5% warns, over 10% is critical",
            "interval": "1m",
            "input_series": [
                {
                    "series": 'http_requests_total{job="apps",app="a",team="t",env="prod",code="200"}',
                    "values": "0+93x20",
                },
                {
                    "series": 'http_requests_total{job="apps",app="a",team="t",env="prod",code="503"}',
                    "values": "0+7x20",
                },
                {
                    "series": 'http_requests_total{job="apps",app="b",team="t",env="prod",code="200"}',
                    "values": "0+80x20",
                },
                {
                    "series": 'http_requests_total{job="apps",app="b",team="t",env="prod",code="500"}',
                    "values": "0+20x20",
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "AppErrorRateHigh",
                    "exp_alerts": [
                        {"exp_labels": {"app": "a", "team": "t", "env": "prod", "severity": "warning"}},
                        {"exp_labels": {"app": "b", "team": "t", "env": "prod", "severity": "warning"}},
                        {"exp_labels": {"app": "b", "team": "t", "env": "prod", "severity": "critical"}},
                    ],
                }
            ],
        },
        {
            "name": "TLS certificate expiry: < 14 d warning, < 3 d critical",
            "interval": "1m",
            "input_series": [
                {
                    "series": 'probe_ssl_earliest_cert_expiry{job="blackbox",instance="https://a.example.com/"}',
                    "values": f"{30 * 86400}x30",
                },
                {
                    "series": 'probe_ssl_earliest_cert_expiry{job="blackbox",instance="https://b.example.com/"}',
                    "values": f"{10 * 86400}x30",
                },
                {
                    "series": 'probe_ssl_earliest_cert_expiry{job="blackbox",instance="https://c.example.com/"}',
                    "values": f"{2 * 86400}x30",
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "TLSCertificateExpiring",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "job": "blackbox",
                                "instance": "https://b.example.com/",
                                "severity": "warning",
                            }
                        },
                        {
                            "exp_labels": {
                                "job": "blackbox",
                                "instance": "https://c.example.com/",
                                "severity": "warning",
                            }
                        },
                        {
                            "exp_labels": {
                                "job": "blackbox",
                                "instance": "https://c.example.com/",
                                "severity": "critical",
                            }
                        },
                    ],
                }
            ],
        },
        {
            "name": "target down, probe failing, backup stale and failed",
            "interval": "1m",
            "input_series": [
                {"series": 'up{job="apps",app="shop",instance="h1:18091"}', "values": "1 1 0x10"},
                {"series": 'probe_success{job="blackbox",app="shop",instance="http://x/health"}', "values": "0x10"},
                {
                    "series": 'opsdeck_backup_last_success_timestamp_seconds{app="shop",database="shopdb"}',
                    "values": "0x60",
                },
                {
                    "series": 'opsdeck_backup_last_failure_timestamp_seconds{app="shop",database="shopdb"}',
                    "values": "60x60",
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "6m",
                    "alertname": "TargetDown",
                    "exp_alerts": [
                        {"exp_labels": {"job": "apps", "app": "shop", "instance": "h1:18091", "severity": "critical"}}
                    ],
                },
                {
                    "eval_time": "6m",
                    "alertname": "ProbeFailing",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "job": "blackbox",
                                "app": "shop",
                                "instance": "http://x/health",
                                "severity": "critical",
                            }
                        }
                    ],
                },
                {
                    "eval_time": "10m",
                    "alertname": "BackupFailed",
                    "exp_alerts": [{"exp_labels": {"app": "shop", "database": "shopdb", "severity": "warning"}}],
                },
                # 26 h have not passed: not stale yet
                {"eval_time": "30m", "alertname": "BackupStale", "exp_alerts": []},
            ],
        },
        {
            "name": "Watchdog always fires",
            "alert_rule_test": [
                {
                    "eval_time": "1m",
                    "alertname": "Watchdog",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "none"},
                            "exp_annotations": next(
                                r["annotations"] for r in m.base_rules()[3]["rules"] if r["alert"] == "Watchdog"
                            ),
                        }
                    ],
                }
            ],
        },
    ],
}

SLOW_BURN = {
    "evaluation_interval": "10m",
    "tests": [
        {
            "name": "ticket: a 1.5x burn over days fires the slow-burn alert, never the page",
            "interval": "10m",
            "input_series": [
                # 1.5% errors against a 1% budget: over 1x in 6h and 3d, under 3x in 2h and 1d
                {"series": 'http_requests_total{job="apps",app="shop",code="200"}', "values": "0+985x500"},
                {"series": 'http_requests_total{job="apps",app="shop",code="500"}', "values": "0+15x500"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "80h",
                    "alertname": "SLOErrorBudgetBurnSlow",
                    "exp_alerts": [{"exp_labels": {**SLO_LABELS, "severity": "warning", "burn": "ticket"}}],
                },
                {"eval_time": "80h", "alertname": "SLOErrorBudgetBurnFast", "exp_alerts": []},
                # one evaluation in: the alert is at most pending (for: 15m)
                {"eval_time": "10m", "alertname": "SLOErrorBudgetBurnSlow", "exp_alerts": []},
            ],
        }
    ],
}


# The collector's own metrics as its Prometheus exposition names them (counters without _total),
# with the labels the exposition adds (service_*); the target labels job and instance from file_sd.
_OTELCOL = 'job="otelcol",service_name="otelcol-contrib",service_version="0.165.1"'
_EXPORTER = 'exporter="otlp_http/victorialogs",data_type="logs"'
_RECEIVER = 'receiver="file_log/containers"'
SHIPPER = {"job": "otelcol", "service_name": "otelcol-contrib", "service_version": "0.165.1"}
EXPORTER = {"exporter": "otlp_http/victorialogs", "data_type": "logs"}
RECEIVER = {"receiver": "file_log/containers"}
STORE = {"job": "victorialogs", "instance": "logs1", "path": "/victoria-logs-data"}


def _otelcol(metric: str, instance: str, labels: str) -> str:
    return f'{metric}{{{_OTELCOL},instance="{instance}",{labels}}}'


LOGGING = {
    "evaluation_interval": "1m",
    "tests": [
        {
            "name": "logging stack: records given up on, the sending queue filling, records refused, store read-only",
            "interval": "1m",
            "input_series": [
                # web1's exporter gives up on 50 records at minute 3 (retries over), none after; web2's stays flat
                {
                    "series": _otelcol("otelcol_exporter_send_failed_log_records", "web1", _EXPORTER),
                    "values": "0x2 50x40",
                },
                {
                    "series": _otelcol("otelcol_exporter_send_failed_log_records", "web2", _EXPORTER),
                    "values": "0x42",
                },
                # web1's queue (capacity 1000) grows by 100 a minute from minute 5: over 80% from minute
                # 13 (900) on; web2's is 90% full for two minutes only (a burst the exporter catches up with)
                {
                    "series": _otelcol("otelcol_exporter_queue_size", "web1", _EXPORTER),
                    "values": "0x4 100+100x8 1000x28",
                },
                {
                    "series": _otelcol("otelcol_exporter_queue_capacity", "web1", _EXPORTER),
                    "values": "1000x42",
                },
                {
                    "series": _otelcol("otelcol_exporter_queue_size", "web2", _EXPORTER),
                    "values": "0x5 900x1 0x35",
                },
                {
                    "series": _otelcol("otelcol_exporter_queue_capacity", "web2", _EXPORTER),
                    "values": "1000x42",
                },
                # web1's filelog receiver gives up on 20 records a minute from minute 7 to 11 (the memory
                # limiter refusing), none after; web2's counter stays flat
                {
                    "series": _otelcol("otelcol_receiver_refused_log_records", "web1", _RECEIVER),
                    "values": "0x6 20+20x4 100x30",
                },
                {
                    "series": _otelcol("otelcol_receiver_refused_log_records", "web2", _RECEIVER),
                    "values": "0x42",
                },
                # web2's memory_limiter refuses records from minute 30 (the receivers retry them)
                {
                    "series": _otelcol(
                        "otelcol_processor_memory_limiter_refused_log_records", "web2", 'processor="memory_limiter"'
                    ),
                    "values": "0x29 50+50x12",
                },
                # the store turns read-only at minute 2 (its disk went under minFreeDiskSpaceBytes)
                {
                    "series": 'vl_storage_is_read_only{job="victorialogs",instance="logs1",path="/victoria-logs-data"}',
                    "values": "0 0 1x40",
                },
            ],
            "alert_rule_test": [
                # before the failure nothing; at minute 3 pending (for: 1m); firing at 6m for web1 only;
                # no failure in the last 10 minutes at 20m: resolved
                {"eval_time": "2m", "alertname": "LogShipperSendFailed", "exp_alerts": []},
                {"eval_time": "3m", "alertname": "LogShipperSendFailed", "exp_alerts": []},
                {
                    "eval_time": "6m",
                    "alertname": "LogShipperSendFailed",
                    "exp_alerts": [{"exp_labels": {**SHIPPER, "instance": "web1", **EXPORTER, "severity": "warning"}}],
                },
                {"eval_time": "20m", "alertname": "LogShipperSendFailed", "exp_alerts": []},
                # web2's burst (minutes 6-7) never lasts 5m; web1 over 80% from minute 13: pending at
                # 12m and 16m, firing from 18m, by job, instance and exporter (the service_* labels go)
                {"eval_time": "7m", "alertname": "LogShipperQueueFilling", "exp_alerts": []},
                {"eval_time": "12m", "alertname": "LogShipperQueueFilling", "exp_alerts": []},
                {"eval_time": "16m", "alertname": "LogShipperQueueFilling", "exp_alerts": []},
                {
                    "eval_time": "20m",
                    "alertname": "LogShipperQueueFilling",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "job": "otelcol",
                                "instance": "web1",
                                "exporter": "otlp_http/victorialogs",
                                "severity": "warning",
                            }
                        }
                    ],
                },
                # refused from minute 7: nothing at 6m, firing at 9m for web1 only, resolved at 25m
                {"eval_time": "6m", "alertname": "LogShipperRefused", "exp_alerts": []},
                {
                    "eval_time": "9m",
                    "alertname": "LogShipperRefused",
                    "exp_alerts": [{"exp_labels": {**SHIPPER, "instance": "web1", **RECEIVER, "severity": "warning"}}],
                },
                {"eval_time": "25m", "alertname": "LogShipperRefused", "exp_alerts": []},
                {
                    "eval_time": "33m",
                    "alertname": "LogShipperRefused",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                **SHIPPER,
                                "instance": "web2",
                                "processor": "memory_limiter",
                                "severity": "warning",
                            }
                        }
                    ],
                },
                {"eval_time": "4m", "alertname": "VictoriaLogsReadOnly", "exp_alerts": []},
                {
                    "eval_time": "9m",
                    "alertname": "VictoriaLogsReadOnly",
                    "exp_alerts": [{"exp_labels": {**STORE, "severity": "critical"}}],
                },
            ],
        }
    ],
}


PITR = {"app": "shop", "database": "shopdb", "stanza": "shop-shopdb", "instance": "db1"}
_PITR_LABELS = 'app="shop",database="shopdb",stanza="shop-shopdb",instance="db1"'
PITR_RULES = {
    "evaluation_interval": "1m",
    "tests": [
        {
            # the metrics timer refreshes every 5 minutes; times are seconds since the test's epoch
            "name": "point-in-time recovery: archiving fails, repository broken, backups stale, metrics stale",
            "interval": "1m",
            "input_series": [
                # WAL archived at t=0 and t=120; an attempt fails at t=300 and keeps failing
                {
                    "series": f"opsdeck_pitr_wal_last_archived_timestamp_seconds{{{_PITR_LABELS}}}",
                    "values": "0x2 120x40",
                },
                {"series": f"opsdeck_pitr_wal_last_failed_timestamp_seconds{{{_PITR_LABELS}}}", "values": "_x5 300x37"},
                # the repository reports 'no valid backups' (2) from minute 20
                {"series": f"opsdeck_pitr_repo_status_code{{{_PITR_LABELS}}}", "values": "0x19 2x22"},
                # the newest full backup stopped at t=0; a diff at t=600
                {
                    "series": f'opsdeck_pitr_last_backup_timestamp_seconds{{{_PITR_LABELS},type="full"}}',
                    "values": "0x1700",
                },
                {
                    "series": f'opsdeck_pitr_last_backup_timestamp_seconds{{{_PITR_LABELS},type="diff"}}',
                    "values": "_x10 600x1690",
                },
                # metrics read every 5 minutes until minute 10, then no more refreshes
                {"series": f"opsdeck_pitr_metrics_timestamp_seconds{{{_PITR_LABELS}}}", "values": "0x4 300x5 600x1690"},
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "PITRWALArchiveFailing", "exp_alerts": []},
                {
                    "eval_time": "20m",
                    "alertname": "PITRWALArchiveFailing",
                    "exp_alerts": [{"exp_labels": {**PITR, "severity": "critical"}}],
                },
                {"eval_time": "19m", "alertname": "PITRRepositoryError", "exp_alerts": []},
                {
                    "eval_time": "35m",
                    "alertname": "PITRRepositoryError",
                    "exp_alerts": [{"exp_labels": {**PITR, "severity": "critical"}}],
                },
                # the newest backup (the diff at t=600) is 26h old at 26h10m: stale 10m later
                {"eval_time": "26h", "alertname": "PITRBackupStale", "exp_alerts": []},
                {
                    "eval_time": "26h25m",
                    "alertname": "PITRBackupStale",
                    "exp_alerts": [{"exp_labels": {**PITR, "severity": "critical"}}],
                },
                # last refresh at t=600: 30 minutes later plus for: 10m
                {"eval_time": "35m", "alertname": "PITRMetricsStale", "exp_alerts": []},
                {
                    "eval_time": "55m",
                    "alertname": "PITRMetricsStale",
                    "exp_alerts": [{"exp_labels": {**PITR, "severity": "warning"}}],
                },
            ],
        }
    ],
}


@pytest.mark.parametrize(
    ("name", "tests"),
    [("behaviour", BEHAVIOUR), ("slow-burn", SLOW_BURN), ("logging", LOGGING), ("pitr", PITR_RULES)],
)
def test_promtool_test_rules(images, tmp_path, name, tests):
    _write_rules(tmp_path / "rules.yml", _all_groups(), strip_annotations=True)
    (tmp_path / "test.yml").write_text(yaml.safe_dump({"rule_files": ["rules.yml"], **tests}, sort_keys=False))
    result = promtool(images, tmp_path, "test", "rules", "test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_check_config_on_generated_config(images, tmp_path):
    config = m.alertmanager_config(
        [
            {
                "name": "ops-mail",
                "type": "email",
                "to": "ops@example.com",
                "from": "am@example.com",
                "smarthost": "smtp.example.com:587",
                "auth_username": "am",
                "auth_password": "s3cret",
            },
            {"name": "oncall", "type": "pagerduty", "routing_key": "0123456789abcdef"},
            {
                "name": "web-slack",
                "type": "slack",
                "api_url": "https://hooks.slack.com/services/T/B/X",
                "channel": "#web",
            },
            {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/alerts"},
        ],
        routes=[
            {"receiver": "oncall", "severity": "critical", "continue": True},
            {"receiver": "web-slack", "team": "web"},
        ],
        default_receiver="ops-mail",
        watchdog_url="https://deadmanssnitch.example.com/abc",
    )
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = _tool(images["alertmanager"], "/bin/amtool", tmp_path, "check-config", "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "6 receivers" in result.stdout


def test_amtool_routes_by_severity_and_team(images, tmp_path):
    config = m.alertmanager_config(
        [
            {"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/"},
            {"name": "oncall", "type": "webhook", "url": "http://127.0.0.1:9/p"},
            {"name": "web", "type": "webhook", "url": "http://127.0.0.1:9/w"},
        ],
        routes=[{"receiver": "oncall", "severity": "critical"}, {"receiver": "web", "team": "web"}],
    )
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def route(*labels: str) -> str:
        res = _tool(
            images["alertmanager"],
            "/bin/amtool",
            tmp_path,
            "config",
            "routes",
            "test",
            "--config.file=am.yml",
            *labels,
        )
        assert res.returncode == 0, res.stderr
        return res.stdout.strip()

    assert route("severity=critical", "team=web") == "oncall"
    assert route("severity=warning", "team=web") == "web"
    assert route("severity=warning", "team=db") == "ops"
    assert route("alertname=Watchdog", "severity=none") == "opsdeck-null"
