# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The edge proxy's sites, derived from the application model and the inventory.

The role ``edge`` runs nginx on the hosts of the group ``edge``; this module decides what it
serves: one virtual host per public host name (``ports[].public`` with ``host``), its upstream
servers (the app's published port on every docker host the app is placed on), its response
headers (security headers from the app's ``edge`` settings, overrides applied), its rate limit,
body size limit, timeout and CORS answer, and where its certificate comes from (ACME, a
certificate given in inventory, or self-signed).

Why our own code: no library knows our model; nginx only reads its own configuration. The
certificate checks (``certificate_problems``) use the ``cryptography`` library, which
community.crypto uses too; they run on the controller before any host changes, so a key that
does not match its certificate stops the run instead of making nginx fail to start.

Placement (``hosts``) and the loopback/any-address rules are the monitoring module's, imported,
so the proxy and Prometheus can never disagree about where an app runs and how it is reached.
"""

from __future__ import annotations

import datetime
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError

# one rule for placement, addresses and normalized input, shared with the monitoring module
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import (
    ANY_ADDRESS,
    LOOPBACK,
    bracket,
    normalized,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import placed as plan_placed

TLS_MODES = ("acme", "selfsigned")


class EdgeError(ModelError):
    """Edge input is not valid. ``errors`` holds every finding, one message each."""


def _upstream(port: dict[str, Any], host: dict[str, Any], edge_host: str) -> tuple[str | None, str | None]:
    """(``address:port`` the proxy on ``edge_host`` reaches a published port of ``host`` at, or None; why not)."""
    host_ip = port.get("host_ip") or "0.0.0.0"
    if host_ip in LOOPBACK:
        if host["name"] == edge_host:
            return f"{bracket(host_ip if host_ip != 'localhost' else '127.0.0.1')}:{port['host_port']}", None
        return None, (
            f"host port {port['host_port']} is published on {host_ip} only on docker host '{host['name']}', "
            f"which the edge on '{edge_host}' cannot reach; set host_ip to an address of that host (or 0.0.0.0)"
        )
    if host_ip in ANY_ADDRESS:
        address = "127.0.0.1" if host["name"] == edge_host else host["address"]
        return f"{bracket(address)}:{port['host_port']}", None
    return f"{bracket(host_ip)}:{port['host_port']}", None


def security_headers(edge: dict[str, Any], tls: bool) -> list[list[str]]:
    """The response headers of a site, ``[[name, value], ...]``: defaults, then the app's overrides.

    ``edge.headers`` wins over a default of the same name (compared without case); a ``None``
    value removes the header.
    """
    headers: dict[str, tuple[str, str | None]] = {}

    def put(name: str, value: str | None) -> None:
        headers[name.lower()] = (name, value)

    if tls and edge["hsts_max_age_s"] > 0:
        put("Strict-Transport-Security", f"max-age={edge['hsts_max_age_s']}; includeSubDomains")
    put("Content-Security-Policy", edge.get("csp"))
    put("X-Frame-Options", edge.get("frame_options"))
    put("X-Content-Type-Options", "nosniff")
    put("Referrer-Policy", edge.get("referrer_policy"))
    for name, value in (edge.get("headers") or {}).items():
        put(name, value)
    return [[name, value] for name, value in headers.values() if value is not None]


def _check_defaults(rate_limit: Any, body_size: Any, findings: list[str]) -> None:
    if rate_limit is not None:
        ok = (
            isinstance(rate_limit, dict)
            and set(rate_limit) <= {"rps", "burst"}
            and isinstance(rate_limit.get("rps"), int)
            and not isinstance(rate_limit.get("rps"), bool)
            and rate_limit["rps"] >= 1
            and isinstance(rate_limit.get("burst", 0), int)
            and rate_limit.get("burst", 0) >= 0
        )
        if not ok:
            findings.append(
                f"edge_rate_limit: {rate_limit!r} is not a mapping {{rps: integer >= 1, burst: integer >= 0}} or null"
            )
    if not isinstance(body_size, int) or isinstance(body_size, bool) or body_size < 0:
        findings.append(f"edge_client_max_body_size: {body_size!r} is not a number of bytes >= 0")


def edge_sites(
    apps: Any,
    hosts: Any = None,
    *,
    edge_host: str,
    tls_mode: str = "acme",
    certificates: Any = None,
    rate_limit: Any = None,
    body_size: int = 1048576,
) -> dict[str, Any]:
    """What the edge on ``edge_host`` serves: ``{"sites": [...], "zones": [...]}``.

    ``apps``: ``opsdeck_apps`` (raw or normalized). ``hosts``: the docker hosts,
    ``[{name, address, groups}]`` (``address`` is how the edge reaches the host).
    ``tls_mode``: ``acme`` or ``selfsigned``, for hosts without a certificate in
    ``certificates`` (``{host name: {cert, key}}`` PEM texts from inventory). ``rate_limit``
    (``{rps, burst}`` or None) and ``body_size`` (bytes) apply to apps that set none.

    Each site: ``host``, ``app``, ``team``, ``tls``, ``cert_source`` (``acme``,
    ``selfsigned``, ``inventory`` or None without TLS), ``upstream`` (a name for nginx),
    ``servers`` (``address:port`` list, sorted), ``headers``, ``zone`` (or None),
    ``burst``, ``body_size_bytes``, ``timeout_s``, ``cors``. ``zones``: ``[{name, rps}]``
    for the ``limit_req_zone`` lines. Raises EdgeError with every finding.
    """
    findings: list[str] = []
    apps_n = normalized(apps)
    if tls_mode not in TLS_MODES:
        findings.append(f"edge_tls_mode: {tls_mode!r} is not one of {', '.join(TLS_MODES)}")
    if not isinstance(edge_host, str) or not edge_host:
        findings.append("edge host: the inventory name of the edge host is required")
    hosts_l = hosts or []
    if not isinstance(hosts_l, list) or not all(
        isinstance(h, dict) and h.get("name") and h.get("address") for h in hosts_l
    ):
        raise EdgeError("docker hosts: expected a list of {name, address, groups}")
    certs = certificates or {}
    if not isinstance(certs, dict):
        raise EdgeError(
            f"edge_certificates: expected a mapping of host name to {{cert, key}}, got {type(certs).__name__}"
        )
    _check_defaults(rate_limit, body_size, findings)

    sites: list[dict[str, Any]] = []
    zones: list[dict[str, Any]] = []
    for app in apps_n:
        if app.get("state") == "absent":
            continue
        name, edge = app["name"], app["edge"]
        limit = edge["rate_limit"] if edge.get("rate_limit") else rate_limit
        zone = None
        if limit:
            zone = f"app_{name.replace('-', '_')}"
            zones.append({"name": zone, "rps": limit["rps"]})
        placed = [h for h in hosts_l if plan_placed(app.get("hosts"), h["name"], h.get("groups"))]
        for i, port in enumerate(app["ports"]):
            if not (port.get("public") and port.get("host")):
                continue
            servers: list[str] = []
            reasons: list[str] = []
            if port.get("host_port") and port.get("protocol", "tcp") == "tcp":
                for host in placed:
                    server, why = _upstream(port, host, edge_host)
                    if server:
                        servers.append(server)
                    elif why:
                        reasons.append(why)
            if not servers:
                why = (
                    "; ".join(reasons)
                    if reasons
                    else (
                        "the port has no host_port (the edge reaches replicas through a published port)"
                        if not port.get("host_port")
                        else "the app is placed on no docker host (see hosts)"
                    )
                )
                findings.append(
                    f"app '{name}': field 'ports[{i}]': public host '{port['host']}' has no replica the edge can "
                    f"reach: {why}"
                )
            tls = bool(port.get("tls", True))
            source = None
            if tls:
                source = "inventory" if port["host"] in certs else tls_mode
            sites.append(
                {
                    "host": port["host"],
                    "app": name,
                    "team": app.get("team", "platform"),
                    "env": app.get("environment"),
                    "tls": tls,
                    "cert_source": source,
                    "upstream": f"{name.replace('-', '_')}_{port['name'].replace('-', '_')}",
                    "servers": sorted(set(servers)),
                    "headers": security_headers(edge, tls),
                    "zone": zone,
                    "burst": limit.get("burst", 0) if limit else 0,
                    "body_size_bytes": edge["body_size_bytes"]
                    if edge.get("body_size_bytes") is not None
                    else body_size,
                    "timeout_s": edge["timeout_s"],
                    "cors": edge.get("cors"),
                }
            )
    claimed = {s["host"] for s in sites}
    for host_name in sorted(certs):
        if host_name not in claimed:
            findings.append(
                f"edge_certificates: '{host_name}' is not the public host of any present app "
                f"(public hosts: {', '.join(sorted(claimed)) or 'none'})"
            )
        else:
            findings.extend(certificate_problems(host_name, certs[host_name]))
    if findings:
        raise EdgeError(findings)
    return {"sites": sorted(sites, key=lambda s: s["host"]), "zones": zones}


def certificate_problems(host: str, given: Any, *, now: datetime.datetime | None = None) -> list[str]:
    """What is wrong with a certificate given in inventory for ``host`` (``{cert, key}`` PEM texts).

    Checked: both parse; the key is the certificate's key; the certificate names ``host``
    (subject alternative names, wildcards one label deep); it is valid now. Messages never
    hold the key.
    """
    where = f"edge_certificates['{host}']"
    if not isinstance(given, dict) or not isinstance(given.get("cert"), str) or not isinstance(given.get("key"), str):
        return [f"{where}: expected a mapping {{cert, key}} of PEM texts (the key from a vault)"]
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:  # pragma: no cover - cryptography comes with ansible-core
        return [f"{where}: the Python library cryptography is needed on the controller to check certificates"]
    problems: list[str] = []
    try:
        certs = x509.load_pem_x509_certificates(given["cert"].encode())
    except ValueError as exc:
        return [f"{where}: field 'cert': not a PEM certificate ({exc})"]
    try:
        key = serialization.load_pem_private_key(given["key"].encode(), password=None)
    except (ValueError, TypeError):
        return [f"{where}: field 'key': not an unencrypted PEM private key (its content is not shown)"]
    leaf = certs[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != leaf.public_key().public_bytes(encoding, public):
        problems.append(
            f"{where}: field 'key': does not match the certificate (the certificate's public key is not the key's); "
            "give the key the certificate was issued for"
        )
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        names = []
    if not any(_name_matches(n.lower(), host) for n in names):
        problems.append(
            f"{where}: field 'cert': does not name '{host}' (subject alternative names: {', '.join(names) or 'none'})"
        )
    moment = now or datetime.datetime.now(datetime.UTC)
    if leaf.not_valid_after_utc <= moment:
        problems.append(f"{where}: field 'cert': expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    elif leaf.not_valid_before_utc > moment:
        problems.append(f"{where}: field 'cert': not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    return problems


def _name_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        head, _dot, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def acme_challenges(results: Any) -> list[dict[str, str]]:
    """The HTTP-01 challenge files of ``acme_certificate`` first-step results (a registered loop).

    ``[{host, resource, resource_value}]``; ``resource`` is relative to the webroot
    (``.well-known/acme-challenge/<token>``). Results without ``challenge_data`` (nothing to
    order, or check mode) give nothing.
    """
    files: list[dict[str, str]] = []
    for result in results or []:
        if not isinstance(result, dict):
            continue
        for host, challenges in sorted((result.get("challenge_data") or {}).items()):
            http01 = (challenges or {}).get("http-01")
            if http01 and http01.get("resource") and "resource_value" in http01:
                resource = str(http01["resource"])
                if not resource.startswith(".well-known/acme-challenge/") or ".." in resource or "/" in resource[27:]:
                    raise EdgeError(f"ACME server sent an unexpected challenge resource {resource!r} for '{host}'")
                files.append({"host": host, "resource": resource, "resource_value": str(http01["resource_value"])})
    return files
