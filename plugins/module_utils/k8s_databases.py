# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The managed databases of an app (``databases[]`` with ``managed: true``) on Kubernetes.

Pure functions but one (``secret_reader``, a thin reader over a DynamicClient). The docker-host
side (``database.py``, role ``database``) decides *what* runs: the server's command line with
its memory settings, the exporter and its settings, the secrets each one gets, the bootstrap
SQL, the connection settings injected into the app. This module takes those compose
definitions (``database.definition``) and turns them into Kubernetes objects, so both sides
run the same servers from one description:

- per database, in the app's namespace: a StatefulSet ``<app>-<db>-db`` (one pod, the primary)
  with a volumeClaimTemplate (``k8s_app_volume_size`` / ``k8s_app_storage_class``), a headless
  Service (stable pod DNS) and a ClusterIP Service of the same name for clients, a
  PodDisruptionBudget, a NetworkPolicy, the exporter as a sidecar on port ``metrics`` and a
  ServiceMonitor for it;
- PostgreSQL ``replicas: N``: a StatefulSet ``<app>-<db>-db-replica`` of N standbys; an init
  container runs the docker side's replica script (``pg_basebackup -R``: ``standby.signal`` and
  ``primary_conninfo``) on an empty volume, then the server streams from the primary's Service;
  its own Services and PodDisruptionBudget;
- the hardened pod of Pod Security "restricted": non-root (the engine image's numeric uid, as
  "restricted" needs numbers to verify), read-only root filesystem with ``emptyDir`` for
  ``/tmp`` (sockets, pid files, the Redis auth file) and ``/dev/shm`` (PostgreSQL), every
  capability dropped, seccomp RuntimeDefault, ``fsGroup`` so the volume is writable;
- the credentials: one Secret per database, ``<app>-<db>-db-credentials`` (kept, like the
  volume, when the database leaves the model: it has no prune label), whose passwords are
  generated ONCE: the rendered Secret only names the keys to generate (annotation
  ``opsdeck.io/generate``) and carries templates of the values derived from them
  (``stringData``, with tokens in place of passwords: no secret is in a rendered manifest, a
  plan or a task result). ``keep_or_generate`` runs in the release module right before the
  apply: it keeps the values of the Secret already on the cluster and generates only the
  missing ones (``secrets`` module), then resolves the templates into ``data``;
- the app: a Secret ``<app>-databases`` with the connection settings the docker side injects
  (``database.connection_secrets``: ``DATABASE_URL``, ``PGHOST``..., ``REDIS_URL``...), added to
  its containers' ``envFrom``; a NetworkPolicy lets its pods reach the servers; its
  ResourceQuota grows by what the database pods need.

Why our own: kubernetes.core applies objects but nothing derives a tuned, replicated,
monitored database from the model's one entry, and no module keeps generated Secret values
across runs while applying them server-side.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
import string
from collections.abc import Callable
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils import database as d
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_common import (
    DNS_LABEL,
    LABEL_APP,
    LABEL_COMPONENT,
    LABEL_DATABASE,
    LABEL_DATABASE_ROLE,
    LABEL_ENVIRONMENT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_OPSDECK_COMPONENT,
    LABEL_PART_OF,
    LABEL_TEAM,
    LABEL_VERSION,
    MANAGED_BY,
    PART_OF,
    apart_by_host,
    companion_labels,
    object_meta,
    restricted_security,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import (
    ModelError,
    format_memory_k8s,
    parse_cpu,
    parse_memory,
)

GENERATE = "opsdeck.io/generate"
VERSION = "opsdeck.io/database-version"
ENGINE = "opsdeck.io/database-engine"
UPGRADE = "opsdeck.io/database-upgrade"
CONFIG_HASH = "opsdeck.io/database-config-hash"
# In a template, the secret name of values the release module was given (its no_log ``secrets``
# option): ``__opsdeck__given__<key>__`` (the backup store's keys, k8s_backup.py).
GIVEN = "given"

# The server and exporter images: the references the role ``database`` uses by default
# (roles/database/defaults/main.yml; a unit test keeps the two equal), pulled from
# opsdeck_registry like the app's image.
IMAGES: dict[str, dict[str, str]] = {
    "postgres": {"15": "postgres:15.18-bookworm"},
    "mariadb": {"10.11": "mariadb:10.11.18"},
    "redis": {"7.0": "redis:7.0.15"},
}
EXPORTER_IMAGES: dict[str, str] = {
    "postgres": "prometheuscommunity/postgres-exporter:v0.17.1",
    "mariadb": "prom/mysqld-exporter:v0.17.2",
    "redis": "oliver006/redis_exporter:v1.97.0",
}

# Per engine: the Service port name, and where the data volume is mounted; the image user as
# numbers (Pod Security "restricted" checks runAsNonRoot against a numeric uid) is
# database.ENGINES'. PostgreSQL's PGDATA is a directory below the mount point: initdb refuses a
# non-empty directory (a fresh ext4 volume has lost+found).
K8S_ENGINES: dict[str, dict[str, Any]] = {
    engine: {"uid": d.ENGINES[engine]["uid"], "gid": d.ENGINES[engine]["gid"], **extra}
    for engine, extra in (
        ("postgres", {"port_name": "postgres", "pgdata": "/var/lib/postgresql/data/pgdata"}),
        ("mariadb", {"port_name": "mysql"}),
        ("redis", {"port_name": "redis"}),
    )
}
EXPORTER_UID = 65534
EXPORTER_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}
BOOTSTRAP_FILE = "bootstrap.sql"
BOOTSTRAP_DIR = "/etc/opsdeck/bootstrap"
# Passwords: 32 letters and digits (190 bits); no character needs quoting in a URL, an env
# file or SQL, so the same value is right in DATABASE_URL and in PGPASSWORD.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
# A placeholder for a generated value in a rendered template: letters, digits, '_' and '-'
# only, so urllib's quote() leaves it as it is inside a URL.
_TOKEN = re.compile(r"__opsdeck__([a-z0-9-]+)__([a-z0-9-]+)__")
# A StatefulSet's pods carry controller-revision-hash=<name>-<10 chars>, a label value (<= 63):
# the replica set's name "<base>-replica" must stay within 52.
MAX_BASE = 44


