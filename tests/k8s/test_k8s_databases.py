# SPDX-License-Identifier: GPL-3.0-or-later
"""Managed databases of the model on the real control plane (k8s_databases.py through k8s_app).

The role runs through ansible-playbook (playbooks/k8s.yml), as in test_k8s_app.py. What is
asserted is seen from the API server: StatefulSets, Services, claims bound, pods Ready on the
simulated nodes (so admitted by Pod Security "restricted", which the app namespace enforces),
the PodDisruptionBudgets, the generated Secret kept by a second run, the app's Deployment
reading the connection Secret.

The simulated nodes run no container: that a PostgreSQL replica really streams, or that the
exporter answers, is the database role's molecule scenario on docker hosts (the same commands,
from the same database.py definitions). This cluster has no dynamic volume provisioner either:
the test creates static PersistentVolumes (hostPath, a storageClassName of its own) and the PV
controller binds the StatefulSets' claims to them.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_databases import (
    VERSION,
    K8sDatabaseError,
    keep_or_generate,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import Release, fill_secrets
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps

from ..canary import scan_log
from .conftest import ROOT, Cluster, pod_ready, wait_until
from .openapi_schemas import kubeconform_served
from .test_k8s_app import Runner, recap, unique


def shop(name: str, **fields: Any) -> dict[str, Any]:
    app = {
        "name": name,
        "image": "opsdeck/sampleapp:1.0.0",
        "replicas": 1,
        "ports": [{"name": "http", "port": 8080}],
        "health": {"path": "/health", "port": "http"},
        "secrets": {"API_TOKEN": f"token-{name}"},
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "databases": [
            {
                "name": "orders",
                "engine": "postgres",
                "managed": True,
                "replicas": 1,
                "resources": {"memory": "256Mi", "cpu": "250m"},
            },
            {"name": "cache", "engine": "redis", "managed": True, "resources": {"memory": "64Mi"}},
        ],
    }
    app.update(fields)
    return app


class DbRunner(Runner):
    """The role with the databases' backups off unless a test asks (test_k8s_backup.py covers them)."""

    def run(self, apps: list[dict[str, Any]], *extra: str, check: bool = True, **variables: Any):
        variables.setdefault("k8s_app_backups", False)
        return super().run(apps, *extra, check=check, **variables)


@pytest.fixture
def runner(cluster: Cluster, tmp_path: Path) -> Runner:
    return DbRunner(cluster, tmp_path)


@pytest.fixture
def volumes(static_volumes: str) -> str:
    """The storage class of the shared static volumes (conftest.static_volumes)."""
    return static_volumes


def _secret(core: client.CoreV1Api, ns: str, name: str) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in core.read_namespaced_secret(name, ns).data.items()}


