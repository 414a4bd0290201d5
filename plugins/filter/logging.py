# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logging filters: logging_store_flags, logging_shipper_args, logging_k8s_releases.

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


def logging_shipper_args(
    url: Any,
    host: Any = None,
    environment: Any = None,
    labels: Any = None,
    fields: Any = None,
    containers: Any = "all",
    containers_dir: str = "/containers",
    state: str = "/state/positions.json",
    interval: Any = "1s",
    listen_address: Any = "127.0.0.1",
    port: Any = 9430,
    journal_dir: str | None = None,
) -> Any:
    """The shipper's command line; the input is the store's base URL."""
    return _wrap(lg.shipper_args, "invalid logging shipper settings")(
        url,
        host=host,
        environment=environment,
        labels=labels,
        fields=fields,
        containers=containers,
        containers_dir=containers_dir,
        state=state,
        interval=interval,
        listen_address=listen_address,
        port=port,
        journal_dir=journal_dir,
    )


def logging_k8s_releases(settings: Any) -> Any:
    """The releases of logging on a Kubernetes cluster (store, shipper); the input is the settings."""
    return _wrap(kl.releases, "invalid logging settings for Kubernetes")(settings)


class FilterModule:
    """The opsdeck logging filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "logging_store_flags": logging_store_flags,
            "logging_shipper_args": logging_shipper_args,
            "logging_k8s_releases": logging_k8s_releases,
        }
