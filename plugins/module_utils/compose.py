# SPDX-License-Identifier: GPL-3.0-or-later
"""Render a Docker Compose project from one normalized app of the model.

Pure functions, no Ansible: the filter ``opsdeck.platform.compose_definition`` and the
unit tests call them directly. Input is an app as returned by
``model.normalize_apps``; output is the compose file as a dict (the ``definition`` the
``compose_project`` module deploys), plus the health and smoke checks the module gates a
rollout on.

Why our own: the model says *what* runs (image, ports, health, resources, hardening);
Compose needs it spelled as a compose file, hardened by default, with secrets kept out
of the file. No library turns one into the other.
"""

from __future__ import annotations

from typing import Any

COMPOSE_HEALTH_TEST_NONE = ["NONE"]
# The container labels the engine writes into every log line (json-file option "labels": the
# line's "attrs"), where the log shipper (role logging) finds app, service and env without a
# docker socket. roles/docker_host sets the same list in the engine's log-opts.
LOG_LABELS = (
    "com.docker.compose.project",
    "com.docker.compose.service",
    "io.opsdeck.app",
    "io.opsdeck.environment",
    "io.opsdeck.service",
)


class ComposeRenderError(ValueError):
    """The app cannot be deployed with Compose as described (names the app and the field)."""


def _port_spec(port: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "target": port["port"],
        "protocol": port["protocol"],
        "published": str(port["host_port"]),
        "host_ip": port["host_ip"],
    }
    return spec


def database_network(app_name: str) -> str:
    """The network an app shares with the servers of its managed databases (role ``database``,
    which creates it on the app's hosts)."""
    return f"{app_name}-databases"


def service_name(app: dict[str, Any]) -> str:
    """The compose service that runs the app itself (same name as the app)."""
    return app["name"]


