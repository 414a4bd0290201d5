# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup engine against real servers: PostgreSQL, MariaDB and Redis in containers of the
rig's images, versitygw (a real S3 server with Object Lock) on loopback, and Debian's age and
zstd. Each round trip compares rows; faults are produced for real (a killed pg_dump, the S3
server stopped mid-upload, a wrong identity) except where said otherwise."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import (
    catalog,
    cli,
    pipeline,
    prune,
    sources,
    stores,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError

MiB = 1024 * 1024


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def age_key(tmp_path_factory) -> dict[str, str]:
    """A fresh age key pair: the public recipient and the private identity."""
    path = tmp_path_factory.mktemp("age") / "key.txt"
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    text = path.read_text()
    public = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("# public key: "))
    return {"public": public, "secret": text, "path": str(path)}


def s3_store(s3_server, bucket: str, **kw) -> stores.S3Store:
    return stores.S3Store(
        bucket,
        prefix="backups",
        endpoint_url=s3_server.endpoint_url,
        region=s3_server.region,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        **{"part_size": 5 * MiB, "concurrency": 2, "retries": 1, "retry_delay": 0.2, **kw},
    )


def psql(server, database: str, sql: str) -> str:
    out = subprocess.run(
        ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", server.host, "-U", "postgres", "-d", database, "-c", sql],
        env=server.client_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def mysql(server, sql: str, database: str | None = None) -> str:
    argv = ["mariadb", "-h", server.host, "-u", "root", "-N", "-B", "-e", sql]
    out = subprocess.run(
        [*argv, *([database] if database else [])], env=server.client_env(), capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def pg_conn(server, database: str) -> sources.Connection:
    return sources.Connection(
        "postgres", database, host=server.host, port=server.port, user="postgres", password=server.password
    )


def new_pg_db(server, rows: int = 1000, random_kb: int = 0) -> str:
    """A new database with a table of `rows` rows (plus ~random_kb KiB of incompressible text)."""
    name = f"it_{secrets.token_hex(4)}"
    psql(server, "postgres", f"CREATE DATABASE {name}")
    psql(server, name, "CREATE TABLE items (id int PRIMARY KEY, label text, payload text)")
    psql(server, name, f"INSERT INTO items SELECT g, 'item ' || g, md5(g::text) FROM generate_series(1, {rows}) g")
    if random_kb:
        # ~1 KiB of md5 hex per row: compresses only about 2x, so the stream is several parts long
        psql(
            server,
            name,
            "CREATE TABLE blobs AS SELECT g AS id, string_agg(md5(random()::text || g || s), '') AS data "
            f"FROM generate_series(1, {random_kb}) g, generate_series(1, 32) s GROUP BY g",
        )
    return name


def pg_fingerprint(server, database: str) -> str:
    return psql(
        server,
        database,
        "SELECT count(*) || ':' || md5(string_agg(id || label || payload, ',' ORDER BY id)) FROM items",
    )


def settings(age_key, **kw) -> pipeline.Settings:
    return pipeline.Settings(recipients=[age_key["public"]], **kw)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_postgres_round_trip_through_s3(postgres_server, s3_server, s3_bucket, age_key, algorithm):
    db = new_pg_db(postgres_server, rows=5000, random_kb=16000)
    before = pg_fingerprint(postgres_server, db)
    store = s3_store(s3_server, s3_bucket, checksum_algorithm=algorithm)
    job = pipeline.Job("shop", db, pg_conn(postgres_server, db))

    manifest = pipeline.backup(job, store, settings(age_key))

    data = manifest["objects"]["data"]
    assert data["parts"] >= 2, "expected a multipart upload of several parts"
    assert manifest["checks"]["data"].startswith("pg_restore --list: ")
    assert "globals" in manifest["objects"]
    listed = catalog.list_backups(store, "shop", db)
    assert [b["id"] for b in listed] == [manifest["id"]]
    # the server holds exactly what the manifest says, and its own checksum of it
    head = s3_server.client().head_object(Bucket=s3_bucket, Key=f"backups/{data['key']}", ChecksumMode="ENABLED")
    assert head["ContentLength"] == data["size"]
    # each part was sent with its checksum of the chosen kind, which the server checked and combined
    assert data["checksum_algorithm"] == algorithm
    assert head[f"Checksum{algorithm}"] == data["server_checksum"]
    assert data["server_checksum"].endswith(f"-{data['parts']}")

    target = f"{db}_restored"
    result = pipeline.restore(store, job.layout, pipeline.Identity(age_key["secret"]), pg_conn(postgres_server, target))
    assert result["id"] == manifest["id"]
    assert pg_fingerprint(postgres_server, target) == before
    assert psql(postgres_server, target, "SELECT count(*) FROM blobs") == "16000"


def test_postgres_backup_restores_by_hand_with_standard_tools(postgres_server, s3_server, s3_bucket, age_key, tmp_path):
    """The documented manual restore: age -d | zstd -d | pg_restore, no code of ours."""
    db = new_pg_db(postgres_server, rows=300)
    store = s3_store(s3_server, s3_bucket)
    manifest = pipeline.backup(pipeline.Job("shop", db, pg_conn(postgres_server, db)), store, settings(age_key))
    obj = tmp_path / "data.pgdump.zst.age"
    s3_server.client().download_file(s3_bucket, f"backups/{manifest['objects']['data']['key']}", str(obj))
    target = f"{db}_byhand"
    psql(postgres_server, "postgres", f"CREATE DATABASE {target}")
    pipeline_sh = (
        f'age -d -i "$KEY" "$OBJ" | zstd -d | pg_restore --exit-on-error --single-transaction '
        f'-h "$PGHOST" -U postgres -d {target}'
    )
    env = {**postgres_server.client_env(), "KEY": age_key["path"], "OBJ": str(obj), "PGHOST": postgres_server.host}
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline_sh], env=env, check=True, capture_output=True)
    assert pg_fingerprint(postgres_server, target) == pg_fingerprint(postgres_server, db)


