# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan of a run: the application model, validated and normalized once, that every role reads.

``build(apps, environment=, registry=, groups=)`` is the one entry point from the raw
``opsdeck_apps`` to what roles use (docs/architecture.md draws the map). It returns a plain dict
that may be shown at any verbosity, because it holds no secret value:

``key``
    a digest of the inputs (the model with its secret values left out, the environment, the
    registry, the groups). The shared task file (role ``opsdeck.platform.plan``) computes the
    plan again only when the key of the current inputs differs from the key of the plan it has.
``apps``
    ``model.normalize_apps`` of the model, each secret value replaced by a *reference*:
    ``secrets: {NAME: {"secret": NAME, "from": "model", "path": "opsdeck_apps[shop].secrets.NAME"}}``
    and ``databases[].password: {"secret": "password", "from": "model", "path": ...}`` (or null
    when the model gives none). Code that only needs to know *that* a secret exists, and its
    name, reads these; the value is read from ``opsdeck_apps`` by the one ``no_log`` task that
    writes it to its 0600 file or Secret (``model.secrets_by_app``, ``database_passwords``).
``hosts``
    ``{host: {"groups": [...], "apps": [...]}}``: for each inventory host its groups and the apps
    placed on it (``placed``, the one placement rule; an app without ``hosts`` is placed on every
    host a deploying role runs on).
``databases``
    one entry per database of a present app (``key`` app/database, connection fields, backup
    settings), never a password.
``backup_jobs``
    the databases with backup enabled: what the backup role schedules (its units and calendars),
    what the Kubernetes backup CronJobs and the backup/restore/DR playbooks use.
``labels``
    the label names the roles put on what they create, per target.
``default_resources``
    what an app that sets no resources gets (``opsdeck_default_resources``, else
    ``DEFAULT_RESOURCES``): filled into ``apps`` before they are validated, so that an app has
    the same limits and requests on docker hosts and on Kubernetes.

