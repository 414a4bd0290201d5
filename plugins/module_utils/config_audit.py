# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A security and operations audit of the application model and its environment's settings.

The schema check (``model.normalize_apps``) answers "is this a model?"; this audit answers "is this a
model we should run in <environment>?". It works on the normalized model, so every default is
filled in and every field has one spelling. Each finding names the app (or the variable) and the
field, says what is wrong and what to do, and never shows a secret value.

Rules (``RULES``): weak or default passwords, plain-HTTP public endpoints, missing resource limits,
unpinned (``:latest``) images, databases without backups, unencrypted backups, debug on in prod.

Severity comes from the environment: in ``prod`` and ``staging`` every finding is an error (the run
stops before any host changes); in ``dev`` and ``local`` they are warnings. A waiver
(``"<app>:<rule>"`` or ``"<app>:<rule>:<field>"``, ``*`` for any app) silences one finding on
purpose, and is reported as waived, so it stays visible.

No well-kept library audits this model (tools such as checkov or kics audit Kubernetes manifests or
compose files, not an inventory before anything is rendered), hence this module.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.opsdeck.platform.plugins.module_utils.model import ENVIRONMENTS, normalize_apps

STRICT_ENVIRONMENTS = ("prod", "staging")

RULES = {
    "weak_password": "a default, empty or short password",
    "plain_http": "a public endpoint served over plain HTTP",
    "resource_limits": "no CPU or memory limit",
    "unpinned_image": "an image on :latest or no tag",
    "database_backup": "a database without backups",
    "backup_encryption": "backups not encrypted (at rest or in transit)",
    "debug": "debug switched on in prod",
}

MIN_PASSWORD_LENGTH = 12

# Values seen as defaults in images, tutorials and leaked configuration; compared case-insensitively
# after stripping digits and punctuation at the ends ("Password123!" is "password").
_DEFAULT_PASSWORDS = frozenset(
    {
        "",
        "admin",
        "administrator",
        "changeme",
        "change-me",
        "changeit",
        "default",
        "guest",
        "letmein",
        "master",
        "mysql",
        "mariadb",
        "pass",
        "passw0rd",
        "password",
        "postgres",
        "qwerty",
        "redis",
        "root",
        "secret",
        "test",
        "toor",
        "user",
        "welcome",
        "example",
    }
)
_SECRET_NAME_RE = re.compile(r"(PASS|PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)", re.IGNORECASE)
_DEBUG_ENV_RE = re.compile(r"^([A-Z0-9_]*_)?DEBUG$", re.IGNORECASE)
_TRUE_TEXT = frozenset({"1", "true", "yes", "on", "y"})
_DEBUG_LEVELS = frozenset({"debug", "trace", "all"})
_LOG_LEVEL_NAMES = frozenset({"LOG_LEVEL", "LOGLEVEL", "LOG", "RUST_LOG", "LOGGING_LEVEL"})


class AuditError(ValueError):
    """The audit's own input is wrong (not the model: the model's errors are findings)."""


def _finding(app: str | None, field: str, rule: str, message: str) -> dict[str, Any]:
    return {"app": app, "field": field, "rule": rule, "message": message}


def password_problem(value: Any, *, also_not: tuple[str, ...] = ()) -> str | None:
    """Why a password is weak, or None. Never repeats the value."""
    if value is None:
        return "is not set"
    text = str(value)
    if text == "":
        return "is empty"
    core = text.strip().lower().strip("0123456789!@#$%^&*()_-+=.,;:?~ ")
    if core in _DEFAULT_PASSWORDS or text.lower() in _DEFAULT_PASSWORDS:
        return "is a well-known default password"
    if any(text.lower() == other.lower() for other in also_not if other):
        return "is the same as the user or app name"
    if len(set(text)) <= 2:
        return "repeats one or two characters"
    if len(text) < MIN_PASSWORD_LENGTH:
        return f"is shorter than {MIN_PASSWORD_LENGTH} characters ({len(text)})"
    return None


