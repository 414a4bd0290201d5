# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for managed databases (role database, and the monitoring role's targets and rules).

Thin wrappers around plugins/module_utils/database.py, where the logic lives and is unit tested:

- ``opsdeck_apps | database_plan(hosts, this_host, images=..., exporter_images=...)``: the
  projects, networks and app clients of a host (no secret value in it);
- ``project | database_project_secrets(credentials)``: the server's and exporter's env files;
- ``project | database_bootstrap_sql(credentials)``: psql input creating the logins once;
- ``opsdeck_apps | database_connection_secrets(app_name, credentials_by_database)``: what the
  app gets injected;
- ``project | database_version_problem(deployed_version)``: why a deploy is refused, or None;
- ``opsdeck_apps | database_scrape_targets(hosts, local_hosts)``, ``database_rules``: monitoring.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils import database as d
from ansible_collections.opsdeck.platform.plugins.module_utils.compose_project import render_env_file
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import database_passwords
from ansible_collections.opsdeck.platform.plugins.plugin_utils.filters import wrap


def database_connection_secrets(apps: Any, app_name: str, credentials: dict[str, Any]) -> dict[str, str]:
    """The connection settings injected into ``app_name`` from its managed databases (``apps``: the plan's)."""
    for app in apps:
        if app["name"] == app_name:
            return d.connection_secrets(app, credentials, given=app["secrets"])
    raise d.DatabaseError(f"opsdeck_apps: no app named {app_name!r}")


def database_credentials_dir(project: dict[str, Any], root: str) -> str:
    """Where the credentials of a project's database are kept: ``<root>/<app>/<database>``."""
    return f"{root.rstrip('/')}/{project['app']}/{project['database']}"


def database_given_passwords(apps: Any) -> dict[str, str]:
    """``{app/database: password}`` of the managed databases whose model gives a password
    (``apps``: the raw ``opsdeck_apps``, for the no_log task that writes the credentials)."""
    managed = {
        f"{app['name']}/{db['name']}"
        for app in apps or []
        if isinstance(app, dict)
        for db in app.get("databases") or []
        if isinstance(db, dict) and db.get("managed")
    }
    return {key: value for key, value in database_passwords(apps).items() if key in managed and value is not None}


def database_env_file(values: dict[str, str]) -> str:
    """An env file Compose reads (one NAME=value a line, values quoted)."""
    return render_env_file(values)


def database_exporter_files(projects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``[{project, file, content}]``: the files the projects' exporters mount (no secret in them)."""
    return [
        {"project": p["name"], "file": name, "content": content}
        for p in projects
        for name, content in d.exporter_files(p).items()
    ]


def database_exporter_secret_files(
    projects: list[dict[str, Any]], hostvars: Any, fact: str = "_database_credentials"
) -> list[dict[str, str]]:
    """``[{project, file, content}]``: the exporters' secret files (database.project_secrets),
    with the credentials the role keeps in ``fact`` on each project's primary host."""
    return [
        {"project": p["name"], "file": name, "content": content}
        for p in projects
        for name, content in d.project_secrets(p, hostvars[p["primary_host"]][fact][f"{p['app']}/{p['database']}"])[
            "exporter_files"
        ].items()
    ]


def database_rules(_input: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
    """The rule group for the exporters of managed databases (the input is ignored)."""
    return d.alert_rules(**kwargs)


class FilterModule:
    """Managed-database filters of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        what = "managed databases"
        return {
            "database_plan": wrap(d.plan, f"{what}: the plan"),
            "database_project_secrets": wrap(d.project_secrets, f"{what}: the secrets"),
            "database_bootstrap_sql": wrap(d.bootstrap_sql, f"{what}: the logins"),
            "database_connection_secrets": wrap(database_connection_secrets, f"{what}: the app's connection"),
            "database_version_problem": wrap(d.version_problem, f"{what}: the version"),
            "database_scrape_targets": wrap(d.scrape_targets, f"{what}: the scrape targets"),
            "database_rules": wrap(database_rules, f"{what}: the rules"),
            "database_credentials_dir": database_credentials_dir,
            "database_given_passwords": wrap(database_given_passwords, f"{what}: the passwords"),
            "database_env_file": database_env_file,
            "database_exporter_files": database_exporter_files,
            "database_exporter_secret_files": wrap(database_exporter_secret_files, f"{what}: the exporters' logins"),
        }