Placement of managed databases (primary and replicas) needs the database hosts of a role run
and stays in ``database.placement``; it matches hosts with ``placed`` too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.model import (
    ModelError,
    normalize_apps,
    parse_cpu,
    parse_memory,
    plain,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.systemd_calendar import cron_to_oncalendar

PLAN_VERSION = 1

# What a masked secret looks like to the validation: a non-empty string, so the schema's type
# checks pass without the value. Never shown: it is replaced by a reference in the plan.
_PLACEHOLDER = "<secret>"

# The labels of what the roles create, by target (their values are the app's name and so on).
LABELS = {
    "compose": {
        "app": "io.opsdeck.app",
        "environment": "io.opsdeck.environment",
        "managed_by": "io.opsdeck.managed-by",
    },
    "kubernetes": {
        "name": "app.kubernetes.io/name",
        "instance": "app.kubernetes.io/instance",
        "managed_by": "app.kubernetes.io/managed-by",
        "part_of": "app.kubernetes.io/part-of",
    },
}


# What an app that sets no resources gets, on docker hosts and on Kubernetes alike
# (opsdeck_default_resources overrides it): a memory limit, so that one app cannot take a host's
# memory, and requests the scheduler (and the HPA) need. No CPU limit: a limit throttles.
DEFAULT_RESOURCES = {"cpu_request": "100m", "memory_request": "128Mi", "memory": "256Mi"}
_RESOURCE_KEYS = ("cpu", "cpu_request", "memory", "memory_request")


def _check_default_resources(defaults: Any) -> dict[str, Any]:
    if defaults is None:
        return dict(DEFAULT_RESOURCES)
    if not isinstance(defaults, Mapping):
        raise ModelError([f"opsdeck_default_resources: expected a mapping with {', '.join(_RESOURCE_KEYS)}"])
    errors = []
    out = {}
    for key, value in defaults.items():
        if key not in _RESOURCE_KEYS:
            errors.append(f"opsdeck_default_resources.{key}: unknown key; allowed: {', '.join(_RESOURCE_KEYS)}")
        elif value is not None:
            try:
                (parse_cpu if key.startswith("cpu") else parse_memory)(value)
            except ModelError as exc:
                errors.append(f"opsdeck_default_resources.{key}: {exc}")
            out[key] = value
    if errors:
        raise ModelError(errors)
    return out


def _filled(given: dict[str, Any], defaults: dict[str, Any], kind: str) -> dict[str, Any]:
    """The ``kind`` (cpu or memory) limit and request of an app, the defaults filling what it leaves
    out: a request it omits follows its own limit (as Kubernetes does); a default limit is never
    below the app's own request, a default request never above the limit."""
    parse = parse_cpu if kind == "cpu" else parse_memory
    limit_key, request_key = kind, f"{kind}_request"
    out = {}
    limit, request = given.get(limit_key), given.get(request_key)
    if limit is None and defaults.get(limit_key) is not None:
        limit = defaults[limit_key]
        if request is not None and parse(request) > parse(limit):
            limit = request
    if request is None:
        request = given.get(limit_key)
        if request is None and defaults.get(request_key) is not None:
            request = defaults[request_key]
            if limit is not None and parse(request) > parse(limit):
                request = limit
    if limit is not None:
        out[limit_key] = limit
    if request is not None:
        out[request_key] = request
    return out


def _with_default_resources(apps: Any, defaults: dict[str, Any]) -> Any:
    """The raw apps with the default resources filled in, before the model validates them; an app
    whose own values do not parse is left as it is (the validation names its field)."""
    if not isinstance(apps, list):
        return apps
    out = []
    for app in apps:
        if isinstance(app, dict) and isinstance(app.get("resources", {}), dict):
            given = app.get("resources", {})
            try:
                resources = {**given, **_filled(given, defaults, "cpu"), **_filled(given, defaults, "memory")}
            except ModelError:
                resources = given
            app = {**app, "resources": resources}
        out.append(app)
    return out


def placed(wanted: list[str] | None, name: str, groups: list[str] | None) -> bool:
    """The one placement rule: a thing whose ``hosts`` is ``wanted`` goes on the host ``name`` of
    ``groups`` when ``wanted`` is empty (every host) or names the host or one of its groups."""
    if not wanted:
        return True
    return name in wanted or bool(set(wanted) & set(groups or []))


def _masked(apps: Any) -> Any:
    """A shallow copy of the raw model with every secret value replaced by the placeholder.

    Values of ``secrets`` are never read (a vault variable may be undefined where the plan is
    made); a database password is read only to see whether it is set.
    """
    if not isinstance(apps, Sequence) or isinstance(apps, str):
        return apps
    out = []
    for app in apps:
        if isinstance(app, Mapping):
            app = dict(app)
            secrets = app.get("secrets")
            if isinstance(secrets, Mapping):
                app["secrets"] = {name: _PLACEHOLDER for name in secrets}
            databases = app.get("databases")
            if isinstance(databases, Sequence) and not isinstance(databases, str):
                app["databases"] = [
                    {**db, "password": _PLACEHOLDER}
                    if isinstance(db, Mapping) and db.get("password") is not None
                    else db
                    for db in databases
                ]
        out.append(app)
    return out


def _reference(path: str, name: str) -> dict[str, str]:
    return {"secret": name, "from": "model", "path": path}


def _with_references(app: dict[str, Any]) -> dict[str, Any]:
    where = f"opsdeck_apps[{app['name']}]"
    app["secrets"] = {name: _reference(f"{where}.secrets.{name}", name) for name in app["secrets"]}
    for db in app["databases"]:
        if db["password"] is not None:
            db["password"] = _reference(f"{where}.databases[{db['name']}].password", "password")
    return app


def _host_groups(groups: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """``{host: [group, ...]}`` from Ansible's ``groups`` (``all`` left out, as in ``group_names``)."""
    out: dict[str, list[str]] = {}
    for group, members in (groups or {}).items():
        for host in members or []:
            out.setdefault(host, [])
            if group != "all":
                out[host].append(group)
    return {host: sorted(names) for host, names in out.items()}


def _unit_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", text)


def _backup_field(app: dict[str, Any], index: int, key: str) -> str:
    return f"app '{app['name']}': field 'databases[{index}].backup.{key}'"


def _calendars(schedule: str) -> list[str]:
    # The model validated every schedule with this same parser: no error can be raised here.
    return cron_to_oncalendar(schedule)


def _databases(apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for app in apps:
        if app["state"] != "present":
            continue
        for db in app["databases"]:
            connection = {k: db[k] for k in ("engine", "host", "port", "user", "container")}
            out.append(
                {
                    "key": f"{app['name']}/{db['name']}",
                    "app": app["name"],
                    "database": db["name"],
                    **connection,
                    "managed": db["managed"],
                    "backup_enabled": db["backup"]["enabled"],
                    "keep": db["backup"]["keep"],
                    "verify_query": db["backup"]["verify"]["query"],
                    "connection": connection,
                }
            )
    return out


def _backup_jobs(apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The backup jobs of the site: one per database with ``backup.enabled`` of a present app."""
    jobs = []
    for app in apps:
        if app["state"] != "present":
            continue
        for index, db in enumerate(app["databases"]):
            backup = db["backup"]
            if not backup["enabled"]:
                continue
            key = f"{app['name']}/{db['name']}"
            unit = _unit_name(f"opsdeck-backup-{app['name']}-{db['name']}")
            verify_schedule = backup["verify"]["schedule"]
            pitr = backup["pitr"]
            stanza = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{app['name']}-{db['name']}")
            jobs.append(
                {
                    "key": key,
                    "app": app["name"],
                    "database": db["name"],
                    "engine": db["engine"],
                    "managed": db["managed"],
                    "host": db["host"],
                    "port": db["port"],
                    "user": db["user"],
                    "container": db["container"],
                    "keep": backup["keep"],
                    "verify_query": backup["verify"]["query"],
                    "schedule": backup["schedule"],
                    "calendars": _calendars(backup["schedule"]),
                    "verify_schedule": verify_schedule,
                    "verify_calendars": _calendars(verify_schedule) if verify_schedule else [],
                    "verify_field": _backup_field(app, index, "verify.schedule"),
                    "unit": unit,
                    "verify_unit": re.sub(r"^opsdeck-backup-", "opsdeck-backup-verify-", unit),
                    "metrics_file": f"opsdeck_backup_{app['name']}_{db['name']}.prom".replace("-", "_"),
                    "pitr": {
                        **pitr,
                        "stanza": stanza,
                        "where": f"app '{app['name']}': field 'databases[{index}].",
                        "metrics_file": f"opsdeck_pitr_{stanza}".replace("-", "_").replace(".", "_") + ".prom",
                        "full_calendars": _calendars(pitr["full_schedule"]) if pitr["enabled"] else [],
                        "diff_calendars": _calendars(pitr["diff_schedule"]) if pitr["enabled"] else [],
                    },
                }
            )
    return jobs


def key(
    apps: Any,
    *,
    environment: str | None = None,
    registry: str | None = None,
    groups: dict[str, list[str]] | None = None,
    default_resources: dict[str, Any] | None = None,
) -> str:
    """The digest of a plan's inputs, secret values left out (see ``build``)."""
    text = json.dumps(
        [
            PLAN_VERSION,
            plain(_masked(apps)),
            environment,
            registry or None,
            _host_groups(plain(groups)),
            plain(default_resources),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def build(
    apps: Any,
    *,
    environment: str | None = None,
    registry: str | None = None,
    groups: dict[str, list[str]] | None = None,
    default_resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The plan of a run (see the module docstring). Raises ``model.ModelError`` with every
    finding when the model is not valid; nothing of a secret is in the result or the message.

    ``default_resources`` (``opsdeck_default_resources``; None: ``DEFAULT_RESOURCES``) fills the
    resources an app leaves out, the same on every target."""
    defaults = _check_default_resources(plain(default_resources))
    raw = _with_default_resources(plain(_masked(apps)), defaults)
    groups = plain(groups)
    normalized = [_with_references(app) for app in normalize_apps(raw, environment=environment, registry=registry)]
    host_groups = _host_groups(groups)
    hosts = {
        host: {"groups": names, "apps": [a["name"] for a in normalized if placed(a["hosts"], host, names)]}
        for host, names in host_groups.items()
    }
    return {
        "version": PLAN_VERSION,
        "key": key(
            apps, environment=environment, registry=registry, groups=groups, default_resources=default_resources
        ),
        "environment": environment,
        "registry": registry or None,
        "apps": normalized,
        "hosts": hosts,
        "databases": _databases(normalized),
        "backup_jobs": _backup_jobs(normalized),
        "labels": LABELS,
        "default_resources": defaults,
    }


def host_apps(plan: dict[str, Any], host: str, groups: list[str] | None = None) -> list[dict[str, Any]]:
    """The apps of ``plan`` placed on ``host`` (a host the plan does not know: by ``groups``)."""
    entry = plan["hosts"].get(host)
    if entry is not None:
        names = set(entry["apps"])
        return [a for a in plan["apps"] if a["name"] in names]
    return [a for a in plan["apps"] if placed(a["hosts"], host, groups)]


def with_injected_secrets(
    apps: list[dict[str, Any]], injected: dict[str, list[str]] | None, source: str
) -> list[dict[str, Any]]:
    """``apps`` with the secrets another role injects (names by app) added as references.

    The connection settings of an app's managed databases are written by the database role; the
    app's own secret of the same name wins, so its reference stays.
    """
    out = []
    for app in apps:
        names = (injected or {}).get(app["name"]) or []
        if names:
            refs = {
                name: {"secret": name, "from": "file", "path": f"{source}/{app['name']}/app.json"} for name in names
            }
            app = {**app, "secrets": {**refs, **app["secrets"]}}
        out.append(app)
    return out


def database_passwords(apps: Any) -> dict[str, Any]:
    """``{app/database: password or None}`` from the raw model (for the ``no_log`` task that writes it)."""
    out: dict[str, Any] = {}
    for app in apps if isinstance(apps, list) else []:
        if not isinstance(app, dict) or not isinstance(app.get("name"), str):
            continue
        for db in app.get("databases") or []:
            if isinstance(db, dict) and isinstance(db.get("name"), str):
                out[f"{app['name']}/{db['name']}"] = db.get("password")
    return out
