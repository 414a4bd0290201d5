# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logging on docker hosts: the VictoriaLogs store's flags, the shipper's arguments, scrape targets.

Pure functions (no I/O), used by the filters in ``plugins/filter/logging.py`` and by the role
``opsdeck.platform.logging``. VictoriaLogs has no configuration file: everything it is told
is a command-line flag, so these functions are where its settings are checked, with messages
that name the role variable, before anything is written or started. The label scheme
(docs/logging.md): every container log row carries ``app``, ``service``, ``env`` and ``host``,
the stream fields of the store.

Errors are ``LoggingError`` (a ``ModelError``): one finding per line, naming the variable.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.opsdeck.platform.plugins.module_utils.compose import LOG_LABELS
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError

# VictoriaLogs' duration syntax (-retentionPeriod): one or more <number><unit>; a bare number
# counts months. The store refuses less than one day.
_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "M": 31 * 86400,
    "y": 365 * 86400,
}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)")
_SIZE_UNITS = {
    "": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)(KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$")
# Go's time.ParseDuration units (the shipper's -interval).
_GO_DURATION_RE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|ms|s|m|h))+$")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
MIN_RETENTION_SECONDS = 86400
# The fields every container log row carries; they are also the store's stream fields.
STREAM_FIELDS = ("app", "service", "env", "host")
# Container labels the fields come from (roles/compose_app sets io.opsdeck.*; Compose sets the service).
DEFAULT_LABELS = {
    "app": "io.opsdeck.app",
    "service": "com.docker.compose.service",
    "env": "io.opsdeck.environment",
}
# Flags the role sets itself; extra flags may not set them again.
_OWN_FLAGS = ("storageDataPath", "httpListenAddr", "retentionPeriod", "retention.maxDiskSpaceUsageBytes")


class LoggingError(ModelError):
    """Logging input is not valid. ``errors`` holds every finding, one message each."""


def parse_duration(value: Any) -> float:
    """Seconds of a VictoriaLogs duration (``7d``, ``4w``, ``1y6M``, ``36h``); ValueError otherwise."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not text:
        raise ValueError(f"{value!r} is not a duration")
    if text.isdigit():
        return int(text) * _DURATION_UNITS["M"]
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"{value!r} is not a duration")
    return total


def parse_size(value: Any) -> int:
    """Bytes of a VictoriaLogs size (``10GiB``, ``500MB``, ``1073741824``); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{value!r} is not a size")
    match = _SIZE_RE.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a size")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2) or ""])


