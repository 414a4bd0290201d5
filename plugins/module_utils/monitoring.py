# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monitoring derived from the application model: rules, scrape targets, Alertmanager config.

Pure functions (no I/O), used by the filters in ``plugins/filter/monitoring.py`` and by the
role ``opsdeck.platform.monitoring``. The label scheme they share (docs/monitoring.md):

- every series of an app's metrics endpoint carries ``job="apps"`` and the target labels
  ``app``, ``team``, ``env``, ``instance`` (from the file_sd files this module renders);
- node exporters: ``job="node"``; the Docker engine: ``job="docker"``; blackbox probes:
  ``job="blackbox"`` with ``probe="health"|"public"|"custom"``;
- the stack itself: ``job="prometheus"``, ``job="alertmanager"``, ``job="blackbox-exporter"``.

Errors are ``MonitoringError`` (a ``ModelError``): one finding per line, naming the app or
the variable and the field.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import build as build_plan
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import placed as plan_placed

# The SLO windows: recording rules exist for each; the burn-rate alerts pair them.
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity label, [(short window, long window, burn-rate factor)], for)
BURN_RATE_ALERTS = (
    ("page", "critical", (("5m", "1h", 14.4), ("30m", "6h", 6.0)), "2m"),
    ("ticket", "warning", (("2h", "1d", 3.0), ("6h", "3d", 1.0)), "15m"),
)
RECEIVER_TYPES = ("email", "slack", "pagerduty", "webhook", "null")
_RECEIVER_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (required fields, optional fields); "name" and "type" are always there
    "email": (("to",), ("from", "smarthost", "auth_username", "auth_password", "require_tls", "send_resolved")),
    "slack": (("api_url",), ("channel", "send_resolved")),
    "pagerduty": (("routing_key",), ("url", "send_resolved")),
    "webhook": (("url",), ("send_resolved", "max_alerts")),
    "null": ((), ()),
}
_SECRET_FIELDS = {"auth_password", "api_url", "routing_key", "url"}
_ROUTE_FIELDS = {"receiver", "team", "severity", "app", "continue", "group_by"}
_SEVERITIES = ("critical", "warning", "info", "none")
_RECEIVER_NAME_RE = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
PROMETHEUS_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
# The fields of a rule group in Prometheus 3 (rulefmt.RuleGroup).
_GROUP_FIELDS = {"name", "rules", "interval", "query_offset", "limit", "labels"}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
ANY_ADDRESS = {"0.0.0.0", "::"}

DEFAULT_ALERT_FOR = {
    "TargetDown": "2m",
    "ProbeFailing": "2m",
    "AppErrorRateHigh": "5m",
    "HostCpuHigh": "15m",
    "HostMemoryLow": "10m",
    "HostDiskFilling": "30m",
    "ContainerRestartLoop": "5m",
    "TLSCertificateExpiring": "10m",
    "BackupStale": "10m",
    "BackupFailed": "5m",
    "BackupRestoreUnverified": "1h",
    "PITRBackupStale": "10m",
    "PITRWALArchiveFailing": "10m",
    "PITRRepositoryError": "10m",
    "PITRMetricsStale": "10m",
    "PrometheusConfigReloadFailed": "10m",
    "PrometheusRuleEvaluationFailures": "10m",
    "PrometheusNotificationsFailing": "10m",
    "PrometheusAlertmanagerMissing": "10m",
    "AlertmanagerConfigReloadFailed": "10m",
    "AlertmanagerNotificationsFailing": "10m",
    "SLOLatencyHigh": "10m",
    "LogShipperSendFailed": "1m",
    "LogShipperQueueFilling": "5m",
    "LogShipperRefused": "1m",
    "VictoriaLogsReadOnly": "5m",
}
RUNBOOK_BASE = "https://opsdeck.example.com/runbooks"


class MonitoringError(ModelError):
    """Monitoring input is not valid. ``errors`` holds every finding, one message each."""


# ---------------------------------------------------------------------------------------------
# helpers


def normalized(apps: Any) -> list[dict[str, Any]]:
    """The apps of the run's plan as given (roles pass ``opsdeck_plan.apps``); a raw model, as a
    caller of the filters alone may give, goes through the plan first (its validation included)."""
    if apps is None:
        return []
    if isinstance(apps, list) and all(isinstance(a, dict) and "image_ref" in a for a in apps):
        return apps
    return build_plan(apps)["apps"]


