# SPDX-License-Identifier: GPL-3.0-or-later
"""Every PromQL query of the shipped Grafana dashboards, parsed and evaluated by the real promtool.

Grafana is NOT run (AGPL: refused here); its queries are. Each panel target and each
``label_values()`` variable of roles/monitoring/files/dashboards/*.json, with Grafana's variables
given values (tests/grafana_schema.py), becomes a recording rule that `promtool check rules` (the
rig's Prometheus 3 image) must accept. Then `promtool test rules` evaluates each one on series
shaped like what the stack scrapes (the label scheme of docs/monitoring.md: job, app, instance; the
backup metrics contract; classic histogram buckets), with the SLO recording rules of
module_utils/monitoring.py loaded, so a dashboard that reads a recording rule under a name the
rules do not produce finds nothing and fails. Each query must return at least one series. A
query on a metric nobody exports is shown to fail the same harness.

The molecule scenario (molecule/monitoring) runs the same queries against its live Prometheus
scraping the sample app and a node exporter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.opsdeck.platform.plugins.module_utils import monitoring as m

from ..grafana_schema import promql_queries
from .test_monitoring_rules import promtool

ROOT = Path(__file__).resolve().parents[2]
BOARDS = sorted((ROOT / "roles" / "monitoring" / "files" / "dashboards").glob("*.json"))
APP = {
    "name": "shop",
    "image": "acme/shop:1.0.0",
    "team": "web",
    "ports": [{"name": "http", "port": 8080, "host_port": 18091}],
    "metrics": {},
    "slo": {"availability": 99.9, "latency_p95_ms": 300},
}
# What the stack scrapes, one sample a minute for two hours (file_sd target labels included).
SERIES = [
    ('http_requests_total{job="apps",app="shop",team="web",instance="h1:18091",code="200"}', "0+60x120"),
    ('http_requests_total{job="apps",app="shop",team="web",instance="h1:18091",code="500"}', "0+3x120"),
    ('http_request_duration_seconds_bucket{job="apps",app="shop",instance="h1:18091",le="0.1"}', "0+40x120"),
    ('http_request_duration_seconds_bucket{job="apps",app="shop",instance="h1:18091",le="0.5"}', "0+60x120"),
    ('http_request_duration_seconds_bucket{job="apps",app="shop",instance="h1:18091",le="+Inf"}', "0+63x120"),
    ('up{job="apps",app="shop",team="web",instance="h1:18091"}', "1x120"),
    ('probe_success{job="blackbox",app="shop",probe="health",instance="http://127.0.0.1:18091/health"}', "1x120"),
    ('node_uname_info{job="node",instance="h1",nodename="h1"}', "1x120"),
    ('node_cpu_seconds_total{job="node",instance="h1",cpu="0",mode="idle"}', "0+50x120"),
    ('node_memory_MemAvailable_bytes{job="node",instance="h1"}', "4e9x120"),
    ('node_memory_MemTotal_bytes{job="node",instance="h1"}', "8e9x120"),
    ('node_filesystem_avail_bytes{job="node",instance="h1",fstype="ext4",mountpoint="/"}', "5e10x120"),
    ('node_filesystem_size_bytes{job="node",instance="h1",fstype="ext4",mountpoint="/"}', "1e11x120"),
    ('node_load1{job="node",instance="h1"}', "0.5x120"),
    (
        'opsdeck_backup_last_success_timestamp_seconds{job="node",instance="db1",app="shop",database="shopdb"}',
        "100x120",
    ),
    (
        'opsdeck_backup_last_verified_restore_timestamp_seconds{job="node",instance="db1",app="shop",database="shopdb"}',
        "50x120",
    ),
    (
        'opsdeck_backup_last_failure_timestamp_seconds{job="node",instance="db1",app="shop",database="shopdb"}',
        "200x120",
    ),
]


def _queries() -> list[tuple[str, str]]:
    out = []
    for path in BOARDS:
        out += promql_queries(json.loads(path.read_text()))
    return out


def _as_rules(queries: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "dashboards",
                "rules": [{"record": f"opsdeck_dashboard_query_{i}", "expr": q} for i, (_w, q) in enumerate(queries)],
            }
        ]
    }


def _evaluation(queries: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "rule_files": ["slo.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": "every dashboard query finds series",
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in SERIES],
                "promql_expr_test": [
                    # clamp_max(count(q), 1): 1 whatever the number of series, nothing when there is none
                    {
                        "expr": f"clamp_max(count({q}), 1)",
                        "eval_time": "100m",
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    }
                    for _w, q in queries
                ],
            }
        ],
    }


def test_every_dashboard_has_queries():
    queries = _queries()
    assert {w.split(":")[0] for w, _q in queries} == {"opsdeck-apps", "opsdeck-hosts", "opsdeck-backups"}
    assert len(queries) >= 15
    assert all("$" not in q for _w, q in queries)  # every Grafana variable replaced


def test_promtool_parses_every_dashboard_query(images, tmp_path):
    queries = _queries()
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(_as_rules(queries), sort_keys=False))
    result = promtool(images, tmp_path, "check", "rules", "queries.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_promtool_evaluates_every_dashboard_query_to_series(images, tmp_path):
    queries = _queries()
    (tmp_path / "slo.yml").write_text(yaml.safe_dump({"groups": m.slo_rules([APP])}, sort_keys=False))
    (tmp_path / "test.yml").write_text(yaml.safe_dump(_evaluation(queries), sort_keys=False))
    result = promtool(images, tmp_path, "test", "rules", "test.yml")
    assert result.returncode == 0, "\n".join(w for w, _q in queries) + "\n" + result.stdout + result.stderr


def test_the_harness_fails_a_query_that_finds_nothing(images, tmp_path):
    queries = [("control", 'sum(rate(http_requests_total{app="no-such-app"}[5m]))')]
    (tmp_path / "slo.yml").write_text(yaml.safe_dump({"groups": m.slo_rules([APP])}, sort_keys=False))
    (tmp_path / "test.yml").write_text(yaml.safe_dump(_evaluation(queries), sort_keys=False))
    result = promtool(images, tmp_path, "test", "rules", "test.yml")
    assert result.returncode != 0 and "no-such-app" in result.stdout + result.stderr


@pytest.mark.parametrize("broken", ['sum(rate(http_requests_total{app="shop"}[5m])', "up{job=apps}"])
def test_promtool_refuses_a_broken_query(images, tmp_path, broken):
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(_as_rules([("broken", broken)]), sort_keys=False))
    result = promtool(images, tmp_path, "check", "rules", "queries.yml")
    assert result.returncode != 0 and "opsdeck_dashboard_query_0" in result.stdout + result.stderr