def test_role_runs_the_managed_databases_and_keeps_their_credentials(
    cluster: Cluster, runner: Runner, volumes: str, app_namespaces: list[str]
) -> None:
    name = unique("dbs")
    app_namespaces.append(name)
    app = shop(name)
    core = client.CoreV1Api(cluster.api)
    # check mode on a fresh cluster: tells the change, creates nothing
    dry = runner.run([app], "--check", "--diff", k8s_app_storage_class=volumes)
    assert recap(dry.stdout)["changed"] == 1, dry.stdout[-3000:]
    assert f"+++ after: Secret {name}/{name}-orders-db-credentials" in dry.stdout
    assert name not in {n.metadata.name for n in core.list_namespace().items}

    # at -vvv, as AAP keeps job output: the values are searched for below, as they are and in base64
    first = runner.run([app], "--diff", "-vvv", k8s_app_storage_class=volumes, k8s_app_wait_timeout=60)
    assert recap(first.stdout)["changed"] == 1

    apps = client.AppsV1Api(cluster.api)
    sets = {
        f"{name}-orders-db": 1,
        f"{name}-orders-db-replica": 1,
        f"{name}-cache-db": 1,
    }
    for sts_name, replicas in sets.items():
        sts = apps.read_namespaced_stateful_set(sts_name, name)
        assert sts.status.ready_replicas == replicas, sts_name
        assert sts.spec.service_name == f"{sts_name}-headless"
        assert core.read_namespaced_service(f"{sts_name}-headless", name).spec.cluster_ip == "None"
        assert core.read_namespaced_service(sts_name, name).spec.type == "ClusterIP"
        pdb = client.PolicyV1Api(cluster.api).read_namespaced_pod_disruption_budget(sts_name, name)
        assert pdb.status.expected_pods == replicas
    claims = {c.metadata.name: c for c in core.list_namespaced_persistent_volume_claim(name).items}
    assert set(claims) == {f"data-{s}-0" for s in sets}
    assert all(c.status.phase == "Bound" and c.spec.storage_class_name == volumes for c in claims.values())

    # the pods: admitted under Pod Security "restricted", scheduled on the simulated nodes, Ready
    assert core.read_namespace(name).metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    nodes = {n.metadata.name for n in core.list_node().items}
    pods = core.list_namespaced_pod(name, label_selector="app.kubernetes.io/component=database").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.spec.node_name in nodes and pod_ready(pod), pod.metadata.name
        for c in [*(pod.spec.init_containers or []), *pod.spec.containers]:
            sc = c.security_context
            assert sc.run_as_non_root and sc.read_only_root_filesystem and sc.allow_privilege_escalation is False
            assert sc.capabilities.drop == ["ALL"] and sc.seccomp_profile.type == "RuntimeDefault"
        assert {c.name for c in pod.spec.containers} in ({"postgres", "exporter"}, {"redis", "exporter"})
    replica = next(p for p in pods if p.metadata.name == f"{name}-orders-db-replica-0")
    assert "pg_basebackup" in " ".join(replica.spec.init_containers[0].command)
    # the service endpoints of the primary are filled (clients reach it by its Service)
    endpoints = client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice(
        name, label_selector=f"kubernetes.io/service-name={name}-orders-db"
    )
    assert sum(len(s.endpoints or []) for s in endpoints.items) == 1

    # the credentials: generated, server-side applied by opsdeck, never in the output
    creds = _secret(core, name, f"{name}-orders-db-credentials")
    assert {"admin", "app", "exporter", "replication", "bootstrap.sql"} <= set(creds)
    connection = _secret(core, name, f"{name}-databases")
    assert connection["DATABASE_URL"] == (
        f"postgresql://orders_app:{creds['app']}@{name}-orders-db.{name}.svc:5432/orders"
    )
    redis = _secret(core, name, f"{name}-cache-db-credentials")
    assert connection["REDIS_PASSWORD"] == redis["admin"]
    assert "VALUE_HIDDEN" in first.stdout
    canaries = {
        "API_TOKEN": app["secrets"]["API_TOKEN"],
        **{f"orders {role}": creds[role] for role in ("admin", "app", "exporter", "replication")},
        "cache admin": redis["admin"],
        "DATABASE_URL": connection["DATABASE_URL"],
    }
    leaks = [
        *scan_log(first.stdout, "stdout (-vvv)", canaries),
        *scan_log(first.stderr, "stderr (-vvv)", canaries),
        *scan_log(dry.stdout, "check mode stdout", canaries),
    ]
    assert not leaks, "a secret reached the output:\n" + "\n".join(map(str, leaks))
    secret = core.read_namespaced_secret(f"{name}-orders-db-credentials", name)
    assert any(m.manager == "opsdeck" and m.operation == "Apply" for m in secret.metadata.managed_fields)
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (secret.metadata.annotations or {})

    # the app's Deployment reads the connection Secret
    dep = apps.read_namespaced_deployment(name, name)
    env_from = [e.secret_ref.name for e in dep.spec.template.spec.containers[0].env_from or [] if e.secret_ref]
    assert f"{name}-databases" in env_from

    # a second run: nothing changes, the generated values are kept
    generations = {s: apps.read_namespaced_stateful_set(s, name).metadata.generation for s in sets}
    second = runner.run([app], k8s_app_storage_class=volumes, k8s_app_wait_timeout=60)
    assert recap(second.stdout)["changed"] == 0, second.stdout[-3000:]
    assert _secret(core, name, f"{name}-orders-db-credentials") == creds
    assert _secret(core, name, f"{name}-databases") == connection
    assert {s: apps.read_namespaced_stateful_set(s, name).metadata.generation for s in sets} == generations

    # a database that leaves the model: its objects are pruned, its claim and credentials stay;
    # back in the model, it finds both (the release module directly, to keep this short)
    def release(model: dict[str, Any]) -> dict[str, Any]:
        (rel,) = render_apps(
            normalize_apps([model], environment="dev", registry="127.0.0.1:5000"), {"storage_class": volumes}
        )
        return Release(cluster.dynamic, rel, secrets=model["secrets"], wait_timeout=60, poll=0.5).run()

    # a major-version change from what runs (the live Secret's record) is refused before anything is applied
    (rel,) = render_apps(
        normalize_apps([app], environment="dev", registry="127.0.0.1:5000"), {"storage_class": volumes}
    )
    for m in rel["manifests"]:
        if m["metadata"]["name"] == f"{name}-orders-db-credentials":
            m["metadata"]["annotations"][VERSION] = "16"  # as a model with version 16 renders it
    with pytest.raises(K8sDatabaseError) as err:
        Release(cluster.dynamic, rel, secrets=app["secrets"]).run()
    assert f"app '{name}': database 'orders': field 'version': '16' is a major-version change from '15'" in str(
        err.value
    )
    assert core.read_namespaced_secret(f"{name}-orders-db-credentials", name).metadata.annotations[VERSION] == "15"

    without = release({**app, "databases": app["databases"][:1]})
    assert ("StatefulSet", f"{name}-cache-db") in {(p["kind"], p["name"]) for p in without["pruned"]}
    assert not any(p["name"] == f"{name}-cache-db-credentials" for p in without["pruned"])
    wait_until(
        "the cache's StatefulSet deleted",
        lambda: f"{name}-cache-db" not in {s.metadata.name for s in apps.list_namespaced_stateful_set(name).items},
        timeout=30,
    )
    assert _secret(core, name, f"{name}-cache-db-credentials") == redis
    assert f"data-{name}-cache-db-0" in {
        c.metadata.name for c in core.list_namespaced_persistent_volume_claim(name).items
    }
    back = release(app)
    assert back["rollout"]["state"] == "done"
    assert _secret(core, name, f"{name}-cache-db-credentials") == redis
    assert _secret(core, name, f"{name}-databases")["REDIS_PASSWORD"] == redis["admin"]
    assert apps.read_namespaced_stateful_set(f"{name}-cache-db", name).status.ready_replicas == 1


