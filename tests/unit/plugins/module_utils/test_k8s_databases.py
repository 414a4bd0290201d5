# SPDX-License-Identifier: GPL-3.0-or-later
"""Managed databases on Kubernetes (plugins/module_utils/k8s_databases.py), without a cluster."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.opsdeck.platform.plugins.module_utils import database as d
from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_common as kc
from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_databases as kd
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, normalize_apps

ROOT = Path(__file__).resolve().parents[4]


def shop(*databases: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": "shop",
        "image": "opsdeck/sampleapp:1.0.0",
        "ports": [{"name": "http", "port": 8080}],
        "resources": {"cpu": "200m", "memory": "128Mi"},
        "databases": list(databases),
        **fields,
    }


PG = {"name": "orders", "engine": "postgres", "managed": True, "resources": {"memory": "1Gi", "cpu": "500m"}}
REDIS = {"name": "cache", "engine": "redis", "managed": True, "resources": {"memory": "256Mi"}}
MARIADB = {"name": "legacy", "engine": "mariadb", "managed": True, "resources": {"memory": "512Mi"}}


def release(*apps: dict[str, Any], **options: Any) -> dict[str, Any]:
    (rel,) = render_apps(normalize_apps(list(apps), environment="dev", registry="127.0.0.1:5000"), options)
    return rel


def find(rel: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    found = [m for m in rel["manifests"] if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {[(m['kind'], m['metadata']['name']) for m in rel['manifests']]}"
    return found[0]


def container(sts: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def filled(rel: dict[str, Any], live: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return kd.keep_or_generate(lambda ns, name: (live or {}).get((ns, name)), rel["manifests"])


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_a_postgres_with_a_replica_gets_its_objects_before_the_apps_workload() -> None:
    rel = release(shop({**PG, "replicas": 2}))
    names = [(m["kind"], m["metadata"]["name"]) for m in rel["manifests"]]
    db = [n for n in names if "orders" in n[1]]
    assert db == [
        ("Secret", "shop-orders-db-credentials"),
        ("NetworkPolicy", "shop-orders-db"),
        ("Service", "shop-orders-db-headless"),
        ("Service", "shop-orders-db"),
        ("Service", "shop-orders-db-replica-headless"),
        ("Service", "shop-orders-db-replica"),
        ("StatefulSet", "shop-orders-db"),
        ("PodDisruptionBudget", "shop-orders-db"),
        ("StatefulSet", "shop-orders-db-replica"),
        ("PodDisruptionBudget", "shop-orders-db-replica"),
        ("ServiceMonitor", "shop-orders-db"),
    ]
    assert names.index(("Secret", "shop-databases")) < names.index(("Deployment", "shop"))
    assert names.index(("StatefulSet", "shop-orders-db")) < names.index(("Deployment", "shop"))
    # every object carries the prune labels of the app but the credentials, which stay with the claims
    selector = dict(part.split("=") for part in rel["selector"].split(","))
    for m in rel["manifests"]:
        labels = m["metadata"]["labels"]
        pruned = all(labels.get(k) == v for k, v in selector.items())
        assert pruned != m["metadata"]["name"].endswith("-credentials"), m["metadata"]["name"]
        assert labels[kc.LABEL_MANAGED_BY] == "opsdeck"
    assert find(rel, "Secret", "shop-orders-db-credentials")["metadata"]["labels"][kd.LABEL_APP] == "shop"
    primary = find(rel, "StatefulSet", "shop-orders-db")
    replica = find(rel, "StatefulSet", "shop-orders-db-replica")
    assert primary["spec"]["replicas"] == 1 and replica["spec"]["replicas"] == 2
    assert primary["spec"]["serviceName"] == "shop-orders-db-headless"
    assert find(rel, "Service", "shop-orders-db-headless")["spec"]["clusterIP"] == "None"
    assert find(rel, "Service", "shop-orders-db")["spec"]["type"] == "ClusterIP"
    # the database pods are not the app's: the app's Service and PDB select other pods
    app_selector = find(rel, "Deployment", "shop")["spec"]["selector"]["matchLabels"]
    for sts in (primary, replica):
        labels = sts["spec"]["template"]["metadata"]["labels"]
        assert not all(labels.get(k) == v for k, v in app_selector.items())
    assert find(rel, "PodDisruptionBudget", "shop-orders-db")["spec"]["minAvailable"] == 1
    assert find(rel, "PodDisruptionBudget", "shop-orders-db-replica")["spec"]["maxUnavailable"] == 1


def test_claims_come_from_the_volume_options() -> None:
    rel = release(shop(PG), volume_size="5Gi", storage_class="fast")
    (claim,) = find(rel, "StatefulSet", "shop-orders-db")["spec"]["volumeClaimTemplates"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "fast",
    }
    assert find(rel, "StatefulSet", "shop-orders-db")["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    quota = find(rel, "ResourceQuota", "shop")["spec"]["hard"]
    assert quota["persistentvolumeclaims"] == "1" and quota["requests.storage"] == "5Gi"


@pytest.mark.parametrize("db", [PG, REDIS, MARIADB], ids=lambda db: db["engine"])
def test_every_container_is_hardened_for_pod_security_restricted(db: dict[str, Any]) -> None:
    rel = release(shop({**db, "replicas": 1} if db["engine"] == "postgres" else db))
    for sts in (m for m in rel["manifests"] if m["kind"] == "StatefulSet"):
        spec = sts["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert isinstance(spec["securityContext"]["runAsUser"], int) and spec["securityContext"]["runAsUser"] > 0
        assert spec["automountServiceAccountToken"] is False
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
            mounts = {m["mountPath"] for m in c["volumeMounts"]}
            assert "/tmp" in mounts, c["name"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["tmp"]["emptyDir"]["medium"] == "Memory"
        if db["engine"] == "postgres":
            assert {"mountPath": "/dev/shm", "name": "shm"} in container(sts, "postgres")["volumeMounts"]


def test_probes_are_the_engines_own_checks() -> None:
    rel = release(shop(PG, REDIS, MARIADB))
    expect = {
        ("shop-orders-db", "postgres"): ["pg_isready", "-q", "-U", "postgres", "-d", "postgres"],
        ("shop-cache-db", "redis"): ["/bin/sh", "-c", "redis-cli --no-auth-warning ping | grep -q PONG"],
        ("shop-legacy-db", "mariadb"): ["mariadb-admin", "ping", "--user=root", "--silent"],
    }
    for (name, engine), command in expect.items():
        c = container(find(rel, "StatefulSet", name), engine)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["exec"]["command"] == command, (name, probe)


def test_tuning_and_resources_follow_the_database_resources_as_on_docker_hosts() -> None:
    rel = release(shop(PG, REDIS, MARIADB))
    pg = container(find(rel, "StatefulSet", "shop-orders-db"), "postgres")
    assert pg["resources"] == {
        "requests": {"memory": "1Gi", "cpu": "500m"},
        "limits": {"memory": "1Gi", "cpu": "500m"},
    }
    settings = d.memory_settings("postgres", 1024**3)
    assert settings == {"shared_buffers": "256MB", "effective_cache_size": "768MB"}
    for key, value in settings.items():
        assert f"{key}={value}" in pg["args"]
    redis = container(find(rel, "StatefulSet", "shop-cache-db"), "redis")
    assert redis["args"][redis["args"].index("--maxmemory") + 1] == str(256 * 1024**2 * 3 // 4)
    assert redis["args"][redis["args"].index("--maxmemory-policy") + 1] == "noeviction"
    assert redis["command"][:2] == ["/bin/sh", "-c"] and "$$" not in redis["command"][2]
    maria = container(find(rel, "StatefulSet", "shop-legacy-db"), "mariadb")
    assert "--innodb-buffer-pool-size=256M" in maria["args"]
    # the namespace's quota has room for the app's pods and the database pods
    quota = find(rel, "ResourceQuota", "shop")["spec"]["hard"]
    assert quota["pods"] == str(2 + 3)
    assert quota["limits.memory"].endswith("Mi") or quota["limits.memory"].endswith("Gi")


def test_each_engine_gets_its_exporter_sidecar_on_a_metrics_port_the_service_monitor_scrapes() -> None:
    rel = release(shop({**PG, "replicas": 1}, REDIS, MARIADB), monitoring_namespace="mon")
    for name, port, image in (
        ("shop-orders-db", 9187, "127.0.0.1:5000/prometheuscommunity/postgres-exporter:v0.17.1"),
        ("shop-cache-db", 9121, "127.0.0.1:5000/oliver006/redis_exporter:v1.97.0"),
        ("shop-legacy-db", 9104, "127.0.0.1:5000/prom/mysqld-exporter:v0.17.2"),
    ):
        exporter = container(find(rel, "StatefulSet", name), "exporter")
        assert exporter["image"] == image
        assert exporter["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
        service = find(rel, "Service", name)
        assert {"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"} in service["spec"]["ports"]
        monitor = find(rel, "ServiceMonitor", name)
        selector = monitor["spec"]["selector"]
        assert all(service["metadata"]["labels"][k] == v for k, v in selector["matchLabels"].items())
        assert name in selector["matchExpressions"][0]["values"]
        endpoint = monitor["spec"]["endpoints"][0]
        assert endpoint["port"] == "metrics"
        # the labels the rule library's database alerts select (database.alert_rules)
        relabeled = {r["targetLabel"]: r.get("replacement") for r in endpoint["relabelings"]}
        assert relabeled["job"] == "databases" and relabeled["app"] == "shop" and "role" in relabeled
        role = next(r for r in endpoint["relabelings"] if r["targetLabel"] == "role")
        assert role["sourceLabels"] == ["__meta_kubernetes_service_label_opsdeck_io_database_role"]
        assert service["metadata"]["labels"]["opsdeck.io/database-role"] == "primary"
        policy = find(rel, "NetworkPolicy", name)
        from_monitoring = [r for r in policy["spec"]["ingress"] if "namespaceSelector" in r["from"][0]]
        assert from_monitoring == [
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mon"}}}],
                "ports": [{"protocol": "TCP", "port": port}],
            }
        ]
    pg = env_of(container(find(rel, "StatefulSet", "shop-orders-db"), "exporter"))
    assert pg["DATA_SOURCE_URI"] == "127.0.0.1:5432/postgres?sslmode=disable"
    assert pg["DATA_SOURCE_PASS"] == {"secretKeyRef": {"name": "shop-orders-db-credentials", "key": "exporter"}}
    redis = env_of(container(find(rel, "StatefulSet", "shop-cache-db"), "exporter"))
    assert redis["REDIS_ADDR"] == "redis://127.0.0.1:6379"
    assert not [m for m in rel["manifests"] if m["metadata"]["name"] == "shop-orders-db-files"]


@pytest.mark.parametrize("db", [PG, REDIS, MARIADB], ids=lambda db: db["engine"])
def test_the_files_the_compose_project_binds_are_mounted_from_a_config_map(db: dict[str, Any]) -> None:
    """Each bind of ``./<file>`` in the docker side's definition, at the same path, by subPath."""
    app = normalize_apps([shop(db)], environment="dev")[0]
    compose = d.definition(app, 0, replica=0, images=kd.IMAGES, exporter_images=kd.EXPORTER_IMAGES)
    rel = release(shop(db))
    sts = find(rel, "StatefulSet", f"shop-{db['name']}-db")
    files = d.exporter_files({"engine": db["engine"]})
    for service, name in (("server", db["engine"]), ("exporter", "exporter")):
        binds = {
            v["target"]: v["source"][2:]
            for v in compose["services"][service].get("volumes") or []
            if v["type"] == "bind" and v["source"].startswith("./")
        }
        mounted = {
            m["mountPath"]: m["subPath"]
            for m in container(sts, name)["volumeMounts"]
            if m["name"] in ("files", "exporter-login")
        }
        assert mounted == binds
    if files:
        assert find(rel, "ConfigMap", f"shop-{db['name']}-db-files")["data"] == files
        (volume,) = [v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "files"]
        assert volume["configMap"] == {"name": f"shop-{db['name']}-db-files"}


