# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the monitoring filters: thin wrappers, AnsibleFilterError messages, their docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.filter import monitoring as f
from ansible_collections.opsdeck.platform.plugins.module_utils.grafana import DATASOURCES

ROOT = Path(__file__).resolve().parents[4]
APP = {
    "name": "shop",
    "image": "acme/shop:1",
    "ports": [{"name": "http", "port": 8080, "host_port": 18091}],
    "health": {"path": "/health"},
    "metrics": {},
    "slo": {"availability": 99.9},
}


def test_every_filter_is_registered_and_documented():
    names = set(f.FilterModule().filters())
    assert names == {
        "slo_rules",
        "base_rules",
        "backup_rules",
        "user_rules",
        "scrape_targets",
        "alertmanager_config",
        "grafana_provisioning",
        "grafana_dashboards",
        "grafana_settings",
    }
    for name in names:
        doc = yaml.safe_load((ROOT / "plugins" / "filter" / f"{name}.yml").read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"] and doc["RETURN"]["_value"]


def test_filters_return_what_module_utils_returns():
    assert f.slo_rules([APP])[0]["name"] == "opsdeck-slo-shop"
    assert len(f.base_rules({})) == 5
    assert f.base_rules(None, alert_for={"TargetDown": "1s"})[0]["rules"][0]["for"] == "1s"
    t = f.scrape_targets([APP], [{"name": "h", "address": "10.0.0.1"}], local_hosts=["h"])
    assert t["apps"][0]["targets"] == ["127.0.0.1:18091"]
    t = f.scrape_targets(
        [],
        [{"name": "h", "address": "10.0.0.1"}],
        scrape_logging=True,
        logging_hosts=[{"name": "l", "address": "10.0.0.9"}],
    )
    assert t["victorialogs"][0]["targets"] == ["10.0.0.9:9428"] and t["otelcol"][0]["targets"] == ["10.0.0.1:9430"]
    assert f.alertmanager_config([{"name": "x", "type": "null"}])["route"]["receiver"] == "x"
    assert f.backup_rules([APP]) == []
    assert f.user_rules([{"name": "g", "rules": [{"alert": "A", "expr": "up"}]}])
    p = f.grafana_provisioning({}, prometheus_url="http://p", alertmanager_url="http://a", logs_url="http://l")
    assert p["datasources"]["datasources"][0]["uid"] == "opsdeck-prometheus"
    board = (ROOT / "roles" / "monitoring" / "files" / "dashboards" / "apps.json").read_text()
    assert f.grafana_dashboards({"apps.json": board}, ["opsdeck-prometheus"])["apps.json"]["uid"]
    s = f.grafana_settings({}, listen_address="127.0.0.1", port=3000)
    assert s["environment"]["GF_SERVER_HTTP_PORT"] == "3000"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: f.slo_rules([{**APP, "slo": {"availability": 100}}]),
            r"cannot derive SLO rules \(1 finding\):\napp 'shop': field 'slo.availability'",
        ),
        (
            lambda: f.alertmanager_config([{"name": "x", "type": "sms"}]),
            r"(?s)invalid Alertmanager settings .*'sms' is not one of",
        ),
        (
            lambda: f.scrape_targets([], [], probes=[{"name": "p", "url": "nope"}]),
            r"monitoring_probes\[0\] \('p'\): field 'url'",
        ),
        (
            lambda: f.user_rules([{"name": "g", "rules": [{"alert": "A"}]}]),
            r"(?s)monitoring_rules is not valid .*\('A'\): field 'expr'",
        ),
        (lambda: f.base_rules({}, alert_for={"X": "1m"}), "unknown alert"),
        (lambda: f.scrape_targets([], hosts=5), "hosts: expected a list"),
        (
            lambda: f.grafana_settings({}, listen_address="127.0.0.1", port=3000, env={"GF_DATABASE_PASSWORD": "x"}),
            r"(?s)invalid Grafana settings \(1 finding\):\nmonitoring_grafana_env: key GF_DATABASE_PASSWORD",
        ),
        (
            lambda: f.grafana_dashboards({"x.json": "{"}),
            r"the Grafana dashboards are not valid \(1 finding\):\ndashboard x\.json: not JSON",
        ),
    ],
)
def test_bad_input_raises_ansible_filter_error(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()


# ----- Grafana provisioning, checked offline (Grafana cannot run here) -----------------------------

ROLE = ROOT / "roles" / "monitoring"


@pytest.mark.parametrize("name", ["apps.json", "hosts.json", "backups.json"])
def test_dashboards_parse_and_use_the_provisioned_datasource(name):
    dashboard = json.loads((ROLE / "files" / "dashboards" / name).read_text())
    for key in ("uid", "title", "panels", "schemaVersion", "templating"):
        assert key in dashboard, key
    ids = set()
    for panel in dashboard["panels"]:
        assert panel["id"] not in ids
        ids.add(panel["id"])
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])
        assert panel["datasource"]["uid"] in DATASOURCES
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