def test_role_refuses_bad_databases_before_applying_anything(cluster: Cluster, runner: Runner) -> None:
    """One run, three apps: the model's validation names every finding (app and field) at once."""
    names = [unique("baddb") for _case in range(3)]
    cases = [
        (
            shop(names[0], databases=[{"name": "cache", "engine": "redis", "managed": True, "replicas": 1}]),
            f"app '{names[0]}': field 'databases[0].replicas': redis has no replication support here",
        ),
        (
            shop(names[1], databases=[{"name": "Orders-DB", "engine": "postgres", "managed": True}]),
            f"app '{names[1]}': field 'databases[0].name': 'Orders-DB' is not a valid postgres database name",
        ),
        (
            shop(names[2], databases=[{"name": "x", "engine": "oracle", "managed": True}]),
            f"app '{names[2]}': field 'databases[0].engine': 'oracle' is not one of",
        ),
    ]
    done = runner.run([app for app, _message in cases], check=False)
    assert done.returncode != 0
    for _app, message in cases:
        assert message in done.stdout, done.stdout[-3000:]
    existing = {n.metadata.name for n in client.CoreV1Api(cluster.api).list_namespace().items}
    assert not existing & set(names)


def test_rendered_database_manifests_pass_kubeconform_with_the_clusters_own_schemas(
    cluster: Cluster, tmp_path: Path
) -> None:
    app = shop("kc", databases=[*shop("kc")["databases"], {"name": "legacy", "engine": "mariadb", "managed": True}])
    (rel,) = render_apps(normalize_apps([app], environment="dev", registry="127.0.0.1:5000"), {"storage_class": "x"})
    manifests = keep_or_generate(lambda _ns, _name: None, fill_secrets(rel["manifests"], app["secrets"]))
    openapi = json.loads(cluster.kubectl("get", "--raw", "/openapi/v2").stdout)
    checked, report = kubeconform_served(openapi, manifests, cluster.bin / "kubeconform", tmp_path)
    # ServiceMonitors only when this cluster has the Prometheus Operator CRDs (test_k8s_monitoring installs them)
    assert {m["kind"] for m in manifests} - {m["kind"] for m in checked} <= {"ServiceMonitor"}
    assert sum(m["kind"] == "StatefulSet" for m in checked) == 4
    assert report.pop("returncode") == 0, report
    assert report["summary"] == {"valid": len(checked), "invalid": 0, "errors": 0, "skipped": 0}


