# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The opsdeck application model: one description of each app, validated and normalized.

Every role of the collection (compose_app, k8s_app, monitoring, logging, backup) derives its
work from the inventory list ``opsdeck_apps``. This module is the only place that reads that
list raw: ``normalize_apps`` checks it and returns one complete, plain-data dict per app with
every default filled and every derived value computed (image reference with the registry
prefix, memory in bytes and in the Compose and Kubernetes notations, CPU in cores and
millicores, health and metrics ports resolved to numbers, backup retention filled in), so no
role re-implements a default or a unit conversion, and no two roles can disagree about one.

Why our own code: the model is ours, so no library knows it. JSON Schema (``APP_SCHEMA``,
checked with the ``jsonschema`` library) covers the shape: types, enums, patterns and, above
all, unknown keys, so that a typo such as ``replica:`` fails instead of being ignored. What a
schema cannot say is checked here in Python: memory and CPU notations, limits against
requests, references between fields (a health check's port must be a port of the app), rules
that span apps (a name, a host port or a public host used twice; ``depends_on`` naming an app
that does not exist or forming a cycle), per-engine database names, cron schedules and DNS
names.

Every finding is collected, not just the first, and every message has the same form::

    app '<name>': field '<path>': <what is wrong; what is allowed>
    app #<index>: field '<path>': ...                (an app without a usable name)
    opsdeck_apps: <finding that spans apps>

Paths are dotted with list indexes in brackets: ``ports[0].host_port``. Secret values are
never echoed in a message.

Decisions worth knowing (docs/model.md is the full reference):

* Memory suffixes are all binary, whatever their case or form: ``512M``, ``512m``, ``512Mi``
  and ``512MiB`` are all 512 * 1024**2 bytes. Docker reads them so, and Kubernetes reads
  ``Mi`` so; only Kubernetes reads ``M`` as 10**6. The binary reading is the one that never
  gives an app less memory than its author meant. Give plain bytes for a decimal size.
* ``registry`` prefixes only images without a registry host of their own (the first path
  component contains ``.`` or ``:`` or is ``localhost``). ``opsdeck/app:1`` with registry
  ``127.0.0.1:5000`` becomes ``127.0.0.1:5000/opsdeck/app:1``; ``ghcr.io/acme/app:1`` is left
  as it is. A site that mirrors such an image writes the mirror's name in ``image``.
* With ``environment='prod'`` an image must be pinned (a tag other than ``latest``, or a
  digest): a moving tag makes rollbacks and disaster-recovery deploys run untested code.
* YAML 1.1 reads an unquoted ``restart: no`` as ``false``; ``false`` is taken to mean ``no``.

This file is pure Python (standard library only at import time; ``jsonschema`` is imported
when validation runs) so that unit tests, filters and modules can all import it.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import math
import re
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.systemd_calendar import cron_problem

__all__ = [
    "APP_SCHEMA",
    "ENVIRONMENTS",
    "ModelError",
    "format_memory_compose",
    "format_memory_k8s",
    "normalize_apps",
    "parse_cpu",
    "parse_memory",
    "split_image",
    "validate_apps",
]

ENVIRONMENTS = ("local", "dev", "staging", "prod")
RESTART_POLICIES = ("always", "unless-stopped", "on-failure", "no")
DEPENDS_ON_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
DATABASE_ENGINES = ("postgres", "mysql", "mariadb", "mongodb", "redis")
DATABASE_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306, "mongodb": 27017, "redis": 6379}
DATABASE_DEFAULT_USERS = {"postgres": "postgres", "mysql": "root", "mariadb": "root", "mongodb": None, "redis": None}
KEEP_KEYS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
DEFAULT_KEEP = {"last": 0, "hourly": 0, "daily": 7, "weekly": 4, "monthly": 6, "yearly": 0}
DEFAULT_BACKUP_SCHEDULE = "0 2 * * *"
DEFAULT_PITR = {"enabled": False, "full_schedule": "0 1 * * 0", "diff_schedule": "0 1 * * 1-6", "retention_full": 2}
DEFAULT_USER = "65534:65534"
# Databases the collection runs itself (databases[].managed): engines with a server image here,
# default versions, the versions whose major part must not change without an upgrade path.
MANAGED_DATABASE_ENGINES = ("postgres", "mariadb", "redis")
REPLICATED_DATABASE_ENGINES = ("postgres",)
DATABASE_DEFAULT_VERSIONS = {"postgres": "15", "mariadb": "10.11", "redis": "7.0"}
DATABASE_UPGRADE_PATHS = ("dump_restore",)
REDIS_MAXMEMORY_POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)
_MANAGED_DATABASE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")

MEMORY_EXAMPLES = "examples: 512Mi, 1G, 268435456"
CPU_EXAMPLES = "examples: 500m, 0.5, 2"

_APP_NAME_PATTERN = r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$"
# Kubernetes IANA_SVC_NAME: 1..15 characters, at least one letter, no '--', no '-' at either end.
_PORT_NAME_PATTERN = r"^(?=.{1,15}$)(?!.*--)(?=[^a-z]*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
_SECRET_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL_KEY_PATTERN = rf"^({_DNS_SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?$"
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_TEAM_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_COMPOSE_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
_USER_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$"
_CAPABILITY_PATTERN = r"^(CAP_)?[A-Z][A-Z0-9_]*$"

_DATABASE_NAME_RULES = {
    "postgres": (
        re.compile(r"^[a-z_][a-z0-9_]{0,62}$"),
        "lowercase letters, digits and '_', starting with a letter or '_', at most 63 characters",
    ),
    "mysql": (re.compile(r"^[A-Za-z0-9_]{1,64}$"), "letters, digits and '_', 1 to 64 characters"),
    "mariadb": (re.compile(r"^[A-Za-z0-9_]{1,64}$"), "letters, digits and '_', 1 to 64 characters"),
    "mongodb": (re.compile(r'^[^/\\. "$\x00]{1,63}$'), '1 to 63 characters, none of / \\ . space " $'),
}


# ---------------------------------------------------------------------------------------------
# Errors


