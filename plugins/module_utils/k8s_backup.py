# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backups of an app's managed databases on Kubernetes: CronJobs running the backup engine's image.

The same model as on database hosts (``databases[].backup``: ``enabled``, ``schedule``,
``keep``, ``verify``) and the same engine (``plugins/module_utils/backup/``, its CLI
``opsdeck-backup`` in the image ``images/backup-engine/``), with the same inventory variables as
the ``backup`` role (``opsdeck_backup_store``, ``opsdeck_backup_prune_store``,
``opsdeck_backup_recipients``, ``opsdeck_backup_identity``). Per app with backups, in its namespace:

- a Secret ``<app>-backup`` with the engine's ``config.json`` (the role ``backup``'s shape: the
  store, the pruner's store, the recipients, one job per database). It is rendered as a template
  (``stringData``) whose secret values are tokens: the database's admin password of the
  generated credentials Secret, and the store keys and identity that the release module takes
  from its ``no_log`` option (``k8s_databases.GIVEN``); ``keep_or_generate`` resolves them right
  before the apply, so no value is in a rendered manifest, a plan or a task result;
- a Secret ``<app>-backup-identity`` (the age identity, only with a ``backup.verify.schedule``),
  mounted by the verify pods alone: the pods that write backups never hold the private key;
- a ServiceAccount ``<app>-backup`` (no token, no Role: the engine talks to the database and S3);
- per database: a CronJob ``<app>-<db>-db-backup`` (``run`` then ``prune``, as the host's
  ExecStartPost does) on ``backup.schedule``, and ``<app>-<db>-db-verify`` on
  ``backup.verify.schedule`` (a test restore into a throwaway database of the same server); the
  pods of Pod Security "restricted" (the image's numeric user, read-only root, ``/tmp`` and the
  engine's private runtime directory as emptyDirs, the config mounted 0400 with ``fsGroup``);
- NetworkPolicies: the database's server admits the backup pods on its port; the backup pods may
  reach the servers and the S3 endpoint (its address when it is one, else its port anywhere, or
  ``k8s_app_backup_egress``); DNS comes from the app's own ``allow-dns``;
- a PrometheusRule ``<app>-backups`` (when the cluster serves the Prometheus Operator CRDs):
  recording rules that turn kube-state-metrics' CronJob and Job series into the metrics the
  engine writes on hosts (``opsdeck_backup_last_success_timestamp_seconds`` and the rest, labels
  ``app``, ``database``, ``engine``), so the rule library's backup alerts (``BackupStale``,
  ``BackupFailed``, ``BackupRestoreUnverified``: ``monitoring.base_rules``) apply unchanged, and
  the app's ``BackupMissing`` (``monitoring.backup_rules``).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.opsdeck.platform.plugins.module_utils import database as d
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.config import job_spec
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.pipeline import Settings
from ansible_collections.opsdeck.platform.plugins.module_utils.backup_args import STORE_SPEC
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_common import (
    LABEL_COMPONENT,
    LABEL_DATABASE,
    LABEL_INSTANCE,
    LABEL_NAME,
    companion_labels,
    object_meta,
    restricted_security,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_databases import (
    GENERATE,
    GIVEN,
    base_name,
    credentials_name,
    database_labels,
    managed_databases,
    token,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, parse_cpu, parse_memory
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import backup_rules
from ansible_collections.opsdeck.platform.plugins.module_utils.systemd_calendar import (
    CalendarError,
    cron_for_kubernetes,
)

# The image's user (images/backup-engine/Dockerfile): numbers, for runAsNonRoot.
UID = 10001
# Siblings, not nested: a mount point inside a read-only Secret volume cannot be made by the runtime.
CONFIG_DIR = "/etc/opsdeck-backup/config"
IDENTITY_DIR = "/etc/opsdeck-backup/identity"
RUNTIME_DIR = "/run/opsdeck-backup"
CONFIG_KEY = "config.json"
IDENTITY_KEY = "identity.txt"
# Store fields that are secrets: given to the release module (no_log), never rendered.
SECRET_STORE_KEYS = ("access_key", "secret_key", "session_token")
STORE_KEYS = (*STORE_SPEC, "verify_tls")
_TIME_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")

# The filter renders no backup unless asked (``enabled``); the role asks by default (k8s_app_backups).
DEFAULTS: dict[str, Any] = {
    "enabled": False,
    # the image playbooks/images.yml builds: the role passes k8s_app_backup_image, whose default
    # is that image's tag (filter backup_engine_image); required when backups are enabled
    "image": None,
    "store": None,  # opsdeck_backup_store with each secret key replaced by whether it is set
    "prune_store": None,
    "recipients": [],
    "identity": False,  # whether opsdeck_backup_identity is set
    "verify": True,
    "prune": True,
    "time_zone": "",
    "resources": {"cpu_request": "50m", "memory_request": "128Mi", "memory": "512Mi"},
    "tmp_size": "2Gi",
    "starting_deadline_s": 3600,
    "active_deadline_s": 21600,
    "backoff_limit": 1,
    "history_limit": 3,
    "compression_level": 3,
    "egress": [],
}


class K8sBackupError(ModelError):
    """Backups of a managed database cannot be rendered as asked (names the app and the field)."""


def given_key(store: str, key: str) -> str:
    """The name under which the release module's secrets option carries a store's secret value:
    ``opsdeck-backup-store-access-key``, ``opsdeck-backup-prune-store-secret-key``, ..."""
    return f"opsdeck-backup-{store.replace('_', '-')}-{key.replace('_', '-')}"


IDENTITY_GIVEN = "opsdeck-backup-identity"


def backed_up(app: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, db) for i, db in managed_databases(app) if db["backup"]["enabled"]]


def config_name(app: dict[str, Any]) -> str:
    return f"{app['name']}-backup"


def identity_name(app: dict[str, Any]) -> str:
    return f"{app['name']}-backup-identity"


def cronjob_name(app: dict[str, Any], db: dict[str, Any], step: str) -> str:
    """``<app>-<db>-db-backup`` / ``-verify``: within CronJob's 52 characters (base <= 44)."""
    return f"{base_name(app, db)}-{'backup' if step == 'run' else 'verify'}"


# ---------------------------------------------------------------------------------------------
# options and inventory


def _int(opts: dict[str, Any], key: str, low: int, findings: list[str]) -> None:
    value = opts[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        findings.append(f"k8s_app: option 'backup.{key}': {value!r} is not an integer >= {low}")


def _store_findings(var: str, store: Any) -> list[str]:
    """What is wrong with a store for pods (the variable's name, never a value)."""
    if not isinstance(store, dict):
        return [f"{var} must be a mapping {{type: s3, bucket, access_key, secret_key, ...}}"]
    out = []
    kind = store.get("type", "s3")
    if kind == "local":
        return [
            f"{var}.type: 'local' is a directory of a host, which the backup pods on Kubernetes cannot reach; "
            "use an s3 store (any S3-compatible endpoint_url)"
        ]
    if kind != "s3":
        return [f"{var}.type must be 's3' on Kubernetes, got {kind!r}"]
    unknown = sorted(set(store) - set(STORE_KEYS))
    if unknown:
        out.append(f"{var}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(STORE_KEYS)}")
    bucket = store.get("bucket")
    if not isinstance(bucket, str) or not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
        out.append(f"{var}.bucket must be an S3 bucket name (3-63 characters a-z 0-9 . -), got {bucket!r}")
    for key in ("access_key", "secret_key"):
        if store.get(key) is not True:
            out.append(f"{var}.{key} must be a non-empty string (from a vault)")
    url = store.get("endpoint_url")
    if url is not None and (not isinstance(url, str) or not re.match(r"^https?://[^/?#]+", url)):
        out.append(f"{var}.endpoint_url must be an http(s) URL such as https://s3.example.com, got {url!r}")
    for key, spec in STORE_SPEC.items():
        value = store.get(key)
        if value is None or key in SECRET_STORE_KEYS:
            continue
        if "choices" in spec and value not in spec["choices"]:
            out.append(f"{var}.{key} must be one of {', '.join(spec['choices'])}, got {value!r}")
        elif spec["type"] == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            out.append(f"{var}.{key} must be a whole number, 0 or more, got {value!r}")
    if store.get("lock_mode") and not (isinstance(store.get("lock_days"), int) and store["lock_days"] >= 1):
        out.append(f"{var}.lock_days must be a whole number of days, at least 1, with lock_mode")
    return out


def options(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The ``backup`` option of k8s_app over DEFAULTS; raises K8sBackupError with every finding
    of the options themselves (the store is checked only when an app has backups)."""
    opts = copy.deepcopy(DEFAULTS)
    findings = []
    for key, value in (raw or {}).items():
        if key not in DEFAULTS:
            findings.append(f"k8s_app: unknown option 'backup.{key}'; allowed: {', '.join(sorted(DEFAULTS))}")
        elif value is not None:
            opts[key] = value
    for key in ("enabled", "identity", "verify", "prune"):
        if not isinstance(opts[key], bool):
            findings.append(f"k8s_app: option 'backup.{key}': {opts[key]!r} is not a boolean")
    for key, low in (
        ("starting_deadline_s", 10),
        ("active_deadline_s", 60),
        ("backoff_limit", 0),
        ("history_limit", 1),
        ("compression_level", 1),
    ):
        _int(opts, key, low, findings)
    zone = opts["time_zone"]
    if not isinstance(zone, str) or (zone and not _TIME_ZONE.match(zone)):
        findings.append(
            f"k8s_app_backup_time_zone: {zone!r} is not a time zone name of the tz database (such as Europe/Berlin)"
        )
    if opts["image"] is None:
        if opts["enabled"]:
            findings.append(
                "k8s_app_backup_image: not set (the backup engine's image: run playbooks/images.yml, whose tag the "
                "role's default names)"
            )
    elif not isinstance(opts["image"], str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$", opts["image"]):
        findings.append(f"k8s_app_backup_image: {opts['image']!r} is not an image reference")
    try:
        parse_memory(opts["tmp_size"])
        res = opts["resources"]
        if not isinstance(res, dict):
            raise ModelError("k8s_app_backup_resources: a mapping {cpu_request, memory_request, cpu, memory}")
        for key, value in res.items():
            if key not in ("cpu_request", "memory_request", "cpu", "memory"):
                raise ModelError(
                    f"k8s_app_backup_resources: unknown key {key!r} (cpu_request, memory_request, cpu, memory)"
                )
            if value is not None:
                parse_cpu(value) if key.startswith("cpu") else parse_memory(value)
    except ModelError as exc:
        findings.append(str(exc))
    if not isinstance(opts["egress"], list):
        findings.append("k8s_app_backup_egress: expected a list of NetworkPolicy egress rules")
    if findings:
        raise K8sBackupError(findings)
    return opts


def check(apps: list[dict[str, Any]], opts: dict[str, Any]) -> list[str]:
    """Findings of the apps' backups on Kubernetes (app and field named), before anything is applied."""
    if not opts["enabled"]:
        return []
    wanting = [(a, i, db) for a in apps if a["state"] == "present" for i, db in backed_up(a)]
    if not wanting:
        return []
    first = wanting[0]
    why = (
        f"app {first[0]['name']!r}: field 'databases[{first[1]}].backup.enabled' backs up a managed database "
        "on Kubernetes (k8s_app_backups: false or backup.enabled: false turns that off)"
    )
    findings = []
    if opts["store"] is None:
        findings.append(
            f"{why}, so opsdeck_backup_store must be set: {{type: s3, bucket, access_key, secret_key, ...}}"
        )
    else:
        findings += [f"{p} ({why})" for p in _store_findings("opsdeck_backup_store", opts["store"])]
    if opts["prune_store"]:
        findings += [f"{p} ({why})" for p in _store_findings("opsdeck_backup_prune_store", opts["prune_store"])]
    try:
        Settings(recipients=list(opts["recipients"] or []), compression_level=opts["compression_level"]).validate()
    except BackupError as exc:
        findings.append(f"opsdeck_backup_{exc} ({why})")
    for app, i, db in wanting:
        for key, schedule in (
            ("schedule", db["backup"]["schedule"]),
            ("verify.schedule", db["backup"]["verify"]["schedule"]),
        ):
            try:
                if schedule:
                    cron_for_kubernetes(schedule)
            except CalendarError as exc:
                findings.append(f"app {app['name']!r}: field 'databases[{i}].backup.{key}': {exc} (on Kubernetes)")
    if opts["verify"] and not opts["identity"]:
        for app, i, db in wanting:
            if db["backup"]["verify"]["schedule"]:
                findings.append(
                    f"app {app['name']!r}: field 'databases[{i}].backup.verify.schedule' is set, but "
                    "opsdeck_backup_identity is empty: verify decrypts the latest backup to test-restore it; "
                    "set opsdeck_backup_identity (from a vault) or k8s_app_backup_verify: false"
                )
    return findings


# ---------------------------------------------------------------------------------------------
# rendering


def _image(app: dict[str, Any], image: str) -> str:
    """The image, behind the app's registry (opsdeck_registry) unless it names a registry host."""
    head = image.split("/", 1)[0]
    if "/" in image and ("." in head or ":" in head or head == "localhost"):
        return image
    ref, name = app["image_ref"], app["image"]
    registry = ref[: -len(name) - 1] if ref != name and ref.endswith("/" + name) else None
    return f"{registry}/{image}" if registry else image


def _resources(opts: dict[str, Any]) -> dict[str, Any]:
    res = opts["resources"] or {}
    out: dict[str, Any] = {"requests": {}, "limits": {}}
    for key, (kind, resource) in {
        "cpu_request": ("requests", "cpu"),
        "memory_request": ("requests", "memory"),
        "cpu": ("limits", "cpu"),
        "memory": ("limits", "memory"),
    }.items():
        if res.get(key) is not None:
            out[kind][resource] = str(res[key])
    return {k: v for k, v in out.items() if v}


def _store_template(store: dict[str, Any], which: str) -> dict[str, Any]:
    """The store of config.json: its public keys as given, its secret ones as tokens."""
    out = {}
    for key, value in store.items():
        if key in SECRET_STORE_KEYS:
            if value is True:
                out[key] = token(GIVEN, given_key(which, key))
        elif value is not None:
            out[key] = value
    return out


def config_template(app: dict[str, Any], ns: str, opts: dict[str, Any]) -> str:
    """The engine's config.json of the app's backed-up databases, with tokens for the secrets."""
    jobs = {}
    for _i, db in backed_up(app):
        jobs[f"{app['name']}/{db['name']}"] = job_spec(
            db,
            app=app["name"],
            database=db["name"],
            host=f"{base_name(app, db)}.{ns}.svc",
            port=d.ENGINES[db["engine"]]["port"],
            password=token(credentials_name(app, db), "admin"),
            container=None,
            keep=db["backup"]["keep"],
            verify_query=db["backup"]["verify"]["query"],
        )
    config = {
        "store": _store_template(opts["store"], "store"),
        "prune_store": _store_template(opts["prune_store"], "prune_store") if opts["prune_store"] else None,
        "recipients": [r.strip() for r in opts["recipients"]],
        "identity_file": f"{IDENTITY_DIR}/{IDENTITY_KEY}" if _verifies(app, opts) else None,
        "metrics_dir": None,  # kube-state-metrics reports the Jobs (the PrometheusRule below)
        "state_dir": f"{RUNTIME_DIR}/state",
        "compression_level": opts["compression_level"],
        "jobs": jobs,
    }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def _verifies(app: dict[str, Any], opts: dict[str, Any]) -> bool:
    return opts["verify"] and any(db["backup"]["verify"]["schedule"] for _i, db in backed_up(app))


def _pod_labels(app: dict[str, Any], db: dict[str, Any], step: str) -> dict[str, str]:
    # the instance label: the app's allow-dns (and allow-egress) policies select these pods too;
    # their own name label: the app's Service, PodDisruptionBudget and workload never select them
    return {
        LABEL_NAME: cronjob_name(app, db, step),
        LABEL_INSTANCE: app["name"],
        LABEL_COMPONENT: "backup",
        LABEL_DATABASE: database_labels(app, db, base_name(app, db), "primary")[LABEL_DATABASE],
        "opsdeck.io/backup-step": "backup" if step == "run" else "verify",
    }


def _cronjob(app: dict[str, Any], db: dict[str, Any], ns: str, opts: dict[str, Any], step: str) -> dict[str, Any]:
    name = cronjob_name(app, db, step)
    job = f"{app['name']}/{db['name']}"
    steps = ["run", "prune"] if step == "run" and opts["prune"] else [step]
    mounts = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "runtime", "mountPath": RUNTIME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = [
        {
            "name": "config",
            "secret": {
                "secretName": config_name(app),
                "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}],
                "defaultMode": 0o400,
            },
        },
        {"name": "runtime", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": opts["tmp_size"]}},
    ]
    if step == "verify":
        mounts.append({"name": "identity", "mountPath": IDENTITY_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "identity",
                "secret": {
                    "secretName": identity_name(app),
                    "items": [{"key": IDENTITY_KEY, "path": IDENTITY_KEY}],
                    "defaultMode": 0o400,
                },
            }
        )
    container = {
        "name": "backup" if step == "run" else "verify",
        "image": _image(app, opts["image"]),
        "imagePullPolicy": "IfNotPresent",
        "args": [job, *steps],
        "env": [
            {"name": "OPSDECK_BACKUP_CONFIG_SOURCE", "value": f"{CONFIG_DIR}/{CONFIG_KEY}"},
            {"name": "OPSDECK_BACKUP_RUNTIME_DIR", "value": RUNTIME_DIR},
        ],
        "resources": _resources(opts),
        "securityContext": restricted_security(UID, UID),
        "volumeMounts": mounts,
    }
    pod_labels = _pod_labels(app, db, step)
    labels = {**companion_labels(app), **pod_labels}
    spec: dict[str, Any] = {
        "schedule": cron_for_kubernetes(
            db["backup"]["schedule"] if step == "run" else db["backup"]["verify"]["schedule"]
        ),
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": opts["starting_deadline_s"],
        "successfulJobsHistoryLimit": opts["history_limit"],
        "failedJobsHistoryLimit": opts["history_limit"],
        "suspend": False,
        "jobTemplate": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "backoffLimit": opts["backoff_limit"],
                "activeDeadlineSeconds": opts["active_deadline_s"],
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {
                        "serviceAccountName": config_name(app),
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "restartPolicy": "Never",
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": UID,
                            "runAsGroup": UID,
                            "fsGroup": UID,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            },
        },
    }
    if opts["time_zone"]:
        spec["timeZone"] = opts["time_zone"]
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": object_meta(name, ns, labels), "spec": spec}


def _s3_egress(opts: dict[str, Any]) -> list[dict[str, Any]]:
    """The S3 endpoint: its address when it is one, else its port to anywhere (a NetworkPolicy
    cannot name a host); ``k8s_app_backup_egress`` instead when given."""
    if opts["egress"]:
        return copy.deepcopy(opts["egress"])
    rules = []
    for store in (opts["store"], opts["prune_store"]):
        if not store:
            continue
        url = store.get("endpoint_url")
        parts = urlsplit(url) if url else None
        port = parts.port if parts and parts.port else (80 if parts and parts.scheme == "http" else 443)
        try:
            ip = ipaddress.ip_address((parts.hostname or "") if parts else "")
            peers = [{"ipBlock": {"cidr": f"{ip}/{ip.max_prefixlen}"}}]
        except ValueError:
            peers = [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]
        rule = {"to": peers, "ports": [{"protocol": "TCP", "port": port}]}
        if rule not in rules:
            rules.append(rule)
    return rules


def _recording_rules(app: dict[str, Any], ns: str, opts: dict[str, Any]) -> list[dict[str, Any]]:
    """kube-state-metrics' series of the CronJobs as the engine's metric names (metrics.py)."""

    def last_success(cronjob: str) -> str:
        return f'max(kube_cronjob_status_last_successful_time{{namespace="{ns}",cronjob="{cronjob}"}})'

    def last_failure(cronjob: str) -> str:
        return (
            f'max(kube_job_status_start_time{{namespace="{ns}"}}\n'
            f'  * on (namespace, job_name) group_left() (kube_job_failed{{namespace="{ns}",condition="true"}} == 1)\n'
            f'  * on (namespace, job_name) group_left() kube_job_owner{{namespace="{ns}",owner_kind="CronJob",'
            f'owner_name="{cronjob}"}})'
        )

    rules = []
    for _i, db in backed_up(app):
        labels = {"app": app["name"], "database": db["name"], "engine": db["engine"], "namespace": ns}
        series = [
            ("last_success_timestamp_seconds", last_success(cronjob_name(app, db, "run"))),
            ("last_failure_timestamp_seconds", last_failure(cronjob_name(app, db, "run"))),
        ]
        if opts["verify"] and db["backup"]["verify"]["schedule"]:
            series += [
                ("last_verified_restore_timestamp_seconds", last_success(cronjob_name(app, db, "verify"))),
                ("last_verify_failure_timestamp_seconds", last_failure(cronjob_name(app, db, "verify"))),
            ]
        rules += [{"record": f"opsdeck_backup_{name}", "expr": expr, "labels": dict(labels)} for name, expr in series]
    return rules


def render(app: dict[str, Any], ns: str, opts: dict[str, Any]) -> dict[str, Any]:
    """The backup objects of the app: ``{manifests, pods}`` (``pods`` as k8s_databases counts them
    for the quota: one pod per CronJob at most, concurrencyPolicy Forbid). Empty when the app has
    no managed database with backups, or backups are off (``check`` ran before)."""
    dbs = backed_up(app)
    if not opts["enabled"] or not dbs:
        return {"manifests": [], "pods": []}
    labels = companion_labels(app)
    verifies = _verifies(app, opts)
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": object_meta(config_name(app), ns, labels),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            # no key generated here: the tokens are the credentials Secrets' and the module's values
            "metadata": object_meta(config_name(app), ns, labels, annotations={GENERATE: ""}),
            "type": "Opaque",
            "stringData": {CONFIG_KEY: config_template(app, ns, opts)},
        },
    ]
    if verifies:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": object_meta(identity_name(app), ns, labels, annotations={GENERATE: ""}),
                "type": "Opaque",
                "stringData": {IDENTITY_KEY: token(GIVEN, IDENTITY_GIVEN)},
            }
        )
    backup_pods = {LABEL_INSTANCE: app["name"], LABEL_COMPONENT: "backup"}
    ports = sorted({d.ENGINES[db["engine"]]["port"] for _i, db in dbs})
    out.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": object_meta(f"{app['name']}-backup-egress", ns, labels),
            "spec": {
                "podSelector": {"matchLabels": backup_pods},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {"podSelector": {"matchLabels": {LABEL_INSTANCE: app["name"], LABEL_COMPONENT: "database"}}}
                        ],
                        "ports": [{"protocol": "TCP", "port": p} for p in ports],
                    },
                    *_s3_egress(opts),
                ],
            },
        }
    )
    pods = []
    for _i, db in dbs:
        base = base_name(app, db)
        db_labels = database_labels(app, db, base, "primary")
        servers = {LABEL_INSTANCE: app["name"], LABEL_COMPONENT: "database", LABEL_DATABASE: db_labels[LABEL_DATABASE]}
        out.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": object_meta(f"{base}-backup", ns, db_labels),
                "spec": {
                    "podSelector": {"matchLabels": servers},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [
                                {
                                    "podSelector": {
                                        "matchLabels": {**backup_pods, LABEL_DATABASE: servers[LABEL_DATABASE]}
                                    }
                                }
                            ],
                            "ports": [{"protocol": "TCP", "port": d.ENGINES[db["engine"]]["port"]}],
                        }
                    ],
                },
            }
        )
        steps = ["run"] + (["verify"] if opts["verify"] and db["backup"]["verify"]["schedule"] else [])
        for step in steps:
            cron = _cronjob(app, db, ns, opts, step)
            out.append(cron)
            containers = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
            pods.append((1, [c.get("resources") or {} for c in containers]))
    groups = [{"name": f"opsdeck-backups-{app['name']}", "rules": _recording_rules(app, ns, opts)}]
    groups += backup_rules([{**app, "databases": [db for _i, db in dbs]}])
    out.append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": object_meta(f"{app['name']}-backups", ns, labels),
            "spec": {"groups": groups},
        }
    )
    return {"manifests": out, "pods": pods}