# ---------------------------------------------------------------------------------------------
# The rendered pods, run by the Docker engine: the simulated nodes run no container, so what the
# containers do (initdb into PGDATA below the mount point, the postStart bootstrap of the logins,
# the replica's base backup, the exporters' logins) is checked here, by running each container
# of the rendered StatefulSets with what Kubernetes would give it: its command and args, env
# (secretKeyRef resolved from the generated Secret, through an env file, not argv), the read-only
# root with tmpfs for the emptyDirs, the pod's uid/gid with the volume group-owned by fsGroup,
# every capability dropped, no-new-privileges; init containers first, postStart after the start,
# the exec readiness probe polled; the sidecar in the server's network namespace (localhost), and
# the Services' names as network aliases. Images: the rig's builds of the same references.

STATE = ROOT / "tests" / "rig" / ".state"


DB_IMAGES = ("postgresql", "postgres-exporter", "redis", "redis-exporter", "mariadb", "mysqld-exporter")


def _rig_images(names: tuple[str, ...] = DB_IMAGES) -> dict[str, str]:
    """Rendered reference (registry/opsdeck/<name>:<tag>) -> the rig's image of <name>."""
    env_file = STATE / "images.env"
    if not env_file.exists():
        pytest.skip("the rig's images are not built (bash tests/rig/up.sh)")
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {
        name: env[f"OPSDECK_IMAGE_{name.upper().replace('-', '_')}"]
        for name in names
        if f"OPSDECK_IMAGE_{name.upper().replace('-', '_')}" in env
    }


def _docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


