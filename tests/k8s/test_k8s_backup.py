# SPDX-License-Identifier: GPL-3.0-or-later
"""Backups of managed databases on Kubernetes (k8s_backup.py through k8s_app), on the real control plane.

The role runs through ansible-playbook (playbooks/k8s.yml), as in test_k8s_databases.py: the
CronJobs, the engine's config Secret, the verify identity, the ServiceAccount and the
NetworkPolicies as the API server holds them; a Job made from the CronJob's template is admitted
under Pod Security "restricted" and, completed by the simulated nodes, sets the CronJob's
``lastSuccessfulTime`` (what kube-state-metrics exports and the recording rules read); a second
run changes nothing; no secret value is in a CronJob or in the output; kubeconform with the
cluster's own schemas.

The simulated nodes run no container, so, as test_k8s_databases.py does for the database pods,
the rendered backup and verify pods are run by the Docker engine: the rig's image of the backup
engine (built from images/backup-engine/), its args and env, the config Secret mounted as the
kubelet mounts it (root-owned, group of the fsGroup, mode 0440), the read-only root with tmpfs
emptyDirs, the pod's uid, no capability; against the rendered PostgreSQL pod and the rig's S3
server (versitygw, its image) in containers of the test's own network. The backup is then listed
by the engine from outside, verified by the verify pod (a test restore with the model's query),
and restored into a new database whose rows are counted.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import catalog
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.stores import make_store
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_databases import keep_or_generate
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import fill_secrets
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import base_rules

from ..procs import rig_setting
from .conftest import Cluster, wait_until
from .openapi_schemas import kubeconform_served
from .test_k8s_app import Runner, recap, unique
from .test_k8s_databases import DockerPods, _docker, _logs, _rig_images, _secret

# age-keygen output made for these tests (no real backup is encrypted to it)
RECIPIENT = "age1a68wwj4u4htwntmgn45e2ufknv5fa9r0w40sym2p5f0x69sv9dqqastdjc"


def _age_pair() -> tuple[str, str] | None:
    """A fresh age identity and its recipient, when age-keygen is installed (the Docker test needs one)."""
    done = subprocess.run(["age-keygen"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    identity = next(line for line in done.stdout.splitlines() if line.startswith("AGE-SECRET-KEY-"))
    recipient = subprocess.run(["age-keygen", "-y"], input=identity, capture_output=True, text=True, check=True)
    return identity, recipient.stdout.strip()


def shop(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": "opsdeck/sampleapp:1.0.0",
        "replicas": 1,
        "ports": [{"name": "http", "port": 8080}],
        "health": {"path": "/health", "port": "http"},
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "databases": [
            {
                "name": "orders",
                "engine": "postgres",
                "managed": True,
                "resources": {"memory": "256Mi", "cpu": "250m"},
                "backup": {
                    "schedule": "30 1 * * *",
                    "keep": {"last": 2, "daily": 3},
                    "verify": {"schedule": "0 4 * * 0", "query": "SELECT count(*) = 3 FROM orders"},
                },
            }
        ],
    }


def store_vars(endpoint: str, access: str, secret: str, identity: str, recipient: str = RECIPIENT) -> dict[str, Any]:
    return {
        "opsdeck_backup_store": {
            "type": "s3",
            "bucket": "k8s-backups",
            "prefix": "dev",
            "endpoint_url": endpoint,
            "region": "us-east-1",
            "access_key": access,
            "secret_key": secret,
        },
        "opsdeck_backup_recipients": [recipient],
        "opsdeck_backup_identity": identity,
    }


def backup_option(variables: dict[str, Any], **over: Any) -> dict[str, Any]:
    """The role's backup option of the filter (roles/k8s_app/vars/main.yml) for these variables."""
    store = {
        k: (True if k in ("access_key", "secret_key") else v) for k, v in variables["opsdeck_backup_store"].items()
    }
    return {
        "enabled": True,
        # the role passes k8s_app_backup_image (its default: playbooks/images.yml's tag)
        "image": variables.get("k8s_app_backup_image", "opsdeck/backup-engine:0.1.0-0123456789ab"),
        "store": store,
        "recipients": variables["opsdeck_backup_recipients"],
        "identity": True,
        **over,
    }