def test_the_mariadb_exporter_login_is_a_secret_file_for_the_pods_group() -> None:
    """mysqld_exporter 0.15+ reads its login from an option file: a key of the credentials Secret,
    templated on the generated password, 0440 (the exporter is in the pod's fsGroup)."""
    rel = release(shop(MARIADB))
    sts = find(rel, "StatefulSet", f"shop-{MARIADB['name']}-db")
    (volume,) = [v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "exporter-login"]
    secret = volume["secret"]
    assert secret["items"] == [{"key": "exporter.my.cnf", "path": "exporter.my.cnf"}] and secret["defaultMode"] == 0o440
    cred = find(rel, "Secret", secret["secretName"])
    login = cred["stringData"]["exporter.my.cnf"]
    assert "host = 127.0.0.1" in login and "user = root" in login and 'password = "__opsdeck__' in login
    assert sts["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 999


def test_the_app_reaches_its_databases_and_nothing_else_does() -> None:
    rel = release(shop(PG, REDIS))
    app_pods = find(rel, "Deployment", "shop")["spec"]["selector"]["matchLabels"]
    policy = find(rel, "NetworkPolicy", "shop-orders-db")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"][0] == {
        "from": [{"podSelector": {"matchLabels": app_pods}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    }
    egress = find(rel, "NetworkPolicy", "shop-allow-databases")["spec"]
    assert egress["podSelector"] == {"matchLabels": app_pods}
    assert egress["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}, {"protocol": "TCP", "port": 6379}]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_a_pre_deploy_hook_runs_after_the_databases_with_their_secret_and_reaches_them() -> None:
    migrate = {"name": "migrate", "command": ["/app/migrate", "--up"], "timeout_s": 60}
    rel = release(shop(PG, hooks={"pre_deploy": [migrate]}))
    kinds = [(m["kind"], m["metadata"]["name"]) for m in rel["manifests"]]
    (job,) = [m for m in rel["manifests"] if m["kind"] == "Job"]
    at = kinds.index(("Job", job["metadata"]["name"]))
    # (c) the database's objects are applied (and, by the release, waited for) before the hook
    for obj in [
        ("Secret", "shop-orders-db-credentials"),
        ("Service", "shop-orders-db"),
        ("StatefulSet", "shop-orders-db"),
        ("Secret", "shop-databases"),
        ("NetworkPolicy", "shop-orders-db"),
        ("NetworkPolicy", "shop-pre-deploy-allow-databases"),
    ]:
        assert kinds.index(obj) < at, obj
    assert at < kinds.index(("Deployment", "shop"))
    # (a) the hook's pod reads the connection Secret, as the app's pods do
    pod = job["spec"]["template"]
    (c,) = pod["spec"]["containers"]
    assert {"secretRef": {"name": "shop-databases"}} in c["envFrom"]
    assert c["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # (b) the database's policy admits the hook's pod, the app's egress policies let it out (DNS, database)
    labels = pod["metadata"]["labels"]
    db_pods = find(rel, "StatefulSet", "shop-orders-db")["spec"]["template"]["metadata"]["labels"]
    (to_db,) = [
        r for r in find(rel, "NetworkPolicy", "shop-orders-db")["spec"]["ingress"] if r["ports"][0]["port"] == 5432
    ]
    assert any(_selects(peer["podSelector"]["matchLabels"], labels) for peer in to_db["from"])
    out = find(rel, "NetworkPolicy", "shop-pre-deploy-allow-databases")["spec"]
    assert out["policyTypes"] == ["Egress"] and _selects(out["podSelector"]["matchLabels"], labels)
    assert _selects(out["egress"][0]["to"][0]["podSelector"]["matchLabels"], db_pods)
    assert out["egress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert _selects(find(rel, "NetworkPolicy", "shop-allow-dns")["spec"]["podSelector"]["matchLabels"], labels)
    # ... but the hook's pod is not one of the app's: no Service traffic, not in the workload's count
    assert not _selects(find(rel, "Service", "shop")["spec"]["selector"], labels)
    assert not _selects(find(rel, "Deployment", "shop")["spec"]["selector"]["matchLabels"], labels)
    # and the app's own policy still selects only the app's pods
    app_pods = find(rel, "Deployment", "shop")["spec"]["selector"]["matchLabels"]
    assert find(rel, "NetworkPolicy", "shop-allow-databases")["spec"]["podSelector"] == {"matchLabels": app_pods}


def test_without_hooks_no_hook_policy_is_rendered() -> None:
    rel = release(shop(PG))
    assert not [m for m in rel["manifests"] if m["metadata"]["name"] == "shop-pre-deploy-allow-databases"]
    (to_db,) = [
        r for r in find(rel, "NetworkPolicy", "shop-orders-db")["spec"]["ingress"] if r["ports"][0]["port"] == 5432
    ]
    assert len(to_db["from"]) == 1


def test_the_replica_takes_a_base_backup_of_the_primary_then_streams() -> None:
    rel = release(shop({**PG, "replicas": 1}))
    sts = find(rel, "StatefulSet", "shop-orders-db-replica")
    (init,) = sts["spec"]["template"]["spec"]["initContainers"]
    script = " ".join(init["command"])
    assert "pg_basebackup" in script and " -R " in script and "$$" not in script
    env = env_of(init)
    assert env["PRIMARY_HOST"] == "shop-orders-db.shop.svc" and env["PRIMARY_PORT"] == "5432"
    assert env["REPLICATION_PASSWORD"] == {"secretKeyRef": {"name": "shop-orders-db-credentials", "key": "replication"}}
    assert env["PGDATA"] == "/var/lib/postgresql/data/pgdata"
    server = container(sts, "postgres")
    assert "REPLICATION_PASSWORD" not in env_of(server) and "POSTGRES_PASSWORD" not in env_of(server)
    assert server["args"][0] == "postgres" and "hot_standby=on" in server["args"]
    assert find(rel, "Service", "shop-orders-db-replica")["spec"]["selector"][kc.LABEL_NAME] == "shop-orders-db-replica"
    # replicas reach the primary (base backup, streaming): allowed by the database's policy
    policy = find(rel, "NetworkPolicy", "shop-orders-db")["spec"]
    servers = policy["podSelector"]["matchLabels"]
    assert {"to": [{"podSelector": {"matchLabels": servers}}], "ports": [{"protocol": "TCP", "port": 5432}]} in policy[
        "egress"
    ]


def test_rendered_secrets_carry_no_value_and_the_app_gets_the_connection_secret() -> None:
    rel = release(shop(PG, REDIS, secrets={"PGUSER": "given"}))
    text = json.dumps(rel)
    creds = find(rel, "Secret", "shop-orders-db-credentials")
    assert "data" not in creds
    assert creds["metadata"]["annotations"][kd.GENERATE] == "admin,app,exporter,replication"
    assert find(rel, "Secret", "shop-cache-db-credentials")["metadata"]["annotations"][kd.GENERATE] == "admin"
    assert "PASSWORD '" in creds["stringData"]["bootstrap.sql"]  # a template: the password is a token
    assert "given" not in text.replace('"PGUSER": "given"', "")
    connection = find(rel, "Secret", "shop-databases")
    assert "PGUSER" not in connection["stringData"], "a name the app sets itself is left as the app set it"
    deployment = find(rel, "Deployment", "shop")
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {"secretRef": {"name": "shop-databases"}} in c["envFrom"]
    assert kd.CONFIG_HASH in deployment["spec"]["template"]["metadata"]["annotations"]


def test_keep_or_generate_generates_once_and_keeps_what_the_cluster_has() -> None:
    rel = release(shop(PG, REDIS))
    first = filled(rel)
    creds = decoded(next(m for m in first if m["metadata"]["name"] == "shop-orders-db-credentials"))
    assert set(creds) == {"admin", "app", "exporter", "replication", "bootstrap.sql"}
    assert len({creds[k] for k in ("admin", "app", "exporter", "replication")}) == 4
    assert all(len(creds[k]) == kd.PASSWORD_LENGTH and creds[k].isalnum() for k in ("admin", "app"))
    assert f"CREATE ROLE \"orders_app\" LOGIN PASSWORD '{creds['app']}'" in creds["bootstrap.sql"]
    connection = decoded(next(m for m in first if m["metadata"]["name"] == "shop-databases"))
    assert connection["DATABASE_URL"] == f"postgresql://orders_app:{creds['app']}@shop-orders-db.shop.svc:5432/orders"
    assert connection["PGPASSWORD"] == creds["app"] and connection["PGHOST"] == "shop-orders-db.shop.svc"
    redis = decoded(next(m for m in first if m["metadata"]["name"] == "shop-cache-db-credentials"))
    assert connection["REDIS_URL"] == f"redis://:{redis['admin']}@shop-cache-db.shop.svc:6379/0"
    assert all("stringData" not in m for m in first if m["kind"] == "Secret")

    # a second run against the cluster: the same values, so the same manifests
    live = {
        ("shop", m["metadata"]["name"]): {"data": m["data"]}
        for m in first
        if m["kind"] == "Secret" and m["metadata"]["name"].endswith("-credentials")
    }
    assert filled(rel, live) == first
    # a key the cluster's Secret lacks is generated; the others are kept
    partial = dict(live)
    partial[("shop", "shop-orders-db-credentials")] = {
        "data": {"admin": live[("shop", "shop-orders-db-credentials")]["data"]["admin"]}
    }
    again = decoded(next(m for m in filled(rel, partial) if m["metadata"]["name"] == "shop-orders-db-credentials"))
    assert again["admin"] == creds["admin"] and again["app"] != creds["app"]


def test_keep_or_generate_leaves_other_objects_alone_and_reads_nothing_without_generated_secrets() -> None:
    manifests = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "n"}, "data": {}}]

    def get(_ns: str, _name: str) -> None:
        raise AssertionError("no read expected")

    assert kd.keep_or_generate(get, manifests) == manifests


def test_images_are_the_database_roles_defaults() -> None:
    defaults = yaml.safe_load((ROOT / "roles" / "database" / "defaults" / "main.yml").read_text())
    assert defaults["database_images"] == kd.IMAGES
    assert defaults["database_exporter_images"] == kd.EXPORTER_IMAGES


def test_an_app_without_managed_databases_is_rendered_as_before() -> None:
    external = {"name": "ext", "engine": "postgres", "host": "db.example.com"}
    rel = release(shop(external))
    assert not [m for m in rel["manifests"] if "database" in json.dumps(m["metadata"]["labels"])]
    assert not any(m["metadata"]["name"] == "shop-databases" for m in rel["manifests"])


@pytest.mark.parametrize(
    ("db", "message"),
    [
        (
            {"name": "cache", "engine": "redis", "managed": True, "replicas": 1},
            "app 'shop': field 'databases[0].replicas': redis has no replication support here",
        ),
        (
            {"name": "Orders-DB", "engine": "postgres", "managed": True},
            "app 'shop': field 'databases[0].name': 'Orders-DB' is not a valid postgres database name",
        ),
        (
            {"name": "x", "engine": "oracle", "managed": True},
            "app 'shop': field 'databases[0].engine': 'oracle' is not one of",
        ),
        (
            {"name": "docs", "engine": "mongodb", "managed": True},
            "app 'shop': field 'databases[0].managed': the collection cannot run a mongodb server",
        ),
    ],
)
def test_bad_databases_are_refused_by_the_model_before_rendering(db: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelError) as err:
        release(shop(db))
    assert message in str(err.value)


def test_names_kubernetes_cannot_take_are_refused_with_app_and_field() -> None:
    long_name = "o" * 40
    with pytest.raises(ModelError) as err:
        release(shop({"name": long_name, "engine": "postgres", "managed": True}))
    assert "app 'shop': field 'databases[0].name': the Kubernetes objects of this database would be named" in str(
        err.value
    )
    with pytest.raises(ModelError) as err:
        release(shop({"name": "main", "engine": "postgres", "managed": True}, {**REDIS, "name": "main"}))
    assert (
        "app 'shop': field 'databases[1].name': its Kubernetes objects would be named 'shop-main-db', "
        "like those of databases[0]" in str(err.value)
    )


def test_the_quota_grows_by_what_admission_gives_the_database_pods() -> None:
    # the app: 200m / 128Mi (requests follow the limits), 1 replica + 1 during a rollout
    rel = release(shop(PG))
    hard = find(rel, "ResourceQuota", "shop")["spec"]["hard"]
    # the database pod: the server 500m / 1Gi; the exporter requests 10m / 32Mi, limits 64Mi and
    # the LimitRange's default CPU limit (the app's 200m), as admission fills it in
    assert hard == {
        "pods": "3",
        "requests.cpu": "910m",
        "requests.memory": "1312Mi",
        "limits.cpu": "1100m",
        "limits.memory": "1344Mi",
        "persistentvolumeclaims": "1",
        "requests.storage": "1Gi",
    }


def _with_version(rel: dict[str, Any], version: str, upgrade: str | None = None) -> list[dict[str, Any]]:
    """The release's manifests as a later model would render them (the image table has only 15)."""
    out = json.loads(json.dumps(rel["manifests"]))
    creds = next(m for m in out if m["metadata"]["name"] == "shop-orders-db-credentials")
    creds["metadata"]["annotations"][kd.VERSION] = version
    if upgrade:
        creds["metadata"]["annotations"][kd.UPGRADE] = upgrade
    return out


@pytest.mark.parametrize(
    ("version", "upgrade", "message"),
    [
        ("15.8", None, None),
        (
            "16",
            None,
            "app 'shop': database 'orders': field 'version': '16' is a major-version change from '15' "
            "(running as shop-orders-db in namespace shop); the volume is never recreated, so set upgrade: "
            "dump_restore",
        ),
        ("14", None, "going back to major version 14 is refused"),
        ("16", "dump_restore", "upgrade: dump_restore is implemented on docker hosts only, not on Kubernetes yet"),
    ],
)
def test_a_major_version_change_is_refused_from_the_version_the_cluster_runs(
    version: str, upgrade: str | None, message: str | None
) -> None:
    rel = release(shop(PG))
    creds = find(rel, "Secret", "shop-orders-db-credentials")
    assert creds["metadata"]["annotations"][kd.VERSION] == "15"
    live = {("shop", "shop-orders-db-credentials"): {"metadata": {"annotations": {kd.VERSION: "15"}}, "data": {}}}
    manifests = _with_version(rel, version, upgrade)
    if message is None:
        kd.keep_or_generate(lambda ns, name: live.get((ns, name)), manifests)
        return
    with pytest.raises(kd.K8sDatabaseError) as err:
        kd.keep_or_generate(lambda ns, name: live.get((ns, name)), manifests)
    assert message in str(err.value)
    # a fresh cluster (no Secret yet) has nothing to protect
    kd.keep_or_generate(lambda _ns, _name: None, manifests)