class K8sDatabaseError(ModelError):
    """A managed database cannot be run on Kubernetes as described (by app and field)."""


def token(secret: str, key: str) -> str:
    return f"__opsdeck__{secret}__{key}__"


def base_name(app: dict[str, Any], db: dict[str, Any]) -> str:
    """The objects' name: the docker side's container name, as a Kubernetes name."""
    return re.sub(r"[^a-z0-9-]", "-", d.server_name(app, db).lower())


def credentials_name(app: dict[str, Any], db: dict[str, Any]) -> str:
    return f"{base_name(app, db)}-credentials"


def connection_secret_name(app: dict[str, Any]) -> str:
    return f"{app['name']}-databases"


def managed_databases(app: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, db) for i, db in enumerate(app.get("databases") or []) if db.get("managed")]


def check(app: dict[str, Any]) -> list[str]:
    """Findings of the managed databases of ``app`` that only Kubernetes has (names of objects).

    The model (model.py) already refuses an unknown engine, an engine the collection cannot run,
    a replica of an engine without replication support and a name the engine refuses.
    """
    findings = []
    seen: dict[str, int] = {}
    for i, db in managed_databases(app):
        where = d.field_name(app, i, "name")  # the docker side's wording of a field
        base = base_name(app, db)
        if len(base) > MAX_BASE or not DNS_LABEL.match(base):
            findings.append(
                f"{where}: the Kubernetes objects of this database would be named {base!r}, which is not a "
                f"DNS-1123 label of at most {MAX_BASE} characters (<app>-<database>-db); use a shorter name"
            )
        if base in seen:
            findings.append(
                f"{where}: its Kubernetes objects would be named {base!r}, like those of databases[{seen[base]}]; "
                "give the two databases different names"
            )
        seen.setdefault(base, i)
        if db["engine"] not in K8S_ENGINES:
            findings.append(f"{d.field_name(app, i, 'engine')}: {db['engine']} cannot run on Kubernetes here")
    return findings


# ---------------------------------------------------------------------------------------------
# rendering


def _registry(app: dict[str, Any]) -> str | None:
    """The registry the model put in front of the app's image (opsdeck_registry), if any."""
    ref, image = app["image_ref"], app["image"]
    return ref[: -len(image) - 1] if ref != image and ref.endswith("/" + image) else None


def database_labels(app: dict[str, Any], db: dict[str, Any], name: str, role: str) -> dict[str, str]:
    """The labels of the objects of one database server named ``name`` (``role``: primary, replica)."""
    labels = {
        LABEL_TEAM: app["team"],
        LABEL_PART_OF: PART_OF,
        LABEL_VERSION: re.sub(r"[^A-Za-z0-9_.-]", "-", str(db["version"]))[:63],
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_DATABASE: re.sub(r"[^A-Za-z0-9_.-]", "-", db["name"]),
        LABEL_DATABASE_ROLE: role,
    }
    if app.get("environment"):
        labels[LABEL_ENVIRONMENT] = app["environment"]
    labels.update(_selector(app, name))
    return labels


def _selector(app: dict[str, Any], name: str) -> dict[str, str]:
    return {LABEL_NAME: name, LABEL_INSTANCE: app["name"], LABEL_COMPONENT: "database"}


