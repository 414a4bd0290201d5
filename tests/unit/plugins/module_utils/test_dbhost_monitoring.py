# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The database hosts' node exporters (backup metrics) as targets of job node, next to the docker hosts'."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.filter import monitoring as f
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import MonitoringError, scrape_targets

DOCKER = [{"name": "app1", "address": "10.0.0.2", "groups": ["docker_hosts"]}]
DBS = [{"name": "db1", "address": "10.0.0.7"}, {"name": "db2", "address": "fd00::8"}]


def test_backup_hosts_are_node_targets_with_instance_and_env() -> None:
    nodes = scrape_targets([], DOCKER, local_hosts=["mon1"], backup_hosts=DBS, environment="staging")["nodes"]
    assert nodes == [
        {"targets": ["10.0.0.2:9100"], "labels": {"instance": "app1", "env": "staging"}},
        {"targets": ["10.0.0.7:9100"], "labels": {"instance": "db1", "env": "staging"}},
        {"targets": ["[fd00::8]:9100"], "labels": {"instance": "db2", "env": "staging"}},
    ]


def test_a_host_in_both_groups_runs_one_exporter_and_is_listed_once() -> None:
    both = [{"name": "app1", "address": "10.0.0.2"}]
    nodes = scrape_targets([], DOCKER, backup_hosts=both + DBS[:1], node_exporter_port=22500)["nodes"]
    assert [n["labels"]["instance"] for n in nodes] == ["app1", "db1"]
    assert nodes[1]["targets"] == ["10.0.0.7:22500"]


def test_a_backup_host_prometheus_runs_on_is_scraped_on_loopback() -> None:
    nodes = scrape_targets([], [], local_hosts=["db1"], backup_hosts=DBS[:1])["nodes"]
    assert nodes == [{"targets": ["127.0.0.1:9100"], "labels": {"instance": "db1", "env": ""}}]


def test_a_host_without_its_own_exporter_is_left_out_of_nodes_only() -> None:
    off = [{**DOCKER[0], "node_exporter": False}]
    t = scrape_targets([], off, backup_hosts=[{**DBS[0], "node_exporter": False}], docker_metrics_port=9323)
    assert t["nodes"] == []
    assert t["docker"] == [{"targets": ["10.0.0.2:9323"], "labels": {"instance": "app1", "env": ""}}]


def test_a_host_can_have_its_own_exporter_port() -> None:
    nodes = scrape_targets([], [], backup_hosts=[{**DBS[0], "node_exporter_port": 9200}])["nodes"]
    assert nodes[0]["targets"] == ["10.0.0.7:9200"]


def test_no_backup_hosts_leaves_the_docker_hosts_nodes_as_they_were() -> None:
    assert scrape_targets([], DOCKER)["nodes"] == scrape_targets([], DOCKER, backup_hosts=[])["nodes"]


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ({"name": "db1"}, r"backup hosts\[0\]|hosts\[0\]: needs 'name'"),
        ({"name": "db1", "address": "10.0.0.7", "node_exporter_port": 0}, r"'db1': monitoring_node_exporter_port 0"),
        ({"name": "db1", "address": "10.0.0.7", "node_exporter_port": "9100"}, r"'db1': monitoring_node_exporter_port"),
        ({"name": "db1", "address": "10.0.0.7", "node_exporter": "no"}, r"'db1': field 'node_exporter' must be true"),
    ],
)
def test_bad_backup_hosts_are_named(host: dict[str, Any], message: str) -> None:
    with pytest.raises(MonitoringError, match=message):
        scrape_targets([], [], backup_hosts=[host])


def test_backup_hosts_must_be_a_list() -> None:
    with pytest.raises(MonitoringError, match="hosts: expected a list"):
        scrape_targets([], [], backup_hosts="db1")


def test_the_filter_passes_backup_hosts() -> None:
    nodes = f.scrape_targets([], [], backup_hosts=DBS[:1], node_exporter_port=22500)["nodes"]
    assert nodes == [{"targets": ["10.0.0.7:22500"], "labels": {"instance": "db1", "env": ""}}]
