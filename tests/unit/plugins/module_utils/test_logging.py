# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of module_utils/logging.py: store flags, the collector's configuration (the shipper)."""

from __future__ import annotations

import pytest

from ansible_collections.opsdeck.platform.plugins.filter import logging as flt
from ansible_collections.opsdeck.platform.plugins.module_utils import logging as lg


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1d", 86400),
        ("36h", 129600),
        ("4w", 4 * 7 * 86400),
        ("1y", 365 * 86400),
        ("1y6M", 365 * 86400 + 6 * 31 * 86400),
        ("2", 62 * 86400),
        (3, 93 * 86400),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert lg.parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "7 days", "d7", "7x", "1d-", True, None, 1.5, "7d7"])
def test_parse_duration_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        lg.parse_duration(value)


@pytest.mark.parametrize(
    ("value", "size"), [("10GiB", 10 * 2**30), ("500MB", 500 * 10**6), ("1.5KiB", 1536), (2048, 2048)]
)
def test_parse_size(value: object, size: int) -> None:
    assert lg.parse_size(value) == size


@pytest.mark.parametrize("value", ["10 GB", "ten", "10GiBs", False, [], "-1GB"])
def test_parse_size_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        lg.parse_size(value)


def test_store_flags_defaults() -> None:
    assert lg.store_flags("7d", "10GiB") == [
        "-storageDataPath=/victoria-logs-data",
        "-httpListenAddr=127.0.0.1:9428",
        "-retentionPeriod=7d",
        "-retention.maxDiskSpaceUsageBytes=10GiB",
    ]


def test_store_flags_no_disk_limit_ipv6_and_extra() -> None:
    flags = lg.store_flags(
        "4w", "", listen_address="::1", port=19428, extra_flags=["-syslog.listenAddr.tcp=127.0.0.1:514"]
    )
    assert "-httpListenAddr=[::1]:19428" in flags
    assert not any(f.startswith("-retention.maxDisk") for f in flags)
    assert flags[-1] == "-syslog.listenAddr.tcp=127.0.0.1:514"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retention_period": "3 days"}, "logging_retention_period: '3 days' is not a duration"),
        ({"retention_period": "12h"}, "logging_retention_period: '12h' is shorter than 1d"),
        (
            {"retention_period": "7d", "max_disk_usage": "lots"},
            "logging_retention_max_disk_usage: 'lots' is not a size",
        ),
        ({"retention_period": "7d", "max_disk_usage": "10KB"}, "is less than 1MiB"),
        (
            {"retention_period": "7d", "listen_address": "localhost"},
            "logging_listen_address: 'localhost' is not an IP address",
        ),
        ({"retention_period": "7d", "port": 70000}, "logging_port: 70000 is not a port"),
        (
            {"retention_period": "7d", "extra_flags": ["syslog"]},
            "logging_extra_flags[0]: 'syslog' is not a '-name=value' flag",
        ),
        ({"retention_period": "7d", "extra_flags": ["-retentionPeriod=1y"]}, "-retentionPeriod is set by the role"),
        ({"retention_period": "7d", "extra_flags": "-x=1"}, "logging_extra_flags: must be a list"),
    ],
)
def test_store_flags_refuses(kwargs: dict, message: str) -> None:
    retention = kwargs.pop("retention_period")
    with pytest.raises(lg.LoggingError) as err:
        lg.store_flags(retention, **kwargs)
    assert message in str(err.value)


def test_store_flags_reports_every_finding() -> None:
    with pytest.raises(lg.LoggingError) as err:
        lg.store_flags("soon", "big", port=0)
    assert len(err.value.errors) == 3


def _ops(config: dict, receiver: str = lg.CONTAINERS_RECEIVER) -> list[dict]:
    return config["receivers"][receiver]["operators"]