def _millis(cores: float) -> str:
    m = round(cores * 1000)
    return f"{m}m" if m % 1000 else str(m // 1000)


def server_resources(db: dict[str, Any]) -> dict[str, Any]:
    """The model's resources: memory as request and limit (a database's memory is not
    overcommitted: the settings derived from it assume it is there), CPU as request and limit.
    What the model leaves out the namespace's LimitRange fills in."""
    res = db["resources"]
    out: dict[str, Any] = {"requests": {}, "limits": {}}
    if res.get("memory_bytes"):
        out["requests"]["memory"] = out["limits"]["memory"] = format_memory_k8s(res["memory_bytes"])
    if res.get("cpu_cores"):
        out["requests"]["cpu"] = out["limits"]["cpu"] = _millis(res["cpu_cores"])
    return {k: v for k, v in out.items() if v}


def _unescape(value: Any) -> Any:
    """Compose's ``$$`` (a literal ``$``) as the plain shell text a container runs."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


def _probe_command(test: list[str]) -> list[str]:
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    return list(test[1:]) if test[0] == "CMD" else list(test)


def _probes(command: list[str]) -> dict[str, Any]:
    action = {"exec": {"command": command}}
    return {
        # first start of an empty volume (initdb, mariadb-install-db, a base backup) may take a while
        "startupProbe": {**copy.deepcopy(action), "periodSeconds": 2, "timeoutSeconds": 5, "failureThreshold": 150},
        "readinessProbe": {**copy.deepcopy(action), "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**copy.deepcopy(action), "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
    }


def _env_list(
    plain: dict[str, Any], secret_env: dict[str, str], secret_name: str, derived: dict[str, str]
) -> list[dict[str, Any]]:
    """Plain values, then the secret ones as secretKeyRef: a generated password by its own key,
    a value derived from one (a DSN) by a key of its own that carries the template."""
    env = [{"name": k, "value": str(v)} for k, v in plain.items()]
    for name, template in secret_env.items():
        found = _TOKEN.fullmatch(template)
        if found and found.group(1) == secret_name:
            key = found.group(2)
        else:
            key = name
            derived[key] = template
        env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}})
    return env


def _token_credentials(secret_name: str) -> dict[str, str]:
    return {key: token(secret_name, key) for key in d.CREDENTIALS}


def _project(app: dict[str, Any], db: dict[str, Any], role: str, server: str) -> dict[str, Any]:
    """What database.project_secrets / bootstrap_sql read of a project (database.plan's shape)."""
    return {
        "app": app["name"],
        "database": db["name"],
        "engine": db["engine"],
        "role": role,
        "server": server,
        "user": db["user"],
        "app_user": d.app_user(db),  # the same login as on docker hosts
    }


def _pod(
    app: dict[str, Any],
    index: int,
    ns: str,
    replica: bool,
    opts: dict[str, Any],
    derived: dict[str, str],
) -> dict[str, Any]:
    """The StatefulSet of the primary or of the replicas, from the docker side's compose definition."""
    db = app["databases"][index]
    engine = db["engine"]
    spec = d.ENGINES[engine]
    kspec = K8S_ENGINES[engine]
    base = base_name(app, db)
    name = f"{base}-replica" if replica else base
    role = "replica" if replica else "primary"
    secret = credentials_name(app, db)
    primary_host = f"{base}.{ns}.svc"
    compose = d.definition(
        app,
        index,
        replica=1 if replica else 0,
        images=IMAGES,
        exporter_images=EXPORTER_IMAGES,
        upstream={"host": primary_host, "port": spec["port"]},
        registry=_registry(app),
    )
    server, exporter = compose["services"]["server"], compose["services"]["exporter"]
    env_files = d.project_secrets(_project(app, db, role, "127.0.0.1"), _token_credentials(secret))
    plain = dict(server.get("environment") or {})
    if engine == "postgres":
        plain["PGDATA"] = kspec["pgdata"]
        plain["PGUSER"] = db["user"]  # the postStart bootstrap and the probes log in as the superuser
    container: dict[str, Any] = {
        "name": engine,
        "image": server["image"],
        "imagePullPolicy": "IfNotPresent",
    }
    init_containers = []
    command = _unescape(server["command"])
    if replica and engine == "postgres":
        # the replica's entrypoint script (a base backup of an empty volume) as an init container;
        # the server then starts through the image's entrypoint, which finds PG_VERSION
        init_containers.append(
            {
                "name": "basebackup",
                "image": server["image"],
                "imagePullPolicy": "IfNotPresent",
                # PGDATA is below the mount point: made first (the script makes it 0700 for the server)
                "command": [
                    "/bin/sh",
                    "-c",
                    'mkdir -p "$PGDATA"; exec "$@"',
                    "basebackup",
                    *_unescape(server["entrypoint"]),
                    "true",
                ],
                "env": _env_list(plain, env_files["server"], secret, derived),
                "resources": server_resources(db),
                "securityContext": restricted_security(kspec["uid"], kspec["gid"]),
                "volumeMounts": [
                    {"name": "data", "mountPath": spec["data"]},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        )
        container["args"] = command
    elif server.get("entrypoint"):
        container["command"] = _unescape(server["entrypoint"])
        container["args"] = command
    else:
        container["args"] = command
    container["ports"] = [{"name": kspec["port_name"], "containerPort": spec["port"], "protocol": "TCP"}]
    # a replica's server needs no password: pg_basebackup -R wrote primary_conninfo into its data
    container["env"] = _env_list(plain, {} if replica else env_files["server"], secret, derived)
    container["resources"] = server_resources(db)
    container.update(_probes(_probe_command(server["healthcheck"]["test"])))
    container["securityContext"] = restricted_security(kspec["uid"], kspec["gid"])
    mounts = [{"name": "data", "mountPath": spec["data"]}, {"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": opts["tmpfs_size"]}}]
    if engine == "postgres":
        mounts.append({"name": "shm", "mountPath": "/dev/shm"})
        volumes.append({"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}})
    if engine == "postgres" and not replica:
        # The logins of database.bootstrap_sql (the app's owner of its database, replicator,
        # the exporter's pg_monitor login), created once the server answers; the SQL (with the
        # passwords) is a key of the credentials Secret, mounted read-only for the server's group.
        derived[BOOTSTRAP_FILE] = d.bootstrap_sql(_project(app, db, role, "127.0.0.1"), _token_credentials(secret))
        mounts.append({"name": "bootstrap", "mountPath": BOOTSTRAP_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "bootstrap",
                "secret": {
                    "secretName": secret,
                    "items": [{"key": BOOTSTRAP_FILE, "path": BOOTSTRAP_FILE}],
                    "defaultMode": 0o440,
                },
            }
        )
        container["lifecycle"] = {
            "postStart": {
                "exec": {
                    "command": [
                        "/bin/sh",
                        "-c",
                        "until pg_isready -q -d postgres; do sleep 1; done; "
                        f"psql -q -X -d postgres -f {BOOTSTRAP_DIR}/{BOOTSTRAP_FILE} >/dev/null",
                    ]
                }
            }
        }
    container["volumeMounts"] = mounts
    # the exporter: the same settings as on docker hosts, the server reached on loopback
    exp_env = {
        k: str(v).replace(f"{d.server_name(app, db, 1 if replica else 0)}:", "127.0.0.1:")
        for k, v in (exporter.get("environment") or {}).items()
    }
    exp: dict[str, Any] = {
        "name": "exporter",
        "image": exporter["image"],
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "metrics", "containerPort": spec["exporter_port"], "protocol": "TCP"}],
        "env": _env_list(exp_env, env_files["exporter"], secret, derived),
        "resources": copy.deepcopy(EXPORTER_RESOURCES),
        "readinessProbe": {"tcpSocket": {"port": "metrics"}, "periodSeconds": 10, "timeoutSeconds": 5},
        "securityContext": restricted_security(EXPORTER_UID, EXPORTER_UID),
        "volumeMounts": [{"name": "exporter-tmp", "mountPath": "/tmp"}],
    }
    volumes.append({"name": "exporter-tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}})
    if exporter.get("command"):
        exp["args"] = list(exporter["command"])
    # the exporter's secret files (MariaDB's login option file): keys of the credentials Secret
    # carrying their template, mounted where the compose project binds them, 0440 for the pod's
    # fsGroup (the exporter's supplementary group)
    for bind in exporter.get("volumes") or []:
        source = str(bind.get("source", ""))[2:]
        if bind.get("type") == "bind" and source in env_files["exporter_files"]:
            derived[source] = env_files["exporter_files"][source]
            exp["volumeMounts"].append(
                {"name": "exporter-login", "mountPath": bind["target"], "subPath": source, "readOnly": True}
            )
            volumes.append(
                {
                    "name": "exporter-login",
                    "secret": {"secretName": secret, "items": [{"key": source, "path": source}], "defaultMode": 0o440},
                }
            )
    # the files the compose project binds from its directory (database.exporter_files: the
    # exporter's queries, a server's option file) come from the ConfigMap <base>-files, each
    # mounted at its own path (subPath: a directory such as mariadb.conf.d keeps its other files)
    files = d.exporter_files({"engine": engine})
    for service, c in ((server, container), (exporter, exp)):
        for bind in service.get("volumes") or []:
            source = str(bind.get("source", ""))
            if bind.get("type") == "bind" and source.startswith("./") and source[2:] in files:
                c.setdefault("volumeMounts", []).append(
                    {"name": "files", "mountPath": bind["target"], "subPath": source[2:], "readOnly": True}
                )
    if files:
        volumes.append({"name": "files", "configMap": {"name": f"{base}-files"}})
    select = _selector(app, name)
    labels = database_labels(app, db, name, role)
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": opts["volume_size"]}},
    }
    if opts.get("storage_class"):
        claim["storageClassName"] = opts["storage_class"]
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 60,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": kspec["uid"],
            "runAsGroup": kspec["gid"],
            "fsGroup": kspec["gid"],
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container, exp],
        "volumes": volumes,
        "affinity": apart_by_host({LABEL_INSTANCE: app["name"], LABEL_DATABASE: labels[LABEL_DATABASE]}),
    }
    if init_containers:
        pod_spec["initContainers"] = init_containers
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(name, ns, labels),
        "spec": {
            "replicas": int(db["replicas"]) if replica else 1,
            "selector": {"matchLabels": select},
            "serviceName": f"{name}-headless",
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            # a volume outlives its StatefulSet: an upgrade or a removal never drops the data
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "revisionHistoryLimit": 10,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            "volumeClaimTemplates": [
                {
                    # immutable once created: only labels that never change
                    "metadata": {"name": "data", "labels": {**select, LABEL_MANAGED_BY: MANAGED_BY}},
                    "spec": claim,
                }
            ],
        },
    }


def _services(app: dict[str, Any], db: dict[str, Any], ns: str, name: str, role: str) -> list[dict[str, Any]]:
    engine = db["engine"]
    ports = [
        {
            "name": K8S_ENGINES[engine]["port_name"],
            "port": d.ENGINES[engine]["port"],
            "targetPort": K8S_ENGINES[engine]["port_name"],
            "protocol": "TCP",
        },
        {"name": "metrics", "port": d.ENGINES[engine]["exporter_port"], "targetPort": "metrics", "protocol": "TCP"},
    ]
    labels = database_labels(app, db, name, role)
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": object_meta(f"{name}-headless", ns, labels),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": _selector(app, name),
                "ports": ports,
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": object_meta(name, ns, labels),
            "spec": {"type": "ClusterIP", "selector": _selector(app, name), "ports": copy.deepcopy(ports)},
        },
    ]


