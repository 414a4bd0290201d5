# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup, restore, dr_failover and dr_drill playbooks through ansible-playbook (and the drill
once through ansible-runner), against real components: a primary and a DR PostgreSQL (rig image),
the rig's S3 server, and BIND (Debian's named, a process on 127.0.0.1:<free port> with a dynamic
zone app.test. that takes RFC 2136 updates signed with a TSIG key). Everything is checked from
outside: rows in the DR database, the A record named answers, the JSON report, objects in S3."""

from __future__ import annotations

import base64
import calendar
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from ..procs import free_port, log_tail, stop_process
from .conftest import _db_container, _host_tool, _wait_ready
from .test_backup_engine import mysql, new_pg_db, pg_fingerprint, psql
from .test_backup_modules import run_play

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
BIN = Path(sys.executable).parent
PRIMARY_ADDRESS = "192.0.2.10"  # what app.test. answers before the failover (TEST-NET-1)


# --------------------------------------------------------------------------- components


@dataclass
class Named:
    """BIND's named as a foreground process: one primary zone app.test., updatable with one TSIG key."""

    port: int
    directory: Path
    key_name: str = "opsdeck-dr"
    algorithm: str = "hmac-sha256"
    secret: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(32)).decode(), repr=False)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def config(self) -> str:
        d = self.directory
        return f"""
key "{self.key_name}" {{ algorithm {self.algorithm}; secret "{self.secret}"; }};
options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  session-keyfile "{d}/session.key";
  managed-keys-directory "{d}";
  listen-on port {self.port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  notify no;
}};
controls {{ }};
zone "app.test" {{ type primary; file "{d}/app.test.db"; allow-update {{ key "{self.key_name}"; }}; }};
"""

    def start(self, timeout: float = 30.0) -> None:
        self.directory.chmod(0o700)
        conf = self.directory / "named.conf"
        conf.write_text(self.config())
        conf.chmod(0o600)
        (self.directory / "app.test.db").write_text(
            "$TTL 60\n"
            "@ IN SOA ns.app.test. hostmaster.app.test. 1 60 60 3600 60\n"
            "@ IN NS ns.app.test.\n"
            "ns IN A 127.0.0.1\n"
            f"@ IN A {PRIMARY_ADDRESS}\n"
        )
        log = (self.directory / "named.log").open("ab")
        self.proc = subprocess.Popen(
            [_host_tool("named"), "-g", "-4", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"named exited ({self.proc.returncode}): {self.log_tail()}")
            if self.answer("app.test") == [PRIMARY_ADDRESS]:
                return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"named did not answer within {timeout} s: {self.log_tail()}")

    def answer(self, name: str, rtype: str = "A") -> list[str]:
        """What named answers for name/rtype, through dig (Debian's bind9-dnsutils)."""
        proc = subprocess.run(
            ["dig", "+short", "+time=2", "+tries=1", "@127.0.0.1", "-p", str(self.port), name, rtype],
            capture_output=True,
            text=True,
            check=False,
        )
        return sorted(proc.stdout.split()) if proc.returncode == 0 else []

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc)

    def log_tail(self) -> str:
        return log_tail(self.directory / "named.log")


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Named]:
    _host_tool("dig")
    server = Named(port=free_port(), directory=tmp_path_factory.mktemp("named"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dr_postgres(images, docker_client):
    """The DR environment's PostgreSQL: a second container of the rig's image."""
    psql_bin, pg_isready = _host_tool("psql"), _host_tool("pg_isready")
    with _db_container(
        docker_client, images["postgresql"], "postgres", 5432, "postgres", "POSTGRES_PASSWORD"
    ) as server:
        conn = ["-h", server.host, "-p", str(server.port), "-U", "postgres"]
        _wait_ready(server, [pg_isready, *conn, "-d", "postgres"], 60)
        _wait_ready(server, [psql_bin, *conn, "-d", "postgres", "-XAtqc", "select 1"], 30, expect="1")
        yield server


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the http.server interface
        ok = self.path == "/health/ready"
        body = b"ok\n" if ok else b"not found\n"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def health_url() -> Iterator[str]:
    """The app's health endpoint in the DR environment: a tiny HTTP server on loopback."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health/ready"
    server.shutdown()
    server.server_close()


@pytest.fixture
def age_identity(tmp_path: Path) -> tuple[str, str]:
    key = tmp_path / "age.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    identity = key.read_text()
    public = next(line.split(": ")[1] for line in identity.splitlines() if line.startswith("# public key: "))
    return identity, public


# --------------------------------------------------------------------------- helpers


def local_host() -> dict:
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def write_inventory(tmp_path: Path, groups: dict[str, list[str]], variables: dict) -> Path:
    inventory = {
        "all": {
            "hosts": {"localhost": local_host()},
            "children": {g: {"hosts": {h: local_host() for h in hosts}} for g, hosts in groups.items()},
            "vars": variables,
        }
    }
    path = tmp_path / f"inventory-{secrets.token_hex(3)}.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def run_playbook(
    tmp_path: Path, playbook: str, inventory: Path, extra: dict, *args: str
) -> subprocess.CompletedProcess:
    """ansible-playbook with the extra vars in a 0600 file (as a vault would hold them)."""
    varsfile = tmp_path / f"extra-{secrets.token_hex(3)}.json"
    varsfile.write_text(json.dumps(extra))
    varsfile.chmod(0o600)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOKS / playbook), "-e", f"@{varsfile}", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=900,
    )


def take_backup(
    tmp_path: Path, server, store: dict, db: str, public: str, identity: str | None = None, query: str | None = None
) -> dict:
    """A backup of db with the backup module, test-restored with backup_verify when identity is given."""
    source = {"engine": "postgres", "host": server.host, "user": "postgres", "password": server.password}
    common = {"app": "shop", "database": db, "store": "{{ store }}"}
    tasks = [
        {"name": "backup", "opsdeck.platform.backup": {**common, "source": "{{ source }}", "recipients": [public]}}
    ]
    if identity:
        verify = {**common, "identity": "{{ identity }}", "server": "{{ source }}", "query": query}
        tasks.append({"name": "verify", "opsdeck.platform.backup_verify": verify})
    results = run_play(tmp_path, tasks, {"store": store, "source": source, "identity": identity})["results"]
    for name, result in results.items():
        assert not result.get("failed"), f"{name}: {result.get('msg')}"
    return results


def store_of(s3_server, bucket: str, prefix: str) -> dict:
    return {
        "bucket": bucket,
        "prefix": prefix,
        "endpoint_url": s3_server.endpoint_url,
        "access_key": s3_server.access_key,
        "secret_key": s3_server.secret_key,
        "part_size_mb": 5,
    }


def manifests(s3_server, bucket: str, prefix: str) -> list[str]:
    """The backup ids under prefix that have a manifest (complete backups), oldest first."""
    found = []
    for page in s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [o["Key"].split("/")[-2] for o in page.get("Contents", []) if o["Key"].endswith("/manifest.json")]
    return sorted(found)


def pg_databases(server) -> list[str]:
    return psql(server, "postgres", "SELECT datname FROM pg_database").split()


def app_model(db: str, host: str, keep: dict | None = None, query: str | None = None) -> list[dict]:
    backup: dict = {"keep": keep or {"last": 5}}
    if query:
        backup["verify"] = {"query": query}
    return [
        {
            "name": "shop",
            "image": "opsdeck/sampleapp:1.0.0",
            "ports": [{"name": "http", "port": 8080}],
            "health": {"path": "/health/ready"},
            "databases": [
                {
                    "name": db,
                    "engine": "postgres",
                    "host": host,
                    "password": "{{ vault_primary_password }}",
                    "backup": backup,
                }
            ],
        }
    ]


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


# --------------------------------------------------------------------------- DR failover and drill


def test_dr_failover_restores_verified_backup_switches_dns_and_reports(
    postgres_server, dr_postgres, s3_server, s3_bucket, named, health_url, age_identity, tmp_path
):
    pytest.importorskip("dns", reason="community.general.nsupdate needs dnspython (PyPI) on the controller")
    identity, public = age_identity
    db = new_pg_db(postgres_server, rows=500)
    verified_fingerprint = pg_fingerprint(postgres_server, db)
    store = store_of(s3_server, s3_bucket, "dr")
    # A verified backup (500 rows), then a newer one that nobody verified (501 rows).
    taken = take_backup(
        tmp_path, postgres_server, store, db, public, identity=identity, query="SELECT count(*) = 500 FROM items"
    )
    verified_id = taken["verify"]["verification"]["id"]
    assert verified_id == taken["backup"]["backup"]["id"]
    psql(postgres_server, db, "INSERT INTO items VALUES (501, 'late', 'row')")
    newer = take_backup(tmp_path, postgres_server, store, db, public)["backup"]["backup"]["id"]
    assert newer > verified_id

    key = f"shop/{db}"
    report_path = tmp_path / "dr-report.json"
    inventory = write_inventory(
        tmp_path,
        {"dr_db_hosts": ["dr-db"]},
        {
            "opsdeck_environment": "prod",
            "opsdeck_apps": app_model(db, postgres_server.host, query="SELECT count(*) = 500 FROM items"),
            "opsdeck_dr_targets": {key: {"host": dr_postgres.host, "password": "{{ vault_dr_password }}"}},
            "opsdeck_dr_dns": {
                "provider": "nsupdate",
                "server": "127.0.0.1",
                "port": named.port,
                "key_name": named.key_name,
                "key_algorithm": named.algorithm,
                "key_secret": "{{ vault_dr_tsig_secret }}",
            },
            "opsdeck_dr_dns_records": [{"zone": "app.test", "record": "app.test.", "value": dr_postgres.host}],
            "opsdeck_dr_health_urls": {"shop": health_url},
            "opsdeck_dr_health_delay": 1,
            "opsdeck_dr_report_path": str(report_path),
        },
    )
    vault = {
        "vault_primary_password": postgres_server.password,
        "vault_dr_password": dr_postgres.password,
        "vault_dr_tsig_secret": named.secret,
        "opsdeck_backup_store": store,
        "opsdeck_backup_identity": identity,
    }
    # Check mode restores nothing and switches nothing, and says so in its report.
    proc = run_playbook(tmp_path, "dr_failover.yml", inventory, vault, "--check")
    assert proc.returncode == 0, output(proc)[-6000:]
    assert db not in pg_databases(dr_postgres)
    assert named.answer("app.test") == [PRIMARY_ADDRESS]
    report = json.loads(report_path.read_text())
    assert report["check_mode"] is True and report["databases"][0]["restored"] is False
    assert report["databases"][0]["backup_id"] == verified_id

    started = time.time()
    proc = run_playbook(tmp_path, "dr_failover.yml", inventory, vault)
    took = time.time() - started
    assert proc.returncode == 0, output(proc)[-6000:]

    # The DR database holds the VERIFIED backup's rows (500), not the newer unverified backup's (501).
    assert pg_fingerprint(dr_postgres, db) == verified_fingerprint
    # The real named now answers the DR host's address.
    assert named.answer("app.test") == [dr_postgres.host]
    report = json.loads(report_path.read_text())
    assert report["mode"] == "failover" and report["ok"] is True and report["error"] is None
    assert 0 < report["rto_seconds"] <= took + 1
    backup_age = time.time() - calendar.timegm(
        time.strptime(taken["backup"]["backup"]["finished_at"], "%Y-%m-%dT%H:%M:%SZ")
    )
    assert 0 <= report["rpo_seconds"] <= backup_age + 1
    assert report["rpo_database"] == key
    assert report["rto_target_seconds"] == 1800 and report["rpo_target_seconds"] == 4 * 3600
    (entry,) = report["databases"]
    assert entry["backup_id"] == verified_id and entry["restored"] is True and entry["check"]["answer"] == "t"
    assert report["dns"] == [
        {
            "record": "app.test.",
            "type": "A",
            "value": dr_postgres.host,
            "provider": "nsupdate",
            "changed": True,
            "ok": True,
        }
    ]
    assert report["health"][0]["app"] == "shop" and report["health"][0]["ok"] is True
    assert "RTO" in proc.stdout and "RPO" in proc.stdout
    for secret in (named.secret, postgres_server.password, dr_postgres.password, s3_server.secret_key):
        assert secret not in output(proc)
    assert identity.splitlines()[-1] not in output(proc)

    # Again: the DR database is not empty now, and a failover never overwrites one unless told.
    proc = run_playbook(tmp_path, "dr_failover.yml", inventory, vault)
    assert proc.returncode != 0
    assert "is not empty" in proc.stdout and key in proc.stdout
    assert json.loads(report_path.read_text())["ok"] is False

    # With force, but a target RPO the backup is older than: it fails and names the database.
    proc = run_playbook(
        tmp_path,
        "dr_failover.yml",
        inventory,
        {**vault, "opsdeck_dr_force": True, "opsdeck_dr_rpo_target_hours": 0.0001},
    )
    assert proc.returncode != 0, output(proc)[-3000:]
    assert f"RPO of {key}" in proc.stdout and "exceeds opsdeck_dr_rpo_target_hours=0.0001" in proc.stdout
    report = json.loads(report_path.read_text())
    assert report["ok"] is False and report["error"] is None and len(report["breaches"]) == 1
    assert pg_fingerprint(dr_postgres, db) == verified_fingerprint

    # The drill, through ansible-runner (the engine of AAP): a scratch database on the DR server,
    # a drill record switched, app.test. left alone.
    ansible_runner = pytest.importorskip("ansible_runner")
    drill_report = tmp_path / "drill-report.json"
    runner_dir = tmp_path / "runner"
    (runner_dir / "inventory").mkdir(parents=True)
    shutil.copy(inventory, runner_dir / "inventory" / "hosts.yml")
    result = ansible_runner.run(
        private_data_dir=str(runner_dir),
        playbook=str(PLAYBOOKS / "dr_drill.yml"),
        extravars={
            **vault,
            "opsdeck_dr_drill_dns_records": [
                {"zone": "app.test", "record": "drill.app.test.", "value": "192.0.2.99", "ttl": 30}
            ],
            "opsdeck_dr_drill_report_path": str(drill_report),
        },
        envvars={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        quiet=True,
    )
    stdout = result.stdout.read()
    assert result.status == "successful" and result.rc == 0, stdout[-6000:]
    assert pg_fingerprint(dr_postgres, f"opsdeck_drill_{db}") == verified_fingerprint
    assert named.answer("drill.app.test") == ["192.0.2.99"]
    assert named.answer("app.test") == [dr_postgres.host]
    drill = json.loads(drill_report.read_text())
    assert drill["mode"] == "drill" and drill["ok"] is True and drill["databases"][0]["backup_id"] == verified_id
    assert drill["health"][0]["note"].startswith("no health URL given")
    assert named.secret not in stdout
    # Nor in what ansible-runner keeps of the run (its env/ holds the extra vars it was given).
    for path in (runner_dir / "artifacts").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in (named.secret, postgres_server.password, dr_postgres.password, s3_server.secret_key):
                assert secret not in text, path


def test_dr_failover_refuses_before_any_change_without_verified_backup(
    postgres_server, dr_postgres, s3_server, s3_bucket, age_identity, tmp_path
):
    identity, public = age_identity
    db = new_pg_db(postgres_server, rows=10)
    store = store_of(s3_server, s3_bucket, "dr-unverified")
    take_backup(tmp_path, postgres_server, store, db, public)
    inventory = write_inventory(
        tmp_path,
        {"dr_db_hosts": ["dr-db"]},
        {
            "opsdeck_environment": "prod",
            "opsdeck_apps": app_model(db, postgres_server.host),
            "opsdeck_dr_targets": {f"shop/{db}": {"host": dr_postgres.host, "password": "{{ vault_dr_password }}"}},
            "opsdeck_dr_report_path": str(tmp_path / "report.json"),
        },
    )
    vault = {
        "vault_primary_password": postgres_server.password,
        "vault_dr_password": dr_postgres.password,
        "opsdeck_backup_store": store,
        "opsdeck_backup_identity": identity,
    }
    proc = run_playbook(tmp_path, "dr_failover.yml", inventory, vault)
    assert proc.returncode != 0
    assert f"no verified backup of shop/{db} in the store" in proc.stdout
    assert db not in pg_databases(dr_postgres)
    assert not (tmp_path / "report.json").exists()

    # A typo in the targets stops the run with the key it does not know.
    bad = write_inventory(
        tmp_path,
        {"dr_db_hosts": ["dr-db"]},
        {
            "opsdeck_environment": "prod",
            "opsdeck_apps": app_model(db, postgres_server.host),
            "opsdeck_dr_targets": {"shop/nope": {"hots": "x"}},
        },
    )
    proc = run_playbook(tmp_path, "dr_failover.yml", bad, vault)
    assert proc.returncode != 0
    assert "opsdeck_dr_targets: shop/nope is not a database of a present app" in proc.stdout


def test_dr_drill_of_mariadb_and_redis(
    mariadb_server, redis_server, run_container, images, s3_server, s3_bucket, age_identity, tmp_path
):
    """The drill's defaults for the other engines: MariaDB into opsdeck_drill_<db> on its server (checked with
    the verify query through the mysql client), Redis into a scratch container (checked with DBSIZE inside it)."""
    identity, public = age_identity
    db = f"it_{secrets.token_hex(4)}"
    mysql(mariadb_server, f"CREATE DATABASE {db}")
    mysql(mariadb_server, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64))", db)
    mysql(mariadb_server, "INSERT INTO t SELECT seq, MD5(seq) FROM seq_1_to_300", db)
    fingerprint = "SELECT COUNT(*), MD5(GROUP_CONCAT(id, v ORDER BY id)) FROM t"
    before = mysql(mariadb_server, fingerprint, db)
    token = secrets.token_hex(8)
    subprocess.run(
        ["redis-cli", "--no-auth-warning", "-h", redis_server.host, "SET", f"it:dr:{token}", token],
        env=redis_server.client_env(),
        check=True,
        capture_output=True,
    )
    store = store_of(s3_server, s3_bucket, "drill")
    maria = {"engine": "mariadb", "host": mariadb_server.host, "user": "root", "password": mariadb_server.password}
    redis = {"engine": "redis", "host": redis_server.host, "password": redis_server.password}
    tasks = []
    for name, source, server, query in (
        (db, maria, maria, "SELECT count(*) = 300 FROM t"),
        ("cache", redis, None, None),  # redis-check-rdb (no redis-server on this host to answer a query)
    ):
        common = {"app": "shop", "database": name, "store": "{{ store }}"}
        tasks.append(
            {"name": f"backup {name}", "opsdeck.platform.backup": {**common, "source": source, "recipients": [public]}}
        )
        verify = {**common, "identity": "{{ identity }}", **({"query": query} if query else {})}
        verify.update({"server": server} if server else {})
        tasks.append({"name": f"verify {name}", "opsdeck.platform.backup_verify": verify})
    results = run_play(tmp_path, tasks, {"store": store, "identity": identity})["results"]
    for name, result in results.items():
        assert not result.get("failed"), f"{name}: {result.get('msg')}"

    scratch = run_container(images["redis"])
    model = [
        {
            "name": "shop",
            "image": "opsdeck/sampleapp:1.0.0",
            "ports": [{"name": "http", "port": 8080}],
            "databases": [
                {
                    "name": db,
                    "engine": "mariadb",
                    "host": mariadb_server.host,
                    "password": "{{ vault_maria_password }}",
                    "backup": {"verify": {"query": "SELECT count(*) = 300 FROM t"}},
                },
                {
                    "name": "cache",
                    "engine": "redis",
                    "host": redis_server.host,
                    "password": "{{ vault_redis_password }}",
                },
            ],
        }
    ]
    report_path = tmp_path / "drill.json"
    inventory = write_inventory(
        tmp_path,
        {"dr_db_hosts": ["dr-db"]},
        {
            "opsdeck_environment": "dev",
            "opsdeck_apps": model,
            # the scratch Redis has no password: none is sent to it
            "opsdeck_dr_drill_targets": {
                "shop/cache": {"container": scratch.container.name, "host": None, "path": None, "password": None}
            },
            "opsdeck_dr_drill_report_path": str(report_path),
        },
    )
    vault = {
        "vault_maria_password": mariadb_server.password,
        "vault_redis_password": redis_server.password,
        "opsdeck_backup_store": store,
        "opsdeck_backup_identity": identity,
    }
    proc = run_playbook(tmp_path, "dr_drill.yml", inventory, vault)
    assert proc.returncode == 0, output(proc)[-6000:]
    assert mysql(mariadb_server, fingerprint, f"opsdeck_drill_{db}") == before
    rc, got = scratch.exec(["redis-cli", "GET", f"it:dr:{token}"])
    assert rc == 0 and got.strip() == token
    report = json.loads(report_path.read_text())
    assert report["ok"] is True and report["dns"] == []
    checks = {d["database"]: d["check"] for d in report["databases"]}
    assert checks[db] == {"query": "SELECT count(*) = 300 FROM t", "answer": "1"}
    assert checks["cache"]["query"] == "DBSIZE" and int(checks["cache"]["answer"]) >= 1
    for secret in (mariadb_server.password, redis_server.password):
        assert secret not in output(proc)


# --------------------------------------------------------------------------- restore.yml


def test_restore_in_prod_needs_the_typed_confirmation(postgres_server, s3_server, s3_bucket, age_identity, tmp_path):
    identity, public = age_identity
    db = new_pg_db(postgres_server, rows=200)
    store = store_of(s3_server, s3_bucket, "restore")
    take_backup(tmp_path, postgres_server, store, db, public)
    inventory = write_inventory(
        tmp_path,
        {"backup_hosts": ["bk"]},
        {"opsdeck_environment": "prod", "opsdeck_apps": app_model(db, postgres_server.host)},
    )
    restored = f"{db}_restored"
    vault = {
        "vault_primary_password": postgres_server.password,
        "opsdeck_backup_store": store,
        "opsdeck_backup_identity": identity,
        "restore_app": "shop",
        "restore_database": db,
        "restore_target": {"dbname": restored},
    }
    for confirm in (None, "shop", f"shop/{db} "):
        extra = vault if confirm is None else {**vault, "restore_confirm": confirm}
        proc = run_playbook(tmp_path, "restore.yml", inventory, extra)
        assert proc.returncode != 0
        assert "opsdeck_environment is prod" in proc.stdout
        assert f"-e restore_confirm=shop/{db}" in proc.stdout
        assert restored not in pg_databases(postgres_server)  # nothing changed

    proc = run_playbook(tmp_path, "restore.yml", inventory, {**vault, "restore_confirm": f"shop/{db}"})
    assert proc.returncode == 0, output(proc)[-4000:]
    assert pg_fingerprint(postgres_server, restored) == pg_fingerprint(postgres_server, db)
    assert postgres_server.password not in output(proc)

    # A database that is not in the model is refused by name.
    proc = run_playbook(tmp_path, "restore.yml", inventory, {**vault, "restore_database": "nope"})
    assert proc.returncode != 0 and "shop/nope is not a database of a present app" in proc.stdout


# --------------------------------------------------------------------------- backup.yml


def test_backup_playbook_backs_up_and_prunes_with_the_model_keep(
    postgres_server, s3_server, s3_bucket, age_identity, tmp_path
):
    _identity, public = age_identity
    db = new_pg_db(postgres_server, rows=50)
    store = store_of(s3_server, s3_bucket, "playbook")
    prefix = f"playbook/shop/{db}/"
    variables = {
        "opsdeck_environment": "dev",
        "opsdeck_apps": app_model(db, postgres_server.host, keep={"last": 2}),
        "opsdeck_backup_recipients": [public],
    }
    inventory = write_inventory(tmp_path, {"backup_hosts": ["bk"]}, variables)
    vault = {"vault_primary_password": postgres_server.password, "opsdeck_backup_store": store}

    # A model with a typo stops the run before anything is written.
    bad_model = app_model(db, postgres_server.host)
    bad_model[0]["replica"] = 2
    bad = write_inventory(tmp_path, {"backup_hosts": ["bk"]}, {**variables, "opsdeck_apps": bad_model})
    proc = run_playbook(tmp_path, "backup.yml", bad, vault)
    assert proc.returncode != 0
    assert "app 'shop': field 'replica': unknown field (did you mean 'replicas'?)" in proc.stdout
    assert manifests(s3_server, s3_bucket, prefix) == []

    proc = run_playbook(tmp_path, "backup.yml", inventory, vault)
    assert proc.returncode == 0, output(proc)[-4000:]
    first = manifests(s3_server, s3_bucket, prefix)
    assert len(first) == 1
    assert "retention kept 1, deleted 0" in proc.stdout

    proc = run_playbook(tmp_path, "backup.yml", inventory, vault)
    assert proc.returncode == 0, output(proc)[-4000:]
    both = manifests(s3_server, s3_bucket, prefix)
    assert len(both) == 2 and both[0] == first[0]  # keep last 2: nothing deleted
    assert "retention kept 2, deleted 0" in proc.stdout

    proc = run_playbook(tmp_path, "backup.yml", inventory, vault)
    assert proc.returncode == 0, output(proc)[-4000:]
    third = manifests(s3_server, s3_bucket, prefix)
    assert len(third) == 2 and first[0] not in third  # the third backup pushed the first out
    assert "retention kept 2, deleted 1" in proc.stdout
    for secret in (postgres_server.password, s3_server.secret_key):
        assert secret not in output(proc)

    # The retention step alone (--tags backup_prune) takes no backup and deletes nothing more.
    proc = run_playbook(tmp_path, "backup.yml", inventory, vault, "--tags", "backup_prune")
    assert proc.returncode == 0, output(proc)[-4000:]
    assert manifests(s3_server, s3_bucket, prefix) == third
    assert "retention kept 2, deleted 0" in proc.stdout

    # An inventory without backup hosts is an error, not a silent no-op.
    empty = write_inventory(tmp_path, {}, variables)
    proc = run_playbook(tmp_path, "backup.yml", empty, vault)
    assert proc.returncode != 0 and "no host of the inventory matches 'backup_hosts'" in proc.stdout
