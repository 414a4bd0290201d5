# SPDX-License-Identifier: GPL-3.0-or-later
"""Backups of managed databases on Kubernetes (plugins/module_utils/k8s_backup.py), without a cluster."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_backup as kb
from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_databases as kd
from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_manifests as km
from ansible_collections.opsdeck.platform.plugins.module_utils.backup import config as engine_config
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import fill_secrets, manifest_hash
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, normalize_apps

RECIPIENT = "age1a68wwj4u4htwntmgn45e2ufknv5fa9r0w40sym2p5f0x69sv9dqqastdjc"
PG = {
    "name": "orders",
    "engine": "postgres",
    "managed": True,
    "backup": {
        "schedule": "15 3 * * *",
        "keep": {"daily": 3, "weekly": 2},
        "verify": {"schedule": "0 5 * * 0", "query": "SELECT count(*) > 0 FROM orders"},
    },
}
REDIS = {"name": "cache", "engine": "redis", "managed": True}
GIVEN = {
    "opsdeck-backup-store-access-key": "AKIDEXAMPLE",
    "opsdeck-backup-store-secret-key": 'wJal"rXUt\\nFEMI/K7MDENG',
    "opsdeck-backup-identity": "AGE-SECRET-KEY-1EXAMPLE\n",
}


def shop(*databases: dict[str, Any], name: str = "shop") -> dict[str, Any]:
    return {
        "name": name,
        "image": "opsdeck/sampleapp:1.0.0",
        "ports": [{"name": "http", "port": 8080}],
        "resources": {"cpu": "200m", "memory": "128Mi"},
        "databases": list(databases),
    }


def backup_option(**over: Any) -> dict[str, Any]:
    opt = {
        "enabled": True,
        "image": "opsdeck/backup-engine:0.1.0-0123456789ab",
        "store": {
            "type": "s3",
            "bucket": "shop-backups",
            "prefix": "dev",
            "endpoint_url": "http://10.20.30.40:9000",
            "access_key": True,
            "secret_key": True,
        },
        "recipients": [RECIPIENT],
        "identity": True,
    }
    opt.update(over)
    return opt


def release(*apps: dict[str, Any], **backup: Any) -> dict[str, Any]:
    (rel, *_rest) = render_apps(
        normalize_apps(list(apps), environment="dev", registry="127.0.0.1:5000"), {"backup": backup_option(**backup)}
    )
    return rel


def by(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def resolved(rel: dict[str, Any], given: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return kd.keep_or_generate(lambda _ns, _name: None, fill_secrets(rel["manifests"], {}), given=given or GIVEN)


def secret_data(m: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in m["data"].items()}


def test_off_unless_asked_and_nothing_without_a_backed_up_managed_database() -> None:
    (rel,) = render_apps(normalize_apps([shop(PG)], environment="dev"), {})
    assert not any(m["kind"] == "CronJob" for m in rel["manifests"])
    off = {**PG, "backup": {"enabled": False}}
    assert not any(m["kind"] == "CronJob" for m in release(shop(off))["manifests"])
    assert not any(m["kind"] == "CronJob" for m in release(shop())["manifests"])


def test_a_cronjob_per_database_hardened_with_the_models_schedule() -> None:
    rel = release(shop(PG, REDIS), time_zone="Europe/Berlin")
    ms = rel["manifests"]
    cron = by(ms, "CronJob", "shop-orders-db-backup")
    spec = cron["spec"]
    assert spec["schedule"] == "15 3 * * *" and spec["timeZone"] == "Europe/Berlin"
    assert spec["concurrencyPolicy"] == "Forbid" and spec["startingDeadlineSeconds"] == 3600
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 1 and job["activeDeadlineSeconds"] == 21600
    pod = job["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "shop-backup"
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == kb.UID and pod["securityContext"]["fsGroup"] == kb.UID
    (c,) = pod["containers"]
    assert c["image"] == "127.0.0.1:5000/opsdeck/backup-engine:0.1.0-0123456789ab"  # behind opsdeck_registry
    assert c["args"] == ["shop/orders", "run", "prune"]  # retention after a good backup, as on hosts
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["allowPrivilegeEscalation"] is False and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert set(mounts) == {"/etc/opsdeck-backup/config", "/run/opsdeck-backup", "/tmp"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["secret"] == {
        "secretName": "shop-backup",
        "items": [{"key": "config.json", "path": "config.json"}],
        "defaultMode": 0o400,
    }
    assert volumes["runtime"]["emptyDir"]["medium"] == "Memory" and "emptyDir" in volumes["tmp"]
    # no secret in the pod spec: env holds two paths, nothing refers to a Secret's key
    assert [e["name"] for e in c["env"]] == ["OPSDECK_BACKUP_CONFIG_SOURCE", "OPSDECK_BACKUP_RUNTIME_DIR"]
    assert all("value" in e for e in c["env"])
    # the backup pods are not the app's: the Service and the workload do not select them
    labels = job["template"]["metadata"]["labels"]
    service = by(ms, "Service", "shop")["spec"]["selector"]
    assert not all(labels.get(k) == v for k, v in service.items())
    # the Redis cache too (default schedule), but no verify CronJob without a verify schedule
    assert by(ms, "CronJob", "shop-cache-db-backup")["spec"]["schedule"] == "0 2 * * *"
    assert not any(m["metadata"]["name"] == "shop-cache-db-verify" for m in ms)
    # pruned by label like everything else of the app
    assert ("batch/v1", "CronJob") in km.PRUNABLE
    assert cron["metadata"]["labels"]["app.kubernetes.io/instance"] == "shop"


def test_verify_cronjob_mounts_the_identity_which_the_backup_pods_never_get() -> None:
    ms = release(shop(PG))["manifests"]
    verify = by(ms, "CronJob", "shop-orders-db-verify")
    assert verify["spec"]["schedule"] == "0 5 * * 0"
    pod = verify["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == ["shop/orders", "verify"]
    assert {v["name"]: v for v in pod["volumes"]}["identity"]["secret"]["secretName"] == "shop-backup-identity"
    backup_pod = by(ms, "CronJob", "shop-orders-db-backup")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert "identity" not in {v["name"] for v in backup_pod["volumes"]}
    # verify off: neither the CronJob nor the identity Secret
    ms = release(shop(PG), verify=False)["manifests"]
    assert not any(m["metadata"]["name"] in ("shop-orders-db-verify", "shop-backup-identity") for m in ms)


def test_the_config_secret_is_the_engines_config_with_no_value_in_the_manifest() -> None:
    rel = release(shop(PG, REDIS))
    template = by(rel["manifests"], "Secret", "shop-backup")
    text = json.dumps(rel)
    for value in GIVEN.values():
        assert value.strip() not in text  # no value was rendered
    assert "__opsdeck__given__opsdeck-backup-store-secret-key__" in template["stringData"]["config.json"]
    ms = resolved(rel)
    creds = secret_data(by(ms, "Secret", "shop-orders-db-credentials"))
    config = json.loads(secret_data(by(ms, "Secret", "shop-backup"))["config.json"])
    # the secret key survives JSON (a quote and a backslash in it)
    assert config["store"]["secret_key"] == GIVEN["opsdeck-backup-store-secret-key"]
    assert config["store"]["access_key"] == "AKIDEXAMPLE" and config["store"]["bucket"] == "shop-backups"
    job = config["jobs"]["shop/orders"]
    assert job["password"] == creds["admin"] and job["host"] == "shop-orders-db.shop.svc" and job["user"] == "postgres"
    assert job["keep"]["daily"] == 3 and job["verify_query"] == "SELECT count(*) > 0 FROM orders"
    assert config["identity_file"] == "/etc/opsdeck-backup/identity/identity.txt"
    assert secret_data(by(ms, "Secret", "shop-backup-identity"))["identity.txt"] == GIVEN["opsdeck-backup-identity"]
    # the engine reads it as its own config: store, settings and jobs
    assert engine_config.store_from(config) is not None
    assert engine_config.settings_from(config).recipients == [RECIPIENT]
    assert engine_config.job_named(config, "shop/cache").conn.engine == "redis"
    # the manifest hash of the Secret does not depend on the values (keys only)
    other = resolved(rel, {**GIVEN, "opsdeck-backup-store-secret-key": "other"})
    assert manifest_hash(by(other, "Secret", "shop-backup")) == manifest_hash(by(ms, "Secret", "shop-backup"))


def test_a_missing_given_value_is_an_error_naming_the_secret() -> None:
    rel = release(shop(PG))
    with pytest.raises(
        kd.K8sDatabaseError, match="Secret shop-backup: a template refers to given/opsdeck-backup-store"
    ):
        resolved(rel, {"opsdeck-backup-identity": "x"})


def test_network_policies_let_the_backup_pods_reach_the_database_and_the_store() -> None:
    ms = release(shop(PG))["manifests"]
    pod_labels = by(ms, "CronJob", "shop-orders-db-backup")["spec"]["jobTemplate"]["spec"]["template"]["metadata"][
        "labels"
    ]
    ingress = by(ms, "NetworkPolicy", "shop-orders-db-backup")["spec"]
    server = by(ms, "StatefulSet", "shop-orders-db")["spec"]["template"]["metadata"]["labels"]
    assert all(server[k] == v for k, v in ingress["podSelector"]["matchLabels"].items())
    peer = ingress["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert all(pod_labels[k] == v for k, v in peer.items()) and ingress["ingress"][0]["ports"][0]["port"] == 5432
    egress = by(ms, "NetworkPolicy", "shop-backup-egress")["spec"]
    assert all(pod_labels[k] == v for k, v in egress["podSelector"]["matchLabels"].items())
    assert egress["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    # the store's endpoint is an address: only it, on its port
    assert egress["egress"][1] == {
        "to": [{"ipBlock": {"cidr": "10.20.30.40/32"}}],
        "ports": [{"protocol": "TCP", "port": 9000}],
    }
    # a host name cannot be named by a NetworkPolicy: its port to any address; AWS: 443
    store = {**backup_option()["store"], "endpoint_url": "https://s3.example.com"}
    rule = by(release(shop(PG), store=store)["manifests"], "NetworkPolicy", "shop-backup-egress")["spec"]["egress"][1]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}] and {"ipBlock": {"cidr": "0.0.0.0/0"}} in rule["to"]
    custom = [{"to": [{"ipBlock": {"cidr": "192.0.2.0/24"}}], "ports": [{"protocol": "TCP", "port": 8443}]}]
    got = by(release(shop(PG), egress=custom)["manifests"], "NetworkPolicy", "shop-backup-egress")["spec"]["egress"]
    assert got[1:] == custom


def test_recording_rules_give_the_rule_librarys_backup_metrics_from_kube_state_metrics() -> None:
    rule = by(release(shop(PG))["manifests"], "PrometheusRule", "shop-backups")
    groups = {g["name"]: g["rules"] for g in rule["spec"]["groups"]}
    records = {r["record"]: r for r in groups["opsdeck-backups-shop"]}
    success = records["opsdeck_backup_last_success_timestamp_seconds"]
    assert 'cronjob="shop-orders-db-backup"' in success["expr"] and 'namespace="shop"' in success["expr"]
    assert success["labels"] == {"app": "shop", "database": "orders", "engine": "postgres", "namespace": "shop"}
    assert "kube_job_failed" in records["opsdeck_backup_last_failure_timestamp_seconds"]["expr"]
    verified = records["opsdeck_backup_last_verified_restore_timestamp_seconds"]["expr"]
    assert 'cronjob="shop-orders-db-verify"' in verified
    # the app's BackupMissing from the rule library (monitoring.backup_rules), not a copy
    (missing,) = groups["opsdeck-backups-expected"]
    assert missing["alert"] == "BackupMissing" and missing["labels"]["database"] == "orders"


def test_the_quota_counts_the_backup_pods() -> None:
    def quota(rel: dict[str, Any]) -> dict[str, str]:
        return by(rel["manifests"], "ResourceQuota", "shop")["spec"]["hard"]

    (without,) = render_apps(normalize_apps([shop(PG)], environment="dev"), {})
    with_backups = quota(release(shop(PG)))
    assert int(with_backups["pods"]) == int(quota(without)["pods"]) + 2  # backup + verify


def test_bad_input_is_refused_naming_the_app_and_the_field() -> None:
    def findings(**backup: Any) -> str:
        with pytest.raises(ModelError) as err:
            release(shop(PG), **backup)
        return str(err.value)

    text = findings(store=None)
    assert "app 'shop': field 'databases[0].backup.enabled'" in text and "opsdeck_backup_store must be set" in text
    assert "opsdeck_backup_store.type: 'local'" in findings(store={"type": "local", "path": "/srv/backups"})
    text = findings(store={"type": "s3", "bucket": "Bad_Bucket", "access_key": True, "secret_key": False})
    assert "opsdeck_backup_store.bucket must be an S3 bucket name" in text
    assert "opsdeck_backup_store.secret_key must be a non-empty string" in text
    assert "opsdeck_backup_recipients: at least one age public key" in findings(recipients=[])
    assert "is not an age X25519 public key" in findings(recipients=["ssh-ed25519 AAAA"])
    text = findings(identity=False)
    assert (
        "app 'shop': field 'databases[0].backup.verify.schedule' is set, but opsdeck_backup_identity is empty" in text
    )
    assert "k8s_app_backup_time_zone: 'not a zone!'" in findings(time_zone="not a zone!")
    assert "option 'backup.history_limit': 0 is not an integer >= 1" in findings(history_limit=0)
    assert "unknown option 'backup.colour'" in findings(colour="red")
    # the secret values are never in a message: the filter only ever sees whether they are set
    assert "AKIDEXAMPLE" not in text


def test_given_keys_are_the_names_the_role_sends() -> None:
    assert kb.given_key("store", "access_key") == "opsdeck-backup-store-access-key"
    assert kb.given_key("prune_store", "secret_key") == "opsdeck-backup-prune-store-secret-key"
    prune = {"type": "s3", "bucket": "shop-backups", "access_key": True, "secret_key": True}
    rel = release(shop(PG), prune_store=prune)
    config = by(rel["manifests"], "Secret", "shop-backup")["stringData"]["config.json"]
    assert "__opsdeck__given__opsdeck-backup-prune-store-secret-key__" in config


def test_schedules_are_written_as_the_cronjob_controller_reads_them() -> None:
    """robfig/cron takes weekdays 0-6 only, and ORs a stepped star with a restricted day field."""
    sunday = {**PG, "backup": {**PG["backup"], "schedule": "0 2 * * 5-7"}}
    cron = by(release(shop(sunday))["manifests"], "CronJob", "shop-orders-db-backup")
    assert cron["spec"]["schedule"] == "0 2 * * 0,5,6"
    odd = {**PG, "backup": {**PG["backup"], "schedule": "0 3 */2 * sun"}}
    with pytest.raises(Exception, match=r"field 'databases\[0\]\.backup\.schedule': '\*/2' with the restricted"):
        release(shop(odd))