class ModelError(ValueError):
    """The model is not valid. ``errors`` holds every finding, one message each."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


# ---------------------------------------------------------------------------------------------
# The schema of one app. "x-allowed" is our own annotation (JSON Schema ignores unknown
# keywords): it says what is allowed, in words, and the error formatter puts it in messages.


def _allowed(text: str, **schema: Any) -> dict[str, Any]:
    return {"x-allowed": text, **schema}


def _obj(text: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "x-allowed": text,
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = list(required)
    return schema


_STRING = _allowed("a string", type="string")
_NON_EMPTY_STRING = _allowed("a non-empty string", type="string", minLength=1)
_BOOL = _allowed("true or false", type="boolean")
_PORT_NUMBER = _allowed("a port number 1..65535", type="integer", minimum=1, maximum=65535)
_PORT_REF = _allowed("a port name of this app or a port number 1..65535", type=["string", "integer"])
_SECONDS = _allowed("a whole number of seconds >= 1", type="integer", minimum=1)
_COMMAND = _allowed("a non-empty list of strings (argv, no shell)", type="array", minItems=1, items=_STRING)
_URL_PATH = _allowed("a URL path starting with '/'", type="string", pattern="^/")
_ABS_PATH = _allowed("an absolute path (starting with '/')", type="string", pattern="^/")
_SCALAR = _allowed("a string, number or boolean", type=["string", "integer", "number", "boolean"])
_CPU = _allowed(f"a CPU amount ({CPU_EXAMPLES})", type=["string", "number"])
_MEMORY = _allowed(f"a memory size ({MEMORY_EXAMPLES})", type=["string", "integer"])
_COUNT = _allowed("an integer >= 0", type="integer", minimum=0)
_APP_NAME = _allowed(
    "a DNS-1123 label: lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, "
    "1 to 40 characters",
    type="string",
    pattern=_APP_NAME_PATTERN,
)


# edge: the reverse proxy's per-app settings (role edge). Values end up inside double-quoted nginx
# strings, so characters nginx would read as syntax or variables are refused (_check_edge).
EDGE_DEFAULTS: dict[str, Any] = {
    "hsts_max_age_s": 31536000,
    "csp": "default-src 'self'; object-src 'none'; frame-ancestors 'none'",
    "frame_options": "DENY",
    "referrer_policy": "strict-origin-when-cross-origin",
    "headers": {},
    "rate_limit": None,
    "body_size": None,
    "timeout_s": 60,
    "cors": None,
}
_HEADER_NAME_PATTERN = r"^[A-Za-z0-9][-A-Za-z0-9]*$"
_EDGE_TEXT = _allowed("a string without double quotes, backslashes, '$' or control characters", type=["string", "null"])
_EDGE_SCHEMA = _obj(
    "a mapping {hsts_max_age_s, csp, frame_options, referrer_policy, headers, rate_limit, body_size, timeout_s, cors}",
    properties={
        "hsts_max_age_s": _allowed("a whole number of seconds >= 0 (0: no HSTS header)", type="integer", minimum=0),
        "csp": _EDGE_TEXT,
        "frame_options": _allowed(
            "DENY or SAMEORIGIN (headers: {X-Frame-Options: null} removes it)", enum=["DENY", "SAMEORIGIN"]
        ),
        "referrer_policy": _EDGE_TEXT,
        "headers": _allowed(
            "a mapping of response header names to values (null removes a default header)",
            type="object",
            propertyNames=_allowed("an HTTP header name: letters, digits and '-'", pattern=_HEADER_NAME_PATTERN),
            additionalProperties=_EDGE_TEXT,
        ),
        "rate_limit": _obj(
            "a mapping {rps, burst}",
            required=("rps",),
            properties={
                "rps": _allowed("requests per second per client address, an integer >= 1", type="integer", minimum=1),
                "burst": _COUNT,
            },
        ),
        "body_size": _MEMORY,
        "timeout_s": _SECONDS,
        "cors": _obj(
            "a mapping {origins, methods, headers, credentials, max_age_s}",
            required=("origins",),
            properties={
                "origins": _allowed(
                    "a non-empty list of origins (https://app.example.com) or ['*']",
                    type="array",
                    minItems=1,
                    uniqueItems=True,
                    items=_STRING,
                ),
                "methods": _allowed(
                    "a list of HTTP methods in upper case",
                    type="array",
                    uniqueItems=True,
                    items=_allowed("an HTTP method such as GET", type="string", pattern="^[A-Z]+$"),
                ),
                "headers": _allowed(
                    "a list of request header names",
                    type="array",
                    uniqueItems=True,
                    items=_allowed("an HTTP header name", type="string", pattern=_HEADER_NAME_PATTERN),
                ),
                "credentials": _BOOL,
                "max_age_s": _COUNT,
            },
        ),
    },
)


def _name_list(what: str) -> dict[str, Any]:
    return _allowed(
        f"a list of {what} names without duplicates",
        type="array",
        uniqueItems=True,
        items=_allowed(
            f"a {what} name: letters, digits, '_', '.' and '-', starting with a letter or digit",
            type="string",
            pattern=_COMPOSE_NAME_PATTERN,
        ),
    )


APP_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://opsdeck.example/platform/schemas/app.json",
    "title": "opsdeck application",
    "description": "One entry of opsdeck_apps. See docs/model.md.",
    **_obj(
        "a mapping with at least name and image",
        required=("name", "image"),
        properties={
            "name": _APP_NAME,
            "state": _allowed("present or absent", enum=["present", "absent"]),
            "image": _allowed(
                "an image reference repo[:tag][@sha256:digest], e.g. ghcr.io/acme/app:1.4.2",
                type="string",
                minLength=1,
            ),
            "replicas": _COUNT,
            "command": _COMMAND,
            "args": _allowed("a list of strings", type="array", items=_STRING),
            "env": _allowed(
                "a mapping of variable names to strings, numbers or booleans",
                type="object",
                propertyNames=_allowed(
                    "an environment variable name: letters, digits, '_', '-' and '.', not starting with a digit",
                    pattern=_ENV_NAME_PATTERN,
                ),
                additionalProperties=_SCALAR,
            ),
            "secrets": _allowed(
                "a mapping of NAME to a string (for example a vault variable)",
                type="object",
                propertyNames=_allowed(
                    "a secret name: upper-case letters, digits and '_', not starting with a digit",
                    pattern=_SECRET_NAME_PATTERN,
                ),
                additionalProperties=_allowed("a string (quote numbers)", type="string"),
            ),
            "ports": _allowed(
                "a list of ports",
                type="array",
                items=_obj(
                    "a mapping {name, port, protocol, host_port, host_ip, public, host, tls}",
                    required=("name", "port"),
                    properties={
                        "name": _allowed(
                            "a port name: 1 to 15 lowercase letters, digits and '-', with at least one letter, "
                            "no '--' and no '-' at either end",
                            type="string",
                            pattern=_PORT_NAME_PATTERN,
                        ),
                        "port": _PORT_NUMBER,
                        "protocol": _allowed("tcp or udp", enum=["tcp", "udp"]),
                        "host_port": _PORT_NUMBER,
                        "host_ip": _allowed("an IP address such as 127.0.0.1 or 0.0.0.0", type="string"),
                        "public": _BOOL,
                        "host": _allowed("a DNS name such as app.example.com", type="string"),
                        "tls": _BOOL,
                    },
                ),
            ),
            "health": _obj(
                "a mapping {path, port, scheme, interval_s, timeout_s, retries, start_period_s, command}",
                properties={
                    "path": _URL_PATH,
                    "port": _PORT_REF,
                    "scheme": _allowed("http or https", enum=["http", "https"]),
                    "interval_s": _SECONDS,
                    "timeout_s": _SECONDS,
                    "retries": _allowed("an integer >= 1", type="integer", minimum=1),
                    "start_period_s": _allowed("a whole number of seconds >= 0", type="integer", minimum=0),
                    "command": _COMMAND,
                },
            ),
            "metrics": _obj("a mapping {path, port}", properties={"path": _URL_PATH, "port": _PORT_REF}),
            "resources": _obj(
                "a mapping {cpu, memory, cpu_request, memory_request}",
                properties={"cpu": _CPU, "memory": _MEMORY, "cpu_request": _CPU, "memory_request": _MEMORY},
            ),
            "restart": _allowed(", ".join(RESTART_POLICIES), enum=list(RESTART_POLICIES)),
            "volumes": _allowed(
                "a list of volumes",
                type="array",
                items=_obj(
                    "a mapping {name, path, read_only}",
                    required=("name", "path"),
                    properties={
                        "name": _allowed(
                            "a volume name: lowercase letters, digits and '-', 1 to 63 characters, "
                            "starting and ending with a letter or digit",
                            type="string",
                            pattern=DNS_LABEL_PATTERN,
                        ),
                        "path": _ABS_PATH,
                        "read_only": _BOOL,
                    },
                ),
            ),
            "tmpfs": _allowed(
                "a list of absolute paths without duplicates", type="array", uniqueItems=True, items=_ABS_PATH
            ),
            "depends_on": _allowed(
                "a list of app names or {name, condition} mappings",
                type="array",
                items={
                    "if": {"type": "string"},
                    "then": _APP_NAME,
                    "else": _obj(
                        "an app name or a mapping {name, condition}",
                        required=("name",),
                        properties={
                            "name": _APP_NAME,
                            "condition": _allowed(", ".join(DEPENDS_ON_CONDITIONS), enum=list(DEPENDS_ON_CONDITIONS)),
                        },
                    ),
                },
            ),
            "profiles": _name_list("profile"),
            "networks": _name_list("network"),
            "hardening": _obj(
                "a mapping {user, read_only_root, cap_drop_all, cap_add, no_new_privileges, pids_limit}",
                properties={
                    "user": _allowed(
                        "user[:group] as names or numbers (e.g. 65534:65534), or null to keep the image's user",
                        type=["string", "integer", "null"],
                        pattern=_USER_PATTERN,
                        minimum=0,
                    ),
                    "read_only_root": _BOOL,
                    "cap_drop_all": _BOOL,
                    "cap_add": _allowed(
                        "a list of capability names without duplicates",
                        type="array",
                        uniqueItems=True,
                        items=_allowed(
                            "a capability name in upper case, such as NET_BIND_SERVICE",
                            type="string",
                            pattern=_CAPABILITY_PATTERN,
                        ),
                    ),
                    "no_new_privileges": _BOOL,
                    "pids_limit": _allowed(
                        "an integer >= 1, or null for no limit", type=["integer", "null"], minimum=1
                    ),
                },
            ),
            "hooks": _obj(
                "a mapping {pre_deploy, smoke}",
                properties={
                    "pre_deploy": _allowed(
                        "a list of pre-deploy commands",
                        type="array",
                        items=_obj(
                            "a mapping {name, command, timeout_s}",
                            required=("name", "command"),
                            properties={"name": _NON_EMPTY_STRING, "command": _COMMAND, "timeout_s": _SECONDS},
                        ),
                    ),
                    "smoke": _allowed(
                        "a list of smoke checks",
                        type="array",
                        items=_obj(
                            "a mapping {name, path, port, status, body_contains}",
                            required=("name", "path"),
                            properties={
                                "name": _NON_EMPTY_STRING,
                                "path": _URL_PATH,
                                "port": _PORT_REF,
                                "status": _allowed("an HTTP status 100..599", type="integer", minimum=100, maximum=599),
                                "body_contains": _NON_EMPTY_STRING,
                            },
                        ),
                    ),
                },
            ),
            "edge": _EDGE_SCHEMA,
            "autoscaling": _obj(
                "a mapping {min_replicas, max_replicas, cpu_percent, memory_percent}",
                required=("max_replicas",),
                properties={
                    "min_replicas": _allowed("an integer >= 1", type="integer", minimum=1),
                    "max_replicas": _allowed("an integer >= 1", type="integer", minimum=1),
                    "cpu_percent": _allowed(
                        "a target CPU utilization in percent of the request, an integer >= 1, or null for none",
                        type=["integer", "null"],
                        minimum=1,
                    ),
                    "memory_percent": _allowed(
                        "a target memory utilization in percent of the request, an integer >= 1, or null for none",
                        type=["integer", "null"],
                        minimum=1,
                    ),
                },
            ),
            "slo": _obj(
                "a mapping {availability, latency_p95_ms, window_days}",
                properties={
                    "availability": _allowed("a percentage above 0 and below 100, e.g. 99.9", type="number"),
                    "latency_p95_ms": _allowed("a number of milliseconds above 0", type="number", exclusiveMinimum=0),
                    "window_days": _allowed("a whole number of days 1..365", type="integer", minimum=1, maximum=365),
                },
            ),
            "hosts": _allowed(
                "a list of inventory host or group names the app is placed on (empty: every host the role runs on)",
                type="array",
                uniqueItems=True,
                items=_allowed("an inventory host or group name", type="string", minLength=1),
            ),
            "team": _allowed(
                "a team name usable as a label value: letters, digits, '-', '_' and '.', 1 to 63 characters, "
                "starting and ending with a letter or digit",
                type="string",
                pattern=_TEAM_PATTERN,
            ),
            "labels": _allowed(
                "a mapping of label names to strings, numbers or booleans",
                type="object",
                propertyNames=_allowed(
                    "a Kubernetes label name: [prefix/]name, the name 1 to 63 letters, digits, '-', '_' and '.'",
                    pattern=_LABEL_KEY_PATTERN,
                ),
                additionalProperties=_SCALAR,
            ),
            "databases": _allowed(
                "a list of databases",
                type="array",
                items=_obj(
                    "a mapping {name, engine, managed, host, port, user, password, container, version, replicas, "
                    "hosts, host_port, metrics_port, resources, redis, upgrade, backup}",
                    required=("name", "engine"),
                    properties={
                        "name": _NON_EMPTY_STRING,
                        "engine": _allowed(", ".join(DATABASE_ENGINES), enum=list(DATABASE_ENGINES)),
                        "managed": _BOOL,
                        "version": _allowed(
                            "a server version such as '15' or '10.11' (quote it: an unquoted 10.10 reads as 10.1)",
                            type=["string", "integer"],
                            pattern=r"^[0-9]+(\.[0-9]+){0,2}$",
                        ),
                        "replicas": _allowed(
                            "an integer 0..5 (streaming replicas)", type="integer", minimum=0, maximum=5
                        ),
                        "hosts": _allowed(
                            "a list of inventory host or group names (the first matching host runs the primary)",
                            type="array",
                            items=_allowed("an inventory host or group name", type="string", minLength=1),
                        ),
                        "host_port": _PORT_NUMBER,
                        "metrics_port": _PORT_NUMBER,
                        "resources": _obj(
                            "a mapping {cpu, memory}",
                            properties={"cpu": _CPU, "memory": _MEMORY},
                        ),
                        "redis": _obj(
                            "a mapping {appendonly, maxmemory_policy}",
                            properties={
                                "appendonly": _BOOL,
                                "maxmemory_policy": _allowed(
                                    ", ".join(REDIS_MAXMEMORY_POLICIES), enum=list(REDIS_MAXMEMORY_POLICIES)
                                ),
                            },
                        ),
                        "upgrade": _allowed(
                            "dump_restore (how a major-version change proceeds), or null to refuse one",
                            enum=[*DATABASE_UPGRADE_PATHS, None],
                        ),
                        "host": _NON_EMPTY_STRING,
                        "port": _PORT_NUMBER,
                        "user": _NON_EMPTY_STRING,
                        "password": _allowed("a non-empty string (a vault variable)", type="string", minLength=1),
                        "container": _allowed(
                            "a container name: letters, digits, '_', '.' and '-'",
                            type="string",
                            pattern=_COMPOSE_NAME_PATTERN,
                        ),
                        "backup": _obj(
                            "a mapping {enabled, schedule, keep, verify, pitr}",
                            properties={
                                "enabled": _BOOL,
                                "pitr": _obj(
                                    "a mapping {enabled, full_schedule, diff_schedule, retention_full}",
                                    properties={
                                        "enabled": _BOOL,
                                        "full_schedule": _allowed(
                                            "a 5-field cron schedule such as '0 1 * * 0'", type="string", minLength=1
                                        ),
                                        "diff_schedule": _allowed(
                                            "a 5-field cron schedule such as '0 1 * * 1-6'", type="string", minLength=1
                                        ),
                                        "retention_full": _allowed("an integer >= 1", type="integer", minimum=1),
                                    },
                                ),
                                "schedule": _allowed(
                                    "a 5-field cron schedule such as '0 2 * * *'", type="string", minLength=1
                                ),
                                "keep": _obj(
                                    "a mapping {" + ", ".join(KEEP_KEYS) + "} of integers >= 0",
                                    properties={key: _COUNT for key in KEEP_KEYS},
                                ),
                                "verify": _obj(
                                    "a mapping {schedule, query}",
                                    properties={
                                        "schedule": _allowed(
                                            "a 5-field cron schedule such as '0 5 * * 0'", type="string", minLength=1
                                        ),
                                        "query": _allowed(
                                            "an SQL query whose first column of the first row must be true "
                                            "(or a Redis command that must answer non-zero) after a test restore",
                                            type="string",
                                            minLength=1,
                                        ),
                                    },
                                ),
                            },
                        ),
                    },
                ),
            ),
        },
    ),
}

_VALIDATOR: Any = None


def _validator() -> Any:
    global _VALIDATOR
    if _VALIDATOR is None:
        try:
            import jsonschema
        except ImportError as exc:
            raise ModelError(
                "opsdeck_apps: the Python library jsonschema is needed to validate the app model on the "
                f"controller ({exc}); pip install jsonschema"
            ) from None
        _VALIDATOR = jsonschema.Draft202012Validator(APP_SCHEMA)
    return _VALIDATOR


# ---------------------------------------------------------------------------------------------
# Units


_MEMORY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([A-Za-z]*)$")
_MEMORY_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "ki": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "ti": 1024**4,
    "tib": 1024**4,
}


def parse_memory(value: Any) -> int:
    """Return a memory size in bytes.

    Accepts an integer (bytes) or a string: a number, optionally with a fraction, and a unit
    among b, k, m, g, t in any case, optionally followed by ``i``, ``b`` or ``ib``. Every unit
    is binary: ``512M`` == ``512m`` == ``512Mi`` == 536870912. A fraction that does not come to
    a whole number of bytes is rounded up. Raises ModelError for anything else.
    """
    problem = f"{_show(value)} is not a memory size ({MEMORY_EXAMPLES})"
    if isinstance(value, bool):
        raise ModelError(problem)
    if isinstance(value, int):
        if value < 0:
            raise ModelError(problem)
        return int(value)
    if not isinstance(value, str):
        raise ModelError(problem)
    match = _MEMORY_RE.match(value.strip())
    if not match or match.group(2).lower() not in _MEMORY_UNITS:
        raise ModelError(problem)
    amount = Decimal(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def _cpu_decimal(value: Any) -> Decimal:
    problem = f"{_show(value)} is not a CPU amount ({CPU_EXAMPLES})"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ModelError(problem)
    if isinstance(value, float) and not math.isfinite(value):
        raise ModelError(problem)
    text = str(value).strip()
    millis = text.endswith("m")
    if millis:
        text = text[:-1]
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?|\.[0-9]+", text):
        raise ModelError(problem)
    amount = Decimal(text)  # the pattern above makes it a valid decimal
    return amount / 1000 if millis else amount


def parse_cpu(value: Any) -> float:
    """Return a CPU amount in cores: ``"500m"`` -> 0.5, ``0.5`` -> 0.5, ``"2"`` -> 2.0.

    Raises ModelError for anything else (negative amounts, other suffixes, booleans).
    """
    return float(_cpu_decimal(value))


def _cpu_millis(value: Any) -> int:
    """CPU in millicores, rounded up as Kubernetes does for a finer precision."""
    return int((_cpu_decimal(value) * 1000).to_integral_value(rounding=ROUND_CEILING))


def format_memory_compose(size: int) -> str:
    """Bytes in Compose/Docker notation with the largest exact unit: 536870912 -> ``"512m"``."""
    for suffix, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{suffix}"
    return f"{size}b"


def format_memory_k8s(size: int) -> str:
    """Bytes in Kubernetes notation: an exact binary suffix (``"512Mi"``) or plain bytes."""
    for suffix, factor in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


# ---------------------------------------------------------------------------------------------
# Images and names

_REGISTRY_HOST_RE = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$"
)
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
IMAGE_HELP = "expected repo[:tag][@sha256:<64 hex digits>], e.g. ghcr.io/acme/app:1.4.2"


def _is_registry_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def split_image(image: str) -> dict[str, str | None]:
    """Split ``[host/]path[:tag][@digest]`` into its parts; raise ModelError if it is not one.

    Returns ``{"host", "path", "tag", "digest"}`` (``host``, ``tag`` and ``digest`` may be None).
    The host is the first path component when it contains '.' or ':' or is 'localhost'.
    """
    problem = f"{_show(image)} is not an image reference; {IMAGE_HELP}"
    if not isinstance(image, str) or not image or len(image) > 512:
        raise ModelError(problem)
    rest, digest = image, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise ModelError(problem)
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise ModelError(problem)
    components = rest.split("/")
    host = None
    if len(components) > 1 and _is_registry_host(components[0]):
        host = components.pop(0)
        if not _REGISTRY_HOST_RE.match(host):
            raise ModelError(problem)
    if not components or not all(_PATH_COMPONENT_RE.match(c) for c in components) or len("/".join(components)) > 255:
        raise ModelError(problem)
    return {"host": host, "path": "/".join(components), "tag": tag, "digest": digest}


def _check_registry(registry: Any) -> str:
    problem = (
        f"opsdeck_registry: {_show(registry)} is not a registry host[:port][/path] "
        "(examples: 127.0.0.1:5000, registry.example.com/mirror)"
    )
    if not isinstance(registry, str):
        raise ModelError(problem)
    registry = registry.strip().rstrip("/")
    host, _sep, path = registry.partition("/")
    if not _REGISTRY_HOST_RE.match(host) or (path and not all(_PATH_COMPONENT_RE.match(c) for c in path.split("/"))):
        raise ModelError(problem)
    return registry


def _dns_name_problem(host: str) -> str | None:
    """What makes ``host`` not an RFC 1123 DNS name (lowercase), or None when it is one."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return "it is an IP address; a public endpoint needs a name (TLS certificates and routing are per name)"
    if len(host) > 253:
        return f"it is {len(host)} characters long, at most 253 are allowed"
    if host != host.lower():
        return "it has upper-case letters; write it in lower case"
    for label in host.split("."):
        if not label:
            return "it has an empty label (two dots in a row, or a dot at either end)"
        if len(label) > 63:
            return f"label {_show(label, 24)} is {len(label)} characters long, at most 63 are allowed"
        if not re.match(DNS_LABEL_PATTERN, label):
            return f"label {_show(label, 24)} may only hold a-z, 0-9 and '-', and may not start or end with '-'"
    return None