def given(variables: dict[str, Any]) -> dict[str, str]:
    """The module's secret values for the backups, as the role sends them (_k8s_app_secrets)."""
    store = variables["opsdeck_backup_store"]
    return {
        "opsdeck-backup-store-access-key": store["access_key"],
        "opsdeck-backup-store-secret-key": store["secret_key"],
        "opsdeck-backup-identity": variables["opsdeck_backup_identity"].strip() + "\n",
    }


def test_role_applies_the_backup_cronjobs_and_secrets_idempotently(
    cluster: Cluster, tmp_path: Path, static_volumes: str, app_namespaces: list[str]
) -> None:
    name = unique("bk")
    app_namespaces.append(name)
    app = shop(name)
    access, secret = f"ak{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(24)
    identity = "AGE-SECRET-KEY-1" + "Q" * 58
    image = rig_setting("OPSDECK_IMAGE_BACKUP_ENGINE") or "127.0.0.1:5000/opsdeck/backup-engine:0.1.0-0123456789ab"
    variables = {
        **store_vars("http://10.96.200.10:9000", access, secret, identity),
        "k8s_app_storage_class": static_volumes,
        "k8s_app_wait_timeout": 60,
        "k8s_app_backup_image": image,
        "k8s_app_backup_time_zone": "Etc/UTC",
    }
    runner = Runner(cluster, tmp_path)
    core, batch = client.CoreV1Api(cluster.api), client.BatchV1Api(cluster.api)

    dry = runner.run([app], "--check", "--diff", **variables)
    assert f"+++ after: CronJob {name}/{name}-orders-db-backup" in dry.stdout, dry.stdout[-3000:]
    assert name not in {n.metadata.name for n in core.list_namespace().items}

    first = runner.run([app], "--diff", **variables)
    assert recap(first.stdout)["changed"] == 1
    backup = batch.read_namespaced_cron_job(f"{name}-orders-db-backup", name)
    verify = batch.read_namespaced_cron_job(f"{name}-orders-db-verify", name)
    assert backup.spec.schedule == "30 1 * * *" and verify.spec.schedule == "0 4 * * 0"
    assert backup.spec.time_zone == "Etc/UTC" and backup.spec.concurrency_policy == "Forbid"
    pod = backup.spec.job_template.spec.template.spec
    assert pod.containers[0].image == image and pod.containers[0].args == [f"{name}/orders", "run", "prune"]
    assert pod.automount_service_account_token is False and pod.service_account_name == f"{name}-backup"
    sa = core.read_namespaced_service_account(f"{name}-backup", name)
    assert sa.automount_service_account_token is False

    # the engine's config: the store keys given to the role, the database's generated admin password
    creds = _secret(core, name, f"{name}-orders-db-credentials")
    config = json.loads(_secret(core, name, f"{name}-backup")["config.json"])
    assert config["store"]["access_key"] == access and config["store"]["secret_key"] == secret
    assert config["jobs"][f"{name}/orders"]["password"] == creds["admin"]
    assert _secret(core, name, f"{name}-backup-identity")["identity.txt"].strip() == identity
    # ... which is nowhere but in the Secrets: not in the CronJobs, not in the output
    cronjobs = json.dumps([client.ApiClient().sanitize_for_serialization(c) for c in (backup, verify)])
    output = dry.stdout + first.stdout + first.stderr
    for value in (access, secret, identity, creds["admin"]):
        assert value not in cronjobs and value not in output
    for c in (backup, verify):
        assert not any(e.value_from for e in c.spec.job_template.spec.template.spec.containers[0].env or [])

    # the policies as the API server holds them: the database admits the backup pods
    net = client.NetworkingV1Api(cluster.api)
    labels = backup.spec.job_template.spec.template.metadata.labels
    ingress = net.read_namespaced_network_policy(f"{name}-orders-db-backup", name).spec.ingress[0]
    assert all(labels.get(k) == v for k, v in ingress._from[0].pod_selector.match_labels.items())
    egress = net.read_namespaced_network_policy(f"{name}-backup-egress", name).spec.egress
    assert egress[1].to[0].ip_block.cidr == "10.96.200.10/32" and egress[1].ports[0].port == 9000

    # a run of the CronJob: admitted under "restricted", completed by the simulated node, recorded
    # by the CronJob controller as its last success (kube_cronjob_status_last_successful_time)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{name}-orders-db-backup-manual",
            "namespace": name,
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": backup.metadata.name,
                    "uid": backup.metadata.uid,
                    "controller": True,
                }
            ],
        },
        "spec": client.ApiClient().sanitize_for_serialization(backup.spec.job_template.spec),
    }
    cluster.apply(job, namespace=name)
    done = wait_until(
        "the manual backup Job complete",
        lambda: batch.read_namespaced_job(job["metadata"]["name"], name).status.succeeded,
        timeout=60,
    )
    assert done == 1
    wait_until(
        "the CronJob's lastSuccessfulTime",
        lambda: batch.read_namespaced_cron_job(backup.metadata.name, name).status.last_successful_time,
        timeout=60,
    )
    batch.delete_namespaced_job(job["metadata"]["name"], name, propagation_policy="Background")

    # a second run: nothing to write
    second = runner.run([app], **variables)
    assert recap(second.stdout)["changed"] == 0, second.stdout[-3000:]
    assert _secret(core, name, f"{name}-orders-db-credentials") == creds

    # backups off: the CronJobs and their Secrets are pruned, the database stays
    off = runner.run([app], **{**variables, "k8s_app_backups": False})
    assert recap(off.stdout)["changed"] == 1
    assert not batch.list_namespaced_cron_job(name).items
    assert f"{name}-backup" not in {s.metadata.name for s in core.list_namespaced_secret(name).items}
    assert client.AppsV1Api(cluster.api).read_namespaced_stateful_set(f"{name}-orders-db", name)