def _url_password(value: str) -> tuple[bool, str | None]:
    """(is a URL with userinfo, its password) for values such as postgres://user:pw@host/db."""
    if "://" not in value:
        return False, None
    try:
        parts = urlsplit(value)
    except ValueError:
        return False, None
    if parts.username is None and parts.password is None:
        return False, None
    return True, parts.password


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE_TEXT


def _audit_passwords(app: dict[str, Any], out: list[dict[str, Any]]) -> None:
    name = app["name"]
    for key, value in sorted((app.get("secrets") or {}).items()):
        field = f"secrets.{key}"
        if isinstance(value, str):
            is_url, url_password = _url_password(value)
            if is_url:
                problem = password_problem(url_password, also_not=(name,))
                if problem:
                    out.append(_finding(name, field, "weak_password", f"the password in this URL {problem}"))
                continue
        if _SECRET_NAME_RE.search(key):
            problem = password_problem(value, also_not=(name,))
            if problem:
                out.append(_finding(name, field, "weak_password", f"the value {problem}"))
    for i, db in enumerate(app.get("databases") or []):
        if db.get("managed"):
            continue  # a managed database's credentials are the provider's (and the database role's) business
        password = db.get("password")
        # A database reached only inside its container, or by peer authentication on its host, may
        # have no password; one reached over the network must have a strong one.
        if password is None and (db.get("container") or not db.get("host")):
            continue
        problem = password_problem(password, also_not=(db.get("user") or "", db.get("name") or "", name))
        if problem:
            out.append(_finding(name, f"databases[{i}].password", "weak_password", f"the password {problem}"))


def _audit_endpoints(app: dict[str, Any], out: list[dict[str, Any]]) -> None:
    for i, port in enumerate(app.get("ports") or []):
        if port.get("public") and not port.get("tls", True):
            out.append(
                _finding(
                    app["name"],
                    f"ports[{i}].tls",
                    "plain_http",
                    f"public endpoint {port.get('host')} is served over plain HTTP (tls: false); serve it over TLS",
                )
            )


def _audit_resources(app: dict[str, Any], out: list[dict[str, Any]]) -> None:
    resources = app.get("resources") or {}
    for key in ("cpu", "memory"):
        if resources.get(key) in (None, ""):
            out.append(
                _finding(
                    app["name"],
                    f"resources.{key}",
                    "resource_limits",
                    f"no {key} limit: one app can starve its neighbours; set resources.{key} "
                    f"(e.g. {'500m' if key == 'cpu' else '512Mi'})",
                )
            )


def _audit_image(app: dict[str, Any], out: list[dict[str, Any]]) -> None:
    if app.get("image_digest"):
        return
    tag = app.get("image_tag")
    if tag in (None, "", "latest"):
        out.append(
            _finding(
                app["name"],
                "image",
                "unpinned_image",
                f"{app.get('image')!r} is not pinned ({'no tag' if not tag else ':latest'}): what runs changes "
                "without a deploy; use a version tag or a digest",
            )
        )


def _audit_database_backups(app: dict[str, Any], out: list[dict[str, Any]]) -> None:
    for i, db in enumerate(app.get("databases") or []):
        backup = db.get("backup") or {}
        if not backup.get("enabled", True):
            out.append(
                _finding(
                    app["name"],
                    f"databases[{i}].backup.enabled",
                    "database_backup",
                    f"database {db.get('name')!r} has no backups (backup.enabled: false)",
                )
            )


def _store_problems(label: str, store: Any) -> list[tuple[str, str]]:
    if not isinstance(store, dict) or not store:
        return []
    problems: list[tuple[str, str]] = []
    if store.get("type", "s3") == "s3":
        endpoint = store.get("endpoint_url")
        if isinstance(endpoint, str) and endpoint.lower().startswith("http://"):
            problems.append(
                (
                    f"{label}.endpoint_url",
                    f"{endpoint} is plain HTTP: backups and the store's keys travel unencrypted; use https://",
                )
            )
        if store.get("validate_certs") is False:
            problems.append(
                (f"{label}.validate_certs", "certificate checks are off: anyone on the path can read the backups")
            )
    return problems


