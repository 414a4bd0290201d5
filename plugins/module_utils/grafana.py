# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Grafana on a monitoring host: its provisioning and the settings of its container.

Pure functions used by the monitoring role (filters ``grafana_provisioning``,
``grafana_dashboards`` and ``grafana_settings`` in ``plugins/filter/monitoring.py``):

- ``provisioning``: the datasources (fixed uids, which the dashboards name) and the file
  dashboard provider, as Grafana's provisioning files (``apiVersion: 1``);
- ``check_dashboards``: the dashboards parsed, each panel's and variable's datasource one of
  the provisioned ones (uid and type);
- ``settings``: Grafana's environment (``GF_*``) for the compose service from the role's
  variables, every secret given as ``<NAME>__FILE`` (the image's entrypoint reads the file), so
  no secret is in the compose file, in ``docker inspect`` or on a command line; every finding
  names the variable.

Grafana itself cannot run on the machines this collection is tested on (AGPL, refused): what is
written here is checked against Grafana's documented file formats and by ``docker compose
config``, not by a running Grafana.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.opsdeck.platform.plugins.module_utils.model import (
    ModelError,
    format_memory_compose,
    parse_cpu,
    parse_memory,
)

# uid -> datasource type; the dashboards refer to these uids (and k8s_monitoring to Prometheus').
PROMETHEUS_UID = "opsdeck-prometheus"
DATASOURCES = {
    PROMETHEUS_UID: "prometheus",
    "opsdeck-alertmanager": "alertmanager",
    "opsdeck-logs": "victoriametrics-logs-datasource",
    "opsdeck-traces": "jaeger",
}
# Where the container sees what the role writes (monitoring_root/grafana/...).
PROVISIONING_DIR = "/etc/grafana/provisioning"
DASHBOARDS_DIR = "/etc/grafana/dashboards"
SECRETS_DIR = "/run/secrets/grafana"
PLUGINS_DIR = "/var/lib/grafana-plugins"
DATA_DIR = "/var/lib/grafana"
ADMIN_PASSWORD = "GF_SECURITY_ADMIN_PASSWORD"
# The grafana user of the upstream image.
UID = 472

_ENV_KEY_RE = re.compile(r"^GF_[A-Z0-9_]+$")
_SECRET_WORD_RE = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|_KEY_|CREDENTIALS|PRIVATE")
_PLUGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*(@[0-9A-Za-z.+-]+(@https?://[^\s,@]+)?)?$")
_USER_RE = re.compile(r"^[^\s:]+$")
# Keys the role derives from its own variables: set them there, not in monitoring_grafana_env.
MANAGED = {
    "GF_SERVER_HTTP_ADDR": "monitoring_listen_address",
    "GF_SERVER_HTTP_PORT": "monitoring_grafana_port",
    "GF_SERVER_ROOT_URL": "monitoring_grafana_root_url",
    "GF_SERVER_SERVE_FROM_SUB_PATH": "monitoring_grafana_root_url",
    "GF_SECURITY_ADMIN_USER": "monitoring_grafana_admin_user",
    ADMIN_PASSWORD: "monitoring_grafana_admin_password",
    "GF_PATHS_DATA": "monitoring_root",
    "GF_PATHS_PROVISIONING": "monitoring_root",
    "GF_PATHS_PLUGINS": "monitoring_grafana_plugins_dir",
    "GF_PLUGINS_PREINSTALL": "monitoring_grafana_plugins",
    "GF_PLUGINS_PREINSTALL_SYNC": "monitoring_grafana_plugins",
    "GF_PLUGINS_PREINSTALL_DISABLED": "monitoring_grafana_plugins_dir",
    "GF_INSTALL_PLUGINS": "monitoring_grafana_plugins",
    "GF_METRICS_ENABLED": "the grafana scrape job (Prometheus reads /metrics)",
}
# Hardening the role sets; monitoring_grafana_env may override these (a site's own choice).
DEFAULTS = {
    "GF_AUTH_ANONYMOUS_ENABLED": "false",
    "GF_USERS_ALLOW_SIGN_UP": "false",
    "GF_SECURITY_DISABLE_GRAVATAR": "true",
    "GF_ANALYTICS_REPORTING_ENABLED": "false",
    "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
    "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
    "GF_ANALYTICS_FEEDBACK_LINKS_ENABLED": "false",
    "GF_NEWS_NEWS_FEED_ENABLED": "false",
    "GF_LOG_MODE": "console",
}


class GrafanaError(ModelError):
    """Grafana settings are not valid. ``errors`` holds every finding, one message each."""


def provisioning(
    *,
    prometheus_url: str,
    alertmanager_url: str,
    logs_url: str,
    traces_url: str | None = None,
    dashboards_dir: str = DASHBOARDS_DIR,
) -> dict[str, dict[str, Any]]:
    """Grafana's provisioning: ``{"datasources": {...}, "dashboards": {...}}``, one file each.

    Datasources Prometheus (the default), Alertmanager, VictoriaLogs (the plugin type
    ``victoriametrics-logs-datasource``) and, with ``traces_url``, Jaeger; none editable in the
    UI (the files are the truth). One file provider (folder ``opsdeck``) reading
    ``dashboards_dir``; dashboards cannot be deleted or saved from the UI.
    """
    entries: list[dict[str, Any]] = [
        {"name": "Prometheus", "uid": PROMETHEUS_UID, "url": prometheus_url, "isDefault": True},
        {
            "name": "Alertmanager",
            "uid": "opsdeck-alertmanager",
            "url": alertmanager_url,
            "jsonData": {"implementation": "prometheus"},
        },
        {"name": "VictoriaLogs", "uid": "opsdeck-logs", "url": logs_url},
    ]
    if traces_url:
        entries.append({"name": "Jaeger", "uid": "opsdeck-traces", "url": traces_url})
    datasources = [
        {
            "name": e["name"],
            "uid": e["uid"],
            "type": DATASOURCES[e["uid"]],
            "access": "proxy",
            "url": e["url"],
            **{k: e[k] for k in ("isDefault", "jsonData") if k in e},
            "editable": False,
        }
        for e in entries
    ]
    return {
        "datasources": {"apiVersion": 1, "datasources": datasources},
        "dashboards": {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "opsdeck",
                    "folder": "opsdeck",
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "updateIntervalSeconds": 30,
                    "options": {"path": dashboards_dir},
                }
            ],
        },
    }


def datasource_refs(dashboard: dict[str, Any]) -> list[tuple[str, Any]]:
    """(where, datasource) of every panel, panel target and template variable."""
    refs: list[tuple[str, Any]] = []
    for i, panel in enumerate(dashboard.get("panels") or []):
        if not isinstance(panel, dict):
            continue
        where = f"panels[{i}] ({panel.get('title')!r})"
        if "datasource" in panel:
            refs.append((where, panel["datasource"]))
        for j, target in enumerate(panel.get("targets") or []):
            if isinstance(target, dict) and "datasource" in target:
                refs.append((f"{where}.targets[{j}]", target["datasource"]))
    for i, var in enumerate((dashboard.get("templating") or {}).get("list") or []):
        if isinstance(var, dict) and "datasource" in var:
            refs.append((f"templating.list[{i}] ({var.get('name')!r})", var["datasource"]))
    return refs


def check_dashboards(dashboards: dict[str, Any], datasource_uids: Any = None) -> dict[str, dict[str, Any]]:
    """The dashboards (file name -> JSON text or mapping), parsed and checked.

    Each needs a string ``uid`` and ``title`` and a non-empty ``panels`` list, each panel an
    ``id`` (unique), a ``type`` and ``targets``; every datasource reference (panel, target,
    variable) must be ``{"type", "uid"}`` of a provisioned datasource (``datasource_uids``,
    default all of ``DATASOURCES``). Uids must differ between dashboards.
    """
    allowed = {u: DATASOURCES[u] for u in (datasource_uids or DATASOURCES) if u in DATASOURCES}
    findings: list[str] = []
    parsed: dict[str, dict[str, Any]] = {}
    uids: dict[str, str] = {}
    for name in sorted(dashboards):
        text = dashboards[name]
        try:
            board = json.loads(text) if isinstance(text, str) else text
        except ValueError as exc:
            findings.append(f"dashboard {name}: not JSON ({exc})")
            continue
        if not isinstance(board, dict):
            findings.append(f"dashboard {name}: a JSON object is expected")
            continue
        for key in ("uid", "title"):
            if not isinstance(board.get(key), str) or not board.get(key):
                findings.append(f"dashboard {name}: field '{key}': a non-empty string is required")
        if isinstance(board.get("uid"), str):
            if board["uid"] in uids:
                findings.append(
                    f"dashboard {name}: field 'uid': {board['uid']!r} is also the uid of {uids[board['uid']]}"
                )
            uids[board["uid"]] = name
        panels = board.get("panels")
        if not isinstance(panels, list) or not panels:
            findings.append(f"dashboard {name}: field 'panels': a non-empty list is required")
            panels = []
        ids: set[Any] = set()
        for i, panel in enumerate(panels):
            where = f"dashboard {name}: panels[{i}]"
            if not isinstance(panel, dict):
                findings.append(f"{where}: a mapping is required")
                continue
            if panel.get("id") in ids or not isinstance(panel.get("id"), int):
                findings.append(f"{where}: field 'id': a number no other panel of the dashboard has")
            ids.add(panel.get("id"))
            if not isinstance(panel.get("type"), str):
                findings.append(f"{where}: field 'type': the panel type is required")
            targets = panel.get("targets")
            if not isinstance(targets, list) or not targets:
                findings.append(f"{where} ({panel.get('title')!r}): field 'targets': a non-empty list is required")
        for where, ref in datasource_refs(board):
            if not isinstance(ref, dict) or ref.get("uid") not in allowed:
                findings.append(
                    f"dashboard {name}: {where}: datasource {json.dumps(ref)} is not a provisioned one "
                    f"({', '.join(sorted(allowed))})"
                )
            elif ref.get("type") != allowed[ref["uid"]]:
                findings.append(
                    f"dashboard {name}: {where}: datasource {ref['uid']} has type {allowed[ref['uid']]!r}, "
                    f"not {ref.get('type')!r}"
                )
        parsed[name] = board
    if findings:
        raise GrafanaError(findings)
    return parsed


def _env_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def _root_url(url: Any, findings: list[str]) -> dict[str, str]:
    if url in (None, ""):
        return {}
    where = "monitoring_grafana_root_url"
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        findings.append(f"{where}: {url!r} is not an http(s) URL such as https://grafana.example.com/")
        return {}
    if parts.query or parts.fragment:
        findings.append(f"{where}: {url!r}: no query or fragment (the URL Grafana is reached at)")
    env = {"GF_SERVER_ROOT_URL": url}
    if parts.path.strip("/"):
        # served under a path (a proxy forwarding /grafana/ as it is): Grafana must route it
        env["GF_SERVER_SERVE_FROM_SUB_PATH"] = "true"
    if parts.scheme == "https":
        env["GF_SECURITY_COOKIE_SECURE"] = "true"
    return env


def _plugins(plugins: Any, plugins_dir: str, found: Any, findings: list[str]) -> list[str]:
    where = "monitoring_grafana_plugins"
    if plugins is None:
        plugins = []
    if not isinstance(plugins, list):
        findings.append(f"{where}: expected a list of plugin ids, got {type(plugins).__name__}")
        return []
    good = []
    for i, plugin in enumerate(plugins):
        if not isinstance(plugin, str) or not _PLUGIN_RE.match(plugin):
            findings.append(
                f"{where}[{i}]: {plugin!r} is not a plugin id (victoriametrics-logs-datasource, "
                "or id@version, or id@version@https://url of its zip)"
            )
            continue
        good.append(plugin)
    if plugins_dir and not str(plugins_dir).startswith("/"):
        findings.append(f"monitoring_grafana_plugins_dir: {plugins_dir!r} is not an absolute path on the controller")
    elif plugins_dir:
        have = sorted(str(f) for f in (found or []))
        for plugin in good:
            pid = plugin.split("@", 1)[0]
            if pid not in have:
                findings.append(
                    f"{where}: plugin {pid!r} is not in monitoring_grafana_plugins_dir ({plugins_dir}): "
                    f"it holds {', '.join(have) or 'no plugin'}; unpack the plugin's zip there "
                    "(a directory per plugin, named by its id, with its plugin.json)"
                )
    return good


def _secrets(secrets: Any, findings: list[str]) -> list[str]:
    where = "monitoring_grafana_secrets"
    if not secrets:
        return []
    if not isinstance(secrets, dict):
        findings.append(f"{where}: expected a mapping of GF_* settings to secret values")
        return []
    names = []
    for key in sorted(secrets, key=str):
        value = secrets[key]
        if not isinstance(key, str) or not _ENV_KEY_RE.match(key) or key.endswith("__FILE"):
            findings.append(f"{where}: key {key!r}: a Grafana setting GF_<SECTION>_<KEY> (without __FILE)")
        elif key in MANAGED:
            findings.append(f"{where}: key {key}: set by the role from {MANAGED[key]}")
        elif _env_value(value) in (None, ""):
            findings.append(f"{where}: key {key}: a non-empty string is required (value not shown)")
        else:
            names.append(key)
    return names


def _extra_env(env: Any, findings: list[str]) -> dict[str, str]:
    where = "monitoring_grafana_env"
    if not env:
        return {}
    if not isinstance(env, dict):
        findings.append(f"{where}: expected a mapping of GF_* settings to values")
        return {}
    out = {}
    for key in sorted(env, key=str):
        if not isinstance(key, str) or not _ENV_KEY_RE.match(key):
            findings.append(f"{where}: key {key!r}: a Grafana setting GF_<SECTION>_<KEY>")
        elif key in MANAGED:
            findings.append(f"{where}: key {key}: set by the role from {MANAGED[key]}")
        elif key.endswith("__FILE") or _SECRET_WORD_RE.search(key):
            findings.append(
                f"{where}: key {key}: looks like a secret, which would be readable in the compose file and in "
                "docker inspect; put it in monitoring_grafana_secrets (a 0600 file, passed as <KEY>__FILE)"
            )
        elif _env_value(env[key]) is None:
            findings.append(f"{where}: key {key}: a string, number or boolean is required")
        else:
            out[key] = _env_value(env[key]) or ""
    return out


def settings(
    *,
    listen_address: str,
    port: Any,
    root_url: Any = "",
    admin_user: Any = "admin",
    plugins: Any = None,
    plugins_dir: str = "",
    plugins_found: Any = None,
    env: Any = None,
    secrets: Any = None,
    memory: Any = "512m",
    cpus: Any = 1,
    taken_ports: dict[str, Any] | None = None,
    root: str = "",
) -> dict[str, Any]:
    """What the role needs for the Grafana service, from its variables.

    Returns ``{"environment": {GF_*: str}, "secrets": [names], "plugins": [ids], "memory":
    compose size, "cpus": float, "volumes": [compose binds]}``; the binds mount what the role
    writes under ``root`` (monitoring_root) where the environment says it is. ``secrets`` are the
    names of ``monitoring_grafana_secrets``
    (the values are never read here), written by the role as files under ``SECRETS_DIR`` and
    passed as ``<NAME>__FILE``; the admin password always is. ``plugins_dir`` set: the plugins
    come from that directory (``plugins_found``: the names of its subdirectories), Grafana
    downloads nothing (preinstall disabled; air-gapped); otherwise Grafana installs ``plugins``
    before it starts (``GF_PLUGINS_PREINSTALL_SYNC``) from grafana.com or their URL.
    """
    findings: list[str] = []
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        findings.append(f"monitoring_grafana_port: {port!r} is not a port (1-65535)")
    for name, other in sorted((taken_ports or {}).items()):
        if other == port and not isinstance(port, bool):
            findings.append(f"monitoring_grafana_port: {port} is also {name}")
    if not isinstance(admin_user, str) or not _USER_RE.match(admin_user):
        findings.append(f"monitoring_grafana_admin_user: {admin_user!r} is not a user name (no spaces or ':')")
    env_root = _root_url(root_url, findings)
    good_plugins = _plugins(plugins, plugins_dir, plugins_found, findings)
    secret_names = _secrets(secrets, findings)
    extra = _extra_env(env, findings)
    try:
        memory_compose = format_memory_compose(parse_memory(memory))
    except ModelError as exc:
        findings.append(f"monitoring_grafana_memory: {exc}")
        memory_compose = ""
    try:
        cpu = parse_cpu(cpus)
        if cpu <= 0:
            raise ModelError(f"{cpus!r} is not more than 0")
    except ModelError as exc:
        findings.append(f"monitoring_grafana_cpus: {exc}")
        cpu = 0.0
    if findings:
        raise GrafanaError(findings)
    environment = {
        "GF_SERVER_HTTP_ADDR": listen_address,
        "GF_SERVER_HTTP_PORT": str(port),
        **env_root,
        "GF_SECURITY_ADMIN_USER": admin_user,
        **DEFAULTS,
        "GF_METRICS_ENABLED": "true",
    }
    if plugins_dir:
        environment.update({"GF_PATHS_PLUGINS": PLUGINS_DIR, "GF_PLUGINS_PREINSTALL_DISABLED": "true"})
    elif good_plugins:
        environment["GF_PLUGINS_PREINSTALL_SYNC"] = ",".join(good_plugins)
    environment.update(extra)
    names = sorted({ADMIN_PASSWORD, *secret_names})
    for name in names:
        environment[f"{name}__FILE"] = f"{SECRETS_DIR}/{name}"
    volumes = [
        f"{root}/grafana/provisioning:{PROVISIONING_DIR}:ro",
        f"{root}/grafana/dashboards:{DASHBOARDS_DIR}:ro",
        f"{root}/grafana/secrets:{SECRETS_DIR}:ro",
        f"{root}/data/grafana:{DATA_DIR}",
    ]
    if plugins_dir:
        volumes.append(f"{root}/grafana/plugins:{PLUGINS_DIR}:ro")
    return {
        "environment": dict(sorted(environment.items())),
        "secrets": names,
        "plugins": good_plugins,
        "memory": memory_compose,
        "cpus": cpu,
        "volumes": volumes,
    }