def _check_address(errors: list[str], field: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        errors.append(f"{field}: {value!r} is not an IP address (use 127.0.0.1, a private address or 0.0.0.0)")
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        errors.append(f"{field}: {value!r} is not an IP address (use 127.0.0.1, a private address or 0.0.0.0)")


def _check_port(errors: list[str], field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        errors.append(f"{field}: {value!r} is not a port (1-65535)")


def _check_url(errors: list[str], url: Any) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(f"logging_push_url: {url!r} is not an http(s) URL of the store")


def _check_interval(errors: list[str], interval: Any) -> None:
    if not isinstance(interval, str) or not _GO_DURATION_RE.match(interval):
        errors.append(f"logging_shipper_interval: {interval!r} is not a duration such as 500ms, 1s or 5s")


def _static_fields(fields: dict[str, Any], environment: Any) -> dict[str, str]:
    """The static fields of every row: the given ones, and env (the environment) unless given."""
    static = {str(k): str(v) for k, v in fields.items()}
    if environment:
        static.setdefault("env", str(environment))
    return static


def _listen(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def store_flags(
    retention_period: Any,
    max_disk_usage: Any = None,
    *,
    listen_address: Any = "127.0.0.1",
    port: Any = 9428,
    data_path: str = "/victoria-logs-data",
    extra_flags: Any = None,
) -> list[str]:
    """The VictoriaLogs command line, every setting checked (messages name the role variable)."""
    errors: list[str] = []
    flags = [f"-storageDataPath={data_path}"]
    _check_address(errors, "logging_listen_address", listen_address)
    _check_port(errors, "logging_port", port)
    if not errors:
        flags.append(f"-httpListenAddr={_listen(listen_address, port)}")
    try:
        seconds = parse_duration(retention_period)
        if seconds < MIN_RETENTION_SECONDS:
            errors.append(
                f"logging_retention_period: {retention_period!r} is shorter than 1d, the minimum VictoriaLogs keeps"
            )
        else:
            flags.append(f"-retentionPeriod={str(retention_period).strip()}")
    except ValueError:
        errors.append(
            f"logging_retention_period: {retention_period!r} is not a duration "
            "(a number and a unit: h, d, w, M for months, y; for example 7d, 4w or 1y)"
        )
    if max_disk_usage not in (None, "", 0, "0"):
        try:
            size = parse_size(max_disk_usage)
            if size < 2**20:
                errors.append(f"logging_retention_max_disk_usage: {max_disk_usage!r} is less than 1MiB")
            else:
                flags.append(f"-retention.maxDiskSpaceUsageBytes={str(max_disk_usage).strip()}")
        except ValueError:
            errors.append(
                f"logging_retention_max_disk_usage: {max_disk_usage!r} is not a size "
                "(a number and an optional unit: KB, MB, GB, TB, KiB, MiB, GiB, TiB; for example 10GiB)"
            )
    if extra_flags is None:
        extra_flags = []
    if not isinstance(extra_flags, list):
        errors.append(f"logging_extra_flags: must be a list of '-name=value' strings, got {type(extra_flags).__name__}")
        extra_flags = []
    for i, flag in enumerate(extra_flags):
        if not isinstance(flag, str) or not re.match(r"^-[A-Za-z][A-Za-z0-9_.]*(=.*)?$", flag):
            errors.append(f"logging_extra_flags[{i}]: {flag!r} is not a '-name=value' flag")
            continue
        name = flag[1:].split("=", 1)[0]
        if name in _OWN_FLAGS:
            errors.append(f"logging_extra_flags[{i}]: -{name} is set by the role; use its variable instead")
            continue
        flags.append(flag)
    if errors:
        raise LoggingError(errors)
    return flags


# --- The shipper: the OpenTelemetry Collector (contrib distribution) ---------------------------
# Its configuration is rendered here from the role variables: the filelog receiver over the
# engine's json-file logs (docker hosts) or the kubelet's CRI logs (Kubernetes nodes), the
# journald receiver for the host's journal, the otlphttp exporter to VictoriaLogs' OTLP endpoint
# with the stream fields, read positions and a persistent sending queue in the file_storage
# extension. What makes it lose nothing and send nothing twice (docs/logging.md):
# - filelog checkpoints each file's offset in file_storage once the lines are in the queue; a
#   restart resumes there (``start_at`` only applies to a first start with empty storage);
# - the sending queue is persistent (file_storage) and blocks when full, so the receivers stop
#   reading (the lines wait in the files) instead of dropping; the exporter retries forever
#   with backoff; ``memory_limiter`` refusals are retried by the receivers.
EXPORTER = "otlp_http/victorialogs"
STORAGE = "file_storage"
CONTAINERS_RECEIVER = "file_log/containers"
PODS_RECEIVER = "file_log/pods"
JOURNAL_RECEIVER = "journald"
# Paths inside the collector's container (the upstream image's layout).
CONFIG_PATH = "/etc/otelcol-contrib/config.yaml"
STORAGE_DIR = "/var/lib/otelcol/file_storage"
# The host's root file system, read-only, for the journald receiver: it runs the host's own
# journalctl chrooted there (the upstream image ships none; root_path/journalctl_path).
HOSTFS = "/hostfs"
JOURNALCTL = "/usr/bin/journalctl"
# Fields a row gets from the shipper itself; neither a label nor a static field may set them.
_SHIPPER_FIELDS = ("stream", "container", "source")
# And on Kubernetes, from the pod log's path.
POD_FIELDS = ("namespace", "pod", "container", "service", "app")
# The stream fields of pod log rows: those of the docker hosts, and the namespace.
POD_STREAM_FIELDS = (*STREAM_FIELDS, "namespace")
_START_AT = ("beginning", "end")
# Retries that never give up (max_elapsed_time 0), on the exporter and on the receivers (for the
# memory_limiter's refusals): what cannot be sent yet waits in the queue or in the files.
_RETRY = {"enabled": True, "initial_interval": "1s", "max_interval": "30s", "max_elapsed_time": "0s"}
# The engine keeps each line's newline in the message ("log": "...\n"); the store's _msg does not.
_TRIM_NEWLINE = {
    "type": "add",
    "if": 'type(body) == "string" and body endsWith "\\n"',
    "field": "body",
    "value": 'EXPR(trimSuffix(body, "\\n"))',
}


def _check_fields(errors: list[str], var: str, mapping: dict[str, Any], reserved: tuple[str, ...] = ()) -> None:
    """Findings for the field names and values of ``mapping`` (labels or static fields)."""
    for key, value in mapping.items():
        if (
            not isinstance(key, str)
            or not _FIELD_RE.match(key)
            or key.startswith("_")
            or key in _SHIPPER_FIELDS + reserved
        ):
            errors.append(
                f"{var}: field name {key!r} is not allowed "
                f"(letters, digits, '_', '.', '-'; not _*, {', '.join(_SHIPPER_FIELDS + reserved)})"
            )
        elif not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
            errors.append(f"{var}: field {key!r}: the value must be a non-empty string, got {value!r}")
        elif key == "host" and var == "logging_shipper_labels":
            errors.append(f"{var}: field 'host' is the inventory name of the docker host, it cannot come from a label")


def _check_int(errors: list[str], var: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        errors.append(f"{var}: {value!r} is not an integer >= {low}")


def _attr(name: str) -> str:
    """A log record attribute in stanza's field syntax (names may hold dots)."""
    return f'attributes["{name}"]'


def _expr_str(value: str) -> str:
    """A string literal of the expression language of stanza's ``if`` and ``expr``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _add(field: str, value: str, only_if_missing: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"type": "add", "field": _attr(field), "value": str(value)}
    if only_if_missing:
        op["if"] = f"{_attr(field)} == nil"
    return op


def _collector_checks(
    errors: list[str], url: Any, interval: Any, port: Any, health_port: Any, queue_size: Any, start_at: Any
) -> None:
    _check_url(errors, url)
    _check_interval(errors, interval)
    _check_port(errors, "logging_shipper_port", port)
    _check_port(errors, "logging_shipper_health_port", health_port)
    if isinstance(port, int) and port == health_port:
        errors.append("logging_shipper_health_port: must differ from logging_shipper_port")
    _check_int(errors, "logging_shipper_queue_size", queue_size, 1)
    if start_at not in _START_AT:
        errors.append(f"logging_shipper_start_at: {start_at!r} is not one of 'beginning', 'end'")


def _collector(
    url: str,
    *,
    receivers: dict[str, Any],
    stream_fields: tuple[str, ...],
    listen_address: str,
    port: int,
    health_port: int,
    queue_size: int,
) -> dict[str, Any]:
    """The configuration around the receivers: storage, health, limits, the exporter, telemetry."""
    processors = {"memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20}}
    for receiver in receivers.values():
        receiver["retry_on_failure"] = dict(_RETRY)
    return {
        "extensions": {
            "health_check": {"endpoint": _listen(listen_address, health_port)},
            STORAGE: {
                "directory": STORAGE_DIR,
                "create_directory": True,
                "compaction": {"on_start": True, "on_rebound": True, "directory": STORAGE_DIR},
            },
        },
        "receivers": receivers,
        "processors": processors,
        "exporters": {
            EXPORTER: {
                "logs_endpoint": f"{url.rstrip('/')}/insert/opentelemetry/v1/logs",
                "headers": {"VL-Stream-Fields": ",".join(stream_fields)},
                # zstd, not the exporter's gzip: gzip was a third of the collector's CPU in
                # tests/bench/bench_logging.py (VictoriaLogs takes both)
                "compression": "zstd",
                "timeout": "30s",
                # never give up: the queue holds what the store cannot take yet
                "retry_on_failure": dict(_RETRY),
                "sending_queue": {
                    "storage": STORAGE,
                    "queue_size": queue_size,
                    "block_on_overflow": True,
                    "num_consumers": 2,
                    "batch": {"flush_timeout": "1s", "sizer": "items", "min_size": 1000, "max_size": 10000},
                },
            }
        },
        "service": {
            "extensions": ["health_check", STORAGE],
            "pipelines": {
                "logs": {"receivers": sorted(receivers), "processors": ["memory_limiter"], "exporters": [EXPORTER]}
            },
            "telemetry": {
                "logs": {"level": "info", "encoding": "json"},
                "metrics": {
                    "level": "normal",
                    "readers": [{"pull": {"exporter": {"prometheus": {"host": listen_address, "port": port}}}}],
                },
            },
        },
    }


def _journal_receiver(directory: str, static: dict[str, str]) -> dict[str, Any]:
    """The journald receiver over the host's journal (host's journalctl, chrooted into HOSTFS).

    Rows: ``source=journal``, ``service`` the syslog identifier (else the unit), ``unit`` the
    systemd unit where there is one, the message as ``_msg``, and the host's static fields.
    """
    body = "body"
    operators: list[dict[str, Any]] = [
        {"type": "add", "field": _attr("source"), "value": "journal"},
        {
            "type": "move",
            "if": f'{body}["SYSLOG_IDENTIFIER"] != nil',
            "from": f'{body}["SYSLOG_IDENTIFIER"]',
            "to": _attr("service"),
        },
        {
            "type": "copy",
            "if": f'{_attr("service")} == nil and {body}["_SYSTEMD_UNIT"] != nil',
            "from": f'{body}["_SYSTEMD_UNIT"]',
            "to": _attr("service"),
        },
        {
            "type": "move",
            "if": f'{body}["_SYSTEMD_UNIT"] != nil',
            "from": f'{body}["_SYSTEMD_UNIT"]',
            "to": _attr("unit"),
        },
        {"type": "move", "if": f'{body}["MESSAGE"] != nil', "from": f'{body}["MESSAGE"]', "to": body},
    ]
    operators += [_add(k, v) for k, v in sorted(static.items())]
    return {
        "root_path": HOSTFS,
        "journalctl_path": JOURNALCTL,
        "directory": directory,
        "start_at": "end",
        "priority": "info",
        "storage": STORAGE,
        "operators": operators,
    }


def collector_config(
    url: Any,
    host: Any,
    *,
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
) -> dict[str, Any]:
    """The collector's configuration on a docker host (a dict, written as its YAML file).

    The filelog receiver reads ``<containers_dir>/*/*-json.log`` (and the rotated ``.N`` files;
    compressed ones are left out: their lines were read before the engine compressed them) with
    the ``container`` operator (docker format). The fields come from the ``attrs`` that the
    json-file driver writes for the labels named in its ``labels`` option (``LOG_LABELS``):
    ``labels`` maps field to label; ``host`` is the inventory name; ``env`` falls back to
    ``environment``; ``stream`` is stdout/stderr and ``container`` the container's short ID.
    ``containers: apps`` keeps only the lines of containers with the label io.opsdeck.app.
    ``journal_dir``: the host's journal directory (a path of the host), or none.
    """
    errors: list[str] = []
    _collector_checks(errors, url, interval, port, health_port, queue_size, start_at)
    if not isinstance(host, str) or not host:
        errors.append(f"host: {host!r} must be the inventory name of the docker host")
    labels = DEFAULT_LABELS if labels is None else labels
    fields = {} if fields is None else fields
    if not isinstance(labels, dict):
        errors.append(f"logging_shipper_labels: must map field names to container labels, got {type(labels).__name__}")
        labels = {}
    if not isinstance(fields, dict):
        errors.append(f"logging_shipper_fields: must map field names to values, got {type(fields).__name__}")
        fields = {}
    _check_fields(errors, "logging_shipper_labels", labels)
    _check_fields(errors, "logging_shipper_fields", fields)
    unwritten = sorted(str(v) for v in labels.values() if isinstance(v, str) and v and v not in LOG_LABELS)
    if unwritten:
        errors.append(
            f"logging_shipper_labels: {', '.join(unwritten)}: the engine writes only these labels into the log "
            f"lines (json-file option 'labels', set by compose_app and docker_host): {', '.join(LOG_LABELS)}"
        )
    if containers not in ("all", "apps"):
        errors.append(f"logging_shipper_containers: {containers!r} is not one of 'all', 'apps'")
    _check_address(errors, "logging_shipper_listen_address", listen_address)
    if errors:
        raise LoggingError(errors)
    static = _static_fields(fields, None)
    static["host"] = host
    attrs = 'attributes["attrs"]'
    operators: list[dict[str, Any]] = [
        {"type": "container", "format": "docker", "add_metadata_from_filepath": False},
        _TRIM_NEWLINE,
    ]
    if containers == "apps":
        operators.append(
            {"type": "filter", "expr": f"{attrs} == nil or {attrs}[{_expr_str(DEFAULT_LABELS['app'])}] == nil"}
        )
    for field, label in sorted(labels.items()):
        operators.append(
            {
                "type": "move",
                "if": f"{attrs} != nil and {attrs}[{_expr_str(label)}] != nil",
                "from": f"{attrs}[{_expr_str(label)}]",
                "to": _attr(field),
            }
        )
    operators += [
        {"type": "move", "from": _attr("log.iostream"), "to": _attr("stream"), "if": f"{_attr('log.iostream')} != nil"},
        {
            "type": "regex_parser",
            "parse_from": _attr("log.file.path"),
            "regex": r"/(?P<container>[0-9a-f]{12})[0-9a-f]{52}-json\.log",
            "on_error": "send_quiet",
        },
        {"type": "remove", "field": attrs, "if": f"{attrs} != nil"},
        {"type": "remove", "field": _attr("log.file.path")},
    ]
    operators += [_add(k, v) for k, v in sorted(static.items())]
    if environment:
        operators.append(_add("env", str(environment), only_if_missing=True))
    base = containers_dir.rstrip("/")
    receivers: dict[str, Any] = {
        CONTAINERS_RECEIVER: {
            "include": [f"{base}/*/*-json.log", f"{base}/*/*-json.log.*"],
            "exclude": [f"{base}/*/*.gz"],
            "include_file_path": True,
            "include_file_name": False,
            "start_at": start_at,
            "poll_interval": interval,
            "storage": STORAGE,
            "operators": operators,
        }
    }
    if journal_dir:
        journal_static = dict(static)
        if environment:
            journal_static.setdefault("env", str(environment))
        receivers[JOURNAL_RECEIVER] = _journal_receiver(journal_dir, journal_static)
    return _collector(
        url,
        receivers=receivers,
        stream_fields=STREAM_FIELDS,
        listen_address=listen_address,
        port=port,
        health_port=health_port,
        queue_size=queue_size,
    )


def pod_collector_config(
    url: Any,
    *,
    environment: Any = None,
    fields: Any = None,
    namespace_prefix: Any = "",
    interval: Any = "1s",
    port: Any = 9430,
    health_port: Any = 13133,
    queue_size: Any = 500,
    pods_dir: str = "/var/log/pods",
    node_env: str = "NODE_NAME",
) -> dict[str, Any]:
    """The collector's configuration on a Kubernetes node (DaemonSet), over the kubelet's pod logs.

    The filelog receiver reads ``<pods_dir>/<namespace>_<pod>_<uid>/<container>/<n>.log`` and the
    kubelet's rotated ``<n>.log.<timestamp>`` (CRI format; partial lines joined by the
    ``container`` operator; ``.gz`` files are left out: the kubelet compresses a file only after
    the next rotation, by when it was read). Fields: ``namespace``, ``pod``, ``container`` and
    ``service`` (the container) from the path, ``app`` (the namespace without
    ``namespace_prefix``), ``host`` from the environment variable ``node_env`` (the node name,
    from the downward API), ``env`` and the static ``fields``.
    """
    errors: list[str] = []
    _collector_checks(errors, url, interval, port, health_port, queue_size, "beginning")
    fields = {} if fields is None else fields
    if not isinstance(fields, dict):
        errors.append(f"logging_shipper_fields: must map field names to values, got {type(fields).__name__}")
        fields = {}
    _check_fields(errors, "logging_shipper_fields", fields, reserved=("host", "namespace", "pod", "service", "app"))
    if not isinstance(namespace_prefix, str) or (
        namespace_prefix and not re.match(r"^[a-z0-9][-a-z0-9]*$", namespace_prefix)
    ):
        errors.append(
            f"logging_k8s_namespace_prefix: {namespace_prefix!r} is not the start of a namespace name "
            "(lowercase letters, digits and '-')"
        )
    if errors:
        raise LoggingError(errors)
    static = _static_fields(fields, environment)
    res = "resource"
    operators: list[dict[str, Any]] = [
        # no format: detected per line (containerd and CRI-O write the CRI format, docker its JSON)
        {"type": "container", "add_metadata_from_filepath": True},
        # the CRI tag (P/F) of the line's first part: no use once the parts are joined
        {"type": "remove", "field": _attr("logtag"), "if": f"{_attr('logtag')} != nil"},
        {"type": "move", "from": f'{res}["k8s.namespace.name"]', "to": _attr("namespace")},
        {"type": "move", "from": f'{res}["k8s.pod.name"]', "to": _attr("pod")},
        {"type": "move", "from": f'{res}["k8s.container.name"]', "to": _attr("container")},
        {"type": "copy", "from": _attr("container"), "to": _attr("service")},
        {"type": "copy", "from": _attr("namespace"), "to": _attr("app")},
    ]
    if namespace_prefix:
        prefix = _expr_str(namespace_prefix)
        operators.append(
            {
                "type": "add",
                "if": f"{_attr('app')} startsWith {prefix} and len({_attr('app')}) > {len(namespace_prefix)}",
                "field": _attr("app"),
                "value": f"EXPR({_attr('app')}[{len(namespace_prefix)}:])",
            }
        )
    operators += [
        {"type": "move", "from": _attr("log.iostream"), "to": _attr("stream"), "if": f"{_attr('log.iostream')} != nil"},
        {"type": "add", "field": _attr("host"), "value": f'EXPR(env("{node_env}"))'},
        {"type": "remove", "field": _attr("log.file.path"), "if": f"{_attr('log.file.path')} != nil"},
    ]
    operators += [_add(k, v) for k, v in sorted(static.items())]
    base = pods_dir.rstrip("/")
    receivers = {
        PODS_RECEIVER: {
            "include": [f"{base}/*/*/*.log", f"{base}/*/*/*.log.*"],
            "exclude": [f"{base}/*/*/*.gz", f"{base}/*/*/*.tmp"],
            "include_file_path": True,
            "include_file_name": False,
            "start_at": "beginning",
            "poll_interval": interval,
            "storage": STORAGE,
            "operators": operators,
        }
    }
    return _collector(
        url,
        receivers=receivers,
        stream_fields=POD_STREAM_FIELDS,
        listen_address="0.0.0.0",
        port=port,
        health_port=health_port,
        queue_size=queue_size,
    )


def takeover_config(config: dict[str, Any]) -> dict[str, Any]:
    """A one-off run of ``config`` that records the end of every container log file and ships nothing.

    For a host that ran logship: the collector started once with this configuration (then
    stopped) saves a position at the end of each file, so the real collector, resuming from
    those positions, does not send again what logship delivered. Nothing is exported (the
    ``debug`` exporter at basic verbosity), the journal is left out (its receiver starts at the
    end anyway), and the collector's own endpoints are not served.
    """
    out = copy.deepcopy(config)
    out["receivers"] = {k: v for k, v in out["receivers"].items() if k != JOURNAL_RECEIVER}
    for receiver in out["receivers"].values():
        receiver["start_at"] = "end"
    out["exporters"] = {"debug": {"verbosity": "basic"}}
    out["extensions"] = {STORAGE: out["extensions"][STORAGE]}
    service = out["service"]
    service["extensions"] = [STORAGE]
    service["pipelines"] = {"logs": {"receivers": sorted(out["receivers"]), "exporters": ["debug"]}}
    service["telemetry"] = {"logs": {"level": "info", "encoding": "json"}, "metrics": {"level": "none"}}
    return out