def _q(value: str) -> str:
    """A PromQL / label-matcher string literal."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _num(value: float) -> str:
    text = f"{value:.10g}"
    return text


def check_prometheus_duration(value: Any, where: str, findings: list[str]) -> None:
    """A finding in ``findings`` when ``value`` is not a Prometheus duration (scrape intervals, retention)."""
    if not isinstance(value, str) or not PROMETHEUS_DURATION.match(value):
        findings.append(f"{where}: {value!r} is not a Prometheus duration (examples: 30s, 5m, 1h30m)")


def _runbook(name: str, base: str) -> str:
    return f"{base.rstrip('/')}/{name.lower()}"


def _merge_for(overrides: dict[str, Any] | None) -> dict[str, str]:
    result = dict(DEFAULT_ALERT_FOR)
    findings: list[str] = []
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_ALERT_FOR:
            findings.append(
                f"monitoring_alert_for: field '{key}': unknown alert; allowed: {', '.join(sorted(DEFAULT_ALERT_FOR))}"
            )
            continue
        check_prometheus_duration(value, f"monitoring_alert_for: field '{key}'", findings)
        result[key] = value
    if findings:
        raise MonitoringError(findings)
    return result


# ---------------------------------------------------------------------------------------------
# SLO rules


def slo_record_name(window: str) -> str:
    return f"opsdeck:http_error_ratio:rate{window}"


def slo_rules(
    apps: Any, *, alert_for: dict[str, Any] | None = None, runbook_base: str = RUNBOOK_BASE
) -> list[dict[str, Any]]:
    """Rule groups for every present app with an ``slo``: one group per app.

    Recording rules: the error ratio (5xx over all requests of ``http_requests_total``,
    selected by ``app``) over each window of ``SLO_WINDOWS``. Alerts: multi-window
    multi-burn-rate on ``slo.error_budget_ratio`` (page: 5m&1h > 14.4x or 30m&6h > 6x;
    ticket: 2h&1d > 3x or 6h&3d > 1x), and p95 latency over ``slo.latency_p95_ms``.
    """
    durations = _merge_for(alert_for)
    groups = []
    for app in normalized(apps):
        slo = app.get("slo")
        if app.get("state") == "absent" or not slo:
            continue
        name = app["name"]
        sel = f"app={_q(name)}"
        labels = {"app": name, "team": app["team"]}
        rules: list[dict[str, Any]] = []
        budget = slo.get("error_budget_ratio")
        if budget:
            for window in SLO_WINDOWS:
                rules.append(
                    {
                        "record": slo_record_name(window),
                        "expr": (
                            f'sum by (app) (rate(http_requests_total{{{sel},code=~"5.."}}[{window}]))\n'
                            f"/\nsum by (app) (rate(http_requests_total{{{sel}}}[{window}]))"
                        ),
                        # app as a static label too: recording rules of different apps must
                        # differ in name or labels (promtool flags duplicates otherwise)
                        "labels": {"app": name, "team": app["team"]},
                    }
                )
            availability = slo["availability"]
            for kind, severity, pairs, default_for in BURN_RATE_ALERTS:
                terms = []
                for short, long, factor in pairs:
                    threshold = _num(factor * budget)
                    terms.append(
                        f"(\n  {slo_record_name(short)}{{{sel}}} > {threshold}\nand\n"
                        f"  {slo_record_name(long)}{{{sel}}} > {threshold}\n)"
                    )
                alert = "SLOErrorBudgetBurn" + ("Fast" if kind == "page" else "Slow")
                windows = " or ".join(f"{s}/{lw} over {_num(f)}x" for s, lw, f in pairs)
                rules.append(
                    {
                        "alert": alert,
                        "expr": "\n or \n".join(terms),
                        "for": default_for,
                        "labels": {**labels, "severity": severity, "slo": "availability", "burn": kind},
                        "annotations": {
                            "summary": f"{name} is burning its {availability}% availability error budget ({kind})",
                            "description": (
                                f"Error ratio of {name} exceeds the burn-rate threshold ({windows}) of its "
                                f"{slo['window_days']}-day error budget of {_num(budget * 100)}%. "
                                "Error ratio over the short window: {{ $value | humanizePercentage }}."
                            ),
                            "runbook_url": _runbook(alert, runbook_base),
                        },
                    }
                )
        latency = slo.get("latency_p95_ms")
        if latency:
            seconds = _num(latency / 1000.0)
            rules.append(
                {
                    "alert": "SLOLatencyHigh",
                    "expr": (
                        "histogram_quantile(0.95,\n  sum by (app, le) ("
                        f"rate(http_request_duration_seconds_bucket{{{sel}}}[5m]))\n) > {seconds}"
                    ),
                    "for": durations["SLOLatencyHigh"],
                    "labels": {**labels, "severity": "warning", "slo": "latency"},
                    "annotations": {
                        "summary": f"{name} p95 latency is over {_num(latency)} ms",
                        "description": (
                            f"The 95th percentile of request duration of {name} is "
                            "{{ $value | humanizeDuration }} (objective: " + f"{_num(latency)} ms)."
                        ),
                        "runbook_url": _runbook("SLOLatencyHigh", runbook_base),
                    },
                }
            )
        groups.append({"name": f"opsdeck-slo-{name}", "rules": rules})
    return groups


# ---------------------------------------------------------------------------------------------
# the base rule library


def _alert(
    name: str,
    expr: str,
    severity: str,
    summary: str,
    description: str,
    durations: dict[str, str],
    runbook_base: str,
    for_: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    duration = for_ if for_ is not None else durations.get(name)
    if duration:
        rule["for"] = duration
    rule["labels"] = {"severity": severity, **labels}
    rule["annotations"] = {
        "summary": summary,
        "description": description,
        "runbook_url": _runbook(name, runbook_base),
    }
    return rule


def base_rules(
    *,
    alert_for: dict[str, Any] | None = None,
    backup_max_age_hours: float = 26,
    restore_max_age_days: float = 8,
    runbook_base: str = RUNBOOK_BASE,
) -> list[dict[str, Any]]:
    """The base alert library (rule groups), independent of the apps."""
    d = _merge_for(alert_for)
    findings: list[str] = []
    for field, value in (
        ("backup_max_age_hours", backup_max_age_hours),
        ("restore_max_age_days", restore_max_age_days),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            findings.append(f"monitoring_{field}: {value!r} is not a number above 0")
    if findings:
        raise MonitoringError(findings)
    rb = runbook_base
    err = (
        'sum by (app, team, env) (rate(http_requests_total{job="apps",code=~"5.."}[5m]))\n/\n'
        'sum by (app, team, env) (rate(http_requests_total{job="apps"}[5m]))'
    )
    availability = [
        _alert(
            "TargetDown",
            "up == 0",
            "critical",
            "{{ $labels.job }} target {{ $labels.instance }} is down",
            "Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }}, app {{ $labels.app }}).",
            d,
            rb,
        ),
        _alert(
            "ProbeFailing",
            'probe_success{job="blackbox"} == 0',
            "critical",
            "Probe of {{ $labels.instance }} is failing",
            "The blackbox {{ $labels.probe }} probe of {{ $labels.instance }} (app {{ $labels.app }}) fails.",
            d,
            rb,
        ),
        _alert(
            "AppErrorRateHigh",
            f"(\n{err}\n) > 0.05",
            "warning",
            "{{ $labels.app }} answers more than 5% of requests with 5xx",
            "{{ $value | humanizePercentage }} of the requests of {{ $labels.app }} failed over 5 minutes.",
            d,
            rb,
        ),
        _alert(
            "AppErrorRateHigh",
            f"(\n{err}\n) > 0.10",
            "critical",
            "{{ $labels.app }} answers more than 10% of requests with 5xx",
            "{{ $value | humanizePercentage }} of the requests of {{ $labels.app }} failed over 5 minutes.",
            d,
            rb,
        ),
        _alert(
            "TLSCertificateExpiring",
            "probe_ssl_earliest_cert_expiry - time() < 14 * 86400",
            "warning",
            "TLS certificate of {{ $labels.instance }} expires in less than 14 days",
            "The certificate served by {{ $labels.instance }} expires in {{ $value | humanizeDuration }}.",
            d,
            rb,
        ),
        _alert(
            "TLSCertificateExpiring",
            "probe_ssl_earliest_cert_expiry - time() < 3 * 86400",
            "critical",
            "TLS certificate of {{ $labels.instance }} expires in less than 3 days",
            "The certificate served by {{ $labels.instance }} expires in {{ $value | humanizeDuration }}.",
            d,
            rb,
        ),
    ]
    hosts = [
        _alert(
            "HostCpuHigh",
            '100 * (1 - avg by (instance, env) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) > 80',
            "warning",
            "CPU of {{ $labels.instance }} is over 80%",
            'CPU usage of {{ $labels.instance }} is {{ $value | printf "%.0f" }}%.',
            d,
            rb,
        ),
        _alert(
            "HostMemoryLow",
            "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.10",
            "warning",
            "{{ $labels.instance }} has less than 10% memory available",
            "Available memory of {{ $labels.instance }} is {{ $value | humanizePercentage }}.",
            d,
            rb,
        ),
        _alert(
            "HostMemoryLow",
            "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.05",
            "critical",
            "{{ $labels.instance }} has less than 5% memory available",
            "Available memory of {{ $labels.instance }} is {{ $value | humanizePercentage }}.",
            d,
            rb,
        ),
        _alert(
            "HostDiskFilling",
            (
                'predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}[6h], 24 * 3600) < 0\n'
                'and node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}'
                ' / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"} < 0.25\n'
                'and node_filesystem_readonly{fstype!~"tmpfs|overlay|squashfs"} == 0'
            ),
            "warning",
            "{{ $labels.mountpoint }} on {{ $labels.instance }} fills up within 24 hours",
            "At the rate of the last 6 hours, {{ $labels.mountpoint }} on {{ $labels.instance }} is full within a day.",
            d,
            rb,
        ),
        _alert(
            "HostDiskFilling",
            (
                'predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}[1h], 4 * 3600) < 0\n'
                'and node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}'
                ' / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"} < 0.10\n'
                'and node_filesystem_readonly{fstype!~"tmpfs|overlay|squashfs"} == 0'
            ),
            "critical",
            "{{ $labels.mountpoint }} on {{ $labels.instance }} fills up within 4 hours",
            "At the rate of the last hour, {{ $labels.mountpoint }} on {{ $labels.instance }} is full within 4 hours.",
            d,
            rb,
        ),
        _alert(
            "ContainerRestartLoop",
            'increase(engine_daemon_container_actions_seconds_count{job="docker",action="start"}[15m]) > 3',
            "warning",
            "Containers keep restarting on {{ $labels.instance }}",
            (
                'The Docker engine of {{ $labels.instance }} started containers {{ $value | printf "%.0f" }} times '
                "in 15 minutes: a container is in a restart loop (docker ps -a --filter status=restarting)."
            ),
            d,
            rb,
        ),
    ]
    backups = [
        _alert(
            "BackupStale",
            f"time() - opsdeck_backup_last_success_timestamp_seconds > {_num(backup_max_age_hours * 3600)}",
            "critical",
            "No successful backup of {{ $labels.app }}/{{ $labels.database }} for "
            f"{_num(backup_max_age_hours)} hours",
            "The last successful backup of {{ $labels.database }} ({{ $labels.app }}) is "
            "{{ $value | humanizeDuration }} old.",
            d,
            rb,
        ),
        _alert(
            "BackupFailed",
            (
                "opsdeck_backup_last_failure_timestamp_seconds\n"
                "> on (app, database) group_left() opsdeck_backup_last_success_timestamp_seconds"
            ),
            "warning",
            "The last backup of {{ $labels.app }}/{{ $labels.database }} failed",
            "The last backup attempt of {{ $labels.database }} ({{ $labels.app }}) failed after the last success.",
            d,
            rb,
        ),
        _alert(
            "BackupRestoreUnverified",
            (f"time() - opsdeck_backup_last_verified_restore_timestamp_seconds > {_num(restore_max_age_days * 86400)}"),
            "warning",
            "No verified restore of {{ $labels.app }}/{{ $labels.database }} for "
            f"{_num(restore_max_age_days)} days",
            "The last verified restore of {{ $labels.database }} ({{ $labels.app }}) is "
            "{{ $value | humanizeDuration }} old.",
            d,
            rb,
        ),
        # Point-in-time recovery (pgBackRest): the backup role's opsdeck_pitr_* textfile metrics.
        _alert(
            "PITRBackupStale",
            (
                "time() - max by (app, database, stanza, instance) (opsdeck_pitr_last_backup_timestamp_seconds)"
                f" > {_num(backup_max_age_hours * 3600)}"
            ),
            "critical",
            "No pgBackRest backup of {{ $labels.app }}/{{ $labels.database }} for "
            f"{_num(backup_max_age_hours)} hours",
            "The newest backup of stanza {{ $labels.stanza }} in the pgBackRest repository is "
            "{{ $value | humanizeDuration }} old: point-in-time recovery replays WAL from it, and a restore "
            "takes longer the older it is.",
            d,
            rb,
        ),
        _alert(
            "PITRWALArchiveFailing",
            (
                "opsdeck_pitr_wal_last_failed_timestamp_seconds\n"
                "> on (app, database, stanza, instance) group_left() opsdeck_pitr_wal_last_archived_timestamp_seconds\n"
                "or on (app, database, stanza, instance) (opsdeck_pitr_wal_last_failed_timestamp_seconds\n"
                "unless on (app, database, stanza, instance) opsdeck_pitr_wal_last_archived_timestamp_seconds)"
            ),
            "critical",
            "WAL archiving of {{ $labels.app }}/{{ $labels.database }} fails",
            "PostgreSQL's last attempt to archive a WAL segment of stanza {{ $labels.stanza }} failed "
            "(pg_stat_archiver): WAL piles up in pg_wal and the point-in-time recovery window stops growing. "
            "See pgBackRest's log and `pgbackrest --stanza={{ $labels.stanza }} check`.",
            d,
            rb,
        ),
        _alert(
            "PITRRepositoryError",
            "opsdeck_pitr_repo_status_code != 0",
            "critical",
            "pgBackRest reports an error for {{ $labels.app }}/{{ $labels.database }}",
            "`pgbackrest info` gives status code {{ $value }} for stanza {{ $labels.stanza }} "
            "(1: missing stanza path, 2: no valid backups, 3: missing stanza data, 4: different cipher, ...).",
            d,
            rb,
        ),
        _alert(
            "PITRMetricsStale",
            "time() - opsdeck_pitr_metrics_timestamp_seconds > 1800",
            "warning",
            "The pgBackRest metrics of {{ $labels.app }}/{{ $labels.database }} are not refreshed",
            "The opsdeck_pitr_* metrics of stanza {{ $labels.stanza }} were last read "
            "{{ $value | humanizeDuration }} ago: its metrics timer is not running or cannot read the repository.",
            d,
            rb,
        ),
    ]
    stack = [
        _alert(
            "PrometheusConfigReloadFailed",
            "prometheus_config_last_reload_successful == 0",
            "warning",
            "Prometheus {{ $labels.instance }} failed to reload its configuration",
            "The running configuration is the previous one; check the logs of Prometheus.",
            d,
            rb,
        ),
        _alert(
            "PrometheusRuleEvaluationFailures",
            "increase(prometheus_rule_evaluation_failures_total[5m]) > 0",
            "warning",
            "Prometheus fails to evaluate rules of {{ $labels.rule_group }}",
            '{{ $value | printf "%.0f" }} rule evaluations failed in 5 minutes.',
            d,
            rb,
        ),
        _alert(
            "PrometheusNotificationsFailing",
            "rate(prometheus_notifications_errors_total[5m]) > 0",
            "critical",
            "Prometheus cannot send alerts to Alertmanager {{ $labels.alertmanager }}",
            "Sending alerts fails at {{ $value }} per second.",
            d,
            rb,
        ),
        _alert(
            "PrometheusAlertmanagerMissing",
            "prometheus_notifications_alertmanagers_discovered < 1",
            "critical",
            "Prometheus {{ $labels.instance }} has no Alertmanager",
            "No Alertmanager is discovered; no alert reaches anyone.",
            d,
            rb,
        ),
        _alert(
            "AlertmanagerConfigReloadFailed",
            "alertmanager_config_last_reload_successful == 0",
            "warning",
            "Alertmanager {{ $labels.instance }} failed to reload its configuration",
            "The running configuration is the previous one; check the logs of Alertmanager.",
            d,
            rb,
        ),
        _alert(
            "AlertmanagerNotificationsFailing",
            "rate(alertmanager_notifications_failed_total[5m]) > 0",
            "critical",
            "Alertmanager fails to notify {{ $labels.integration }}",
            "Notifications to {{ $labels.integration }} fail at {{ $value }} per second.",
            d,
            rb,
        ),
        _alert(
            "Watchdog",
            "vector(1)",
            "none",
            "Watchdog: the alerting pipeline works",
            "Always firing. If it stops arriving at the dead man's switch, alerting is broken.",
            d,
            rb,
        ),
    ]
    # The logging stack (role logging): the OpenTelemetry Collector on every docker host (job
    # otelcol: its own metrics in Prometheus format; its counters carry no _total suffix) and
    # VictoriaLogs on the logging hosts. The collector's pipeline: receivers (file_log, journald)
    # -> memory_limiter -> otlp_http exporter, with a sending queue on disk and retries. Its
    # send_failed and receiver refused counters count records given up on (retries over, or a
    # permanent error); a store that is down shows first as a filling queue; memory pressure as
    # the memory_limiter's refusals (which the receivers retry).
    logging = [
        _alert(
            "LogShipperSendFailed",
            'increase(otelcol_exporter_send_failed_log_records{job="otelcol"}[10m]) > 0',
            "warning",
            "Log shipper on {{ $labels.instance }} failed to send log records to {{ $labels.exporter }}",
            '{{ $value | printf "%.0f" }} log records failed to send in 10 minutes: the exporter gave up on '
            "them, its retries (retry_on_failure) ran out or the log store refused them for good (HTTP 4xx), "
            'and the sending queue dropped them ("Exporting failed. Dropping data." in the collector\'s log): '
            "they are lost. Records the exporter still retries wait in its queue on disk (LogShipperQueueFilling).",
            d,
            rb,
        ),
        _alert(
            "LogShipperQueueFilling",
            (
                'max by (job, instance, exporter) (otelcol_exporter_queue_size{job="otelcol"})'
                ' / max by (job, instance, exporter) (otelcol_exporter_queue_capacity{job="otelcol"}) > 0.8'
            ),
            "warning",
            "The sending queue of {{ $labels.exporter }} on {{ $labels.instance }} is filling up",
            "The sending queue of the log shipper on {{ $labels.instance }} ({{ $labels.exporter }}) is "
            "{{ $value | humanizePercentage }} full: the log store is down or slower than the logs come in. "
            "When it is full the exporter takes no new records, the receivers stop reading and the lines wait "
            "in the container logs they read (json-file on docker hosts, /var/log/pods on Kubernetes), which "
            "log rotation can overtake.",
            d,
            rb,
        ),
        _alert(
            "LogShipperRefused",
            (
                'increase(otelcol_receiver_refused_log_records{job="otelcol"}[10m]) > 0'
                ' or increase(otelcol_processor_memory_limiter_refused_log_records{job="otelcol"}[10m]) > 0'
            ),
            "warning",
            "Log shipper on {{ $labels.instance }} refuses log records it read",
            '{{ $value | printf "%.0f" }} log records were refused in 10 minutes on {{ $labels.instance }}: '
            "either the memory_limiter refused them (the collector's memory is over 80% of its limit; the "
            "receivers retry, so lines are late and reading slows down; raise logging_shipper_memory), or a "
            "receiver ({{ $labels.receiver }}) gave up on them after a permanent error or at a shutdown, "
            "and those lines are not shipped.",
            d,
            rb,
        ),
        _alert(
            "VictoriaLogsReadOnly",
            'vl_storage_is_read_only{job="victorialogs"} == 1',
            "critical",
            "Log store {{ $labels.instance }} is read-only",
            "VictoriaLogs at {{ $labels.instance }} ({{ $labels.path }}) stopped accepting logs: its disk is "
            "below -storage.minFreeDiskSpaceBytes. Shippers retry; free disk space or lower the retention.",
            d,
            rb,
        ),
    ]
    return [
        {"name": "opsdeck-availability", "rules": availability},
        {"name": "opsdeck-hosts", "rules": hosts},
        {"name": "opsdeck-backups", "rules": backups},
        {"name": "opsdeck-stack", "rules": stack},
        {"name": "opsdeck-logging", "rules": logging},
    ]


def backup_rules(apps: Any, *, runbook_base: str = RUNBOOK_BASE) -> list[dict[str, Any]]:
    """One ``BackupMissing`` alert per database with backups enabled: its metric never appeared."""
    rules = []
    for app in normalized(apps):
        if app.get("state") == "absent":
            continue
        for db in app.get("databases") or []:
            if not (db.get("backup") or {}).get("enabled"):
                continue
            sel = f"app={_q(app['name'])},database={_q(db['name'])}"
            rules.append(
                _alert(
                    "BackupMissing",
                    f"absent(opsdeck_backup_last_success_timestamp_seconds{{{sel}}})",
                    "warning",
                    f"No backup of {app['name']}/{db['name']} has ever been reported",
                    f"The backup role has not published a success timestamp for {db['name']} ({app['name']}).",
                    {},
                    runbook_base,
                    for_="26h",
                    app=app["name"],
                    database=db["name"],
                    team=app["team"],
                )
            )
    return [{"name": "opsdeck-backups-expected", "rules": rules}] if rules else []


# ---------------------------------------------------------------------------------------------
# user rules (structure only; PromQL is checked by promtool in the role)


def validate_user_rules(groups: Any, where: str = "monitoring_rules") -> list[dict[str, Any]]:
    """Check the shape of user rule groups; the message names the group and the rule."""
    findings: list[str] = []
    if groups is None:
        return []
    if not isinstance(groups, list):
        raise MonitoringError(f"{where}: expected a list of rule groups, got {type(groups).__name__}")
    seen: set[str] = set()
    for gi, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("name"), str) or not group.get("name"):
            findings.append(f"{where}[{gi}]: a rule group needs a non-empty 'name'")
            continue
        gname = group["name"]
        if gname in seen or gname.startswith("opsdeck-"):
            findings.append(f"{where}[{gi}] ('{gname}'): field 'name': used twice or reserved (opsdeck-*)")
        seen.add(gname)
        unknown = set(group) - _GROUP_FIELDS
        if unknown:
            findings.append(
                f"{where}[{gi}] ('{gname}'): unknown field(s) {', '.join(sorted(unknown))}; "
                f"allowed: {', '.join(sorted(_GROUP_FIELDS))}"
            )
        for key in ("interval", "query_offset"):
            if key in group:
                check_prometheus_duration(group[key], f"{where}[{gi}] ('{gname}'): field '{key}'", findings)
        if "labels" in group and not isinstance(group["labels"], dict):
            findings.append(f"{where}[{gi}] ('{gname}'): field 'labels': a mapping of label names to values")
        rules = group.get("rules")
        if not isinstance(rules, list) or not rules:
            findings.append(f"{where}[{gi}] ('{gname}'): field 'rules': a non-empty list of rules")
            continue
        for ri, rule in enumerate(rules):
            label = f"{where}[{gi}].rules[{ri}]"
            if not isinstance(rule, dict):
                findings.append(f"{label}: a mapping with 'alert' or 'record' and 'expr'")
                continue
            rname = rule.get("alert") or rule.get("record")
            label = f"{label} ('{rname}')" if rname else label
            if ("alert" in rule) == ("record" in rule):
                findings.append(f"{label}: exactly one of 'alert' or 'record'")
            elif "record" in rule and (
                not isinstance(rule["record"], str) or not rule["record"] or set("{}") & set(rule["record"])
            ):
                # Prometheus 3 takes any UTF-8 metric name; braces mean PromQL put in the wrong field
                findings.append(f"{label}: field 'record': a metric name (not a PromQL expression)")
            if not isinstance(rule.get("expr"), (str, int, float)) or rule.get("expr") in ("", None):
                findings.append(f"{label}: field 'expr': a non-empty PromQL expression")
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    check_prometheus_duration(rule[key], f"{label}: field '{key}'", findings)
            unknown = set(rule) - {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
            if unknown:
                findings.append(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
    if findings:
        raise MonitoringError(findings)
    return groups


# ---------------------------------------------------------------------------------------------
# scrape targets (file_sd)


def validate_probe_url(url: Any) -> str | None:
    """``None`` when ``url`` is an absolute http(s) URL with a host, else what is wrong."""
    if not isinstance(url, str) or not url:
        return "a URL such as https://www.example.com/health is required"
    if any(c.isspace() for c in url):
        return f"{url!r} is not a URL: it contains white space"
    try:
        parts = urlsplit(url)
        _port = parts.port
    except ValueError as exc:
        return f"{url!r} is not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not a URL the blackbox http prober can probe (scheme must be http or https)"
    if not parts.hostname:
        return f"{url!r} is not a URL: it names no host"
    return None


def _published(app: dict[str, Any], container_port: int) -> dict[str, Any] | None:
    for port in app.get("ports") or []:
        if port["port"] == container_port and port.get("protocol", "tcp") == "tcp" and port.get("host_port"):
            return port
    return None


def bracket(address: str) -> str:
    try:
        return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        return address


def _reach(port: dict[str, Any], host: dict[str, Any], local_hosts: list[str]) -> tuple[str | None, str | None]:
    """(address Prometheus uses for a published port on ``host``, or None; why not)."""
    host_ip = port.get("host_ip") or "0.0.0.0"
    if host_ip in LOOPBACK:
        if host["name"] in local_hosts:
            return "127.0.0.1", None
        return None, (
            f"published on {host_ip} only, which Prometheus (on {', '.join(local_hosts) or 'the monitoring hosts'}) "
            f"cannot reach on host '{host['name']}'; set host_ip to an address of that host (or 0.0.0.0)"
        )
    if host_ip in ANY_ADDRESS:
        return ("127.0.0.1" if host["name"] in local_hosts else host["address"]), None
    return host_ip, None


def _check_hosts(hosts: Any) -> list[dict[str, Any]]:
    if hosts is None:
        return []
    if not isinstance(hosts, list):
        raise MonitoringError(f"hosts: expected a list of {{name, address, groups}}, got {type(hosts).__name__}")
    findings = []
    for i, host in enumerate(hosts):
        if not isinstance(host, dict) or not host.get("name") or not host.get("address"):
            findings.append(f"hosts[{i}]: needs 'name' (inventory name) and 'address' (how Prometheus reaches it)")
    if findings:
        raise MonitoringError(findings)
    return hosts


def _node_targets(
    docker_hosts: list[dict[str, Any]],
    backup_hosts: list[dict[str, Any]],
    local: list[str],
    default_port: int,
    env: str,
) -> list[dict[str, Any]]:
    """Job ``node``: one node exporter per host, docker hosts first, then the backup hosts not among them."""
    seen: set[str] = set()
    findings: list[str] = []
    nodes: list[dict[str, Any]] = []
    for which, host in [("hosts", h) for h in docker_hosts] + [("backup hosts", h) for h in backup_hosts]:
        if host["name"] in seen:
            continue
        seen.add(host["name"])
        enabled = host.get("node_exporter", True)
        if not isinstance(enabled, bool):
            findings.append(f"{which} '{host['name']}': field 'node_exporter' must be true or false, got {enabled!r}")
            continue
        if not enabled:
            continue
        port = host.get("node_exporter_port", default_port)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            findings.append(
                f"{which} '{host['name']}': monitoring_node_exporter_port {port!r} is not a TCP port (1-65535)"
            )
            continue
        nodes.append(
            {
                "targets": [f"{bracket('127.0.0.1' if host['name'] in local else host['address'])}:{port}"],
                "labels": {"instance": host["name"], "env": env},
            }
        )
    if findings:
        raise MonitoringError(findings)
    return nodes


def _public_probes(app: dict[str, Any], base: dict[str, str]) -> list[dict[str, Any]]:
    """The ``public`` probes of an app: one per public port with a host name (TLS expiry too)."""
    out = []
    for port in app.get("ports") or []:
        if port.get("public") and port.get("host"):
            scheme = "https" if port.get("tls", True) else "http"
            out.append(
                {
                    "targets": [f"{scheme}://{port['host']}/"],
                    "labels": {**base, "probe": "public", "module": "http_2xx"},
                }
            )
    return out


def _custom_probes(probes: Any, environment: str | None, findings: list[str]) -> list[dict[str, Any]]:
    """The ``custom`` probes of ``monitoring_probes``; bad entries go to ``findings``."""
    out: list[dict[str, Any]] = []
    for i, probe in enumerate(probes or []):
        if not isinstance(probe, dict):
            findings.append(f"monitoring_probes[{i}]: a mapping {{name, url, team, module}}")
            continue
        pname = probe.get("name") or f"#{i}"
        unknown = set(probe) - {"name", "url", "team", "module", "app"}
        if unknown:
            findings.append(f"monitoring_probes[{i}] ('{pname}'): unknown field(s) {', '.join(sorted(unknown))}")
        problem = validate_probe_url(probe.get("url"))
        if problem:
            findings.append(f"monitoring_probes[{i}] ('{pname}'): field 'url': {problem}")
            continue
        out.append(
            {
                "targets": [probe["url"]],
                "labels": {
                    "app": str(probe.get("app") or pname),
                    "team": str(probe.get("team") or "platform"),
                    "env": environment or "",
                    "probe": "custom",
                    "module": str(probe.get("module") or "http_2xx"),
                },
            }
        )
    return out


def probe_targets(apps: Any, probes: Any = None, *, environment: str | None = None) -> list[dict[str, Any]]:
    """The blackbox probes that need no host placement: every public URL of the model and
    ``monitoring_probes`` (what a cluster probes; on docker hosts ``scrape_targets`` adds the
    health probes of each replica). Same labels as ``scrape_targets``' ``probes``."""
    findings: list[str] = []
    out: list[dict[str, Any]] = []
    for app in normalized(apps):
        if app.get("state") == "absent":
            continue
        base = {"app": app["name"], "team": app["team"], "env": app.get("environment") or environment or ""}
        out += _public_probes(app, base)
    out += _custom_probes(probes, environment, findings)
    if findings:
        raise MonitoringError(findings)
    return out