def test_role_refuses_backups_without_a_usable_store_before_applying_anything(cluster: Cluster, tmp_path: Path) -> None:
    name = unique("bkbad")
    runner = Runner(cluster, tmp_path)
    variables = store_vars("http://10.96.200.10:9000", "ak", "sk", "")
    variables["opsdeck_backup_store"] = {"type": "local", "path": "/srv/backups"}
    done = runner.run([shop(name)], check=False, **variables)
    assert done.returncode != 0
    assert "opsdeck_backup_store.type: 'local' is a directory of a host" in done.stdout, done.stdout[-3000:]
    assert (
        f"app '{name}': field 'databases[0].backup.verify.schedule' is set, but opsdeck_backup_identity is empty"
        in (done.stdout)
    )
    assert name not in {n.metadata.name for n in client.CoreV1Api(cluster.api).list_namespace().items}


def test_rendered_backup_manifests_pass_kubeconform_with_the_clusters_own_schemas(
    cluster: Cluster, tmp_path: Path
) -> None:
    variables = store_vars("https://s3.example.com", "ak", "sk", "AGE-SECRET-KEY-1" + "Q" * 58)
    (rel,) = render_apps(
        normalize_apps([shop("kcb")], environment="dev", registry="127.0.0.1:5000"),
        {"storage_class": "x", "backup": backup_option(variables, time_zone="Europe/Berlin")},
    )
    manifests = keep_or_generate(lambda _ns, _name: None, fill_secrets(rel["manifests"], {}), given=given(variables))
    openapi = json.loads(cluster.kubectl("get", "--raw", "/openapi/v2").stdout)
    checked, report = kubeconform_served(openapi, manifests, cluster.bin / "kubeconform", tmp_path)
    assert {m["kind"] for m in manifests} - {m["kind"] for m in checked} <= {"ServiceMonitor", "PrometheusRule"}
    assert sum(m["kind"] == "CronJob" for m in checked) == 2
    assert report.pop("returncode") == 0, report
    assert report["summary"] == {"valid": len(checked), "invalid": 0, "errors": 0, "skipped": 0}