def test_mariadb_round_trip_to_a_local_store(mariadb_server, age_key, tmp_path):
    db = f"it_{secrets.token_hex(4)}"
    mysql(mariadb_server, f"CREATE DATABASE {db}")
    mysql(mariadb_server, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64))", db)
    mysql(mariadb_server, "INSERT INTO t SELECT seq, MD5(seq) FROM seq_1_to_2000", db)
    fingerprint = "SELECT COUNT(*), MD5(GROUP_CONCAT(id, v ORDER BY id)) FROM t"
    before = mysql(mariadb_server, fingerprint, db)
    conn = sources.Connection(
        "mariadb", db, host=mariadb_server.host, port=3306, user="root", password=mariadb_server.password
    )
    store = stores.LocalStore(str(tmp_path / "store"))
    manifest = pipeline.backup(pipeline.Job("crm", db, conn), store, settings(age_key))
    assert "Dump completed" in manifest["checks"]["data"] or "completion line" in manifest["checks"]["data"]
    stored = tmp_path / "store" / manifest["objects"]["data"]["key"]
    assert stored.stat().st_mode & 0o777 == 0o440

    pipeline.restore(
        store, pipeline.catalog.Layout("crm", db), pipeline.Identity(age_key["secret"]), conn.with_database(f"{db}_r")
    )
    assert mysql(mariadb_server, fingerprint, f"{db}_r") == before

    # test restore with an assertion, into a throwaway database that is gone afterwards
    doc = pipeline.verify(
        store,
        pipeline.catalog.Layout("crm", db),
        pipeline.Identity(age_key["secret"]),
        conn,
        query="SELECT COUNT(*) = 2000 FROM t",
    )
    assert doc["answer"] == "1"
    assert mysql(mariadb_server, "SHOW DATABASES LIKE 'opsdeck_verify_%'") == ""
    assert catalog.list_backups(store, "crm", db)[0]["verified_at"] == doc["verified_at"]