class DockerPods:
    """Containers, volumes and a network of one test run (prefix), removed by ``close``."""

    def __init__(self, tmp: Path, images: dict[str, str]) -> None:
        self.prefix = f"k8sdb-{uuid.uuid4().hex[:6]}"
        self.tmp = tmp
        self.images = images
        self.containers: list[str] = []
        self.volumes: list[str] = []
        self.network = self.prefix
        _docker("network", "create", self.network)

    def close(self) -> None:
        for name in reversed(self.containers):
            _docker("rm", "-f", "-v", name, check=False)
        for name in self.volumes:
            _docker("volume", "rm", "-f", name, check=False)
        _docker("network", "rm", self.network, check=False)

    # the rig's name of an upstream repository the defaults name (tests/rig/images.yml)
    RIG_NAMES = {"postgres": "postgresql", "redis_exporter": "redis-exporter"}

    def image(self, ref: str) -> str:
        repo = ref.rsplit("/", 1)[-1].split(":")[0]
        name = self.RIG_NAMES.get(repo, repo)
        if name not in self.images:
            pytest.fail(f"the rig has no image {name} (for {ref}): tests/rig/images.yml")
        return self.images[name]

    def _env_file(self, c: dict[str, Any], secrets: dict[str, dict[str, str]]) -> Path:
        lines = []
        for e in c.get("env", []):
            if "value" in e:
                value = e["value"]
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                value = secrets[ref["name"]][ref["key"]]
            lines.append(f"{e['name']}={value}")
        path = self.tmp / f"{uuid.uuid4().hex[:8]}.env"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return path

    def _mounts(self, c: dict[str, Any], pod: dict[str, Any], volume: str, secrets: dict, configs: dict) -> list[str]:
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        gid = str(pod["spec"]["securityContext"]["fsGroup"])
        args = []
        for m in c.get("volumeMounts", []):
            v = volumes.get(m["name"])
            if m["name"] == "data":
                args += ["-v", f"{volume}:{m['mountPath']}"]
            elif v and "emptyDir" in v:
                if m["mountPath"] != "/dev/shm":  # Docker gives every container a tmpfs /dev/shm
                    args += ["--tmpfs", f"{m['mountPath']}:rw,mode=1777"]
            elif v and ("secret" in v or "configMap" in v):
                directory = self.tmp / f"{m['name']}-{uuid.uuid4().hex[:6]}"
                directory.mkdir()
                if "secret" in v:
                    data = secrets[v["secret"]["secretName"]]
                    items = v["secret"].get("items") or [{"key": k, "path": k} for k in data]
                    mode = v["secret"].get("defaultMode", 0o644)
                else:
                    data = configs[v["configMap"]["name"]]
                    items = [{"key": k, "path": k} for k in data]
                    mode = 0o644
                for item in items:
                    f = directory / item["path"]
                    f.write_text(data[item["key"]])
                    # kubelet with fsGroup: the file's group is the fsGroup, and a read-only volume's
                    # files get the group's read bit (mode | 0440, volume.SetVolumeOwnership)
                    os.chown(f, 0, int(gid))
                    f.chmod(mode | 0o440)
                if m.get("subPath"):  # one file of the volume at its own path
                    args += ["-v", f"{directory / m['subPath']}:{m['mountPath']}:ro"]
                else:
                    args += ["-v", f"{directory}:{m['mountPath']}:ro"]
        return args

    def _run_args(self, c: dict[str, Any], pod: dict[str, Any], env: Path, mounts: list[str]) -> list[str]:
        sc = {**pod["spec"]["securityContext"], **c["securityContext"]}
        assert sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
        args = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        args += [
            "--user",
            f"{sc['runAsUser']}:{sc['runAsGroup']}",
            "--group-add",
            str(pod["spec"]["securityContext"]["fsGroup"]),
        ]
        args += ["--env-file", str(env), *mounts]
        command = c.get("command")
        tail = list(c.get("args") or [])
        if command:
            args += ["--entrypoint", command[0], self.image(c["image"]), *command[1:], *tail]
        else:
            args += [self.image(c["image"]), *tail]
        return args

    def start(self, sts: dict[str, Any], secrets: dict[str, dict[str, str]], configs: dict, aliases: list[str]) -> str:
        """Run the StatefulSet's pod 0: init containers, the server (+postStart), its sidecars."""
        pod = sts["spec"]["template"]
        name = f"{self.prefix}-{sts['metadata']['name']}"
        volume = f"{name}-data"
        self.volumes.append(volume)
        gid = pod["spec"]["securityContext"]["fsGroup"]
        server, *sidecars = pod["spec"]["containers"]
        # the volume as kubelet hands it over with fsGroup: group-owned, setgid, group-writable
        _docker(
            "run", "--rm", "--user", "0", "-v", f"{volume}:/v", "--entrypoint", "/bin/sh",
            self.image(server["image"]), "-c", f"chgrp {gid} /v && chmod 2775 /v",
        )  # fmt: skip
        for i, init in enumerate(pod["spec"].get("initContainers", [])):
            env = self._env_file(init, secrets)
            cname = f"{name}-init{i}"
            self.containers.append(cname)
            done = _docker(
                "run", "--name", cname, "--network", self.network,
                *self._run_args(init, pod, env, self._mounts(init, pod, volume, secrets, configs)),
                check=False, timeout=180,
            )  # fmt: skip
            assert done.returncode == 0, f"init container {init['name']}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
        env = self._env_file(server, secrets)
        self.containers.append(name)
        network = ["--network", self.network, *(a for alias in aliases for a in ("--network-alias", alias))]
        _docker(
            "run",
            "-d",
            "--name",
            name,
            *network,
            *self._run_args(server, pod, env, self._mounts(server, pod, volume, secrets, configs)),
        )
        hook = (server.get("lifecycle") or {}).get("postStart")
        if hook:
            done = _docker("exec", name, *hook["exec"]["command"], check=False, timeout=120)
            assert done.returncode == 0, f"postStart of {name}: {done.stderr[-2000:]} {_logs(name)}"
        probe = server["readinessProbe"]["exec"]["command"]
        wait_until(
            f"the readiness probe of {name}",
            lambda: _docker("exec", name, *probe, check=False).returncode == 0 or None,
            timeout=float(os.environ.get("K8SDB_PROBE_TIMEOUT", "90")),
        )
        for c in sidecars:
            env = self._env_file(c, secrets)
            cname = f"{name}-{c['name']}"
            self.containers.append(cname)
            _docker("run", "-d", "--name", cname, "--network", f"container:{name}",
                    *self._run_args(c, pod, env, self._mounts(c, pod, volume, secrets, configs)))  # fmt: skip
        return name

    def address(self, name: str) -> str:
        out = _docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", name).stdout
        return json.loads(out)[self.network]["IPAddress"]