def test_the_recording_rules_make_the_rule_librarys_backup_alerts_fire_from_kube_state_metrics(
    tmp_path: Path,
) -> None:
    """promtool (the rig's Prometheus image) evaluates the rendered PrometheusRule with the rule
    library's own backup alerts over kube-state-metrics series of the CronJobs: a failed Job after
    the last success fires BackupFailed, a success after the failure clears it, no success for 26
    hours fires BackupStale (30 h: 28 h after the success at 02:00)."""
    images = _rig_images(("prometheus",))
    if "prometheus" not in images or _docker("info", check=False).returncode != 0:
        pytest.skip("the rig's Prometheus image (promtool) or the Docker engine is missing")
    variables = store_vars("https://s3.example.com", "ak", "sk", "AGE-SECRET-KEY-1" + "Q" * 58)
    (rel,) = render_apps(normalize_apps([shop("bkp")], environment="dev"), {"backup": backup_option(variables)})
    (rule,) = [m for m in rel["manifests"] if m["kind"] == "PrometheusRule"]
    library = [g for g in base_rules() if g["name"] == "opsdeck-backups"]
    (tmp_path / "backups.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    (tmp_path / "library.yml").write_text(yaml.safe_dump({"groups": library}))
    ns, cron = 'namespace="bkp"', "bkp-orders-db-backup"
    hour = 3600

    def job(name: str, start: int, failed: int, owner: str = cron, samples: int = 200) -> list[dict[str, str]]:
        ref = f'{ns},job_name="{name}"'
        return [
            {"series": f"kube_job_status_start_time{{{ref}}}", "values": f"{start}x{samples}"},
            {"series": f'kube_job_failed{{{ref},condition="true"}}', "values": f"{failed}x{samples}"},
            {
                "series": f'kube_job_owner{{{ref},owner_kind="CronJob",owner_name="{owner}",owner_is_controller="1"}}',
                "values": f"1x{samples}",
            },
        ]

    labels = {"app": "bkp", "database": "orders", "engine": "postgres", "namespace": "bkp"}

    def annotations(alert: str, age: str = "") -> dict[str, str]:
        """The library rule's annotations with its templates filled for these labels (and the age)."""
        (found,) = [r for r in library[0]["rules"] if r["alert"] == alert]

        def fill(text: str) -> str:
            text = text.replace("{{ $value | humanizeDuration }}", age)
            return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)

        return {k: fill(v) for k, v in found["annotations"].items()}

    tests = {
        "evaluation_interval": "1m",
        "rule_files": ["backups.yml", "library.yml"],
        "tests": [
            {
                # the last success at 00:00, a run started at 01:00 failed; the verify CronJob never succeeded
                "interval": "1m",
                "input_series": [
                    {"series": f'kube_cronjob_status_last_successful_time{{{ns},cronjob="{cron}"}}', "values": "0x200"},
                    *job(f"{cron}-1", hour, 1),
                    *job("bkp-orders-db-verify-1", hour, 0, owner="bkp-orders-db-verify"),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "BackupFailed",
                        "exp_alerts": [
                            {
                                "exp_labels": {**labels, "severity": "warning"},
                                "exp_annotations": annotations("BackupFailed"),
                            }
                        ],
                    }
                ],
                "promql_expr_test": [
                    {
                        "expr": "opsdeck_backup_last_failure_timestamp_seconds",
                        "eval_time": "1m",
                        "exp_samples": [
                            {"labels": _series("opsdeck_backup_last_failure_timestamp_seconds", labels), "value": hour}
                        ],
                    }
                ],
            },
            {
                # a success at 02:00 after the failure at 01:00: no BackupFailed; 28 hours later BackupStale
                "interval": "1m",
                "input_series": [
                    {
                        "series": f'kube_cronjob_status_last_successful_time{{{ns},cronjob="{cron}"}}',
                        "values": f"{2 * hour}x1900",
                    },
                    *job(f"{cron}-1", hour, 1, samples=1900),
                ],
                "alert_rule_test": [
                    {"eval_time": "3h", "alertname": "BackupFailed", "exp_alerts": []},
                    {"eval_time": "3h", "alertname": "BackupStale", "exp_alerts": []},
                    {
                        "eval_time": "30h",
                        "alertname": "BackupStale",
                        "exp_alerts": [
                            {
                                "exp_labels": {**labels, "severity": "critical"},
                                "exp_annotations": annotations("BackupStale", "1d 4h 0m 0s"),
                            }
                        ],
                    },
                ],
            },
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(tests))
    done = _docker(
        "run", "--rm", "--user", f"{os.getuid()}", "-v", f"{tmp_path}:/rules:ro", "-w", "/rules",
        "--entrypoint", "promtool", images["prometheus"], "test", "rules", "test.yml",
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "SUCCESS" in done.stdout + done.stderr


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


# ---------------------------------------------------------------------------------------------
# The rendered backup pods, run by the Docker engine (the simulated nodes run no container).


def _run_pod(
    pods: DockerPods, cron: dict[str, Any], secrets_: dict[str, dict[str, str]], args: list[str] | None = None
):
    """The CronJob's pod as the kubelet would run it (DockerPods' rules), on the test's network; its result."""
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    (c,) = pod["spec"]["containers"]
    if args is not None:
        c = {**c, "args": args}
    env = pods._env_file(c, secrets_)
    name = f"{pods.prefix}-{cron['metadata']['name']}-{uuid.uuid4().hex[:4]}"
    pods.containers.append(name)
    run_args = pods._run_args(c, pod, env, pods._mounts(c, pod, "", secrets_, {}))
    return _docker("run", "--name", name, "--network", pods.network, *run_args, check=False, timeout=300)


def test_the_rendered_backup_pods_back_up_verify_and_restore_for_real(tmp_path: Path) -> None:
    images = _rig_images(("backup-engine", "postgresql", "postgres-exporter", "s3"))
    missing = {"backup-engine", "postgresql", "postgres-exporter", "s3"} - set(images)
    if missing:
        pytest.skip(f"the rig's images {sorted(missing)} are not built (bash tests/rig/up.sh images)")
    if _docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine")
    pair = _age_pair()
    if pair is None:
        pytest.skip("no age-keygen on this machine")
    identity, recipient = pair
    app = shop("bkrun")
    ns = "bkrun"
    access, secret = f"ak{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(24)
    pods = DockerPods(tmp_path, images)
    try:
        # the S3 server: the rig's versitygw image, in the test's network under a name of its own
        s3_name = f"{pods.prefix}-s3"
        pods.containers.append(s3_name)
        _docker(
            "run", "-d", "--name", s3_name, "--network", pods.network, "--network-alias", "s3.backups.test",
            "-e", f"S3_ACCESS_KEY={access}", "-e", f"S3_SECRET_KEY={secret}", images["s3"],
        )  # fmt: skip
        variables = store_vars("http://s3.backups.test:9000", access, secret, identity, recipient)
        (rel,) = render_apps(
            normalize_apps([app], environment="dev", registry="127.0.0.1:5000"),
            {"backup": backup_option(variables, image=images["backup-engine"])},
        )
        manifests = keep_or_generate(
            lambda _ns, _name: None, fill_secrets(rel["manifests"], {}), given=given(variables)
        )
        secrets_ = {
            m["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in m["data"].items()}
            for m in manifests
            if m["kind"] == "Secret"
        }
        configs = {m["metadata"]["name"]: m["data"] for m in manifests if m["kind"] == "ConfigMap"}
        by_name = {(m["kind"], m["metadata"]["name"]): m for m in manifests}
        backup_cron = by_name[("CronJob", "bkrun-orders-db-backup")]
        verify_cron = by_name[("CronJob", "bkrun-orders-db-verify")]
        for cron in (backup_cron, verify_cron):
            text = json.dumps(cron)
            assert all(
                v not in text for v in (access, secret, identity, secrets_["bkrun-orders-db-credentials"]["admin"])
            )

        primary = pods.start(
            by_name[("StatefulSet", "bkrun-orders-db")], secrets_, configs, [f"bkrun-orders-db.{ns}.svc"]
        )
        rows = (
            "CREATE TABLE orders (id int PRIMARY KEY, item text); "
            "INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c')"
        )
        _docker("exec", primary, "psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", "orders", "-c", rows)

        s3_ip = pods.address(s3_name)
        store = make_store(
            {
                **variables["opsdeck_backup_store"],
                "endpoint_url": f"http://{s3_ip}:9000",
            }
        )
        import boto3
        from botocore.config import Config

        s3 = boto3.client(
            "s3", endpoint_url=f"http://{s3_ip}:9000", aws_access_key_id=access, aws_secret_access_key=secret,
            region_name="us-east-1", config=Config(s3={"addressing_style": "path"}),
        )  # fmt: skip
        wait_until("the S3 server", lambda: _try(s3.list_buckets), timeout=30)
        s3.create_bucket(Bucket="k8s-backups")

        # the backup CronJob's pod: run, then prune
        done = _run_pod(pods, backup_cron, secrets_)
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        run_doc, prune_doc = (json.loads(line) for line in done.stdout.splitlines() if line.startswith("{"))
        assert run_doc["job"] == "bkrun/orders" and run_doc["size"] > 0
        assert prune_doc["failed"] == {} and prune_doc["kept"] == [run_doc["id"]]
        listed = catalog.list_backups(store, "bkrun", "orders")
        assert [b["id"] for b in listed] == [run_doc["id"]] and listed[0]["engine"] == "postgres"
        assert not listed[0].get("verified_at")
        # the object is encrypted: no row of the table is readable in it
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="k8s-backups", Prefix="dev/bkrun/orders/")["Contents"]]
        (data_key,) = [k for k in keys if k.endswith(run_doc["key"].rsplit("/", 1)[-1])]
        body = s3.get_object(Bucket="k8s-backups", Key=data_key)["Body"].read()
        assert body.startswith(b"age-encryption.org/v1") and b"orders" not in body

        # the verify CronJob's pod: a test restore with the model's query, recorded in the catalog
        done = _run_pod(pods, verify_cron, secrets_)
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        (verified,) = catalog.list_backups(store, "bkrun", "orders")
        assert verified["verified_at"]
        # the backup pod holds no identity: verify with its mounts fails
        done = _run_pod(pods, backup_cron, secrets_, args=["bkrun/orders", "verify"])
        assert done.returncode != 0 and "identity" in done.stderr

        # a restore with the verify pod's mounts into a new database: the three rows are back
        done = _run_pod(pods, verify_cron, secrets_, args=["--", "restore", "bkrun/orders", "--database", "restored"])
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        count = _docker(
            "exec", primary, "psql", "-tA", "-d", "restored", "-c", "SELECT count(*), max(item) FROM orders"
        )
        assert count.stdout.strip() == "3|c", count.stdout + count.stderr
    except AssertionError:
        print(_logs(f"{pods.prefix}-s3"))
        raise
    finally:
        pods.close()


def _try(fn):
    try:
        return fn() or True
    except Exception:  # the server is not up yet
        return None