def _pdb(app: dict[str, Any], db: dict[str, Any], ns: str, name: str, role: str) -> dict[str, Any]:
    # The primary: minAvailable 1, as CloudNativePG does for its primary: a node drain waits
    # for an operator's decision instead of taking the only writer down; an unhealthy primary
    # may still be evicted. The replicas: one at a time.
    budget = {"minAvailable": 1} if role == "primary" else {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": object_meta(name, ns, database_labels(app, db, name, role)),
        "spec": {
            **budget,
            "selector": {"matchLabels": _selector(app, name)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def _network_policies(
    app: dict[str, Any], db: dict[str, Any], ns: str, opts: dict[str, Any], clients: list[dict[str, str]]
) -> list[dict[str, Any]]:
    engine = db["engine"]
    base = base_name(app, db)
    port = d.ENGINES[engine]["port"]
    labels = database_labels(app, db, base, "primary")
    servers = {LABEL_INSTANCE: app["name"], LABEL_COMPONENT: "database", LABEL_DATABASE: labels[LABEL_DATABASE]}
    ingress: list[dict[str, Any]] = [
        {
            "from": [{"podSelector": {"matchLabels": pods}} for pods in clients],
            "ports": [{"protocol": "TCP", "port": port}],
        },
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": opts["monitoring_namespace"]}}}
            ],
            "ports": [{"protocol": "TCP", "port": d.ENGINES[engine]["exporter_port"]}],
        },
    ]
    egress: list[dict[str, Any]] = [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]
    if db["replicas"]:
        # the replicas stream from the primary (and take their base backup from it)
        ingress.append(
            {"from": [{"podSelector": {"matchLabels": servers}}], "ports": [{"protocol": "TCP", "port": port}]}
        )
        egress.append({"to": [{"podSelector": {"matchLabels": servers}}], "ports": [{"protocol": "TCP", "port": port}]})
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": object_meta(base, ns, labels),
            "spec": {
                "podSelector": {"matchLabels": servers},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": ingress,
                "egress": egress,
            },
        }
    ]