def test_redis_round_trip_into_a_container(redis_server, run_container, images, s3_server, s3_bucket, age_key):
    cli_env = redis_server.client_env()
    base = ["redis-cli", "--no-auth-warning", "-h", redis_server.host]
    token = secrets.token_hex(8)
    subprocess.run([*base, "SET", "it:token", token], env=cli_env, check=True, capture_output=True)
    conn = sources.Connection("redis", "cache", host=redis_server.host, port=6379, password=redis_server.password)
    store = s3_store(s3_server, s3_bucket)
    manifest = pipeline.backup(pipeline.Job("web", "cache", conn), store, settings(age_key))
    assert manifest["checks"]["data"].startswith("RDB ")

    fresh = run_container(images["redis"])
    target = sources.Connection("redis", "cache", container=fresh.container.name)
    pipeline.restore(store, catalog.Layout("web", "cache"), pipeline.Identity(age_key["secret"]), target)
    deadline = time.monotonic() + 30
    value = ""
    while time.monotonic() < deadline:
        fresh.container.reload()
        ip = fresh.container.attrs["NetworkSettings"]["IPAddress"]
        probe = subprocess.run(["redis-cli", "-h", ip, "GET", "it:token"], capture_output=True, text=True, check=False)
        value = probe.stdout.strip()
        if value == token:
            break
        time.sleep(0.3)
    assert value == token


# --------------------------------------------------------------------------- faults


def _incomplete_uploads(s3_server, bucket: str) -> list[dict]:
    return s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def _a_part_is_uploaded(s3_server, bucket: str, marker: str) -> bool:
    """True once an unfinished upload whose key contains `marker` holds at least one part."""
    s3 = s3_server.client()
    for upload in _incomplete_uploads(s3_server, bucket):
        if marker in upload["Key"]:
            parts = s3.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", [])
            if parts:
                return True
    return False


def _children_named(name: str, marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and os.path.basename(cmd[0].decode(errors="replace")) == name and marker.encode() in b" ".join(cmd):
            found.append(int(pid))
    return found


def test_a_killed_dump_leaves_no_backup_and_no_open_upload(postgres_server, s3_server, s3_bucket, age_key):
    db = new_pg_db(postgres_server, rows=1000, random_kb=60000)
    store = s3_store(s3_server, s3_bucket)
    job = pipeline.Job("shop", db, pg_conn(postgres_server, db), globals=False)
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pids = _children_named("pg_dump", db)
            if pids and _a_part_is_uploaded(s3_server, s3_bucket, db):  # half-way: parts are stored
                os.kill(pids[0], 9)
                killed.append(pids[0])
            time.sleep(0.02)

    thread = threading.Thread(target=killer)
    thread.start()
    with pytest.raises(BackupError, match=r"pg_dump was killed by signal 9"):
        pipeline.backup(job, store, settings(age_key))
    thread.join()
    assert killed, "pg_dump finished before it could be killed; make the database bigger"
    assert catalog.list_backups(store, "shop", db) == []
    assert _incomplete_uploads(s3_server, s3_bucket) == []
    assert all(not k.endswith("manifest.json") for k in store.list_keys(f"shop/{db}"))


def test_s3_outage_mid_upload_fails_clearly_and_the_next_run_cleans_up(postgres_server, s3_server, s3_bucket, age_key):
    db = new_pg_db(postgres_server, rows=1000, random_kb=60000)
    store = s3_store(s3_server, s3_bucket, retries=2, retry_delay=0.3, part_size=5 * MiB)
    job = pipeline.Job("shop", db, pg_conn(postgres_server, db), globals=False)
    stopped = threading.Event()

    def outage() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _a_part_is_uploaded(s3_server, s3_bucket, db):
                s3_server.stop()
                stopped.set()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=outage)
    thread.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(BackupError) as err:
            pipeline.backup(job, store, settings(age_key))
        took = time.monotonic() - t0
    finally:
        thread.join()
        s3_server.start()
    assert stopped.is_set()
    message = str(err.value)
    assert "after 3 attempts" in message  # the first try and the 2 retries the policy allows
    assert s3_server.endpoint_url in message
    assert s3_server.secret_key not in message
    assert took >= 0.3 + 0.6  # the retry delays were waited
    assert catalog.list_backups(store, "shop", db) == []
    # the server was down, so the abort could not reach it: the next run cleans up
    left = [u for u in _incomplete_uploads(s3_server, s3_bucket) if db in u["Key"]]
    manifest = pipeline.backup(job, store, settings(age_key, stale_upload_seconds=0))
    assert [u for u in _incomplete_uploads(s3_server, s3_bucket) if db in u["Key"]] == []
    assert sorted(manifest["cleaned_incomplete"]) == sorted(u["Key"].removeprefix("backups/") for u in left)
    assert [b["id"] for b in catalog.list_backups(store, "shop", db)] == [manifest["id"]]