def _logs(name: str) -> str:
    done = _docker("logs", "--tail", "40", name, check=False)
    return (done.stdout + done.stderr)[-3000:]


def _metrics(address: str, port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://{address}:{port}/metrics", timeout=5) as answer:
        return answer.read().decode()


def test_the_rendered_pods_work_when_their_containers_really_run(tmp_path: Path) -> None:
    images = _rig_images()
    if _docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine")
    legacy = {"name": "legacy", "engine": "mariadb", "managed": True, "resources": {"memory": "256Mi"}}
    app = shop("podrun", databases=[*shop("podrun")["databases"], legacy])
    ns = "podrun"
    (rel,) = render_apps(normalize_apps([app], environment="dev", registry="127.0.0.1:5000"), {})
    manifests = keep_or_generate(lambda _ns, _name: None, fill_secrets(rel["manifests"], app["secrets"]))
    secrets = {
        m["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in m["data"].items()}
        for m in manifests
        if m["kind"] == "Secret"
    }
    configs = {m["metadata"]["name"]: m["data"] for m in manifests if m["kind"] == "ConfigMap"}
    sets = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "StatefulSet"}
    pods = DockerPods(tmp_path, images)
    try:
        # the servers side by side (as the StatefulSet controllers start them); the replica once its primary answers
        def start(db: str) -> str:
            return pods.start(sets[f"podrun-{db}"], secrets, configs, [f"podrun-{db}.{ns}.svc"])

        with ThreadPoolExecutor(max_workers=2) as pool:
            others = [pool.submit(start, db) for db in ("cache-db", "legacy-db")]
            primary = start("orders-db")
            replica = start("orders-db-replica")
            cache, maria = (f.result() for f in others)

        # the app, with the connection Secret as its environment, writes through DATABASE_URL and REDIS_URL
        conn = tmp_path / "app.env"
        conn.write_text("".join(f"{k}={v}\n" for k, v in secrets["podrun-databases"].items()))
        conn.chmod(0o600)
        client_sql = "CREATE TABLE orders (id int); INSERT INTO orders VALUES (42);"
        done = _docker(
            "run", "--rm", "--network", pods.network, "--env-file", str(conn), "--entrypoint", "/bin/sh",
            images["postgresql"], "-c",
            f'psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "{client_sql}" && psql -tA -c "SELECT current_user"',
        )  # fmt: skip
        assert done.stdout.split()[-1] == "orders_app", done.stdout
        done = _docker(
            "run", "--rm", "--network", pods.network, "--env-file", str(conn), "--entrypoint", "/bin/sh",
            images["redis"], "-c",
            'redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" SET k v && redis-cli -h "$REDIS_HOST" GET k',
        )  # fmt: skip
        assert done.stdout.split()[-1] == "v", done.stdout + done.stderr
        done = _docker(
            "run", "--rm", "--network", pods.network, "--env-file", str(conn), "--entrypoint", "/bin/sh",
            images["mariadb"], "-c",
            'mariadb -h "$MYSQL_HOST" -P "$MYSQL_TCP_PORT" -u "$MYSQL_USER" "$MYSQL_DATABASE" -N '
            '-e "CREATE TABLE t (id int); INSERT INTO t VALUES (7); SELECT id FROM t"',
        )  # fmt: skip
        assert done.stdout.split() == ["7"], done.stdout + done.stderr
        pool_size = _docker("exec", maria, "mariadb", "--user=root", "-N", "-e", "SELECT @@innodb_buffer_pool_size")
        assert pool_size.stdout.strip() == str(128 * 1024 * 1024)  # half of resources.memory

        # the replica streams the row from the primary
        wait_until(
            "the row on the replica",
            lambda: (
                _docker(
                    "exec", replica, "psql", "-tA", "-d", "orders", "-c", "SELECT id FROM orders", check=False
                ).stdout.strip()
                == "42"
                or None
            ),
            timeout=30,
        )
        recovery = _docker("exec", replica, "psql", "-tA", "-d", "postgres", "-c", "SELECT pg_is_in_recovery()")
        assert recovery.stdout.strip() == "t"

        # the exporters log in with their own credentials and answer on the metrics port
        for name, port, up in (
            (primary, 9187, "pg_up 1"),
            (replica, 9187, "pg_up 1"),
            (cache, 9121, "redis_up 1"),
            (maria, 9104, "mysql_up 1"),
        ):
            text = wait_until(
                f"the exporter of {name}",
                lambda name=name, port=port, up=up: _metrics_with(pods.address(name), port, up),
                timeout=30,
            )
            assert up in text
        replica_metrics = _try_metrics(pods.address(replica), 9187)
        assert "pg_replication_is_replica 1" in replica_metrics
        # the memory settings derived from resources.memory (256Mi): shared_buffers 64MB
        shown = _docker("exec", primary, "psql", "-tA", "-d", "postgres", "-c", "SHOW shared_buffers")
        assert shown.stdout.strip() == "64MB"
    finally:
        pods.close()


def _metrics_with(address: str, port: int, line: str) -> str | None:
    """The exporter's metrics once they contain ``line``, else None."""
    text = _try_metrics(address, port)
    return text if line in text else None


def _try_metrics(address: str, port: int) -> str:
    try:
        return _metrics(address, port)
    except OSError:
        return ""


def test_a_pre_deploy_hook_runs_once_its_database_is_ready_with_its_secret_and_label(
    cluster: Cluster, volumes: str, app_namespaces: list[str]
) -> None:
    name = unique("dbhook")
    app_namespaces.append(name)
    migrate = {"name": "migrate", "command": ["/app/migrate", "--up"], "timeout_s": 60}
    app = shop(name, hooks={"pre_deploy": [migrate]})
    app["databases"] = [{**app["databases"][0], "replicas": 0}]
    (rel,) = render_apps(
        normalize_apps([app], environment="dev", registry="127.0.0.1:5000"), {"storage_class": volumes}
    )
    result = Release(cluster.dynamic, rel, secrets=app["secrets"], wait_timeout=60, poll=0.5).run()
    assert [h["state"] for h in result["hooks"]] == ["complete"]
    batch, core = client.BatchV1Api(cluster.api), client.CoreV1Api(cluster.api)
    net = client.NetworkingV1Api(cluster.api)
    (job,) = batch.list_namespaced_job(name).items
    pod = job.spec.template
    assert f"{name}-databases" in {e.secret_ref.name for e in pod.spec.containers[0].env_from if e.secret_ref}
    labels = pod.metadata.labels
    # the database's policy (as the API server holds it) admits the hook's pod; the Service does not select it
    policy = net.read_namespaced_network_policy(f"{name}-orders-db", name)
    peers = [p.pod_selector.match_labels for rule in policy.spec.ingress for p in rule._from if p.pod_selector]
    assert any(all(labels.get(k) == v for k, v in peer.items()) for peer in peers)
    service = core.read_namespaced_service(name, name).spec.selector
    assert not all(labels.get(k) == v for k, v in service.items())
    # the job started once the database's pod was Ready
    (db_pod,) = core.list_namespaced_pod(name, label_selector="app.kubernetes.io/component=database").items
    ready_at = next(c.last_transition_time for c in db_pod.status.conditions if c.type == "Ready")
    assert ready_at <= job.status.start_time
    # the same revision again: the hook is not run a second time, nothing changes
    again = Release(cluster.dynamic, rel, secrets=app["secrets"], wait_timeout=60, poll=0.5).run()
    assert again["changed"] is False and "hooks" not in again