def _service_monitor(app: dict[str, Any], db: dict[str, Any], ns: str, opts: dict[str, Any]) -> dict[str, Any]:
    base = base_name(app, db)
    labels = database_labels(app, db, base, "primary")
    # the labels of the docker side's file_sd targets (database.scrape_targets), job included:
    # the rule library's database alerts (database.alert_rules) select job="databases"
    relabel = {
        "job": "databases",
        "app": app["name"],
        "team": app["team"],
        "database": db["name"],
        "engine": db["engine"],
    }
    if app.get("environment"):
        relabel["env"] = app["environment"]
    endpoint = {
        "port": "metrics",
        "interval": opts["scrape_interval"],
        "relabelings": [
            *({"action": "replace", "targetLabel": k, "replacement": v} for k, v in relabel.items()),
            {
                "action": "replace",
                "sourceLabels": [f"__meta_kubernetes_service_label_{_meta_label(LABEL_DATABASE_ROLE)}"],
                "targetLabel": "role",
            },
        ],
    }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": object_meta(base, ns, labels),
        "spec": {
            # the ClusterIP Services of the primary and the replicas (not the headless ones: one target per pod)
            "selector": {
                "matchLabels": {
                    LABEL_INSTANCE: app["name"],
                    LABEL_COMPONENT: "database",
                    LABEL_DATABASE: labels[LABEL_DATABASE],
                },
                "matchExpressions": [{"key": LABEL_NAME, "operator": "In", "values": [base, f"{base}-replica"]}],
            },
            "endpoints": [endpoint],
        },
    }