def scrape_targets(
    apps: Any,
    hosts: Any = None,
    *,
    local_hosts: list[str] | None = None,
    probes: Any = None,
    node_exporter_port: int = 9100,
    docker_metrics_port: int | None = None,
    environment: str | None = None,
    logging_hosts: Any = None,
    scrape_logging: bool = False,
    logging_store_port: int = 9428,
    logging_shipper_port: int = 9430,
    edge_hosts: Any = None,
    edge_exporter_port: int = 9113,
    backup_hosts: Any = None,
) -> dict[str, list[dict[str, Any]]]:
    """file_sd target lists, by file: ``apps``, ``nodes``, ``docker``, ``probes``,
    ``victorialogs``, ``otelcol``, ``edge``.

    ``hosts``: the docker hosts, ``[{name, address, groups}]`` (``address`` is how Prometheus
    reaches the host). ``local_hosts``: names of the hosts Prometheus runs on (it reaches
    their loopback; the stack runs with host networking). ``probes``: extra blackbox probes
    ``[{name, url, team?, module?}]``. Every target carries ``app``/``team``/``env``/``instance``
    labels where they apply. With ``scrape_logging``: the log stores ``logging_hosts``
    (``[{name, address}]``, VictoriaLogs' ``/metrics`` at ``logging_store_port``, job
    ``victorialogs``) and the shipper, the OpenTelemetry Collector, on every docker host (its own
    metrics at ``logging_shipper_port``, job ``otelcol``), addressed like the node exporters;
    both lists are empty without it.
    ``edge_hosts`` (``[{name, address}]``): the edge proxies (role edge), whose NGINX exporter
    answers at ``edge_exporter_port`` (job ``edge``); their public URLs are probed like every
    public port (the ``public`` probes, TLS expiry included).
    ``backup_hosts`` (``[{name, address}]``): the hosts the backup role runs on (database hosts);
    each runs a node exporter of its own whose textfile collector serves the backup metrics, listed
    in ``nodes`` (job ``node``) like the docker hosts' and addressed the same way. A host that is
    both a docker host and a backup host is listed once (it runs one exporter). A host with
    ``node_exporter: false`` runs none and is left out of ``nodes`` (its other targets stay); one
    with ``node_exporter_port`` is scraped on that port instead of ``node_exporter_port``.
    """
    apps_n = normalized(apps)
    hosts_l = _check_hosts(hosts)
    local = list(local_hosts or [])
    findings: list[str] = []
    app_targets: list[dict[str, Any]] = []
    probe_list: list[dict[str, Any]] = []
    for app in apps_n:
        if app.get("state") == "absent":
            continue
        name = app["name"]
        env = app.get("environment") or environment or ""
        base = {"app": name, "team": app["team"], "env": env}
        placed = [h for h in hosts_l if plan_placed(app.get("hosts"), h["name"], h.get("groups"))]
        metrics = app.get("metrics")
        if metrics:
            port = _published(app, metrics["port_number"])
            if port is None:
                findings.append(
                    f"app '{name}': field 'metrics.port': container port {metrics['port_number']} is not published "
                    "(no host_port); Prometheus scrapes apps on docker hosts through a published port"
                )
            else:
                for host in placed:
                    address, why = _reach(port, host, local)
                    if address is None:
                        findings.append(f"app '{name}': field 'ports' (port {port['port']}): {why}")
                        continue
                    app_targets.append(
                        {
                            "targets": [f"{bracket(address)}:{port['host_port']}"],
                            "labels": {
                                **base,
                                "instance": f"{host['name']}:{port['host_port']}",
                                "__metrics_path__": metrics["path"],
                            },
                        }
                    )
        health = app.get("health")
        if health and health.get("type") == "http":
            port = _published(app, health["port_number"])
            if port is not None:
                for host in placed:
                    address, _why = _reach(port, host, local)
                    if address is None:
                        continue  # reported for metrics already, or probed through the public URL
                    url = f"{health['scheme']}://{bracket(address)}:{port['host_port']}{health['path']}"
                    probe_list.append(
                        {
                            "targets": [url],
                            "labels": {**base, "probe": "health", "module": "http_2xx", "host": host["name"]},
                        }
                    )
        probe_list += _public_probes(app, base)
    probe_list += _custom_probes(probes, environment, findings)
    if findings:
        raise MonitoringError(findings)
    nodes = _node_targets(hosts_l, _check_hosts(backup_hosts), local, node_exporter_port, environment or "")
    docker = (
        [
            {
                "targets": [f"{bracket('127.0.0.1' if h['name'] in local else h['address'])}:{docker_metrics_port}"],
                "labels": {"instance": h["name"], "env": environment or ""},
            }
            for h in hosts_l
        ]
        if docker_metrics_port
        else []
    )
    stores: list[dict[str, Any]] = []
    shippers: list[dict[str, Any]] = []
    if scrape_logging:
        for what, port in (("logging_store_port", logging_store_port), ("logging_shipper_port", logging_shipper_port)):
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                findings.append(f"monitoring_{what}: {port!r} is not a TCP port (1-65535)")
        if not isinstance(logging_hosts, list):
            findings.append(f"logging hosts: expected a list of {{name, address}}, got {type(logging_hosts).__name__}")
        else:
            for i, host in enumerate(logging_hosts):
                if not isinstance(host, dict) or not host.get("name") or not host.get("address"):
                    findings.append(
                        f"logging hosts[{i}]: needs 'name' (inventory name) and 'address' (how Prometheus reaches it)"
                    )
        if findings:
            raise MonitoringError(findings)
        stores = [
            {
                "targets": [f"{bracket('127.0.0.1' if h['name'] in local else h['address'])}:{logging_store_port}"],
                "labels": {"instance": h["name"], "env": environment or ""},
            }
            for h in logging_hosts
        ]
        shippers = [
            {
                "targets": [f"{bracket('127.0.0.1' if h['name'] in local else h['address'])}:{logging_shipper_port}"],
                "labels": {"instance": h["name"], "env": environment or ""},
            }
            for h in hosts_l
        ]
    edge_l = _check_hosts(edge_hosts)
    if edge_l and (
        isinstance(edge_exporter_port, bool)
        or not isinstance(edge_exporter_port, int)
        or not 0 < edge_exporter_port < 65536
    ):
        raise MonitoringError(f"monitoring_edge_exporter_port: {edge_exporter_port!r} is not a TCP port (1-65535)")
    edges = [
        {
            "targets": [f"{bracket('127.0.0.1' if h['name'] in local else h['address'])}:{edge_exporter_port}"],
            "labels": {"instance": h["name"], "env": environment or ""},
        }
        for h in edge_l
    ]
    # probes by URL are labelled with the URL as instance by relabelling (see the role's prometheus.yml)
    return {
        "apps": app_targets,
        "nodes": nodes,
        "docker": docker,
        "probes": probe_list,
        "victorialogs": stores,
        "otelcol": shippers,
        "edge": edges,
    }


