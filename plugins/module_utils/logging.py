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

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

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


# Fields a row gets from the shipper itself; neither a label nor a static field may set them.
_SHIPPER_FIELDS = ("stream", "container", "source")
# And on Kubernetes, from the pod log's path.
POD_FIELDS = ("namespace", "pod", "container", "service", "app")


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


def shipper_args(
    url: Any,
    *,
    host: Any,
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
) -> list[str]:
    """The shipper's (logship) command line: where to push, which labels become which fields.

    ``journal_dir``: where the host's journal is mounted in the shipper; none: no journal.
    """
    errors: list[str] = []
    _check_url(errors, url)
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
    if containers not in ("all", "apps"):
        errors.append(f"logging_shipper_containers: {containers!r} is not one of 'all', 'apps'")
    _check_interval(errors, interval)
    _check_address(errors, "logging_shipper_listen_address", listen_address)
    _check_port(errors, "logging_shipper_port", port)
    if errors:
        raise LoggingError(errors)
    static = _static_fields(fields, environment)
    static["host"] = host
    argv = [
        f"-url={url.rstrip('/')}/insert/jsonline",
        f"-containers-dir={containers_dir}",
        f"-state={state}",
        f"-interval={interval}",
        f"-listen={_listen(listen_address, port)}",
        f"-stream-fields={','.join(STREAM_FIELDS)}",
    ]
    if containers == "apps":
        argv.append(f"-require-label={DEFAULT_LABELS['app']}")
    argv += [f"-label={k}={v}" for k, v in sorted(labels.items())]
    argv += [f"-field={k}={v}" for k, v in sorted(static.items())]
    if journal_dir:
        argv.append(f"-journal-dir={journal_dir}")
    return argv


# The stream fields of pod log rows: those of the docker hosts, and the namespace.
POD_STREAM_FIELDS = (*STREAM_FIELDS, "namespace")


def pod_shipper_args(
    url: Any,
    *,
    environment: Any = None,
    fields: Any = None,
    namespace_prefix: Any = "",
    interval: Any = "1s",
    port: Any = 9430,
    pods_dir: str = "/var/log/pods",
    state: str = "/state/positions.json",
    node_env: str = "NODE_NAME",
) -> list[str]:
    """The command line of the shipper of a Kubernetes node (logship ``-pods-dir``).

    Each row gets ``namespace``, ``pod``, ``container``, ``service`` (the container) and ``app``
    (the namespace without ``namespace_prefix``) from the log file's path, ``host`` from the
    environment variable ``node_env`` (the node name, from the downward API), ``env`` and the
    static ``fields``. The same checks as ``shipper_args``, naming the same role variables.
    """
    errors: list[str] = []
    _check_url(errors, url)
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
    _check_interval(errors, interval)
    _check_port(errors, "logging_shipper_port", port)
    if errors:
        raise LoggingError(errors)
    static = _static_fields(fields, environment)
    argv = [
        f"-url={url.rstrip('/')}/insert/jsonline",
        f"-pods-dir={pods_dir}",
        f"-state={state}",
        f"-interval={interval}",
        f"-listen={_listen('0.0.0.0', port)}",
        f"-stream-fields={','.join(POD_STREAM_FIELDS)}",
    ]
    if namespace_prefix:
        argv.append(f"-namespace-prefix={namespace_prefix}")
    argv.append(f"-field-env=host={node_env}")
    argv += [f"-field={k}={v}" for k, v in sorted(static.items())]
    return argv