def _meta_label(label: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def render(
    app: dict[str, Any],
    opts: dict[str, Any],
    ns: str,
    app_pods: dict[str, str],
    hook_pods: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The objects of the app's managed databases: ``{manifests, connection, pods, claims}``.

    ``app_pods``: the labels of the app's pods (its workload's selector); ``hook_pods``: those
    of its ``hooks.pre_deploy`` Jobs' pods (which do not carry the workload's selector), also
    let through to the databases. ``manifests`` in apply order; ``connection`` the app's connection Secret (or None);
    ``pods`` the database pods as (count, [container resources]) for the namespace's quota.
    Raises K8sDatabaseError with every finding.
    """
    findings = check(app)
    if findings:
        raise K8sDatabaseError(findings)
    out: list[dict[str, Any]] = []
    pods: list[tuple[int, list[dict[str, Any]]]] = []
    claims = 0
    k8s_app = copy.deepcopy(app)
    creds: dict[str, dict[str, str]] = {}
    for index, db in managed_databases(app):
        # the app reaches each primary by its Service's name
        creds[db["name"]] = _token_credentials(credentials_name(app, db))
        k8s_app["databases"][index]["container"] = f"{base_name(app, db)}.{ns}.svc"
    client_view = d.connection_secrets(k8s_app, creds, given=app.get("secrets") or {})
    clients = [app_pods] + ([hook_pods] if hook_pods else [])
    for index, db in managed_databases(app):
        base = base_name(app, db)
        secret = credentials_name(app, db)
        derived: dict[str, str] = {}
        primary = _pod(app, index, ns, False, opts, derived)
        sets = [primary]
        if db["replicas"]:
            sets.append(_pod(app, index, ns, True, opts, derived))
        labels = database_labels(app, db, base, "primary")
        # generated: the passwords something refers to (env, a derived value, the app's settings)
        texts = [*derived.values(), *client_view.values()]
        generate = {key for text in texts for ref, key in _TOKEN.findall(text) if ref == secret}
        generate |= {key for sts in sets for key in _key_refs(sts, secret) if key in d.CREDENTIALS}
        # Not pruned: without the instance label the release's prune selector does not find it, so a
        # database removed from the model keeps its credentials as long as its claim keeps the data
        # (persistentVolumeClaimRetentionPolicy Retain); adding it back finds both. The namespace's
        # removal (state: absent) takes both.
        kept = {k: v for k, v in labels.items() if k != LABEL_INSTANCE}
        kept[LABEL_APP] = app["name"]
        cred: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": object_meta(secret, ns, kept, annotations=_version_annotations(db, generate)),
            "type": "Opaque",
        }
        if derived:
            cred["stringData"] = dict(sorted(derived.items()))
        out.append(cred)
        files = d.exporter_files({"engine": db["engine"]})
        if files:
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": object_meta(f"{base}-files", ns, labels),
                    "data": files,
                }
            )
        out += _network_policies(app, db, ns, opts, clients)
        for sts in sets:
            role = sts["metadata"]["labels"][LABEL_DATABASE_ROLE]
            out += _services(app, db, ns, sts["metadata"]["name"], role)
        for sts in sets:
            tmpl = sts["spec"]["template"]
            # the pods restart when a value derived from the passwords changes (a DSN's host)
            tmpl["metadata"]["annotations"] = {CONFIG_HASH: _hash(derived)}
            out.append(sts)
            role = sts["metadata"]["labels"][LABEL_DATABASE_ROLE]
            out.append(_pdb(app, db, ns, sts["metadata"]["name"], role))
            count = sts["spec"]["replicas"]
            pods.append((count, [c.get("resources") or {} for c in tmpl["spec"]["containers"]]))
            claims += count
        out.append(_service_monitor(app, db, ns, opts))
    connection = None
    if managed_databases(app):
        values = client_view
        connection = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": object_meta(
                connection_secret_name(app),
                ns,
                companion_labels(app),
                annotations={GENERATE: ""},
            ),
            "type": "Opaque",
            "stringData": values,
        }
        db_pods = {LABEL_INSTANCE: app["name"], LABEL_COMPONENT: "database"}
        ports = sorted({d.ENGINES[db["engine"]]["port"] for _i, db in managed_databases(app)})
        # the app's pods, and its hook Jobs' pods (a migration), may reach the databases
        policy_names = (f"{app['name']}-allow-databases", f"{app['name']}-pre-deploy-allow-databases")
        for policy_name, selected in zip(policy_names, clients, strict=False):
            out.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": object_meta(policy_name, ns, connection["metadata"]["labels"]),
                    "spec": {
                        "podSelector": {"matchLabels": selected},
                        "policyTypes": ["Egress"],
                        "egress": [
                            {
                                "to": [{"podSelector": {"matchLabels": db_pods}}],
                                "ports": [{"protocol": "TCP", "port": p} for p in ports],
                            }
                        ],
                    },
                }
            )
    return {"manifests": out, "connection": connection, "pods": pods, "claims": claims}


def _version_annotations(db: dict[str, Any], generate: set[str]) -> dict[str, str]:
    """The keys to generate, and the version of the data the credentials belong to: the live
    Secret's says what runs (it is written with each apply and outlives the StatefulSet)."""
    out = {GENERATE: ",".join(sorted(generate)), VERSION: str(db["version"]), ENGINE: db["engine"]}
    if db.get("upgrade"):
        out[UPGRADE] = str(db["upgrade"])
    return out