def test_a_wrong_identity_is_refused_before_the_target_changes(
    postgres_server, s3_server, s3_bucket, age_key, tmp_path
):
    db = new_pg_db(postgres_server, rows=10)
    store = s3_store(s3_server, s3_bucket)
    pipeline.backup(pipeline.Job("shop", db, pg_conn(postgres_server, db)), store, settings(age_key))
    other = tmp_path / "other.txt"
    subprocess.run(["age-keygen", "-o", str(other)], check=True, capture_output=True)
    with pytest.raises(BackupError, match="does not belong to any recipient"):
        pipeline.restore(
            store, catalog.Layout("shop", db), pipeline.Identity(other.read_text()), pg_conn(postgres_server, f"{db}_x")
        )
    # pg_restore ran in one transaction: nothing of the backup reached the new database
    assert psql(postgres_server, f"{db}_x", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


def test_restore_refuses_a_non_empty_database_unless_forced(postgres_server, s3_server, s3_bucket, age_key):
    db = new_pg_db(postgres_server, rows=50)
    store = s3_store(s3_server, s3_bucket)
    layout = catalog.Layout("shop", db)
    pipeline.backup(pipeline.Job("shop", db, pg_conn(postgres_server, db)), store, settings(age_key))
    psql(postgres_server, db, "DELETE FROM items WHERE id > 10")
    with pytest.raises(BackupError, match="is not empty; restore into an empty or new database, or set force"):
        pipeline.restore(store, layout, pipeline.Identity(age_key["secret"]), pg_conn(postgres_server, db))
    assert psql(postgres_server, db, "SELECT count(*) FROM items") == "10"
    pipeline.restore(store, layout, pipeline.Identity(age_key["secret"]), pg_conn(postgres_server, db), force=True)
    assert psql(postgres_server, db, "SELECT count(*) FROM items") == "50"


def test_an_empty_dump_is_refused(postgres_server, age_key, tmp_path, monkeypatch):
    """pg_dump cannot be made to exit 0 with no output, so this one fault is staged: the dump
    command is replaced by `true` (exit 0, prints nothing). Everything after it is real."""
    monkeypatch.setattr(sources.Postgres, "dump_argv", lambda self, client: ["true"])
    store = stores.LocalStore(str(tmp_path / "store"))
    job = pipeline.Job("shop", "empty", pg_conn(postgres_server, "postgres"), globals=False)
    with pytest.raises(BackupError, match="printed nothing; an empty dump is not a backup"):
        pipeline.backup(job, store, settings(age_key))
    assert catalog.list_backups(store) == []
    assert list(store.list_keys("")) == []


def test_output_that_is_not_a_dump_fails_the_format_check(postgres_server, age_key, tmp_path, monkeypatch):
    """Staged like the empty dump: a command that exits 0 and prints something that is not an archive."""
    monkeypatch.setattr(sources.Postgres, "dump_argv", lambda self, client: ["printf", "not a dump"])
    store = stores.LocalStore(str(tmp_path / "store"))
    job = pipeline.Job("shop", "garbage", pg_conn(postgres_server, "postgres"), globals=False)
    with pytest.raises(BackupError, match="not a PostgreSQL custom-format archive"):
        pipeline.backup(job, store, settings(age_key))
    assert catalog.list_backups(store, include_incomplete=True) == []


def test_a_failing_verification_query_fails_and_drops_the_scratch_database(postgres_server, age_key, tmp_path):
    db = new_pg_db(postgres_server, rows=5)
    store = stores.LocalStore(str(tmp_path / "store"))
    pipeline.backup(pipeline.Job("shop", db, pg_conn(postgres_server, db)), store, settings(age_key))
    with pytest.raises(BackupError, match="answered 'f', not true"):
        pipeline.verify(
            store,
            catalog.Layout("shop", db),
            pipeline.Identity(age_key["secret"]),
            pg_conn(postgres_server, "postgres"),
            query="SELECT count(*) > 5 FROM items",
        )
    assert (
        psql(postgres_server, "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'opsdeck_verify_%'")
        == "0"
    )
    assert catalog.list_backups(store, "shop", db)[0]["verified_at"] is None


# --------------------------------------------------------------------------- retention and locks


def test_a_locked_backup_survives_prune_and_is_reported_kept(postgres_server, s3_server, s3_bucket, age_key):
    db = new_pg_db(postgres_server, rows=5)
    store = s3_store(s3_server, s3_bucket)
    job = pipeline.Job("shop", db, pg_conn(postgres_server, db), globals=False)
    locked = pipeline.backup(job, store, settings(age_key, lock_mode="COMPLIANCE", lock_days=1))
    head = s3_server.client().head_object(Bucket=s3_bucket, Key=f"backups/{locked['objects']['data']['key']}")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
    time.sleep(1.1)  # distinct ids by time
    unlocked_old = pipeline.backup(job, store, settings(age_key))
    time.sleep(1.1)
    newest = pipeline.backup(job, store, settings(age_key))

    result = prune.prune(store, job.layout, {"last": 1})

    assert result["deleted"] == [unlocked_old["id"]]
    assert locked["id"] in result["locked"] and locked["id"] in result["kept"]
    assert result["failed"] == {}
    assert [b["id"] for b in catalog.list_backups(store, "shop", db)] == [newest["id"], locked["id"]]
    again = prune.prune(store, job.layout, {"last": 1})
    assert again["changed"] is False and again["deleted"] == []


def test_prune_dry_run_changes_nothing_and_never_drops_the_newest_verified(postgres_server, age_key, tmp_path):
    db = new_pg_db(postgres_server, rows=5)
    store = stores.LocalStore(str(tmp_path / "store"))
    job = pipeline.Job("shop", db, pg_conn(postgres_server, db), globals=False)
    ids = []
    for _i in range(3):
        ids.append(pipeline.backup(job, store, settings(age_key))["id"])
        time.sleep(1.1)
    pipeline.verify(
        store, job.layout, pipeline.Identity(age_key["secret"]), pg_conn(postgres_server, "postgres"), backup_id=ids[0]
    )
    plan = prune.prune(store, job.layout, {"last": 1}, dry_run=True)
    assert plan["would_delete"] == [ids[1]] and plan["changed"] is True
    assert len(catalog.list_backups(store, "shop", db)) == 3
    done = prune.prune(store, job.layout, {"last": 1})
    assert done["deleted"] == [ids[1]]
    assert [b["id"] for b in catalog.list_backups(store, "shop", db)] == [ids[2], ids[0]]


# --------------------------------------------------------------------------- the command and secrets


def _write_config(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


def test_cli_run_writes_metrics_and_keeps_secrets_off_every_command_line(
    postgres_server, s3_server, s3_bucket, age_key, tmp_path, capsys
):
    db = new_pg_db(postgres_server, rows=2000, random_kb=3000)
    metrics_dir = tmp_path / "textfile"
    conf = _write_config(
        tmp_path / "config.json",
        {
            "store": {
                "type": "s3",
                "bucket": s3_bucket,
                "prefix": "cli",
                "endpoint_url": s3_server.endpoint_url,
                "access_key": s3_server.access_key,
                "secret_key": s3_server.secret_key,
                "part_size_mb": 5,
            },
            "recipients": [age_key["public"]],
            "identity_file": age_key["path"],
            "metrics_dir": str(metrics_dir),
            "state_dir": str(tmp_path / "state"),
            "jobs": {
                f"shop/{db}": {
                    "app": "shop",
                    "database": db,
                    "engine": "postgres",
                    "host": postgres_server.host,
                    "port": 5432,
                    "user": "postgres",
                    "password": postgres_server.password,
                    "keep": {"daily": 7},
                    "verify_query": "SELECT count(*) = 2000 FROM items",
                }
            },
        },
    )
    seen: set[bytes] = set()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    with contextlib.suppress(OSError):
                        seen.add(Path(f"/proc/{pid}/cmdline").read_bytes())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        assert cli.main(["--config", str(conf), "run", f"shop/{db}"]) == 0
        assert cli.main(["--config", str(conf), "verify", f"shop/{db}"]) == 0
    finally:
        stop.set()
        sampler.join()
    out = capsys.readouterr()
    summary = json.loads(out.out.splitlines()[0])
    assert summary["job"] == f"shop/{db}" and summary["size"] > 0
    assert any(b"pg_dump" in c for c in seen), "the sampler saw no pg_dump: it did not sample during the run"
    for secret in (postgres_server.password, s3_server.secret_key):
        assert not any(secret.encode() in c for c in seen)
        assert secret not in out.out + out.err
    prom = (metrics_dir / f"opsdeck_backup_shop_{db}.prom").read_text()
    assert postgres_server.password not in prom
    labels = f'{{app="shop",database="{db}",engine="postgres"}}'
    values = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in prom.splitlines() if labels in line}
    assert time.time() - values["opsdeck_backup_last_success_timestamp_seconds"] < 120
    assert time.time() - values["opsdeck_backup_last_verified_restore_timestamp_seconds"] < 60
    assert values["opsdeck_backup_failures_total"] == 0
    assert values["opsdeck_backup_last_size_bytes"] == summary["size"]


def test_cli_failure_is_counted_and_the_message_masks_the_password(postgres_server, age_key, tmp_path, capsys):
    wrong = "wrong-" + secrets.token_hex(6)
    conf = _write_config(
        tmp_path / "config.json",
        {
            "store": {"type": "local", "path": str(tmp_path / "store")},
            "recipients": [age_key["public"]],
            "metrics_dir": str(tmp_path / "textfile"),
            "state_dir": str(tmp_path / "state"),
            "jobs": {
                "shop/nope": {
                    "app": "shop",
                    "database": "nope",
                    "engine": "postgres",
                    "host": postgres_server.host,
                    "user": "postgres",
                    "password": wrong,
                }
            },
        },
    )
    for _i in range(2):
        assert cli.main(["--config", str(conf), "run", "shop/nope"]) == 1
    err = capsys.readouterr().err
    assert "pg_dump exited 1" in err and "password authentication failed" in err
    assert wrong not in err
    prom = (tmp_path / "textfile" / "opsdeck_backup_shop_nope.prom").read_text()
    assert 'opsdeck_backup_failures_total{app="shop",database="nope",engine="postgres"} 2' in prom
    assert "last_success" not in prom


def test_cli_refuses_a_config_readable_by_others(tmp_path, capsys):
    conf = tmp_path / "config.json"
    conf.write_text("{}")
    conf.chmod(0o644)
    assert cli.main(["--config", str(conf), "list"]) == 1
    assert "must not be readable by others (chmod 600)" in capsys.readouterr().err


# --------------------------------------------------------------------------- files and volumes


def test_files_round_trip_and_a_volume_inside_a_container(run_container, images, age_key, tmp_path):
    src = tmp_path / "uploads"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    store = stores.LocalStore(str(tmp_path / "store"))
    conn = sources.Connection("files", "uploads", paths=(str(src),))
    manifest = pipeline.backup(pipeline.Job("web", "uploads", conn), store, settings(age_key))
    assert "end-of-archive blocks present" in manifest["checks"]["data"]
    doc = pipeline.verify(store, catalog.Layout("web", "uploads"), pipeline.Identity(age_key["secret"]), conn)
    assert doc["answer"] == "4 entries"  # uploads/, a.txt, sub/, sub/b.bin
    out = tmp_path / "restored"
    pipeline.restore(
        store,
        catalog.Layout("web", "uploads"),
        pipeline.Identity(age_key["secret"]),
        sources.Connection("files", str(out)),
    )
    restored = out / str(src).lstrip("/")
    assert (restored / "a.txt").read_text() == "alpha\n"
    assert (restored / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    with pytest.raises(BackupError, match="is not empty; restore into an empty or new directory"):
        pipeline.restore(
            store,
            catalog.Layout("web", "uploads"),
            pipeline.Identity(age_key["secret"]),
            sources.Connection("files", str(out)),
        )

    # a volume mounted in a container is archived where it is mounted, with the container's tar
    box = run_container(images["redis"])
    token = secrets.token_hex(8)
    box.exec(["sh", "-c", f"echo {token} > /data/token.txt"])
    vol = sources.Connection("files", "data", container=box.container.name, paths=("/data",))
    pipeline.backup(pipeline.Job("web", "data", vol), store, settings(age_key))
    out2 = tmp_path / "restored-volume"
    pipeline.restore(
        store,
        catalog.Layout("web", "data"),
        pipeline.Identity(age_key["secret"]),
        sources.Connection("files", str(out2)),
    )
    assert (out2 / "data" / "token.txt").read_text().strip() == token