def _cron_problem(expr: str) -> str | None:
    # The collection's one cron parser: the backup role schedules with it (systemd_calendar's
    # cron_to_oncalendar), so what the model accepts is what the role can schedule.
    return cron_problem(expr)


# ---------------------------------------------------------------------------------------------
# Message helpers


def _show(value: Any, limit: int = 60) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _dotted(path: tuple[Any, ...] | list[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _path_key(path: tuple[Any, ...]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in path)


def _app_label(app: Any, index: int) -> str:
    name = app.get("name") if isinstance(app, dict) else None
    if isinstance(name, str) and name:
        return f"app {name!r}"
    return f"app #{index}"


def _is_secret_path(path: tuple[Any, ...]) -> bool:
    return bool(path) and (path[0] == "secrets" or (path[0] == "databases" and path[-1] == "password"))


def _schema_findings(app: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    findings: list[tuple[tuple[Any, ...], str]] = []
    for error in _validator().iter_errors(app):
        path = tuple(error.absolute_path)
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = schema.get("x-allowed")
        shown = "the value" if _is_secret_path(path) else _show(error.instance)
        validator = error.validator
        if validator == "required":
            for prop in error.validator_value:
                if isinstance(error.instance, dict) and prop not in error.instance:
                    what = schema.get("properties", {}).get(prop, {}).get("x-allowed")
                    findings.append(((*path, prop), "is missing; it is required" + (f" ({what})" if what else "")))
        elif validator == "additionalProperties" and error.validator_value is False:
            known = sorted(schema.get("properties", {}))
            for key in error.instance:
                if key in known:
                    continue
                text = "unknown field"
                close = difflib.get_close_matches(str(key), known, n=1)
                if close:
                    text += f" (did you mean {close[0]!r}?)"
                findings.append(((*path, key), f"{text}; allowed fields: {', '.join(known)}"))
        elif "propertyNames" in error.schema_path:
            findings.append((path, f"key {_show(error.instance)} is not {allowed}"))
        elif validator == "enum":
            choices = ", ".join(str(c) for c in error.validator_value)
            findings.append((path, f"{shown} is not one of {choices}"))
        elif validator == "type":
            expected = allowed or " or ".join(error.validator_value if isinstance(error.validator_value, list) else [])
            if error.instance is None:
                findings.append((path, f"is empty (null); expected {expected}"))
            elif isinstance(error.instance, (list, dict)):
                findings.append((path, f"is {_kind(error.instance)}; expected {expected}"))
            else:
                findings.append((path, f"{shown} is {_kind(error.instance)}, not {expected}"))
        elif allowed:
            findings.append((path, f"{shown} is not {allowed}"))
        else:  # pragma: no cover - every constrained schema node carries x-allowed (a unit test checks it)
            findings.append((path, error.message))
    return findings


# ---------------------------------------------------------------------------------------------
# Semantic checks: what JSON Schema cannot express. They only judge values of the right type;
# a value of the wrong type has already been reported by the schema.


def _dicts(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _sub(app: dict[str, Any], key: str) -> dict[str, Any]:
    value = app.get(key)
    return value if isinstance(value, dict) else {}


def _port_names(app: dict[str, Any]) -> list[str]:
    return [p["name"] for _index, p in _dicts(app.get("ports")) if isinstance(p.get("name"), str)]


def _check_port_ref(
    ref: Any, app: dict[str, Any], path: tuple[Any, ...], findings: list[tuple[tuple[Any, ...], str]], needed: bool
) -> None:
    names = _port_names(app)
    if ref is None:
        if needed and not _dicts(app.get("ports")):
            findings.append(
                (path, "is not set and the app has no ports to default to; give a port number or add ports")
            )
        return
    if isinstance(ref, bool):
        return
    if isinstance(ref, int):
        if not 1 <= ref <= 65535:
            findings.append((path, f"{ref} is not a port number 1..65535"))
    elif isinstance(ref, str) and ref not in names:
        known = f"ports: {', '.join(names)}" if names else "the app has no ports"
        findings.append((path, f"{_show(ref)} is not a port of this app ({known}); give a port name or a number"))


def _check_resources(app: dict[str, Any], findings: list[tuple[tuple[Any, ...], str]]) -> None:
    resources = _sub(app, "resources")
    memory: dict[str, int] = {}
    cpu: dict[str, int] = {}
    for key in ("memory", "memory_request"):
        value = resources.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, (str, int)):
            continue
        try:
            size = parse_memory(value)
        except ModelError as exc:
            findings.append((("resources", key), str(exc)))
            continue
        if size <= 0:
            findings.append((("resources", key), f"{_show(value)} is not above 0 bytes ({MEMORY_EXAMPLES})"))
        else:
            memory[key] = size
    for key in ("cpu", "cpu_request"):
        value = resources.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        try:
            millis = _cpu_millis(value)
        except ModelError as exc:
            findings.append((("resources", key), str(exc)))
            continue
        if millis <= 0:  # rounding up makes any amount above 0 at least 1m
            findings.append((("resources", key), f"{_show(value)} is not above 0 ({CPU_EXAMPLES})"))
        else:
            cpu[key] = millis
    if "memory" in memory and "memory_request" in memory and memory["memory_request"] > memory["memory"]:
        findings.append(
            (
                ("resources", "memory_request"),
                f"{_show(resources['memory_request'])} is more than the limit resources.memory "
                f"{_show(resources['memory'])}; a request may not exceed its limit",
            )
        )
    if "cpu" in cpu and "cpu_request" in cpu and cpu["cpu_request"] > cpu["cpu"]:
        findings.append(
            (
                ("resources", "cpu_request"),
                f"{_show(resources['cpu_request'])} is more than the limit resources.cpu "
                f"{_show(resources['cpu'])}; a request may not exceed its limit",
            )
        )


def _check_ports(app: dict[str, Any], findings: list[tuple[tuple[Any, ...], str]]) -> None:
    seen_names: dict[str, int] = {}
    seen_container: dict[tuple[Any, str], int] = {}
    seen_host_port: dict[tuple[Any, str], int] = {}
    seen_host: dict[str, int] = {}
    for i, port in _dicts(app.get("ports")):
        name = port.get("name")
        protocol = port.get("protocol", "tcp")
        if isinstance(name, str):
            if name in seen_names:
                findings.append(
                    (
                        ("ports", i, "name"),
                        f"{name!r} is already the name of ports[{seen_names[name]}]; port names "
                        "must be unique within an app",
                    )
                )
            else:
                seen_names[name] = i
        number = port.get("port")
        if isinstance(number, int) and not isinstance(number, bool):
            key = (number, str(protocol))
            if key in seen_container:
                findings.append(
                    (("ports", i, "port"), f"{number}/{protocol} is already declared by ports[{seen_container[key]}]")
                )
            else:
                seen_container[key] = i
        host_port = port.get("host_port")
        if isinstance(host_port, int) and not isinstance(host_port, bool):
            key = (host_port, str(protocol))
            if key in seen_host_port:
                findings.append(
                    (
                        ("ports", i, "host_port"),
                        f"{host_port}/{protocol} is already published by ports[{seen_host_port[key]}]",
                    )
                )
            else:
                seen_host_port[key] = i
        host_ip = port.get("host_ip")
        if isinstance(host_ip, str):
            try:
                ipaddress.ip_address(host_ip)
            except ValueError:
                findings.append(
                    (("ports", i, "host_ip"), f"{host_ip!r} is not an IP address such as 127.0.0.1 or 0.0.0.0")
                )
        host = port.get("host")
        if port.get("public") is True and "host" not in port:
            findings.append(
                (("ports", i, "host"), "is required when public is true: a DNS name such as app.example.com")
            )
        if isinstance(host, str):
            problem = _dns_name_problem(host)
            if problem:
                findings.append((("ports", i, "host"), f"{_show(host)} is not a DNS name: {problem}"))
            elif port.get("public") is True:
                if host in seen_host:
                    findings.append(
                        (("ports", i, "host"), f"{host!r} is already the public host of ports[{seen_host[host]}]")
                    )
                else:
                    seen_host[host] = i


def _check_health_metrics_hooks(app: dict[str, Any], findings: list[tuple[tuple[Any, ...], str]]) -> None:
    if isinstance(app.get("health"), dict):
        health = app["health"]
        if "command" in health and ("path" in health or "port" in health or "scheme" in health):
            findings.append(
                (
                    ("health", "command"),
                    "an exec health check (command) takes no path, port or scheme; give either command or path",
                )
            )
        elif "command" not in health:
            if "path" not in health:
                findings.append((("health", "path"), "is missing; a health check needs a path (HTTP) or a command"))
            _check_port_ref(health.get("port"), app, ("health", "port"), findings, needed=True)
    if isinstance(app.get("metrics"), dict):
        _check_port_ref(app["metrics"].get("port"), app, ("metrics", "port"), findings, needed=True)
    hooks = _sub(app, "hooks")
    for kind in ("pre_deploy", "smoke"):
        seen: dict[str, int] = {}
        for i, hook in _dicts(hooks.get(kind)):
            if kind == "smoke":
                _check_port_ref(hook.get("port"), app, ("hooks", kind, i, "port"), findings, needed=True)
            name = hook.get("name")
            if isinstance(name, str):
                if name in seen:
                    findings.append(
                        (("hooks", kind, i, "name"), f"{name!r} is already the name of hooks.{kind}[{seen[name]}]")
                    )
                else:
                    seen[name] = i


def _check_slo(app: dict[str, Any], findings: list[tuple[tuple[Any, ...], str]]) -> None:
    if not isinstance(app.get("slo"), dict):
        return
    slo = app["slo"]
    if "availability" not in slo and "latency_p95_ms" not in slo:
        findings.append((("slo",), "sets no objective; give availability and/or latency_p95_ms"))
    value = slo.get("availability")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 < value < 100:
        findings.append(
            (
                ("slo", "availability"),
                f"{_show(value)} is not a percentage above 0 and below 100 (e.g. 99.9); an objective of 100 or "
                "over is impossible (it leaves no error budget), and one of 0 or less means nothing",
            )
        )


def _check_autoscaling(app: dict[str, Any], findings: list[tuple[tuple[Any, ...], str]]) -> None:
    auto = app.get("autoscaling")
    if not isinstance(auto, dict):
        return
    replicas = app.get("replicas", 1)
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas == 0:
        findings.append(
            (
                ("replicas",),
                "0 with autoscaling set: the autoscaler keeps at least min_replicas running; "
                "remove autoscaling to stop the app",
            )
        )
    low, high = auto.get("min_replicas"), auto.get("max_replicas")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (high,)):
        return
    if low is None and isinstance(replicas, int) and not isinstance(replicas, bool) and replicas > high:
        findings.append(
            (
                ("autoscaling", "max_replicas"),
                f"{high} is less than replicas {replicas} (min_replicas defaults to replicas); "
                "raise max_replicas or set min_replicas",
            )
        )
    elif isinstance(low, int) and not isinstance(low, bool) and low > high:
        findings.append((("autoscaling", "min_replicas"), f"{low} is more than autoscaling.max_replicas {high}"))
    if auto.get("cpu_percent", 70) is None and auto.get("memory_percent", 80) is None:
        findings.append(
            (("autoscaling",), "sets neither cpu_percent nor memory_percent; the autoscaler needs one to scale on")
        )


def _check_databases(app: dict[str, Any], findings: list[tuple[tuple[Any, ...], str]]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for i, db in _dicts(app.get("databases")):
        name, engine = db.get("name"), db.get("engine")
        if isinstance(name, str) and engine in _DATABASE_NAME_RULES:
            pattern, rule = _DATABASE_NAME_RULES[engine]
            if not pattern.match(name):
                findings.append((("databases", i, "name"), f"{name!r} is not a valid {engine} database name ({rule})"))
        if isinstance(name, str) and isinstance(engine, str):
            if (engine, name) in seen:
                findings.append(
                    (
                        ("databases", i, "name"),
                        f"{engine} database {name!r} is already declared by databases[{seen[(engine, name)]}]",
                    )
                )
            else:
                seen[(engine, name)] = i
        backup = _sub(db, "backup")
        schedule = backup.get("schedule")
        if isinstance(schedule, str) and schedule:
            problem = _cron_problem(schedule)
            if problem:
                findings.append(
                    (
                        ("databases", i, "backup", "schedule"),
                        f"{schedule!r} is not a 5-field cron schedule (minute hour day-of-month month day-of-week, "
                        f"e.g. '0 2 * * *'): {problem}",
                    )
                )
        verify_schedule = _sub(backup, "verify").get("schedule")
        if isinstance(verify_schedule, str) and verify_schedule:
            problem = _cron_problem(verify_schedule)
            if problem:
                findings.append(
                    (
                        ("databases", i, "backup", "verify", "schedule"),
                        f"{verify_schedule!r} is not a 5-field cron schedule (minute hour day-of-month month "
                        f"day-of-week, e.g. '0 5 * * 0'): {problem}",
                    )
                )
        pitr = _sub(backup, "pitr")
        for key in ("full_schedule", "diff_schedule"):
            value = pitr.get(key)
            if isinstance(value, str) and value:
                problem = _cron_problem(value)
                if problem:
                    findings.append(
                        (
                            ("databases", i, "backup", "pitr", key),
                            f"{value!r} is not a 5-field cron schedule (minute hour day-of-month month "
                            f"day-of-week, e.g. {DEFAULT_PITR[key]!r}): {problem}",
                        )
                    )
        if pitr.get("enabled") is True and engine in DATABASE_ENGINES and engine != "postgres":
            findings.append(
                (
                    ("databases", i, "backup", "pitr", "enabled"),
                    f"point-in-time recovery (pgBackRest) is for postgres databases only, not {engine}; "
                    "set backup.pitr.enabled: false or remove backup.pitr",
                )
            )
        _check_managed_database(db, i, engine, findings)
        keep = backup.get("keep")
        if isinstance(keep, dict) and backup.get("enabled", True) is True:
            counts = [keep.get(k, 0) for k in KEEP_KEYS]
            if all(isinstance(c, int) and not isinstance(c, bool) and c == 0 for c in counts):
                findings.append(
                    (
                        ("databases", i, "backup", "keep"),
                        f"keeps no backup at all; set at least one of {', '.join(KEEP_KEYS)} above 0 "
                        "(or set backup.enabled: false)",
                    )
                )


def _check_managed_database(
    db: dict[str, Any], i: int, engine: Any, findings: list[tuple[tuple[Any, ...], str]]
) -> None:
    """The fields of a database this collection runs (managed), and the ones only it may have."""
    managed = db.get("managed") is True
    name = db.get("name")
    if not managed:
        for key in ("version", "replicas", "hosts", "host_port", "metrics_port", "resources", "redis", "upgrade"):
            if key in db and db[key] not in (None, 0, [], {}):
                findings.append(
                    (
                        ("databases", i, key),
                        "applies to a database this collection runs; set managed: true or remove it",
                    )
                )
        return
    if engine in DATABASE_ENGINES and engine not in MANAGED_DATABASE_ENGINES:
        why = (
            "no MongoDB server can be had as a Debian package or from the Go module proxy here"
            if engine == "mongodb"
            else "Debian ships no MySQL server; run engine: mariadb (MySQL-compatible)"
        )
        findings.append(
            (
                ("databases", i, "managed"),
                f"the collection cannot run a {engine} server ({why}); managed engines: "
                f"{', '.join(MANAGED_DATABASE_ENGINES)}; set managed: false to connect to an existing server",
            )
        )
    for key in ("host", "container"):
        if db.get(key) is not None:
            findings.append(
                (
                    ("databases", i, key),
                    f"is derived for a managed database (its container on the hosts in 'hosts'); remove {key}",
                )
            )
    if isinstance(name, str) and not _MANAGED_DATABASE_NAME_RE.match(name):
        findings.append(
            (
                ("databases", i, "name"),
                f"{name!r} cannot name the container of a managed database (letters, digits, '_', '.' and '-', "
                "starting with a letter, digit or '_', at most 63 characters)",
            )
        )
    replicas = db.get("replicas", 0)
    if (
        isinstance(replicas, int)
        and replicas > 0
        and engine in DATABASE_ENGINES
        and engine not in REPLICATED_DATABASE_ENGINES
    ):
        findings.append(
            (
                ("databases", i, "replicas"),
                f"{engine} has no replication support here (streaming replication is for "
                f"{', '.join(REPLICATED_DATABASE_ENGINES)}); use replicas: 0",
            )
        )
    if db.get("redis") is not None and engine != "redis":
        findings.append((("databases", i, "redis"), f"applies to redis databases only, not {engine}"))
    if engine == "redis" and db.get("user") is not None:
        findings.append(
            (("databases", i, "user"), "a managed redis has no user accounts here (the default user with a password)")
        )
    memory = _sub(db, "resources").get("memory")
    if memory is not None and not isinstance(memory, bool):
        try:
            if parse_memory(memory) < 32 * 1024 * 1024:
                findings.append(
                    (
                        ("databases", i, "resources", "memory"),
                        f"{_show(memory)} is below 32Mi, too little for a database server",
                    )
                )
        except ModelError as exc:
            findings.append((("databases", i, "resources", "memory"), str(exc)))
    cpu = _sub(db, "resources").get("cpu")
    if cpu is not None and not isinstance(cpu, bool):
        try:
            parse_cpu(cpu)
        except ModelError as exc:
            findings.append((("databases", i, "resources", "cpu"), str(exc)))
    for key in ("host_port", "metrics_port"):
        port = db.get(key)
        if (
            isinstance(port, int)
            and not isinstance(port, bool)
            and port + int(replicas if isinstance(replicas, int) else 0) > 65535
        ):
            findings.append(
                (("databases", i, key), f"{port} + replicas is above 65535 (replica n publishes on {key} + n)")
            )


def _check_misc(app: dict[str, Any], environment: str | None, findings: list[tuple[tuple[Any, ...], str]]) -> None:
    image = app.get("image")
    if isinstance(image, str) and image:
        try:
            parts = split_image(image)
        except ModelError as exc:
            findings.append((("image",), str(exc)))
        else:
            if environment == "prod" and not parts["digest"] and parts["tag"] in (None, "latest"):
                findings.append(
                    (
                        ("image",),
                        f"{image!r} is not pinned; in prod an image needs a version tag other than latest or a "
                        "@sha256 digest, so that rollbacks and disaster-recovery deploys run what was tested",
                    )
                )
    env, secrets = _sub(app, "env"), _sub(app, "secrets")
    for key in sorted(set(env) & set(secrets)):
        findings.append((("secrets", key), "is also set in env; a variable comes from env or from secrets, not both"))
    for key, value in _sub(app, "labels").items():
        if isinstance(value, (str, int, float)):
            text = _scalar_text(value)
            if not _LABEL_VALUE_RE.match(text):
                findings.append(
                    (
                        ("labels", key),
                        f"{text!r} is not a Kubernetes label value (at most 63 letters, digits, '-', '_' and '.', "
                        "starting and ending with a letter or digit, or empty)",
                    )
                )
    seen_names: dict[str, int] = {}
    seen_paths: dict[str, int] = {}
    for i, volume in _dicts(app.get("volumes")):
        for key, seen in (("name", seen_names), ("path", seen_paths)):
            value = volume.get(key)
            if isinstance(value, str):
                if value in seen:
                    findings.append((("volumes", i, key), f"{value!r} is already the {key} of volumes[{seen[value]}]"))
                else:
                    seen[value] = i


_EDGE_BAD_CHARS = re.compile(r'["\\$\x00-\x1f\x7f]')
_ORIGIN_RE = re.compile(r"^https?://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")


def _check_edge(app: dict[str, Any], findings: list[tuple[tuple[Any, ...], str]]) -> None:
    edge = app.get("edge")
    if not isinstance(edge, dict):
        return
    if not any(p.get("public") is True for _i, p in _dicts(app.get("ports"))):
        findings.append((("edge",), "configures the edge proxy for public ports, and the app has none (public: true)"))
    texts: list[tuple[tuple[Any, ...], Any]] = [
        (("csp",), edge.get("csp")),
        (("referrer_policy",), edge.get("referrer_policy")),
    ]
    texts += [(("headers", k), v) for k, v in _sub(edge, "headers").items()]
    for path, value in texts:
        if isinstance(value, str) and _EDGE_BAD_CHARS.search(value):
            findings.append(
                (
                    ("edge", *path),
                    f"{_show(value)} holds a double quote, backslash, '$' or control character; "
                    "the edge writes it into an nginx string, where these are syntax",
                )
            )
    if isinstance(edge.get("body_size"), (str, int)) and not isinstance(edge.get("body_size"), bool):
        try:
            parse_memory(edge["body_size"])
        except ModelError as exc:
            findings.append((("edge", "body_size"), str(exc)))
    cors = edge.get("cors")
    if isinstance(cors, dict) and isinstance(cors.get("origins"), list):
        for k, origin in enumerate(cors["origins"]):
            if isinstance(origin, str) and origin != "*" and not _ORIGIN_RE.match(origin):
                findings.append(
                    (
                        ("edge", "cors", "origins", k),
                        f"{_show(origin)} is not an origin such as https://app.example.com or '*'",
                    )
                )
        if "*" in cors["origins"] and len(cors["origins"]) > 1:
            findings.append((("edge", "cors", "origins"), "'*' allows every origin; give it alone or list origins"))
        if "*" in cors["origins"] and cors.get("credentials") is True:
            findings.append(
                (
                    ("edge", "cors", "credentials"),
                    "true with origins ['*']: browsers refuse credentials for any origin; list the origins",
                )
            )


def _normalize_edge(app: dict[str, Any]) -> dict[str, Any]:
    edge = app.get("edge") or {}
    out = {key: edge.get(key, default) for key, default in EDGE_DEFAULTS.items()}
    out["headers"] = dict(edge.get("headers") or {})
    rate = edge.get("rate_limit")
    out["rate_limit"] = {"rps": rate["rps"], "burst": rate.get("burst", 0)} if rate else None
    size = edge.get("body_size")
    out["body_size_bytes"] = parse_memory(size) if size is not None else None
    cors = edge.get("cors")
    out["cors"] = (
        {
            "origins": list(cors["origins"]),
            "methods": list(cors.get("methods", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])),
            "headers": list(cors.get("headers", ["Authorization", "Content-Type"])),
            "credentials": cors.get("credentials", False),
            "max_age_s": cors.get("max_age_s", 600),
        }
        if cors
        else None
    )
    return out


def _check_cross_app(
    apps: list[Any], findings: dict[int, list[tuple[tuple[Any, ...], str]]], global_errors: list[str]
) -> None:
    by_name: dict[str, list[int]] = {}
    for i, app in enumerate(apps):
        if isinstance(app, dict) and isinstance(app.get("name"), str):
            by_name.setdefault(app["name"], []).append(i)
    for name, indexes in by_name.items():
        if len(indexes) > 1:
            times = "twice" if len(indexes) == 2 else f"{len(indexes)} times"
            listed = ", ".join(f"#{i}" for i in indexes[:-1]) + f" and #{indexes[-1]}"
            global_errors.append(f"opsdeck_apps: app name {name!r} is used {times} (apps {listed})")

    present = [(i, app) for i, app in enumerate(apps) if isinstance(app, dict) and app.get("state") != "absent"]
    host_ports: dict[tuple[Any, str], tuple[int, int]] = {}
    hosts: dict[str, tuple[int, int]] = {}
    for i, app in present:
        claimed_here: set[Any] = set()
        for j, port in _dicts(app.get("ports")):
            host_port, protocol = port.get("host_port"), str(port.get("protocol", "tcp"))
            if isinstance(host_port, int) and not isinstance(host_port, bool):
                key = (host_port, protocol)
                if key in host_ports and host_ports[key][0] != i and key not in claimed_here:
                    other, other_j = host_ports[key]
                    global_errors.append(
                        f"opsdeck_apps: host port {host_port}/{protocol} is published by both "
                        f"{_app_label(apps[other], other)} (ports[{other_j}]) and {_app_label(app, i)} (ports[{j}])"
                    )
                    claimed_here.add(key)
                host_ports.setdefault(key, (i, j))
            host = port.get("host")
            if port.get("public") is True and isinstance(host, str):
                if host in hosts and hosts[host][0] != i and host not in claimed_here:
                    other, other_j = hosts[host]
                    global_errors.append(
                        f"opsdeck_apps: public host {host!r} is claimed by both {_app_label(apps[other], other)} "
                        f"(ports[{other_j}]) and {_app_label(app, i)} (ports[{j}])"
                    )
                    claimed_here.add(host)
                hosts.setdefault(host, (i, j))

    # depends_on: the target exists, is not the app itself, is present, has a health check when
    # the condition needs one; and the graph has no cycle.
    names = sorted(by_name)
    graph: dict[str, list[str]] = {}
    for i, app in enumerate(apps):
        if not isinstance(app, dict):
            continue
        deps = app.get("depends_on")
        for j, dep in enumerate(deps if isinstance(deps, list) else []):
            if isinstance(dep, str):
                target, condition, path = dep, "service_healthy", ("depends_on", j)
            elif isinstance(dep, dict) and isinstance(dep.get("name"), str):
                target, condition, path = (
                    dep["name"],
                    dep.get("condition", "service_healthy"),
                    ("depends_on", j, "name"),
                )
            else:
                continue
            if target == app.get("name"):
                findings[i].append((path, "an app cannot depend on itself"))
                continue
            if target not in by_name:
                known = ", ".join(names) if names else "none"
                findings[i].append((path, f"{target!r} is not an app in opsdeck_apps (apps: {known})"))
                continue
            if isinstance(app.get("name"), str):
                graph.setdefault(app["name"], []).append(target)
            other = apps[by_name[target][0]]
            if app.get("state") != "absent" and other.get("state") == "absent":
                findings[i].append((path, f"app {target!r} has state absent; a present app cannot depend on it"))
            elif condition == "service_healthy" and not isinstance(other.get("health"), dict):
                cond_path = path if isinstance(dep, str) else ("depends_on", j, "condition")
                findings[i].append(
                    (
                        cond_path,
                        f"service_healthy needs a health check on app {target!r}, which has none; add health to "
                        f"{target!r} or use condition service_started",
                    )
                )
    for cycle in _cycles(graph):
        global_errors.append(f"opsdeck_apps: depends_on forms a cycle: {' -> '.join([*cycle, cycle[0]])}")


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                start = cycle.index(min(cycle))
                key = tuple(cycle[start:] + cycle[:start])
                if key not in seen:
                    seen.add(key)
                    found.append(list(key))
            elif state.get(nxt) is None:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


# ---------------------------------------------------------------------------------------------
# Normalization


def _plain(value: Any) -> Any:
    """A deep copy as plain Python data (dict with string keys, list, str, int, float, bool, None).

    Ansible hands filters its own subclasses (tagged strings, lazy containers); the copy drops
    them so that the result, and the checks, see ordinary values.
    """
    if isinstance(value, Mapping):
        # YAML may give non-string keys (`8080: x`); as strings, the schema judges them by name.
        return {k if type(k) is str else _scalar_text(_plain(k)): _plain(v) for k, v in value.items()}  # pylint: disable=unidiomatic-typecheck
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return copy.deepcopy(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _resolve_port(ref: Any, ports: list[dict[str, Any]]) -> tuple[Any, int | None]:
    if ref is None:
        return (ports[0]["name"], ports[0]["port"]) if ports else (None, None)
    if isinstance(ref, int):
        return ref, ref
    return ref, next(p["port"] for p in ports if p["name"] == ref)


def _user_ids(user: str | None) -> tuple[int | None, int | None]:
    if user is None:
        return None, None
    uid, _sep, gid = user.partition(":")
    return (int(uid) if uid.isdigit() else None, int(gid) if gid.isdigit() else None)


def _normalize_resources(resources: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {key: resources.get(key) for key in ("cpu", "memory", "cpu_request", "memory_request")}
    for key, prefix in (("cpu", "cpu"), ("cpu_request", "cpu_request")):
        value = resources.get(key)
        out[f"{prefix}_cores"] = parse_cpu(value) if value is not None else None
        out[f"{prefix}_millis"] = _cpu_millis(value) if value is not None else None
    for key, prefix in (("memory", "memory"), ("memory_request", "memory_request")):
        value = resources.get(key)
        size = parse_memory(value) if value is not None else None
        out[f"{prefix}_bytes"] = size
        out[f"{prefix}_compose"] = format_memory_compose(size) if size is not None else None
        out[f"{prefix}_k8s"] = format_memory_k8s(size) if size is not None else None
    return out


def _normalize_managed_database(db: dict[str, Any]) -> dict[str, Any]:
    """The run-time fields of a database: filled for a managed one, null/empty for an external one."""
    managed = bool(db.get("managed"))
    engine = db["engine"]
    version = db.get("version")
    resources = db.get("resources") or {}
    memory = parse_memory(resources["memory"]) if resources.get("memory") is not None else None
    redis = db.get("redis") or {}
    return {
        "version": str(version)
        if version is not None
        else (DATABASE_DEFAULT_VERSIONS.get(engine) if managed else None),
        "replicas": int(db.get("replicas", 0)),
        "hosts": list(db.get("hosts", [])),
        "host_port": db.get("host_port"),
        "metrics_port": db.get("metrics_port"),
        "resources": {
            "cpu_cores": parse_cpu(resources["cpu"]) if resources.get("cpu") is not None else None,
            "memory_bytes": memory,
            "memory_compose": format_memory_compose(memory) if memory else None,
        },
        "redis": (
            {
                "appendonly": redis.get("appendonly", True),
                "maxmemory_policy": redis.get("maxmemory_policy", "noeviction"),
            }
            if engine == "redis"
            else None
        ),
        "upgrade": db.get("upgrade"),
    }


def _normalize_app(app: dict[str, Any], environment: str | None, registry: str | None) -> dict[str, Any]:
    image = app["image"]
    parts = split_image(image)
    image_ref = f"{registry}/{image}" if registry and parts["host"] is None else image

    ports = [
        {
            "name": p["name"],
            "port": p["port"],
            "protocol": p.get("protocol", "tcp"),
            "host_port": p.get("host_port"),
            "host_ip": p.get("host_ip", "127.0.0.1"),
            "public": p.get("public", False),
            "host": p.get("host"),
            "tls": p.get("tls", True),
        }
        for p in app.get("ports", [])
    ]

    health = None
    if "health" in app:
        h = app["health"]
        exec_check = "command" in h
        port, port_number = (None, None) if exec_check else _resolve_port(h.get("port"), ports)
        health = {
            "type": "exec" if exec_check else "http",
            "path": h.get("path"),
            "port": port,
            "port_number": port_number,
            "scheme": None if exec_check else h.get("scheme", "http"),
            "command": h.get("command"),
            "interval_s": h.get("interval_s", 5),
            "timeout_s": h.get("timeout_s", 3),
            "retries": h.get("retries", 5),
            "start_period_s": h.get("start_period_s", 10),
        }

    metrics = None
    if "metrics" in app:
        port, port_number = _resolve_port(app["metrics"].get("port"), ports)
        metrics = {"path": app["metrics"].get("path", "/metrics"), "port": port, "port_number": port_number}

    hardening_in = app.get("hardening", {})
    user = hardening_in.get("user", DEFAULT_USER)
    user = None if user is None else str(user)
    uid, gid = _user_ids(user)
    hardening = {
        "user": user,
        "uid": uid,
        "gid": gid,
        "read_only_root": hardening_in.get("read_only_root", True),
        "cap_drop_all": hardening_in.get("cap_drop_all", True),
        "cap_add": [c[4:] if c.startswith("CAP_") else c for c in hardening_in.get("cap_add", [])],
        "no_new_privileges": hardening_in.get("no_new_privileges", True),
        "pids_limit": hardening_in.get("pids_limit", 512),
    }

    hooks_in = app.get("hooks", {})
    smoke = []
    for s in hooks_in.get("smoke", []):
        port, port_number = _resolve_port(s.get("port"), ports)
        smoke.append(
            {
                "name": s["name"],
                "path": s["path"],
                "port": port,
                "port_number": port_number,
                "status": s.get("status", 200),
                "body_contains": s.get("body_contains"),
            }
        )
    hooks = {
        "pre_deploy": [
            {"name": h["name"], "command": h["command"], "timeout_s": h.get("timeout_s", 300)}
            for h in hooks_in.get("pre_deploy", [])
        ],
        "smoke": smoke,
    }

    slo = None
    if "slo" in app:
        availability = app["slo"].get("availability")
        slo = {
            "availability": float(availability) if availability is not None else None,
            "objective_ratio": float(Decimal(str(availability)) / 100) if availability is not None else None,
            "error_budget_ratio": float((100 - Decimal(str(availability))) / 100) if availability is not None else None,
            "latency_p95_ms": app["slo"].get("latency_p95_ms"),
            "window_days": app["slo"].get("window_days", 30),
        }

    databases = []
    for db in app.get("databases", []):
        backup = db.get("backup", {})
        keep = dict(DEFAULT_KEEP) if "keep" not in backup else {k: backup["keep"].get(k, 0) for k in KEEP_KEYS}
        databases.append(
            {
                "name": db["name"],
                "engine": db["engine"],
                "managed": db.get("managed", False),
                "host": db.get("host"),
                "port": db.get("port", DATABASE_DEFAULT_PORTS[db["engine"]]),
                "user": db.get("user", DATABASE_DEFAULT_USERS[db["engine"]]),
                "password": db.get("password"),
                "container": f"{app['name']}-{db['name']}-db" if db.get("managed") else db.get("container"),
                **_normalize_managed_database(db),
                "backup": {
                    "enabled": backup.get("enabled", True),
                    "schedule": backup.get("schedule", DEFAULT_BACKUP_SCHEDULE),
                    "keep": keep,
                    "verify": {
                        "schedule": (backup.get("verify") or {}).get("schedule"),
                        "query": (backup.get("verify") or {}).get("query"),
                    },
                    "pitr": {
                        key: (backup.get("pitr") or {}).get(key, default) for key, default in DEFAULT_PITR.items()
                    },
                },
            }
        )

    depends_on = [
        {"name": d, "condition": "service_healthy"}
        if isinstance(d, str)
        else {"name": d["name"], "condition": d.get("condition", "service_healthy")}
        for d in app.get("depends_on", [])
    ]

    return {
        "name": app["name"],
        "state": app.get("state", "present"),
        "environment": environment,
        "image": image,
        "image_ref": image_ref,
        "image_tag": parts["tag"],
        "image_digest": parts["digest"],
        "replicas": int(app.get("replicas", 1)),
        "command": app.get("command"),
        "args": app.get("args"),
        "env": {k: _scalar_text(v) for k, v in app.get("env", {}).items()},
        "secrets": dict(app.get("secrets", {})),
        "ports": ports,
        "health": health,
        "metrics": metrics,
        "resources": _normalize_resources(app.get("resources", {})),
        "restart": app.get("restart", "unless-stopped"),
        "volumes": [
            {"name": v["name"], "path": v["path"], "read_only": v.get("read_only", False)}
            for v in app.get("volumes", [])
        ],
        "tmpfs": list(app.get("tmpfs", ["/tmp"])),
        "depends_on": depends_on,
        "profiles": list(app.get("profiles", [])),
        "networks": list(app.get("networks", [])),
        "hardening": hardening,
        "hooks": hooks,
        "slo": slo,
        "autoscaling": (
            {
                "min_replicas": app["autoscaling"].get("min_replicas", max(int(app.get("replicas", 1)), 1)),
                "max_replicas": app["autoscaling"]["max_replicas"],
                "cpu_percent": app["autoscaling"].get("cpu_percent", 70),
                "memory_percent": app["autoscaling"].get("memory_percent", 80),
            }
            if "autoscaling" in app
            else None
        ),
        "edge": _normalize_edge(app),
        "hosts": list(app.get("hosts", [])),
        "team": app.get("team", "platform"),
        "labels": {k: _scalar_text(v) for k, v in app.get("labels", {}).items()},
        "databases": databases,
    }


def _prepare(apps: Any) -> Any:
    plain = _plain(apps)
    if isinstance(plain, list):
        for app in plain:
            if isinstance(app, dict) and app.get("restart") is False:
                app["restart"] = "no"  # YAML 1.1 reads an unquoted `no` as false
    return plain


def secrets_by_app(apps: Any) -> dict[str, dict[str, Any]]:
    """The ``secrets`` of each app by app name, nothing else (for tasks that must not carry the model).

    No validation: call it on a model that ``normalize_apps`` accepted.
    """
    plain = _plain(apps)
    if not isinstance(plain, list):
        return {}
    return {
        app["name"]: dict(app.get("secrets") or {})
        for app in plain
        if isinstance(app, dict) and isinstance(app.get("name"), str)
    }


def validate_apps(apps: Any, *, environment: str | None = None) -> list[str]:
    """Every finding about ``apps`` (and ``environment``), as messages; [] when the model is valid."""
    return _validate_plain(_prepare(apps), environment)


def _validate_plain(apps: Any, environment: str | None) -> list[str]:
    errors: list[str] = []
    if environment is not None and environment not in ENVIRONMENTS:
        errors.append(f"opsdeck_environment: {_show(environment)} is not one of {', '.join(ENVIRONMENTS)}")
        environment = None
    if apps is None:
        return errors
    if not isinstance(apps, list):
        return [*errors, f"opsdeck_apps: is {_kind(apps)}; expected a list of apps (mappings with name and image)"]
    findings: dict[int, list[tuple[tuple[Any, ...], str]]] = {i: [] for i in range(len(apps))}
    for i, app in enumerate(apps):
        if not isinstance(app, dict):
            findings[i].append(((), f"is {_kind(app)}; expected a mapping with at least name and image"))
            continue
        findings[i].extend(_schema_findings(app))
        _check_ports(app, findings[i])
        _check_resources(app, findings[i])
        _check_health_metrics_hooks(app, findings[i])
        _check_slo(app, findings[i])
        _check_autoscaling(app, findings[i])
        _check_databases(app, findings[i])
        _check_misc(app, environment, findings[i])
        _check_edge(app, findings[i])
    global_errors: list[str] = []
    _check_cross_app(apps, findings, global_errors)
    for i, app in enumerate(apps):
        label = _app_label(app, i)
        ordered = sorted(dict.fromkeys(findings[i]), key=lambda f: (_path_key(f[0]), f[1]))
        for path, text in ordered:
            errors.append(f"{label}: field {_dotted(path)!r}: {text}" if path else f"{label}: {text}")
    errors.extend(dict.fromkeys(global_errors))
    return errors


def normalize_apps(apps: Any, *, environment: str | None = None, registry: str | None = None) -> list[dict[str, Any]]:
    """Validate ``opsdeck_apps`` and return it normalized: one plain dict per app, defaults filled.

    ``environment`` (local, dev, staging, prod) is checked and copied into each app; in prod
    images must be pinned. ``registry`` (``host[:port][/path]``) is put in front of every image
    that names no registry host of its own, giving ``image_ref``. ``None`` apps is an empty
    list. Raises ModelError with every finding when anything is wrong; the input is not changed.
    """
    errors: list[str] = []
    if registry is not None and registry != "":
        try:
            registry = _check_registry(registry)
        except ModelError as exc:
            errors.extend(exc.errors)
            registry = None
    else:
        registry = None
    plain = _prepare(apps)
    errors.extend(_validate_plain(plain, environment))
    if errors:
        raise ModelError(errors)
    return [_normalize_app(app, environment, registry) for app in plain or []]


def plain(value: Any) -> Any:
    """``value`` as plain Python data (Ansible's tagged strings and lazy containers dropped)."""
    return _plain(value)