def test_collector_config_defaults() -> None:
    cfg = lg.collector_config("http://10.0.0.9:9428/", host="web-1", environment="prod")
    exporter = cfg["exporters"][lg.EXPORTER]
    assert exporter["logs_endpoint"] == "http://10.0.0.9:9428/insert/opentelemetry/v1/logs"
    assert exporter["headers"] == {"VL-Stream-Fields": "app,service,env,host"}
    # never gives up, queue on disk, blocks when full: nothing dropped
    assert exporter["retry_on_failure"]["max_elapsed_time"] == "0s"
    assert exporter["sending_queue"]["storage"] == lg.STORAGE and exporter["sending_queue"]["block_on_overflow"]
    filelog = cfg["receivers"][lg.CONTAINERS_RECEIVER]
    assert filelog["include"] == [
        "/var/lib/docker/containers/*/*-json.log",
        "/var/lib/docker/containers/*/*-json.log.*",
    ]
    assert filelog["exclude"] == ["/var/lib/docker/containers/*/*.gz"]
    assert filelog["storage"] == lg.STORAGE and filelog["start_at"] == "beginning"
    assert filelog["retry_on_failure"]["enabled"] and filelog["retry_on_failure"]["max_elapsed_time"] == "0s"
    ops = _ops(cfg)
    assert ops[0] == {"type": "container", "format": "docker", "add_metadata_from_filepath": False}
    moves = {op["to"]: op["from"] for op in ops if op["type"] == "move"}
    assert moves['attributes["app"]'] == 'attributes["attrs"]["io.opsdeck.app"]'
    assert moves['attributes["service"]'] == 'attributes["attrs"]["com.docker.compose.service"]'
    assert moves['attributes["env"]'] == 'attributes["attrs"]["io.opsdeck.environment"]'
    adds = [op for op in ops if op["type"] == "add" and op["field"].startswith("attributes")]
    assert {"type": "add", "field": 'attributes["host"]', "value": "web-1"} in adds
    # env from the label first, the environment otherwise
    assert {"type": "add", "field": 'attributes["env"]', "value": "prod", "if": 'attributes["env"] == nil'} in adds
    assert not any(op["type"] == "filter" for op in ops)
    assert lg.JOURNAL_RECEIVER not in cfg["receivers"]
    service = cfg["service"]
    assert service["pipelines"]["logs"] == {
        "receivers": [lg.CONTAINERS_RECEIVER],
        "processors": ["memory_limiter"],
        "exporters": [lg.EXPORTER],
    }
    assert service["extensions"] == ["health_check", lg.STORAGE]
    assert cfg["extensions"]["health_check"] == {"endpoint": "127.0.0.1:13133"}
    reader = service["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    assert reader == {"host": "127.0.0.1", "port": 9430}
    assert "_retry" not in cfg


def test_collector_config_apps_only_journal_and_static_fields() -> None:
    cfg = lg.collector_config(
        "https://logs.example.com",
        host="web-2",
        containers="apps",
        fields={"datacenter": "fra1", "env": "staging"},
        journal_dir="/var/log/journal",
        listen_address="0.0.0.0",
        port=19430,
        health_port=19433,
        start_at="end",
    )
    ops = _ops(cfg)
    assert ops[2]["type"] == "filter" and 'attributes["attrs"]["io.opsdeck.app"] == nil' in ops[2]["expr"]
    adds = {op["field"]: op["value"] for op in ops if op["type"] == "add" and "if" not in op}
    assert adds['attributes["datacenter"]'] == "fra1" and adds['attributes["env"]'] == "staging"
    assert cfg["receivers"][lg.CONTAINERS_RECEIVER]["start_at"] == "end"
    journal = cfg["receivers"][lg.JOURNAL_RECEIVER]
    assert journal["root_path"] == lg.HOSTFS and journal["journalctl_path"] == "/usr/bin/journalctl"
    assert journal["directory"] == "/var/log/journal" and journal["storage"] == lg.STORAGE
    jadds = {op["field"]: op["value"] for op in journal["operators"] if op["type"] == "add"}
    assert jadds['attributes["source"]'] == "journal" and jadds['attributes["host"]'] == "web-2"
    assert jadds['attributes["env"]'] == "staging"
    assert cfg["service"]["pipelines"]["logs"]["receivers"] == [lg.CONTAINERS_RECEIVER, lg.JOURNAL_RECEIVER]
    assert cfg["extensions"]["health_check"]["endpoint"] == "0.0.0.0:19433"


def test_the_labels_compose_and_docker_host_write_are_the_collectors() -> None:
    """compose_app renders LOG_LABELS on every service; docker_host's default log-opts name the same."""
    from pathlib import Path

    import yaml

    from ansible_collections.opsdeck.platform.plugins.module_utils import compose

    root = Path(__file__).resolve().parents[4]
    opts = yaml.safe_load((root / "roles/docker_host/defaults/main.yml").read_text())["docker_host_log_opts"]
    assert tuple(opts["labels"].split(",")) == compose.LOG_LABELS == lg.LOG_LABELS
    defaults = yaml.safe_load((root / "roles/logging/defaults/main.yml").read_text())
    assert set(defaults["logging_shipper_labels"].values()) <= set(lg.LOG_LABELS)


def test_takeover_config_ships_nothing_and_starts_at_the_end() -> None:
    cfg = lg.collector_config("http://127.0.0.1:9428", host="h", journal_dir="/run/log/journal")
    once = lg.takeover_config(cfg)
    assert list(once["receivers"]) == [lg.CONTAINERS_RECEIVER]
    assert once["receivers"][lg.CONTAINERS_RECEIVER]["start_at"] == "end"
    assert once["receivers"][lg.CONTAINERS_RECEIVER]["storage"] == lg.STORAGE
    assert once["exporters"] == {"debug": {"verbosity": "basic"}}
    assert once["service"]["pipelines"]["logs"]["exporters"] == ["debug"]
    assert once["service"]["telemetry"]["metrics"] == {"level": "none"}
    # the collector's own configuration is untouched
    assert cfg["receivers"][lg.CONTAINERS_RECEIVER]["start_at"] == "beginning" and lg.EXPORTER in cfg["exporters"]


def test_pod_collector_config() -> None:
    cfg = lg.pod_collector_config(
        "http://victorialogs.logging.svc:9428", environment="prod", namespace_prefix="app-", fields={"cluster": "c1"}
    )
    filelog = cfg["receivers"][lg.PODS_RECEIVER]
    assert filelog["include"] == ["/var/log/pods/*/*/*.log", "/var/log/pods/*/*/*.log.*"]
    assert "/var/log/pods/*/*/*.gz" in filelog["exclude"]
    ops = filelog["operators"]
    assert ops[0] == {"type": "container", "add_metadata_from_filepath": True}
    strip = next(op for op in ops if op.get("if", "").startswith('attributes["app"] startsWith'))
    assert strip["value"] == 'EXPR(attributes["app"][4:])'
    host = next(op for op in ops if op.get("field") == 'attributes["host"]')
    assert host["value"] == 'EXPR(env("NODE_NAME"))'
    assert cfg["exporters"][lg.EXPORTER]["headers"]["VL-Stream-Fields"] == "app,service,env,host,namespace"
    assert cfg["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "10.0.0.9:9428"}, "logging_push_url: '10.0.0.9:9428' is not an http(s) URL"),
        ({"url": "ftp://10.0.0.9:9428"}, "logging_push_url: 'ftp://10.0.0.9:9428' is not an http(s) URL"),
        ({"host": ""}, "host: '' must be the inventory name"),
        ({"labels": {"host": "io.opsdeck.app"}}, "field 'host' is the inventory name"),
        ({"labels": {"_msg": "io.opsdeck.app"}}, "field name '_msg' is not allowed"),
        ({"labels": {"app": ""}}, "field 'app': the value must be a non-empty string"),
        ({"labels": ["app"]}, "logging_shipper_labels: must map field names"),
        ({"labels": {"team": "io.opsdeck.team"}}, "logging_shipper_labels: io.opsdeck.team: the engine writes only"),
        ({"fields": {"stream": "x"}}, "logging_shipper_fields: field name 'stream' is not allowed"),
        ({"containers": "some"}, "logging_shipper_containers: 'some' is not one of 'all', 'apps'"),
        ({"interval": "1 second"}, "logging_shipper_interval: '1 second' is not a duration"),
        ({"listen_address": "0.0.0"}, "logging_shipper_listen_address"),
        ({"port": "9430"}, "logging_shipper_port: '9430' is not a port"),
        ({"health_port": 9430}, "logging_shipper_health_port: must differ from logging_shipper_port"),
        ({"queue_size": 0}, "logging_shipper_queue_size: 0 is not an integer >= 1"),
        ({"start_at": "middle"}, "logging_shipper_start_at: 'middle' is not one of 'beginning', 'end'"),
    ],
)
def test_collector_config_refuses(kwargs: dict, message: str) -> None:
    args = {"url": "http://127.0.0.1:9428", "host": "web-1", **kwargs}
    url = args.pop("url")
    with pytest.raises(lg.LoggingError) as err:
        lg.collector_config(url, **args)
    assert message in str(err.value)


def test_filters_raise_filter_errors() -> None:
    from ansible.errors import AnsibleFilterError

    filters = flt.FilterModule().filters()
    assert filters["logging_store_flags"]("7d", "1GiB")[2] == "-retentionPeriod=7d"
    with pytest.raises(
        AnsibleFilterError, match=r"invalid logging store settings \(1 finding\):\nlogging_retention_period"
    ):
        filters["logging_store_flags"]("a week")
    with pytest.raises(AnsibleFilterError, match="invalid logging shipper settings"):
        filters["logging_collector_config"]("ftp://x", "web1")
    cfg = filters["logging_collector_config"]("http://127.0.0.1:9428", "web1")
    assert filters["logging_takeover_config"](cfg)["exporters"] == {"debug": {"verbosity": "basic"}}
