# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logging filters: logging_store_flags, logging_collector_config, logging_takeover_config, logging_k8s_releases.

Thin wrappers around plugins/module_utils/logging.py, where the logic lives and is unit tested.
Their documentation is in the <name>.yml files next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_logging as kl
from ansible_collections.opsdeck.platform.plugins.module_utils import logging as lg
from ansible_collections.opsdeck.platform.plugins.plugin_utils.filters import wrap

_wrap = wrap


def logging_store_flags(
    retention_period: Any,
    max_disk_usage: Any = None,
    listen_address: Any = "127.0.0.1",
    port: Any = 9428,
    data_path: str = "/victoria-logs-data",
    extra_flags: Any = None,
) -> Any:
    """The VictoriaLogs command line; the input is the retention period."""
    return _wrap(lg.store_flags, "invalid logging store settings")(
        retention_period,
        max_disk_usage,
        listen_address=listen_address,
        port=port,
        data_path=data_path,
        extra_flags=extra_flags,
    )


def logging_collector_config(
    url: Any,
    host: Any = None,
    environment: Any = None,
    labels: Any = None,
    fields: Any = None,
    containers: Any = "all",
    containers_dir: str = "/var/lib/docker/containers",
    interval: Any = "1s",
    listen_address: Any = "127.0.0.1",
    port: Any = 9430,
    health_port: Any = 13133,
    queue_size: Any = 500,
    start_at: Any = "beginning",
    journal_dir: str | None = None,
) -> Any:
    """The collector's configuration on a docker host; the input is the store's base URL."""
    return _wrap(lg.collector_config, "invalid logging shipper settings")(
        url,
        host=host,
        environment=environment,
        labels=labels,
        fields=fields,
        containers=containers,
        containers_dir=containers_dir,
        interval=interval,
        listen_address=listen_address,
        port=port,
        health_port=health_port,
        queue_size=queue_size,
        start_at=start_at,
        journal_dir=journal_dir,
    )


def logging_takeover_config(config: Any) -> Any:
    """The one-off configuration that records the end of every file; the input is the collector's."""
    return _wrap(lg.takeover_config, "invalid collector configuration")(config)


def logging_k8s_releases(settings: Any) -> Any:
    """The releases of logging on a Kubernetes cluster (store, shipper); the input is the settings."""
    return _wrap(kl.releases, "invalid logging settings for Kubernetes")(settings)


class FilterModule:
    """The opsdeck logging filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "logging_store_flags": logging_store_flags,
            "logging_collector_config": logging_collector_config,
            "logging_takeover_config": logging_takeover_config,
            "logging_k8s_releases": logging_k8s_releases,
        }