# ---------------------------------------------------------------------------------------------
# Alertmanager


def _receiver_config(rtype: str, spec: dict[str, Any]) -> dict[str, Any]:
    resolved = spec.get("send_resolved", rtype != "email")
    if rtype == "email":
        cfg: dict[str, Any] = {"to": spec["to"], "send_resolved": bool(resolved)}
        for key in ("from", "smarthost", "auth_username", "auth_password", "require_tls"):
            if spec.get(key) is not None:
                cfg[key] = spec[key]
        return {"email_configs": [cfg]}
    if rtype == "slack":
        cfg = {"api_url": spec["api_url"], "send_resolved": bool(resolved)}
        if spec.get("channel"):
            cfg["channel"] = spec["channel"]
        cfg["title"] = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.app }})"
        cfg["text"] = "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}"
        return {"slack_configs": [cfg]}
    if rtype == "pagerduty":
        cfg = {"routing_key": spec["routing_key"], "send_resolved": bool(resolved)}
        if spec.get("url"):
            cfg["url"] = spec["url"]
        return {"pagerduty_configs": [cfg]}
    if rtype == "webhook":
        cfg = {"url": spec["url"], "send_resolved": bool(resolved)}
        if spec.get("max_alerts"):
            cfg["max_alerts"] = int(spec["max_alerts"])
        return {"webhook_configs": [cfg]}
    return {}