def _keys(dbs: list[tuple[str, int, dict[str, Any]]]) -> str:
    return ", ".join(f"{app}/{db.get('name')}" for app, _index, db in dbs)


def _audit_backup_settings(
    apps: list[dict[str, Any]],
    backup: dict[str, Any],
    out: list[dict[str, Any]],
) -> None:
    backed_up = [
        (app["name"], i, db)
        for app in apps
        if app.get("state", "present") == "present"
        for i, db in enumerate(app.get("databases") or [])
        if (db.get("backup") or {}).get("enabled", True)
    ]
    if not backed_up:
        return
    recipients = backup.get("recipients")
    if not isinstance(recipients, list) or not [r for r in recipients if isinstance(r, str) and r.strip()]:
        out.append(
            _finding(
                None,
                "opsdeck_backup_recipients",
                "backup_encryption",
                f"databases are backed up ({_keys(backed_up)}) but no age "
                "recipient is set: backups cannot be encrypted; list the age public keys (age1...) to encrypt to",
            )
        )
    elif any(isinstance(r, str) and r.strip().startswith("AGE-SECRET-KEY-") for r in recipients):
        out.append(
            _finding(
                None,
                "opsdeck_backup_recipients",
                "backup_encryption",
                "a recipient is an age SECRET key (the value is not shown): list public keys (age1...) only",
            )
        )
    for label in ("opsdeck_backup_store", "opsdeck_backup_prune_store"):
        for field, message in _store_problems(label, backup.get(label.removeprefix("opsdeck_backup_"))):
            out.append(_finding(None, field, "backup_encryption", message))
    pitr = [(a, i, d) for a, i, d in backed_up if ((d.get("backup") or {}).get("pitr") or {}).get("enabled")]
    if pitr:
        problem = password_problem(backup.get("pitr_cipher_pass"))
        if problem:
            out.append(
                _finding(
                    None,
                    "opsdeck_backup_pitr_cipher_pass",
                    "backup_encryption",
                    f"point-in-time recovery is on ({_keys(pitr)}) and the repository passphrase {problem}",
                )
            )


def _audit_debug(app: dict[str, Any], out: list[dict[str, Any]]) -> None:
    for key, value in sorted((app.get("env") or {}).items()):
        if _DEBUG_ENV_RE.match(key) and _truthy(value):
            out.append(_finding(app["name"], f"env.{key}", "debug", f"{key}={value} in prod: switch debug off"))
        elif key.upper() in _LOG_LEVEL_NAMES and str(value).strip().lower() in _DEBUG_LEVELS:
            out.append(_finding(app["name"], f"env.{key}", "debug", f"{key}={value} in prod: log at info or above"))


def _parse_waivers(waivers: Any) -> list[tuple[str, str, str | None]]:
    if waivers in (None, ""):
        return []
    if not isinstance(waivers, list):
        raise AuditError(f"waivers must be a list of '<app>:<rule>[:<field>]' strings, got {type(waivers).__name__}")
    parsed = []
    for i, waiver in enumerate(waivers):
        parts = str(waiver).split(":", 2)
        if len(parts) < 2 or not parts[0] or parts[1] not in RULES:
            raise AuditError(
                f"waivers[{i}]: {str(waiver)!r} is not '<app>:<rule>[:<field>]' with a rule among {', '.join(RULES)}"
            )
        parsed.append((parts[0], parts[1], parts[2] if len(parts) == 3 else None))
    return parsed


def _waived(finding: dict[str, Any], waivers: list[tuple[str, str, str | None]]) -> bool:
    app = finding["app"] or "-"
    return any(
        (w_app in ("*", app)) and w_rule == finding["rule"] and (w_field is None or w_field == finding["field"])
        for w_app, w_rule, w_field in waivers
    )


