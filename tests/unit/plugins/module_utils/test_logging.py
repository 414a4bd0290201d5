# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of module_utils/logging.py: store flags, shipper arguments, scrape targets."""

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


def test_shipper_args_defaults() -> None:
    argv = lg.shipper_args("http://10.0.0.9:9428/", host="web-1", environment="prod")
    assert argv[0] == "-url=http://10.0.0.9:9428/insert/jsonline"
    assert "-stream-fields=app,service,env,host" in argv
    assert "-label=app=io.opsdeck.app" in argv and "-label=service=com.docker.compose.service" in argv
    assert "-label=env=io.opsdeck.environment" in argv
    assert "-field=env=prod" in argv and "-field=host=web-1" in argv
    assert not any(a.startswith("-require-label") for a in argv)
    assert not any(a.startswith("-journal-dir") for a in argv)
    assert lg.shipper_args("http://127.0.0.1:9428", host="h", journal_dir="/journal")[-1] == "-journal-dir=/journal"


def test_shipper_args_apps_only_and_static_fields() -> None:
    argv = lg.shipper_args(
        "https://logs.example.com", host="web-2", containers="apps", fields={"datacenter": "fra1", "env": "staging"}
    )
    assert "-require-label=io.opsdeck.app" in argv
    assert "-field=datacenter=fra1" in argv and "-field=env=staging" in argv


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "10.0.0.9:9428"}, "logging_push_url: '10.0.0.9:9428' is not an http(s) URL"),
        ({"host": ""}, "host: '' must be the inventory name"),
        ({"labels": {"host": "io.x"}}, "field 'host' is the inventory name"),
        ({"labels": {"_msg": "io.x"}}, "field name '_msg' is not allowed"),
        ({"labels": {"app": ""}}, "field 'app': the value must be a non-empty string"),
        ({"labels": ["app"]}, "logging_shipper_labels: must map field names"),
        ({"fields": {"stream": "x"}}, "logging_shipper_fields: field name 'stream' is not allowed"),
        ({"containers": "some"}, "logging_shipper_containers: 'some' is not one of 'all', 'apps'"),
        ({"interval": "1 second"}, "logging_shipper_interval: '1 second' is not a duration"),
        ({"listen_address": "0.0.0"}, "logging_shipper_listen_address"),
        ({"port": "9430"}, "logging_shipper_port: '9430' is not a port"),
    ],
)
def test_shipper_args_refuses(kwargs: dict, message: str) -> None:
    args = {"url": "http://127.0.0.1:9428", "host": "web-1", **kwargs}
    url = args.pop("url")
    with pytest.raises(lg.LoggingError) as err:
        lg.shipper_args(url, **args)
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
        filters["logging_shipper_args"]("ftp://x", "web1")
