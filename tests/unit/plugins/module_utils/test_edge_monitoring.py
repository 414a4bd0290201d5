# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monitoring of the edge: its NGINX exporter as file_sd targets, its public URLs probed."""

from __future__ import annotations

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import MonitoringError, scrape_targets

APPS = [
    {
        "name": "web",
        "image": "acme/web:1",
        "ports": [{"name": "http", "port": 8080, "host_port": 18080, "public": True, "host": "web.example.com"}],
    }
]
EDGES = [{"name": "edge1", "address": "10.0.0.5"}, {"name": "mon1", "address": "10.0.0.9"}]


def test_edge_exporters_are_targets_addressed_like_the_docker_hosts() -> None:
    targets = scrape_targets(
        APPS, [], local_hosts=["mon1"], edge_hosts=EDGES, edge_exporter_port=20113, environment="prod"
    )
    assert targets["edge"] == [
        {"targets": ["10.0.0.5:20113"], "labels": {"instance": "edge1", "env": "prod"}},
        {"targets": ["127.0.0.1:20113"], "labels": {"instance": "mon1", "env": "prod"}},
    ]


def test_public_urls_are_probed_over_https() -> None:
    probes = scrape_targets(APPS, [], edge_hosts=EDGES)["probes"]
    assert {
        "targets": ["https://web.example.com/"],
        "labels": {"app": "web", "team": "platform", "env": "", "probe": "public", "module": "http_2xx"},
    } in probes


def test_no_edge_hosts_no_targets() -> None:
    assert scrape_targets(APPS, [])["edge"] == []


@pytest.mark.parametrize("port", [0, 70000, True, "9113"])
def test_a_bad_exporter_port_is_named(port: object) -> None:
    with pytest.raises(MonitoringError, match="monitoring_edge_exporter_port"):
        scrape_targets(APPS, [], edge_hosts=EDGES, edge_exporter_port=port)  # type: ignore[arg-type]


def test_edge_hosts_need_name_and_address() -> None:
    with pytest.raises(MonitoringError, match="needs 'name'"):
        scrape_targets(APPS, [], edge_hosts=[{"name": "edge1"}])
