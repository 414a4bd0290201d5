# SPDX-License-Identifier: GPL-3.0-or-later
"""The managed databases' alert rules, checked and exercised by the REAL promtool.

promtool runs in the rig's prometheus image (`docker run --rm --network none`), as in
test_monitoring_rules.py. The series are shaped like the exporters' (postgres_exporter 0.11 with
the role's replication query file, redis_exporter 1.45, mysqld_exporter 0.14) under the target
labels database_scrape_targets gives (job databases, app, database, engine, role, instance).
The behaviour tests compare labels only, on copies of the rules without annotations.
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

from ansible_collections.opsdeck.platform.plugins.module_utils import database as d

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("OPSDECK_RIG_STATE", ROOT / "tests" / "rig" / ".state"))
PG = 'job="databases",app="shop",team="web",database="appdb",engine="postgres"'
PA = f'{PG},role="primary",instance="a:21187",datname="appdb"'
RD = 'job="databases",app="shop",team="web",database="cache",engine="redis",role="primary",instance="a:21121"'


@pytest.fixture(scope="module")
def prometheus_image() -> str:
    path = STATE / "images.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make rig` (tests/rig/up.sh) first")
    if not shutil.which("docker"):
        pytest.fail("docker CLI not found")
    return json.loads(path.read_text())["prometheus"]


def promtool(image: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *("docker", "run", "--rm", "--network", "none", "-u", "0", "-v", f"{workdir}:/w:ro", "-w", "/w"),
            *("--entrypoint", "/bin/promtool", image, *args),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _write(path: Path, groups: list[dict[str, Any]], *, strip: bool) -> None:
    groups = copy.deepcopy(groups)
    if strip:
        for group in groups:
            for rule in group["rules"]:
                rule.pop("annotations", None)
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))


def test_promtool_check_rules(prometheus_image: str, tmp_path: Path) -> None:
    _write(tmp_path / "rules.yml", d.alert_rules(), strip=False)
    result = promtool(prometheus_image, tmp_path, "check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def _labels(series: str, **extra: str) -> dict[str, str]:
    out = {}
    for part in series.split(","):
        key, value = part.split("=", 1)
        out[key] = value.strip('"')
    out.update(extra)
    return out


BEHAVIOUR: dict[str, Any] = {
    "evaluation_interval": "1m",
    "tests": [
        {
            "name": "a replica 2 minutes behind for 5 minutes warns; a caught-up one does not",
            "interval": "1m",
            "input_series": [
                {
                    "series": f'pg_replication_lag_seconds{{{PG},role="replica",instance="b:21188",server="s"}}',
                    "values": "0 0 120x10",
                },
                {
                    "series": f'pg_replication_is_replica{{{PG},role="replica",instance="b:21188",server="s"}}',
                    "values": "1x12",
                },
                {
                    "series": f'pg_replication_lag_seconds{{{PG},role="replica",instance="c:21189",server="s"}}',
                    "values": "0x12",
                },
                {
                    "series": f'pg_replication_is_replica{{{PG},role="replica",instance="c:21189",server="s"}}',
                    "values": "1x12",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "DatabaseReplicationLag", "exp_alerts": []},
                {
                    "eval_time": "10m",
                    "alertname": "DatabaseReplicationLag",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                **_labels(PG, role="replica", instance="b:21188", server="s"),
                                "severity": "warning",
                            }
                        }
                    ],
                },
            ],
        },
        {
            "name": "a promoted replica is critical",
            "interval": "1m",
            "input_series": [
                {
                    "series": f'pg_replication_is_replica{{{PG},role="replica",instance="b:21188",server="s"}}',
                    "values": "1 1 0x5",
                }
            ],
            "alert_rule_test": [
                {
                    "eval_time": "6m",
                    "alertname": "DatabaseReplicaNotStreaming",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                **_labels(PG, role="replica", instance="b:21188", server="s"),
                                "severity": "critical",
                            }
                        }
                    ],
                }
            ],
        },
        {
            "name": "exporter down, and database down behind a running exporter",
            "interval": "1m",
            "input_series": [
                {"series": f'up{{{PG},role="primary",instance="a:21187"}}', "values": "0x5"},
                {"series": f"redis_up{{{RD}}}", "values": "1 0x5"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "5m",
                    "alertname": "DatabaseExporterDown",
                    "exp_alerts": [
                        {"exp_labels": {**_labels(PG, role="primary", instance="a:21187"), "severity": "critical"}}
                    ],
                },
                {
                    "eval_time": "5m",
                    "alertname": "DatabaseDown",
                    "exp_alerts": [{"exp_labels": {**_labels(RD), "severity": "critical"}}],
                },
            ],
        },
        {
            "name": "connections near the limit (postgres by its states summed; redis clients)",
            "interval": "1m",
            "input_series": [
                {
                    "series": f'pg_stat_activity_count{{{PA},state="active"}}',
                    "values": "50x10",
                },
                {
                    "series": f'pg_stat_activity_count{{{PA},state="idle"}}',
                    "values": "40x10",
                },
                {
                    "series": f'pg_settings_max_connections{{{PG},role="primary",instance="a:21187",server="s"}}',
                    "values": "100x10",
                },
                {"series": f"redis_connected_clients{{{RD}}}", "values": "10x10"},
                {"series": f"redis_config_maxclients{{{RD}}}", "values": "10000x10"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "8m",
                    "alertname": "DatabaseConnectionsNearLimit",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "app": "shop",
                                "database": "appdb",
                                "instance": "a:21187",
                                "severity": "warning",
                            }
                        }
                    ],
                }
            ],
        },
        {
            "name": "redis near maxmemory and evicting",
            "interval": "1m",
            "input_series": [
                {"series": f"redis_memory_used_bytes{{{RD}}}", "values": "95x10"},
                {"series": f"redis_memory_max_bytes{{{RD}}}", "values": "100x10"},
                {"series": f"redis_evicted_keys_total{{{RD}}}", "values": "0 0 0 5 10 20 30 40 50 60 70"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "8m",
                    "alertname": "DatabaseMemoryNearLimit",
                    "exp_alerts": [{"exp_labels": {**_labels(RD), "severity": "warning"}}],
                },
                {
                    "eval_time": "8m",
                    "alertname": "DatabaseEvictions",
                    "exp_alerts": [{"exp_labels": {**_labels(RD), "severity": "warning"}}],
                },
            ],
        },
    ],
}


def test_promtool_rule_behaviour(prometheus_image: str, tmp_path: Path) -> None:
    _write(tmp_path / "rules.yml", d.alert_rules(), strip=True)
    (tmp_path / "tests.yml").write_text(yaml.safe_dump({"rule_files": ["rules.yml"], **BEHAVIOUR}, sort_keys=False))
    result = promtool(prometheus_image, tmp_path, "test", "rules", "tests.yml")
    assert result.returncode == 0, result.stdout + result.stderr
