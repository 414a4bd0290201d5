# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge filters: edge_sites, edge_challenges.

A thin wrapper around plugins/module_utils/edge.py, where the logic lives and is unit tested.
Their documentation is in the <name>.yml files next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils import edge as _edge
from ansible_collections.opsdeck.platform.plugins.plugin_utils.filters import wrap


def edge_sites(
    apps: Any,
    hosts: Any = None,
    edge_host: str = "",
    tls_mode: str = "acme",
    certificates: Any = None,
    rate_limit: Any = None,
    body_size: Any = 1048576,
) -> Any:
    """The edge proxy's sites and rate-limit zones; the input is opsdeck_apps."""
    return wrap(_edge.edge_sites, "invalid edge settings")(
        apps,
        hosts,
        edge_host=edge_host,
        tls_mode=tls_mode,
        certificates=certificates,
        rate_limit=rate_limit,
        body_size=body_size,
    )


def edge_challenges(results: Any) -> Any:
    """The HTTP-01 challenge files of registered acme_certificate results."""
    return wrap(_edge.acme_challenges, "unexpected ACME results")(results)


class FilterModule:
    """The edge filters."""

    def filters(self) -> dict[str, Any]:
        return {"edge_sites": edge_sites, "edge_challenges": edge_challenges}