def _validate_receivers(receivers: Any, findings: list[str]) -> list[dict[str, Any]]:
    where = "monitoring_alertmanager_receivers"
    if not isinstance(receivers, list):
        findings.append(f"{where}: expected a list of receivers, got {type(receivers).__name__}")
        return []
    good = []
    names: set[str] = set()
    for i, spec in enumerate(receivers):
        if not isinstance(spec, dict):
            findings.append(f"{where}[{i}]: a mapping with 'name' and 'type'")
            continue
        name = spec.get("name")
        label = f"{where}[{i}] ('{name}')" if name else f"{where}[{i}]"
        if not isinstance(name, str) or not _RECEIVER_NAME_RE.match(name):
            findings.append(f"{label}: field 'name': a receiver name ([A-Za-z0-9][-A-Za-z0-9_.]*)")
            continue
        if name in names or name in ("opsdeck-null", "opsdeck-watchdog"):
            findings.append(f"{label}: field 'name': used twice or reserved")
        names.add(name)
        rtype = spec.get("type")
        if rtype not in _RECEIVER_FIELDS:
            findings.append(f"{label}: field 'type': {rtype!r} is not one of {', '.join(RECEIVER_TYPES)}")
            continue
        required, optional = _RECEIVER_FIELDS[rtype]
        missing = [f for f in required if not spec.get(f)]
        for f in missing:
            findings.append(f"{label}: field '{f}': required for a {rtype} receiver")
        unknown = set(spec) - {"name", "type", *required, *optional}
        if unknown:
            findings.append(
                f"{label}: unknown field(s) {', '.join(sorted(unknown))}; a {rtype} receiver takes "
                f"{', '.join((*required, *optional)) or 'nothing'}"
            )
        for f in ("url", "api_url"):
            if f in spec and spec.get(f) and validate_probe_url(spec[f]):
                findings.append(f"{label}: field '{f}': not an http(s) URL (value not shown)")
        if not missing and not unknown:
            good.append(spec)
    return good


