# SPDX-License-Identifier: GPL-3.0-or-later
"""Managed databases of the application model as compose projects on docker hosts.

Pure functions, no Ansible: the filters ``opsdeck.platform.database_*`` and the unit tests call
them. Input is the normalized model (``model.normalize_apps``); a database with
``managed: true`` is run by the role ``database``:

- placement: the primary on the first host matching the database's ``hosts`` (else the app's),
  replica *n* on the *n*-th next one (``placement``);
- one compose project per server (``<app>-<db>-db``, ``<app>-<db>-replica-<n>``): the server
  with its named volume and memory settings derived from ``resources.memory``, and the engine's
  exporter, on the per-app network ``<app>-databases`` that the app joins too (``plan``);
- the secrets each project's env file carries, and the connection settings injected into the
  app (``project_secrets``, ``connection_secrets``); passwords come from the role (generated
  once on the host, or the model's ``password``) and never reach argv or the compose file;
- the checks a host's state allows only at run time: a major-version change without an upgrade
  path (``version_problem``);
- the exporters as Prometheus targets and their alert rules (``scrape_targets``, ``alert_rules``).

Why our own: community.docker runs compose projects (we use the collection's ``compose_project``
module on top of Compose v2) and community.postgresql manages roles, but nothing derives a
tuned, replicated, monitored server and its clients' settings from one model entry.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any
from urllib.parse import quote

from ansible_collections.opsdeck.platform.plugins.module_utils.compose import database_network
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, split_image
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import placed

# What the role passes as credentials of one database: every one a password.
CREDENTIALS = ("admin", "app", "replication", "exporter")

# uid/gid: the server's user in the upstream images (postgres, mysql and redis are 999:999 in
# postgres:*, mariadb:* and redis:*; the rig's Debian-built images create them with the same
# numbers). The servers run as that user from the start (the images' entrypoints skip their
# root-then-gosu step), so no capability is needed.
ENGINES: dict[str, dict[str, Any]] = {
    "postgres": {
        "port": 5432,
        "data": "/var/lib/postgresql/data",
        "exporter_port": 9187,
        "exporter": "postgres",
        "uid": 999,
        "gid": 999,
    },
    "mariadb": {
        "port": 3306,
        "data": "/var/lib/mysql",
        "exporter_port": 9104,
        "exporter": "mysqld",
        "uid": 999,
        "gid": 999,
    },
    "redis": {"port": 6379, "data": "/data", "exporter_port": 9121, "exporter": "redis", "uid": 999, "gid": 999},
}

MIB = 1024 * 1024


class DatabaseError(ModelError):
    """A managed database cannot be run as described (each message names the app and the field)."""


def field_name(app: dict[str, Any], index: int, key: str) -> str:
    return f"app '{app['name']}': field 'databases[{index}].{key}'"


def managed(apps: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, dict[str, Any]]]:
    """(app, index, database) of every managed database of every present app."""
    return [
        (app, i, db)
        for app in apps
        if app.get("state", "present") == "present"
        for i, db in enumerate(app.get("databases") or [])
        if db.get("managed")
    ]


def app_network(app_name: str) -> str:
    """The network an app and the servers of its managed databases share on a host."""
    return database_network(app_name)


def major_version(engine: str, version: str) -> str:
    """The part of a version that may not change without an upgrade path.

    PostgreSQL (10 and later) and Redis: the first number; MariaDB: the first two (10.6 -> 10.11
    is a major upgrade that needs mariadb-upgrade).
    """
    parts = str(version).split(".")
    return ".".join(parts[:2]) if engine == "mariadb" else parts[0]


def server_name(app: dict[str, Any], db: dict[str, Any], replica: int = 0) -> str:
    """Container name of the primary (the model's derived ``container``) or of replica n."""
    return db["container"] if replica == 0 else f"{app['name']}-{db['name']}-replica-{replica}"


def project_name(app: dict[str, Any], db: dict[str, Any], replica: int = 0) -> str:
    """Compose project names are lowercase ``[a-z0-9_-]``."""
    return re.sub(r"[^a-z0-9_-]", "-", server_name(app, db, replica).lower())


def volume_name(app: dict[str, Any], db: dict[str, Any], replica: int = 0) -> str:
    """The data volume: named by server and major version, so no upgrade ever reuses or drops it."""
    major = major_version(db["engine"], db["version"]).replace(".", "")
    return f"{project_name(app, db, replica)}-data-{major}"


# ---------------------------------------------------------------------------------------------
# placement


def placement(app: dict[str, Any], index: int, hosts: list[dict[str, Any]]) -> dict[str, Any]:
    """``{primary, replicas}`` host names of one managed database, from ``hosts``
    (``[{name, groups}]`` in inventory order: the hosts the role may use)."""
    db = app["databases"][index]
    wanted = db.get("hosts") or app.get("hosts") or []
    candidates = [h["name"] for h in hosts if placed(wanted, h["name"], h.get("groups"))]
    need = 1 + int(db.get("replicas") or 0)
    if len(candidates) < need:
        source = (
            f"databases[{index}].hosts" if db.get("hosts") else ("the app's hosts" if app.get("hosts") else "the play")
        )
        found = ", ".join(candidates) or "none"
        what = (
            "the primary needs 1 docker host"
            if need == 1
            else f"the primary and {need - 1} replica{'s' if need > 2 else ''}, each on its own host, "
            f"need {need} docker hosts"
        )
        raise DatabaseError(
            f"{field_name(app, index, 'replicas' if need > 1 else 'hosts')}: {what} "
            f"matching {source} ({', '.join(wanted) or 'every host'}); found {len(candidates)}: {found}"
        )
    return {"primary": candidates[0], "replicas": candidates[1:need]}


# ---------------------------------------------------------------------------------------------
# memory settings


def _mb(size: int) -> str:
    return f"{max(size // MIB, 1)}MB"


def memory_settings(engine: str, memory_bytes: int | None) -> dict[str, str]:
    """Server settings derived from the container's memory limit (none without a limit).

    PostgreSQL: ``shared_buffers`` 25 % and ``effective_cache_size`` 75 % (the usual starting
    point, pgtune's "web" profile); MariaDB: ``innodb_buffer_pool_size`` 50 % (the rest for
    connections and the OS page cache inside the limit); Redis: ``maxmemory`` 75 % (the rest
    for the copy-on-write of AOF rewrites and RDB saves, which fork).
    """
    if not memory_bytes:
        return {}
    if engine == "postgres":
        return {"shared_buffers": _mb(memory_bytes // 4), "effective_cache_size": _mb(memory_bytes * 3 // 4)}
    if engine == "mariadb":
        return {"innodb_buffer_pool_size": f"{max(memory_bytes // 2 // MIB, 32)}M"}
    if engine == "redis":
        return {"maxmemory": str(memory_bytes * 3 // 4)}
    return {}


# ---------------------------------------------------------------------------------------------
# compose definitions


def _hardened(service: dict[str, Any], tmpfs: list[str]) -> dict[str, Any]:
    service.update(
        {
            "read_only": True,
            "tmpfs": tmpfs,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
        }
    )
    return service


def _labels(app: dict[str, Any], db: dict[str, Any], role: str) -> dict[str, str]:
    return {
        "io.opsdeck.app": app["name"],
        "io.opsdeck.database": db["name"],
        "io.opsdeck.database.engine": db["engine"],
        "io.opsdeck.database.role": role,
        "io.opsdeck.database.version": db["version"],
        "io.opsdeck.managed-by": "opsdeck.platform",
        "io.opsdeck.team": app["team"],
    }


def _postgres_command(db: dict[str, Any], replica: bool) -> list[str]:
    settings = {
        "listen_addresses": "*",
        # the socket in the tmpfs /tmp (a read-only root has no writable /var/run/postgresql);
        # PGHOST=/tmp in the environment points psql, pg_isready and docker exec'd tools there
        "unix_socket_directories": "/tmp",
        "max_connections": "100",
        "wal_level": "replica",
        "max_wal_senders": "10",
        "wal_keep_size": "256MB",
        "hot_standby": "on",
        "password_encryption": "scram-sha-256",
        **memory_settings("postgres", db["resources"]["memory_bytes"]),
    }
    argv = ["postgres"]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    return argv


# The replica's first start: a base backup of the primary (pg_basebackup -R writes the
# standby.signal and primary_conninfo). The password reaches pg_basebackup through its
# environment, never argv; '$$' is Compose's escape for a literal '$'.
_REPLICA_SCRIPT = (
    "set -eu; "
    'if [ ! -s "$$PGDATA/PG_VERSION" ]; then '
    'until pg_isready -q -h "$$PRIMARY_HOST" -p "$$PRIMARY_PORT"; do echo "waiting for $$PRIMARY_HOST"; sleep 1; done; '
    'chmod 0700 "$$PGDATA"; '
    'PGPASSWORD="$$REPLICATION_PASSWORD" pg_basebackup -h "$$PRIMARY_HOST" -p "$$PRIMARY_PORT" -U replicator '
    '-D "$$PGDATA" -R -X stream --no-password; '
    "fi; "
    'exec "$$@"'
)

# Redis reads its password from a config file written at start into a tmpfs (0600), never argv.
_REDIS_SCRIPT = (
    "set -eu; umask 077; "
    "printf 'requirepass %s\\n' \"$$REDIS_PASSWORD\" > /tmp/auth.conf; "
    'exec redis-server /tmp/auth.conf "$$@"'
)


def _redis_args(db: dict[str, Any]) -> list[str]:
    redis = db["redis"] or {}
    args = ["--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"]
    args += ["--appendonly", "yes" if redis.get("appendonly", True) else "no", "--appendfsync", "everysec"]
    args += ["--maxmemory-policy", redis.get("maxmemory_policy", "noeviction")]
    for key, value in memory_settings("redis", db["resources"]["memory_bytes"]).items():
        args += [f"--{key}", value]
    return args


def _server(
    app: dict[str, Any], db: dict[str, Any], replica: int, image: str, primary_host: str | None, primary_port: int
) -> dict[str, Any]:
    engine = db["engine"]
    spec = ENGINES[engine]
    role = "replica" if replica else "primary"
    service: dict[str, Any] = {
        "image": image,
        "container_name": server_name(app, db, replica),
        "user": f"{spec['uid']}:{spec['gid']}",
        "restart": "unless-stopped",
        "labels": _labels(app, db, role),
        "env_file": [{"path": "secrets.env", "required": True}],
        "volumes": [{"type": "volume", "source": "data", "target": spec["data"]}],
        "networks": {"default": {}, "app": {}},
        "stop_grace_period": "60s",
    }
    if engine == "postgres":
        service["environment"] = {"POSTGRES_USER": db["user"], "POSTGRES_DB": db["name"], "PGHOST": "/tmp"}
        service["command"] = _postgres_command(db, bool(replica))
        service["healthcheck"] = {"test": ["CMD", "pg_isready", "-q", "-U", db["user"], "-d", "postgres"]}
        service["shm_size"] = "256m"
        tmpfs = ["/tmp"]
        if replica:
            service["environment"] = {"PRIMARY_HOST": primary_host, "PRIMARY_PORT": str(primary_port), "PGHOST": "/tmp"}
            service["entrypoint"] = ["/bin/sh", "-c", _REPLICA_SCRIPT, "replica"]
            service["command"] = _postgres_command(db, True)
    elif engine == "mariadb":
        # The root is read-only, so the socket and pid file go to the tmpfs /tmp. The clients in the
        # container (the health check, the backup engine's mariadb-dump, an operator's `docker exec
        # ... mariadb`) read the socket from the option files, which take precedence over
        # MYSQL_UNIX_PORT; so the project mounts an option file that the packages' my.cnf reads
        # last (mariadb.conf.d), pointing server and clients at /tmp. (A tmpfs at /run/mysqld
        # would need the image's uid: Docker 20.10 mounts it root 0755 whatever its mode= says.)
        service["environment"] = {"MARIADB_DATABASE": db["name"], "MARIADB_USER": app_user(db)}
        service["volumes"].append(
            {"type": "bind", "source": f"./{MARIADB_OPTION_FILE}", "target": MARIADB_OPTION_PATH, "read_only": True}
        )
        service["command"] = ["mariadbd", "--max-connections=151"] + [
            f"--{k.replace('_', '-')}={v}"
            for k, v in memory_settings("mariadb", db["resources"]["memory_bytes"]).items()
        ]
        service["healthcheck"] = {"test": ["CMD", "mariadb-admin", "ping", "--user=root", "--silent"]}
        tmpfs = ["/tmp"]
    else:  # redis
        service["entrypoint"] = ["/bin/sh", "-c", _REDIS_SCRIPT, "redis"]
        service["command"] = _redis_args(db)
        service["healthcheck"] = {"test": ["CMD-SHELL", "redis-cli --no-auth-warning ping | grep -q PONG"]}
        tmpfs = ["/tmp"]
    service["healthcheck"].update({"interval": "2s", "timeout": "5s", "retries": 30, "start_period": "5s"})
    limits: dict[str, Any] = {"pids": 1024}
    if db["resources"]["memory_compose"]:
        limits["memory"] = db["resources"]["memory_compose"]
    if db["resources"]["cpu_cores"]:
        limits["cpus"] = str(db["resources"]["cpu_cores"])
    service["deploy"] = {"resources": {"limits": limits}}
    return _hardened(service, tmpfs)


def _exporter(app: dict[str, Any], db: dict[str, Any], replica: int, image: str) -> dict[str, Any]:
    engine = db["engine"]
    server = server_name(app, db, replica)
    port = ENGINES[engine]["port"]
    extra: dict[str, Any] = {}
    if engine == "postgres":
        # replication lag and role: postgres_exporter's own replication collector
        # (pg_replication_lag_seconds, pg_replication_is_replica)
        env = {"DATA_SOURCE_URI": f"{server}:{port}/postgres?sslmode=disable", "DATA_SOURCE_USER": "opsdeck_exporter"}
    elif engine == "mariadb":
        # the login is an option file (the secret file EXPORTER_MY_CNF, 0400 for the exporter's
        # user): mysqld_exporter 0.15+ reads no DATA_SOURCE_NAME, and --config.my-cnf is what
        # every version reads
        env = {}
        extra = {
            "command": [f"--config.my-cnf={EXPORTER_MY_CNF_PATH}"],
            "volumes": [
                {"type": "bind", "source": f"./{EXPORTER_MY_CNF}", "target": EXPORTER_MY_CNF_PATH, "read_only": True}
            ],
        }
    else:
        env = {"REDIS_ADDR": f"redis://{server}:{port}"}
    return _hardened(
        {
            "image": image,
            "container_name": f"{server}-exporter",
            "restart": "unless-stopped",
            "labels": {**_labels(app, db, "exporter"), "io.opsdeck.database.server": server},
            "environment": env,
            "env_file": [{"path": "exporter.env", "required": True}],
            "networks": {"default": {}},
            "deploy": {"resources": {"limits": {"pids": 64, "memory": "64m"}}},
            "depends_on": {"server": {"condition": "service_healthy"}},
            **extra,
        },
        ["/tmp"],
    )


# MariaDB: the option file the server's project mounts (see definition()), read after the
# packages' own (Debian's and the mariadb image's my.cnf include mariadb.conf.d last).
MARIADB_OPTION_FILE = "opsdeck-client-server.cnf"
MARIADB_OPTION_PATH = "/etc/mysql/mariadb.conf.d/zz-opsdeck.cnf"
MARIADB_OPTIONS = """\
# Managed by opsdeck.platform (database role). The root is read-only: socket and pid file in /tmp.
[client-server]
socket = /tmp/mysqld.sock

[mysqld]
pid-file = /tmp/mysqld.pid
"""


# MariaDB: the exporter's login as an option file (a secret file of the project, see
# project_secrets), mounted where the exporter's --config.my-cnf points.
EXPORTER_MY_CNF = "exporter.my.cnf"
EXPORTER_MY_CNF_PATH = "/etc/mysqld-exporter/my.cnf"


def exporter_files(project: dict[str, Any]) -> dict[str, str]:
    """Files of a project's directory the server or the exporter mounts (no secret in them)."""
    if project["engine"] == "mariadb":
        return {MARIADB_OPTION_FILE: MARIADB_OPTIONS}
    return {}


def app_user(db: dict[str, Any]) -> str:
    """The application's own login (not the admin): ``<name>_app``, cut to the engine's limit."""
    return f"{db['name'][:28]}_app"


def definition(
    app: dict[str, Any],
    index: int,
    *,
    replica: int,
    images: dict[str, Any],
    exporter_images: dict[str, Any],
    bind_address: str = "127.0.0.1",
    upstream: dict[str, Any] | None = None,
    registry: str | None = None,
) -> dict[str, Any]:
    """The compose file of one server of a managed database (the primary, or replica n)."""
    db = app["databases"][index]
    engine = db["engine"]
    image = with_registry(image_for(app, index, images), registry)
    exporter_image = exporter_images.get(engine)
    if not exporter_image:
        raise DatabaseError(
            f"{field_name(app, index, 'engine')}: no exporter image for {engine} in database_exporter_images"
        )
    port = ENGINES[engine]["port"]
    upstream = upstream or {"host": server_name(app, db), "port": port}
    server = _server(app, db, replica, image, upstream["host"], int(upstream["port"]))
    if db.get("host_port"):
        server["ports"] = [
            {"target": port, "published": str(db["host_port"] + replica), "host_ip": bind_address, "protocol": "tcp"}
        ]
    exporter = _exporter(app, db, replica, with_registry(str(exporter_image), registry))
    if db.get("metrics_port"):
        exporter["ports"] = [
            {
                "target": ENGINES[engine]["exporter_port"],
                "published": str(db["metrics_port"] + replica),
                "host_ip": bind_address,
                "protocol": "tcp",
            }
        ]
    name = project_name(app, db, replica)
    return {
        "name": name,
        "services": {"server": server, "exporter": exporter},
        "volumes": {
            "data": {
                "name": volume_name(app, db, replica),
                "labels": {"io.opsdeck.app": app["name"], "io.opsdeck.database": db["name"]},
            }
        },
        "networks": {"default": {}, "app": {"name": app_network(app["name"]), "external": True}},
    }


def with_registry(ref: str, registry: str | None) -> str:
    """``ref`` pulled from ``registry`` when it names no registry host (as the model's image_ref)."""
    return f"{registry.rstrip('/')}/{ref}" if registry and not split_image(ref)["host"] else ref


def image_for(app: dict[str, Any], index: int, images: dict[str, Any]) -> str:
    """The server image of the database's engine and version (``images[engine][version]``)."""
    db = app["databases"][index]
    by_version = images.get(db["engine"]) or {}
    if not isinstance(by_version, dict):
        raise DatabaseError(f"database_images.{db['engine']}: expected a mapping version -> image")
    ref = by_version.get(db["version"]) or by_version.get(major_version(db["engine"], db["version"]))
    if not ref:
        known = ", ".join(sorted(map(str, by_version))) or "none"
        raise DatabaseError(
            f"{field_name(app, index, 'version')}: no {db['engine']} image for version {db['version']!r} in "
            f"database_images.{db['engine']} (versions with an image: {known})"
        )
    return str(ref)


def plan(
    apps: list[dict[str, Any]],
    hosts: list[dict[str, Any]],
    this_host: str,
    images: dict[str, Any],
    exporter_images: dict[str, Any],
    *,
    bind_address: str = "127.0.0.1",
    addresses: dict[str, str] | None = None,
    registry: str | None = None,
) -> dict[str, Any]:
    """What the role does on ``this_host``: the projects of the servers placed here, the app
    networks to create, and the apps placed here whose connection settings it writes.

    Every managed database of every app is placed and rendered (and so checked), wherever it
    runs: one host's run fails for a mistake in any, before any host changes. ``addresses``
    (host name -> address) makes a replica reach its primary at ``address:host_port`` instead of
    by container name on the app network (which needs the hosts to share that network, e.g. an
    attachable Swarm overlay network, or one engine as in the tests).
    """
    errors: list[str] = []
    projects: list[dict[str, Any]] = []
    networks: set[str] = set()
    clients: list[dict[str, Any]] = []
    host_groups = {h["name"]: list(h.get("groups") or []) for h in hosts}
    for app, index, db in managed(apps):
        try:
            where = placement(app, index, hosts)
            for replica, host in enumerate([where["primary"], *where["replicas"]]):
                upstream = None
                if replica and addresses and addresses.get(where["primary"]):
                    if not db.get("host_port"):
                        raise DatabaseError(
                            f"{field_name(app, index, 'host_port')}: a replica on another host reaches the primary at "
                            f"{addresses[where['primary']]} through a published port; set host_port"
                        )
                    upstream = {"host": addresses[where["primary"]], "port": db["host_port"]}
                compose = definition(
                    app,
                    index,
                    replica=replica,
                    images=images,
                    exporter_images=exporter_images,
                    bind_address=bind_address,
                    upstream=upstream,
                    registry=registry,
                )
                if host != this_host:
                    continue
                networks.add(app_network(app["name"]))
                projects.append(
                    {
                        "name": compose["name"],
                        "app": app["name"],
                        "database": db["name"],
                        "index": index,
                        "engine": db["engine"],
                        "version": db["version"],
                        "major": major_version(db["engine"], db["version"]),
                        "upgrade": db.get("upgrade"),
                        "role": "replica" if replica else "primary",
                        "replica": replica,
                        "primary_host": where["primary"],
                        "server": server_name(app, db, replica),
                        "user": db["user"],
                        "app_user": app_user(db),
                        "volume": compose["volumes"]["data"]["name"],
                        "definition": compose,
                        "field": field_name(app, index, "version"),
                    }
                )
        except DatabaseError as exc:
            errors.extend(exc.errors)
    for app in apps:
        if app.get("state", "present") != "present" or not any(d.get("managed") for d in app.get("databases") or []):
            continue
        if placed(app.get("hosts"), this_host, host_groups.get(this_host, [])):
            networks.add(app_network(app["name"]))
            dbs = []
            for index, db in enumerate(app["databases"]):
                if db.get("managed"):
                    with contextlib.suppress(DatabaseError):  # reported above
                        dbs.append({"name": db["name"], "primary": placement(app, index, hosts)["primary"]})
            clients.append({"app": app["name"], "databases": dbs, "given": sorted(app.get("secrets") or {})})
    if errors:
        raise DatabaseError(errors)
    return {"projects": projects, "networks": sorted(networks), "clients": clients}


# ---------------------------------------------------------------------------------------------
# secrets


def _need(credentials: dict[str, Any], key: str, where: str) -> str:
    value = (credentials or {}).get(key)
    if not isinstance(value, str) or not value:
        raise DatabaseError(f"{where}: no {key} password was given to the database role")
    return value


def _option_value(value: str, where: str) -> str:
    """``value`` as a double-quoted option-file value (MySQL's and mysqld_exporter's ini parser)."""
    if any(c in value for c in '"\\\n\r'):
        raise DatabaseError(
            f"{where}: the admin password has a double quote, backslash or line break, which the exporter's "
            "option file cannot hold"
        )
    return f'"{value}"'


def project_secrets(project: dict[str, Any], credentials: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{server: {...}, exporter: {...}, exporter_files: {...}}`` of one server's project: the
    server's and the exporter's env files (0600), and the exporter's secret files by name (0400
    for the exporter's user; MariaDB's option file EXPORTER_MY_CNF)."""
    where = f"app '{project['app']}': database '{project['database']}'"
    engine = project["engine"]
    admin = _need(credentials, "admin", where)
    exporter = _need(credentials, "exporter", where)
    if engine == "postgres":
        server = {"POSTGRES_PASSWORD": admin}
        if project["role"] == "replica":
            server = {"REPLICATION_PASSWORD": _need(credentials, "replication", where)}
        return {"server": server, "exporter": {"DATA_SOURCE_PASS": exporter}, "exporter_files": {}}
    if engine == "mariadb":
        login = (
            f"[client]\nuser = root\npassword = {_option_value(admin, where)}\n"
            f"host = {project['server']}\nport = 3306\n"
        )
        return {
            # MYSQL_PWD: the in-container tools (health check, the backup engine's docker exec) log in as root
            "server": {
                "MARIADB_ROOT_PASSWORD": admin,
                "MARIADB_PASSWORD": _need(credentials, "app", where),
                "MYSQL_PWD": admin,
            },
            "exporter": {},
            "exporter_files": {EXPORTER_MY_CNF: login},
        }
    # redis: REDISCLI_AUTH for the health check and the backup engine's redis-cli in the container
    return {
        "server": {"REDIS_PASSWORD": admin, "REDISCLI_AUTH": admin},
        "exporter": {"REDIS_PASSWORD": admin},
        "exporter_files": {},
    }


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def bootstrap_sql(project: dict[str, Any], credentials: dict[str, Any]) -> str:
    """psql input (stdin, never argv) that creates, once, the app's login owning its database,
    the replication login and the exporter's pg_monitor login. Prints ``opsdeck: created ...``
    for each it creates, so the role reports a change only then."""
    where = f"app '{project['app']}': database '{project['database']}'"
    roles = [
        (project["app_user"], _need(credentials, "app", where), "LOGIN"),
        ("replicator", _need(credentials, "replication", where), "LOGIN REPLICATION"),
        ("opsdeck_exporter", _need(credentials, "exporter", where), "LOGIN"),
    ]
    lines = ["\\set ON_ERROR_STOP on"]
    for name, password, options in roles:
        lines += [
            f"SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_sql_literal(name)}) AS missing \\gset",
            "\\if :missing",
            f"CREATE ROLE {_sql_ident(name)} {options} PASSWORD {_sql_literal(password)};",
            f"\\echo 'opsdeck: created role {name}'",
            "\\endif",
        ]
    lines += [
        "GRANT pg_monitor TO opsdeck_exporter;",
        "SELECT pg_get_userbyid(datdba) <> "
        f"{_sql_literal(project['app_user'])} AS reown FROM pg_database WHERE datname = "
        f"{_sql_literal(project['database'])} \\gset",
        "\\if :reown",
        f"ALTER DATABASE {_sql_ident(project['database'])} OWNER TO {_sql_ident(project['app_user'])};",
        f"\\echo 'opsdeck: database {project['database']} owned by {project['app_user']}'",
        "\\endif",
    ]
    return "\n".join(lines) + "\n"


def connection_secrets(
    app: dict[str, Any], credentials: dict[str, dict[str, Any]], *, given: dict[str, Any] | None = None
) -> dict[str, str]:
    """Connection settings injected into the app as secrets, from its managed databases.

    Each database gets ``DB_<NAME>_URL`` (the name upper-cased, other characters as ``_``); the
    first SQL database also ``DATABASE_URL``; the first postgres the libpq variables (``PGHOST``,
    ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``); the first mariadb ``MYSQL_HOST``,
    ``MYSQL_TCP_PORT``, ``MYSQL_USER``, ``MYSQL_PWD``, ``MYSQL_DATABASE``; the first redis
    ``REDIS_URL``, ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_PASSWORD``, ``REDISCLI_AUTH``. The app
    reaches the primary by its container name on the app network. A name the app sets itself in
    ``secrets`` (``given``) is left as the app set it.
    """
    out: dict[str, str] = {}

    def put(name: str, value: str) -> None:
        out.setdefault(name, value)

    for db in app.get("databases") or []:
        if not db.get("managed"):
            continue
        creds = credentials.get(db["name"]) or {}
        where = f"app '{app['name']}': database '{db['name']}'"
        host = server_name(app, db)
        port = ENGINES[db["engine"]]["port"]
        key = "DB_" + re.sub(r"[^A-Z0-9]", "_", db["name"].upper()) + "_URL"
        if db["engine"] == "redis":
            password = _need(creds, "admin", where)
            url = f"redis://:{quote(password, safe='')}@{host}:{port}/0"
            put(key, url)
            for name, value in (
                ("REDIS_URL", url),
                ("REDIS_HOST", host),
                ("REDIS_PORT", str(port)),
                ("REDIS_PASSWORD", password),
                ("REDISCLI_AUTH", password),
            ):
                put(name, value)
            continue
        user, password = app_user(db), _need(creds, "app", where)
        scheme = "postgresql" if db["engine"] == "postgres" else "mysql"
        url = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(db['name'], safe='')}"
        put(key, url)
        put("DATABASE_URL", url)
        if db["engine"] == "postgres":
            libpq = (("PGHOST", host), ("PGPORT", str(port)), ("PGUSER", user), ("PGPASSWORD", password))
            for name, value in (*libpq, ("PGDATABASE", db["name"])):
                put(name, value)
        else:
            mysql = (("MYSQL_HOST", host), ("MYSQL_TCP_PORT", str(port)), ("MYSQL_USER", user))
            for name, value in (*mysql, ("MYSQL_PWD", password), ("MYSQL_DATABASE", db["name"])):
                put(name, value)
    for name in given or {}:
        out.pop(name, None)
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------------------------------
# versions


def version_problem(project: dict[str, Any], deployed: str | None) -> str | None:
    """Why the role must not deploy ``project`` over a server of version ``deployed`` (or None).

    A minor change (15.3 -> 15.8, 7.0 -> 7.2) keeps the volume. A major change needs
    ``upgrade: dump_restore``; a downgrade of the major version is always refused (a newer
    server's data files cannot be read by an older one, and a dump of it may not restore).
    """
    if not deployed:
        return None
    engine = project["engine"]
    old, new = major_version(engine, deployed), project["major"]
    if old == new:
        return None

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".") if p.isdigit())

    if key(new) < key(old):
        return (
            f"{project['field']}: {deployed!r} runs on this host ({project['server']}); going back to major "
            f"version {new} is refused (the data of {old} cannot be read by {new}); restore a backup instead"
        )
    if project.get("upgrade") != "dump_restore":
        return (
            f"{project['field']}: {project['version']!r} is a major-version change from {deployed!r} (running as "
            f"{project['server']}); the volume is never recreated, so set upgrade: dump_restore to dump the "
            f"old server and restore into a new {new} volume (the old one is kept), or keep version {deployed!r}"
        )
    if engine != "postgres":
        return (
            f"{project['field']}: upgrade: dump_restore is implemented for postgres only; {engine} "
            f"{deployed!r} -> {project['version']!r} needs a restore of a backup into a new server"
        )
    return None  # a replica is rebuilt from the upgraded primary on its new volume


# ---------------------------------------------------------------------------------------------
# monitoring


def scrape_targets(
    apps: list[dict[str, Any]], hosts: list[dict[str, Any]], local_hosts: list[str] | None = None
) -> list[dict[str, Any]]:
    """file_sd targets of the exporters of managed databases with a ``metrics_port``.

    ``hosts``: ``[{name, address, groups}]``; a host Prometheus runs on is reached on
    127.0.0.1 (the exporters publish on the database host's bind address, loopback by default).
    """
    local = set(local_hosts or [])
    address = {h["name"]: ("127.0.0.1" if h["name"] in local else h.get("address") or h["name"]) for h in hosts}
    targets = []
    for app, index, db in managed(apps):
        if not db.get("metrics_port"):
            continue
        try:
            where = placement(app, index, hosts)
        except DatabaseError:
            continue  # the database role reports it; monitoring has nothing to scrape yet
        for replica, host in enumerate([where["primary"], *where["replicas"]]):
            port = db["metrics_port"] + replica
            targets.append(
                {
                    "targets": [f"{address[host]}:{port}"],
                    "labels": {
                        "app": app["name"],
                        "team": app["team"],
                        "env": app.get("environment") or "",
                        "database": db["name"],
                        "engine": db["engine"],
                        "role": "replica" if replica else "primary",
                        "instance": f"{host}:{port}",
                    },
                }
            )
    return targets


def _rule(alert: str, expr: str, severity: str, summary: str, description: str, for_: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def alert_rules(
    *,
    lag_seconds: int = 60,
    connections_ratio: float = 0.8,
    memory_ratio: float = 0.9,
) -> list[dict[str, Any]]:
    """The rule library's group for the exporters of managed databases (job ``databases``).

    Series carry the target labels (app, team, database, engine, role, instance), so Alertmanager
    routes them by team like the app alerts.
    """
    job = 'job="databases"'
    lab = "{{ $labels.app }}/{{ $labels.database }} ({{ $labels.instance }})"
    pct = int(connections_ratio * 100)
    return [
        {
            "name": "opsdeck-databases",
            "rules": [
                _rule(
                    "DatabaseExporterDown",
                    f"up{{{job}}} == 0",
                    "critical",
                    f"Exporter of {lab} is down",
                    "Prometheus cannot scrape the database exporter: the exporter or its host is down.",
                    "2m",
                ),
                _rule(
                    "DatabaseDown",
                    f"pg_up{{{job}}} == 0 or mysql_up{{{job}}} == 0 or redis_up{{{job}}} == 0",
                    "critical",
                    f"Database {lab} is down",
                    "The exporter runs but cannot reach its database server.",
                    "1m",
                ),
                _rule(
                    "DatabaseReplicationLag",
                    f'pg_replication_lag_seconds{{{job},role="replica"}} > {lag_seconds} '
                    f"and on(instance) pg_replication_is_replica{{{job}}} == 1",
                    "warning",
                    f"Replica {lab} lags its primary",
                    f"The replica replays WAL more than {lag_seconds}s behind its primary (value: {{{{ $value }}}}s).",
                    "5m",
                ),
                _rule(
                    "DatabaseReplicaNotStreaming",
                    f'pg_replication_is_replica{{{job},role="replica"}} == 0',
                    "critical",
                    f"{lab} is no longer a replica",
                    "A server deployed as a replica is not in recovery: it was promoted or lost its standby.signal.",
                    "2m",
                ),
                _rule(
                    "DatabaseConnectionsNearLimit",
                    f"sum by (app, database, instance) (pg_stat_activity_count{{{job}}}) "
                    f"> {connections_ratio} * max by (app, database, instance) (pg_settings_max_connections{{{job}}}) "
                    f"or mysql_global_status_threads_connected{{{job}}} "
                    f"> {connections_ratio} * mysql_global_variables_max_connections{{{job}}} "
                    f"or redis_connected_clients{{{job}}} > {connections_ratio} * redis_config_maxclients{{{job}}}",
                    "warning",
                    f"{lab} uses over {pct}% of its connections",
                    f"Connections are above {pct}% of the server's limit; new clients will soon be refused.",
                    "5m",
                ),
                _rule(
                    "DatabaseMemoryNearLimit",
                    f"redis_memory_used_bytes{{{job}}} > {memory_ratio} * redis_memory_max_bytes{{{job}}} "
                    f"and redis_memory_max_bytes{{{job}}} > 0",
                    "warning",
                    f"Redis {lab} is near its maxmemory",
                    "Used memory is close to maxmemory: keys will be evicted, or writes refused under noeviction.",
                    "5m",
                ),
                _rule(
                    "DatabaseEvictions",
                    f"increase(redis_evicted_keys_total{{{job}}}[10m]) > 0",
                    "warning",
                    f"Redis {lab} evicts keys",
                    "Redis reached maxmemory and evicted keys in the last 10 minutes ({{ $value }}).",
                    "0m",
                ),
            ],
        }
    ]
