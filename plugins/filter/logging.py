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

logging_store_flags = wrap(lg.store_flags, "invalid logging store settings")
logging_collector_config = wrap(lg.collector_config, "invalid logging shipper settings")
logging_takeover_config = wrap(lg.takeover_config, "invalid collector configuration")
logging_k8s_releases = wrap(kl.releases, "invalid logging settings for Kubernetes")


class FilterModule:
    """The opsdeck logging filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "logging_store_flags": logging_store_flags,
            "logging_collector_config": logging_collector_config,
            "logging_takeover_config": logging_takeover_config,
            "logging_k8s_releases": logging_k8s_releases,
        }