def version_problem(manifest: dict[str, Any], live: dict[str, Any] | None) -> str | None:
    """Why a credentials Secret's database must not be applied over the version that runs.

    database.version_problem's verdict (a major change needs ``upgrade: dump_restore``, a major
    downgrade is refused); on Kubernetes a major change is refused even with the upgrade path,
    which only the docker hosts' role implements so far.
    """
    meta = manifest["metadata"]
    annotations = meta.get("annotations") or {}
    deployed = ((live or {}).get("metadata", {}).get("annotations") or {}).get(VERSION)
    if VERSION not in annotations or not deployed:
        return None
    engine, version = annotations[ENGINE], annotations[VERSION]
    labels = meta.get("labels") or {}
    project = {
        "engine": engine,
        "version": version,
        "major": d.major_version(engine, version),
        "upgrade": annotations.get(UPGRADE),
        "server": f"{meta['name'].removesuffix('-credentials')} in namespace {meta['namespace']}",
        "field": f"app '{labels.get(LABEL_APP)}': database '{labels.get(LABEL_DATABASE)}': field 'version'",
    }
    problem = d.version_problem(project, deployed)
    if problem is None and project["major"] != d.major_version(engine, deployed):
        problem = (
            f"{project['field']}: {version!r} is a major-version change from {deployed!r} ({project['server']}); "
            "upgrade: dump_restore is implemented on docker hosts only, not on Kubernetes yet; "
            f"keep version {deployed!r}"
        )
    return problem


def _key_refs(sts: dict[str, Any], secret: str) -> set[str]:
    spec = sts["spec"]["template"]["spec"]
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    refs = (e.get("valueFrom", {}).get("secretKeyRef") or {} for c in containers for e in c.get("env", []))
    return {r["key"] for r in refs if r.get("name") == secret}


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# the app's own objects