STORE_SECRET_KEYS = ("access_key", "secret_key", "session_token", "sse_customer_key")


def secret_values(apps: Any, *stores: Any) -> set[str]:
    """The secret values of a raw model and of backup stores, to mask in a module's output.

    The apps' ``secrets`` values, their databases' passwords and the stores' credentials; nothing
    else, so that app names and settings stay readable in the findings.
    """
    found: set[str] = set()
    for app in apps if isinstance(apps, list) else []:
        if not isinstance(app, dict):
            continue
        secrets = app.get("secrets")
        if isinstance(secrets, dict):
            found.update(str(v) for v in secrets.values() if v not in (None, ""))
        for db in app.get("databases") or [] if isinstance(app.get("databases"), list) else []:
            if isinstance(db, dict) and db.get("password") not in (None, ""):
                found.add(str(db["password"]))
    for store in stores:
        if isinstance(store, dict):
            found.update(str(store[k]) for k in STORE_SECRET_KEYS if store.get(k) not in (None, ""))
    return found


def format_finding(finding: dict[str, Any]) -> str:
    """One line: app '<name>': field '<path>': <message> [rule], or <variable>: <message> [rule]."""
    where = f"app {finding['app']!r}: field {finding['field']!r}" if finding["app"] else finding["field"]
    return f"{where}: {finding['message']} [{finding['rule']}]"


def audit(
    apps: Any,
    *,
    environment: str,
    backup: dict[str, Any] | None = None,
    debug: bool = False,
    secrets: dict[str, Any] | None = None,
    waivers: Any = None,
    strict: bool | None = None,
) -> dict[str, Any]:
    """Audit ``apps`` (``opsdeck_apps`` as in inventory) for ``environment``.

    ``backup``: ``{store, prune_store, recipients, pitr_cipher_pass}`` (the opsdeck_backup_* variables).
    ``debug``: the environment's own debug switch (``opsdeck_debug``). ``secrets``: other named
    secrets of the site to check for weakness (variable name -> value), e.g. a Grafana admin password.
    ``strict`` overrides the environment's severity (None: strict in prod and staging).
    Returns ``{environment, strict, findings, waived, errors, warnings}``; ``errors`` holds the lines
    of the findings when the audit is strict, ``warnings`` otherwise. Raises ModelError when the
    model is invalid and AuditError when the audit's own arguments are.
    """
    if environment not in ENVIRONMENTS:
        raise AuditError(f"opsdeck_environment: {environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    parsed_waivers = _parse_waivers(waivers)
    normalized = normalize_apps(apps, environment=environment)
    found: list[dict[str, Any]] = []
    for app in normalized:
        if app.get("state", "present") != "present":
            continue
        _audit_passwords(app, found)
        _audit_endpoints(app, found)
        _audit_resources(app, found)
        _audit_image(app, found)
        _audit_database_backups(app, found)
        if environment == "prod":
            _audit_debug(app, found)
    _audit_backup_settings(normalized, backup or {}, found)
    for name, value in sorted((secrets or {}).items()):
        problem = password_problem(value)
        if problem:
            found.append(_finding(None, name, "weak_password", f"the value {problem}"))
    if environment == "prod" and _truthy(debug):
        found.append(_finding(None, "opsdeck_debug", "debug", "is true in prod: switch debug off"))
    findings = [f for f in found if not _waived(f, parsed_waivers)]
    waived = [f for f in found if _waived(f, parsed_waivers)]
    if strict is None:
        strict = environment in STRICT_ENVIRONMENTS
    lines = [format_finding(f) for f in findings]
    return {
        "environment": environment,
        "strict": strict,
        "findings": findings,
        "waived": waived,
        "errors": lines if strict else [],
        "warnings": [] if strict else lines,
    }