def alertmanager_config(
    receivers: Any,
    *,
    routes: Any = None,
    default_receiver: str | None = None,
    watchdog_url: str | None = None,
    group_by: list[str] | None = None,
    group_wait: str = "30s",
    group_interval: str = "5m",
    repeat_interval: str = "4h",
    smtp: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Alertmanager configuration (a dict for ``to_nice_yaml``).

    ``receivers``: ``[{name, type, ...}]``, type one of ``RECEIVER_TYPES`` (secrets inside:
    never log the result). ``routes``: ``[{receiver, team?, severity?, app?, continue?}]``
    matched in order under the root. ``default_receiver`` gets what no route matches (default:
    the first receiver, else a null receiver). Watchdog goes to a dead-man's-switch webhook
    (``watchdog_url``) or to the null receiver. Critical alerts inhibit warnings with the same
    ``alertname`` and ``instance``.
    """
    findings: list[str] = []
    good = _validate_receivers(receivers if receivers is not None else [], findings)
    names = [r["name"] for r in (receivers or []) if isinstance(r, dict) and isinstance(r.get("name"), str)]
    for label, value in (("group_wait", group_wait), ("group_interval", group_interval)):
        check_prometheus_duration(value, f"monitoring_alertmanager_{label}", findings)
    check_prometheus_duration(repeat_interval, "monitoring_alertmanager_repeat_interval", findings)
    if watchdog_url and validate_probe_url(watchdog_url):
        findings.append("monitoring_alertmanager_watchdog_url: not an http(s) URL (value not shown)")
    if default_receiver is not None and default_receiver not in names:
        findings.append(
            f"monitoring_alertmanager_default_receiver: '{default_receiver}' is not a receiver; "
            f"defined: {', '.join(names) or 'none'}"
        )
    child_routes = []
    for i, route in enumerate(routes or []):
        where = f"monitoring_alertmanager_routes[{i}]"
        if not isinstance(route, dict):
            findings.append(f"{where}: a mapping {{receiver, team, severity, app, continue}}")
            continue
        unknown = set(route) - _ROUTE_FIELDS
        if unknown:
            findings.append(
                f"{where}: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_ROUTE_FIELDS))}"
            )
        if route.get("receiver") not in names:
            findings.append(
                f"{where}: field 'receiver': {route.get('receiver')!r} is not a receiver; "
                f"defined: {', '.join(names) or 'none'}"
            )
        if route.get("severity") is not None and route["severity"] not in _SEVERITIES:
            findings.append(f"{where}: field 'severity': {route['severity']!r} is not one of {', '.join(_SEVERITIES)}")
        matchers = [f"{key}={_q(route[key])}" for key in ("severity", "team", "app") if route.get(key) is not None]
        child: dict[str, Any] = {"receiver": route.get("receiver"), "matchers": matchers}
        if route.get("group_by"):
            child["group_by"] = list(route["group_by"])
        if route.get("continue"):
            child["continue"] = True
        child_routes.append(child)
    if findings:
        raise MonitoringError(findings)
    out_receivers: list[dict[str, Any]] = [{"name": "opsdeck-null"}]
    watchdog_receiver = "opsdeck-null"
    if watchdog_url:
        watchdog_receiver = "opsdeck-watchdog"
        out_receivers.append({"name": "opsdeck-watchdog", "webhook_configs": [{"url": watchdog_url}]})
    for spec in good:
        out_receivers.append({"name": spec["name"], **_receiver_config(spec["type"], spec)})
    root = default_receiver or (good[0]["name"] if good else "opsdeck-null")
    config: dict[str, Any] = {}
    if smtp:
        config["global"] = {f"smtp_{k}": v for k, v in smtp.items()}
    config["route"] = {
        "receiver": root,
        "group_by": list(group_by or ["alertname", "app", "team"]),
        "group_wait": group_wait,
        "group_interval": group_interval,
        "repeat_interval": repeat_interval,
        "routes": [
            {
                "receiver": watchdog_receiver,
                "matchers": ['alertname="Watchdog"'],
                "group_wait": "0s",
                "group_interval": "1m",
                "repeat_interval": "1m",
            },
            *child_routes,
        ],
    }
    config["receivers"] = out_receivers
    config["inhibit_rules"] = [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["alertname", "instance"],
        }
    ]
    return config


def secret_fields() -> list[str]:
    """Receiver fields that hold secrets (never logged)."""
    return sorted(_SECRET_FIELDS)