def render_definition(
    app: dict[str, Any],
    *,
    environment: str | None = None,
    secrets_env_file: str | None = "secrets.env",
    secrets_dir: str | None = "secrets",
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return the compose file (as a dict) that runs ``app``.

    Secrets are referenced, never inlined: an env file (``secrets_env_file``, written
    0600 by the module) carries them as environment variables, and each one is also a
    file under ``/run/secrets/<NAME>`` for apps that read ``*_FILE`` variables.
    """
    name = app["name"]
    svc = service_name(app)
    hardening = app["hardening"]
    resources = app["resources"]

    if app["replicas"] > 1 and any(p.get("host_port") for p in app["ports"]):
        raise ComposeRenderError(
            f"app '{name}': field 'replicas': {app['replicas']} replicas cannot all publish host port "
            f"{next(p['host_port'] for p in app['ports'] if p.get('host_port'))} on one host; "
            "drop host_port (the edge proxy reaches replicas over the network) or use replicas: 1"
        )

    labels = {
        "io.opsdeck.app": name,
        "io.opsdeck.service": svc,
        "io.opsdeck.team": app["team"],
        "io.opsdeck.managed-by": "opsdeck.platform",
    }
    if environment or app.get("environment"):
        labels["io.opsdeck.environment"] = str(environment or app.get("environment"))
    if app.get("image_tag"):
        labels["io.opsdeck.version"] = str(app["image_tag"])
    labels.update(app.get("labels") or {})
    labels.update(extra_labels or {})

    service: dict[str, Any] = {
        "image": app["image_ref"],
        "restart": app["restart"],
        "labels": dict(sorted(labels.items())),
        # the engine writes these labels into every log line ("attrs" of json-file), where the
        # log shipper (role logging) finds app, service and env; merged with the engine's log-opts
        "logging": {"options": {"labels": ",".join(LOG_LABELS)}},
    }
    if app.get("command"):
        service["entrypoint"] = list(app["command"])
    if app.get("args"):
        service["command"] = list(app["args"])
    if app["env"]:
        service["environment"] = dict(sorted(app["env"].items()))
    if app["secrets"] and secrets_env_file:
        service["env_file"] = [{"path": secrets_env_file, "required": True}]

    ports = [_port_spec(p) for p in app["ports"] if p.get("host_port")]
    if ports:
        service["ports"] = ports
    exposed = [str(p["port"]) for p in app["ports"] if not p.get("host_port")]
    if exposed:
        service["expose"] = exposed

    health = app.get("health")
    if health and health["type"] == "exec":
        service["healthcheck"] = {
            "test": ["CMD", *health["command"]],
            "interval": f"{health['interval_s']}s",
            "timeout": f"{health['timeout_s']}s",
            "retries": health["retries"],
            "start_period": f"{health['start_period_s']}s",
        }

    # Hardening: each piece has a per-app opt-out in the model's `hardening`.
    if hardening.get("user"):
        service["user"] = hardening["user"]
    if hardening.get("read_only_root"):
        service["read_only"] = True
        if app["tmpfs"]:
            service["tmpfs"] = list(app["tmpfs"])
    elif app["tmpfs"]:
        service["tmpfs"] = list(app["tmpfs"])
    if hardening.get("cap_drop_all"):
        service["cap_drop"] = ["ALL"]
    if hardening.get("cap_add"):
        service["cap_add"] = sorted(hardening["cap_add"])
    if hardening.get("no_new_privileges"):
        service["security_opt"] = ["no-new-privileges:true"]
    limits: dict[str, Any] = {}
    if hardening.get("pids_limit"):
        # in deploy.resources (Compose refuses pids_limit next to deploy.resources.limits)
        limits["pids"] = int(hardening["pids_limit"])
    reservations: dict[str, Any] = {}
    if resources.get("cpu_cores"):
        limits["cpus"] = str(resources["cpu_cores"])
    if resources.get("memory_bytes"):
        limits["memory"] = resources["memory_compose"]
    if resources.get("cpu_request_cores"):
        reservations["cpus"] = str(resources["cpu_request_cores"])
    if resources.get("memory_request_bytes"):
        reservations["memory"] = resources["memory_request_compose"]
    deploy: dict[str, Any] = {"replicas": app["replicas"]}
    if limits or reservations:
        deploy["resources"] = {}
        if limits:
            deploy["resources"]["limits"] = limits
        if reservations:
            deploy["resources"]["reservations"] = reservations
    service["deploy"] = deploy

    volumes: dict[str, Any] = {}
    if app["volumes"]:
        service["volumes"] = []
        for vol in app["volumes"]:
            service["volumes"].append(
                {"type": "volume", "source": vol["name"], "target": vol["path"], "read_only": vol["read_only"]}
            )
            volumes[vol["name"]] = {"labels": {"io.opsdeck.app": name}}

    if app["secrets"] and secrets_dir:
        service.setdefault("volumes", [])
        for secret in sorted(app["secrets"]):
            service["volumes"].append(
                {
                    "type": "bind",
                    "source": f"./{secrets_dir}/{secret}",
                    "target": f"/run/secrets/{secret}",
                    "read_only": True,
                }
            )

    networks: dict[str, Any] = {"default": {}}
    service["networks"] = ["default"]
    for net in app["networks"]:
        networks[net] = {"name": net, "external": True}
        service["networks"].append(net)
    if any(db.get("managed") for db in app.get("databases") or []):
        net = database_network(name)
        if net not in networks:
            networks[net] = {"name": net, "external": True}
            service["networks"].append(net)

    if app["profiles"]:
        service["profiles"] = list(app["profiles"])

    definition: dict[str, Any] = {"name": name, "services": {svc: service}}
    if volumes:
        definition["volumes"] = volumes
    definition["networks"] = networks
    return definition


def health_checks(app: dict[str, Any]) -> list[dict[str, Any]]:
    """The HTTP checks the rollout gate runs against each container of the app's service."""
    health = app.get("health")
    if not health or health["type"] != "http":
        return []
    return [
        {
            "service": service_name(app),
            "scheme": health["scheme"],
            "port": health["port_number"],
            "path": health["path"],
            "timeout_s": health["timeout_s"],
        }
    ]


def smoke_checks(app: dict[str, Any]) -> list[dict[str, Any]]:
    """Post-deploy smoke checks (HTTP status and body) of the app, for the rollout gate."""
    return [
        {
            "name": s["name"],
            "service": service_name(app),
            "port": s["port_number"],
            "path": s["path"],
            "status": s["status"],
            "body_contains": s.get("body_contains"),
        }
        for s in app["hooks"]["smoke"]
    ]


def pre_deploy_hooks(app: dict[str, Any]) -> list[dict[str, Any]]:
    """One-off runs (migrations) before the new revision starts, in the app's service."""
    return [
        {"name": h["name"], "service": service_name(app), "command": list(h["command"]), "timeout_s": h["timeout_s"]}
        for h in app["hooks"]["pre_deploy"]
    ]


def deploy_order(apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apps ordered so that each comes after the apps it depends on (stable otherwise).

    Dependencies on names that are not apps (services inside a project) are ignored here;
    the model already refused cycles.
    """
    by_name = {a["name"]: a for a in apps}
    done: set[str] = set()
    ordered: list[dict[str, Any]] = []

    def visit(app: dict[str, Any], seen: tuple[str, ...]) -> None:
        if app["name"] in done or app["name"] in seen:
            return
        for dep in app.get("depends_on", []):
            if dep["name"] in by_name:
                visit(by_name[dep["name"]], (*seen, app["name"]))
        done.add(app["name"])
        ordered.append(app)

    for app in apps:
        visit(app, ())
    return ordered


def deploy_spec(app: dict[str, Any], *, environment: str | None = None) -> dict[str, Any]:
    """Everything the compose_project module needs for one app, secrets apart."""
    return {
        "name": app["name"],
        "state": app["state"],
        "definition": render_definition(app, environment=environment),
        "health_checks": health_checks(app),
        "smoke_checks": smoke_checks(app),
        "pre_deploy": pre_deploy_hooks(app),
        "secret_owner": app["hardening"].get("user"),
        "profiles": list(app["profiles"]),
    }


def deploy_plan(apps: list[dict[str, Any]], *, environment: str | None = None) -> list[dict[str, Any]]:
    """Specs of ``apps`` (a host's apps: ``plan.host_apps``), dependencies first; every app is
    rendered (and checked)."""
    errors = []
    specs = []
    for app in deploy_order(apps):
        try:
            specs.append(deploy_spec(app, environment=environment))
        except ComposeRenderError as exc:
            errors.append(str(exc))
    if errors:
        raise ComposeRenderError("\n".join(errors))
    return specs


def info_queries(
    plan: list[dict[str, Any]], secrets: dict[str, dict[str, Any]], root: str, profiles: list[str] | None = None
) -> list[dict[str, Any]]:
    """What compose_project_info needs to tell which planned projects are already in sync."""
    return [
        {
            "name": spec["name"],
            "project_dir": f"{root.rstrip('/')}/{spec['name']}",
            "definition": spec["definition"] if spec["state"] == "present" else None,
            "secrets": secrets.get(spec["name"], {}),
            "health_checks": spec["health_checks"],
            "profiles": list(profiles or []),
        }
        for spec in plan
    ]
