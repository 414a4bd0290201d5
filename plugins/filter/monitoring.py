# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monitoring filters: slo_rules, base_rules, backup_rules, scrape_targets, alertmanager_config, user_rules,
grafana_provisioning, grafana_dashboards, grafana_settings.

Thin wrappers around plugins/module_utils/monitoring.py and grafana.py, where the logic lives and is unit tested.
Their documentation is in the <name>.yml files next to this file.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils import grafana as g
from ansible_collections.opsdeck.platform.plugins.module_utils import monitoring as m
from ansible_collections.opsdeck.platform.plugins.plugin_utils.filters import wrap

_wrap = wrap


def slo_rules(apps: Any, alert_for: dict[str, Any] | None = None, runbook_base: str = m.RUNBOOK_BASE) -> Any:
    """Prometheus rule groups (SLO recording rules and burn-rate alerts) from the apps' ``slo``."""
    return _wrap(m.slo_rules, "cannot derive SLO rules")(apps, alert_for=alert_for, runbook_base=runbook_base)


def base_rules(
    _input: Any = None,
    alert_for: dict[str, Any] | None = None,
    backup_max_age_hours: float = 26,
    restore_max_age_days: float = 8,
    runbook_base: str = m.RUNBOOK_BASE,
) -> Any:
    """The base alert library; the input is ignored (use ``{} | opsdeck.platform.base_rules``)."""
    return _wrap(m.base_rules, "invalid base rule settings")(
        alert_for=alert_for,
        backup_max_age_hours=backup_max_age_hours,
        restore_max_age_days=restore_max_age_days,
        runbook_base=runbook_base,
    )


def backup_rules(apps: Any, runbook_base: str = m.RUNBOOK_BASE) -> Any:
    """One BackupMissing alert per database with backups enabled."""
    return _wrap(m.backup_rules, "cannot derive backup rules")(apps, runbook_base=runbook_base)


def user_rules(groups: Any) -> Any:
    """The user's rule groups, their structure checked (PromQL is checked by promtool)."""
    return _wrap(m.validate_user_rules, "monitoring_rules is not valid")(groups)


scrape_targets = wrap(m.scrape_targets, "cannot derive scrape targets")


def alertmanager_config(receivers: Any, **kwargs: Any) -> Any:
    """An Alertmanager configuration from receivers and routes (holds secrets: never log it)."""
    return _wrap(m.alertmanager_config, "invalid Alertmanager settings")(receivers, **kwargs)


def grafana_provisioning(_input: Any = None, **kwargs: Any) -> Any:
    """Grafana's datasources and dashboard provider (``{"datasources": ..., "dashboards": ...}``); input ignored."""
    return _wrap(g.provisioning, "cannot render the Grafana provisioning")(**kwargs)


def grafana_dashboards(dashboards: Any, datasource_uids: Any = None) -> Any:
    """The dashboards (file name -> JSON text), parsed; each datasource reference a provisioned one."""
    return _wrap(g.check_dashboards, "the Grafana dashboards are not valid")(dashboards, datasource_uids)


def grafana_settings(_input: Any = None, **kwargs: Any) -> Any:
    """The Grafana service's environment (secrets as <NAME>__FILE), plugins and limits; input ignored."""
    return _wrap(g.settings, "invalid Grafana settings")(**kwargs)


class FilterModule:
    """The opsdeck monitoring filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "slo_rules": slo_rules,
            "base_rules": base_rules,
            "backup_rules": backup_rules,
            "user_rules": user_rules,
            "scrape_targets": scrape_targets,
            "alertmanager_config": alertmanager_config,
            "grafana_provisioning": grafana_provisioning,
            "grafana_dashboards": grafana_dashboards,
            "grafana_settings": grafana_settings,
        }