def _effective(resources: dict[str, Any], limit_range: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """A container's requests and limits as admitted: a request not given follows its limit (API
    defaulting), then the LimitRange fills what is still missing (default, defaultRequest)."""
    limits = dict(resources.get("limits") or {})
    requests = dict(resources.get("requests") or {})
    for key, value in limits.items():
        requests.setdefault(key, value)
    item = (((limit_range or {}).get("spec") or {}).get("limits") or [{}])[0]
    for key, value in (item.get("default") or {}).items():
        limits.setdefault(key, value)
    for key, value in (item.get("defaultRequest") or {}).items():
        requests.setdefault(key, value)
    return {"requests": requests, "limits": limits}


def _grow_quota(
    quota: dict[str, Any], limit_range: dict[str, Any] | None, rendered: dict[str, Any], opts: dict[str, Any]
) -> None:
    hard = quota["spec"]["hard"]
    pods = sum(count for count, _c in rendered["pods"])
    hard["pods"] = str(int(hard.get("pods", "0")) + pods)
    totals: dict[str, float] = {}
    for count, containers in rendered["pods"]:
        for res in containers:
            eff = _effective(res, limit_range)
            for kind in ("requests", "limits"):
                for resource, value in eff[kind].items():
                    key = f"{kind}.{resource}"
                    amount = parse_cpu(value) if resource == "cpu" else parse_memory(value)
                    totals[key] = totals.get(key, 0) + amount * count
    for key, amount in totals.items():
        if key not in hard:
            continue  # the namespace does not cap it
        if key.endswith(".cpu"):
            hard[key] = _millis(parse_cpu(hard[key]) + amount)
        else:
            hard[key] = format_memory_k8s(parse_memory(hard[key]) + int(amount))
    claims = rendered["claims"]
    hard["persistentvolumeclaims"] = str(int(hard.get("persistentvolumeclaims", "0")) + claims)
    hard["requests.storage"] = format_memory_k8s(
        parse_memory(hard.get("requests.storage", "0")) + parse_memory(opts["volume_size"]) * claims
    )


def with_databases(
    app: dict[str, Any],
    opts: dict[str, Any],
    manifests: list[dict[str, Any]],
    companions: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The app's manifests (k8s_manifests.own_manifests') with its managed databases added: their
    objects before the app's ``hooks.pre_deploy`` Jobs and workload (a migration finds its
    database), the connection Secret in the ``envFrom`` of the app's and the hooks' pods, the
    NetworkPolicies that let both reach them, its ResourceQuota grown by the database pods.

    ``companions`` are objects that go with the databases (k8s_backup.render's ``{manifests,
    pods}``, which k8s_render passes): their manifests after the databases and their credentials,
    which they refer to; their pods counted in the quota."""
    if not managed_databases(app):
        return manifests
    out = copy.deepcopy(manifests)
    ns = next(m["metadata"]["name"] for m in out if m["kind"] == "Namespace")
    workload_at = next(
        i
        for i, m in enumerate(out)
        if m["kind"] in ("Deployment", "StatefulSet") and m["metadata"]["name"] == app["name"]
    )
    workload = out[workload_at]
    app_pods = dict(workload["spec"]["selector"]["matchLabels"])
    hooks = [i for i, m in enumerate(out) if m["kind"] == "Job"]
    hook_pods = None
    if hooks:
        # the hook pods' instance and component labels (k8s_manifests' hook Jobs), not the
        # workload's selector: no Service sends them traffic, no PDB or ReplicaSet counts them
        hook_labels = out[hooks[0]]["spec"]["template"]["metadata"]["labels"]
        hook_pods = {k: hook_labels[k] for k in (LABEL_INSTANCE, LABEL_OPSDECK_COMPONENT)}
    rendered = render(app, opts, ns, app_pods, hook_pods)
    extra = companions or {"manifests": [], "pods": []}
    rendered["pods"] += extra["pods"]
    quota = next((m for m in out if m["kind"] == "ResourceQuota"), None)
    limit_range = next((m for m in out if m["kind"] == "LimitRange"), None)
    if quota is not None:
        _grow_quota(quota, limit_range, rendered, opts)
    connection = rendered["connection"]
    for i in [*hooks, workload_at]:
        for container in out[i]["spec"]["template"]["spec"]["containers"]:
            container.setdefault("envFrom", []).append({"secretRef": {"name": connection["metadata"]["name"]}})
    tmpl = workload["spec"]["template"]
    # the pods restart when a connection setting (host, port, user, database) changes
    tmpl["metadata"].setdefault("annotations", {})[CONFIG_HASH] = _hash(connection["stringData"])
    at = min([*hooks, workload_at])
    return [*out[:at], *rendered["manifests"], connection, *extra["manifests"], *out[at:]]


# ---------------------------------------------------------------------------------------------
# generated once: the release module fills the values right before the apply


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _position in range(PASSWORD_LENGTH))


def keep_or_generate(
    client_get: Callable[[str, str], dict[str, Any] | None],
    manifests: list[dict[str, Any]],
    generate: Callable[[], str] = generate_password,
    given: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The manifests with the values of every Secret marked ``opsdeck.io/generate`` in ``data``;
    raises K8sDatabaseError when a database's version may not replace the one that runs
    (``version_problem``, from the live Secret's annotation).

    ``client_get(namespace, name)`` returns the Secret on the cluster (its ``data`` base64, as
    the API gives it) or None. A key named in the annotation keeps the cluster's value, or gets
    a new one from ``generate``; the ``stringData`` templates are resolved with those values
    (of this Secret or of one before it, or ``given``: the module's secret values, named
    ``__opsdeck__given__<key>__``) and moved into ``data``; in a key ending in ``.json`` each
    value is escaped as the content of a JSON string. Nothing is logged, and the values never
    leave the returned manifests (which the release masks in its diff).
    """
    values: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    out = []
    for m in manifests:
        annotations = (m.get("metadata") or {}).get("annotations") or {}
        if m.get("kind") != "Secret" or GENERATE not in annotations:
            out.append(m)
            continue
        m = copy.deepcopy(m)
        meta = m["metadata"]
        keys = [k for k in annotations[GENERATE].split(",") if k]
        live = client_get(meta["namespace"], meta["name"]) if keys else None
        problem = version_problem(m, live)
        if problem:
            problems.append(problem)
        live_data = (live or {}).get("data") or {}
        data: dict[str, str] = {}
        for key in keys:
            if live_data.get(key):
                data[key] = base64.b64decode(live_data[key]).decode()
            else:
                data[key] = generate()
            values[(meta["name"], key)] = data[key]

        def resolve(found: re.Match[str], where: str = meta["name"], as_json: bool = False) -> str:
            ref = (found.group(1), found.group(2))
            if ref[0] == GIVEN and ref[1] in (given or {}):
                value = str((given or {})[ref[1]])
            elif ref not in values:
                raise K8sDatabaseError(
                    f"Secret {where}: a template refers to {ref[0]}/{ref[1]}, which no Secret before it generates"
                    + (" and no value was given for" if ref[0] == GIVEN else "")
                )
            else:
                value = values[ref]
            return json.dumps(value)[1:-1] if as_json else value

        for key, template in (m.pop("stringData", None) or {}).items():
            as_json = key.endswith(".json")
            data[key] = _TOKEN.sub(lambda found, j=as_json: resolve(found, as_json=j), template)
        m["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())}
        out.append(m)
    if problems:
        # before anything of the release is applied (the release module calls this first)
        raise K8sDatabaseError(problems)
    return out


def secret_reader(client: Any) -> Callable[[str, str], dict[str, Any] | None]:
    """``client_get`` for keep_or_generate over a kubernetes DynamicClient (None when not found)."""

    def get(namespace: str, name: str) -> dict[str, Any] | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = client.resources.get(api_version="v1", kind="Secret")
        try:
            return client.get(resource, name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    return get
