# SPDX-License-Identifier: GPL-3.0-or-later
"""The parts of the backup engine that need no server: stream checks, the local store, the
catalogue, metrics, configuration and settings. The pipelines against real servers are in
tests/integration/test_backup_engine.py."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import (
    catalog,
    config,
    errors,
    metrics,
    pipeline,
    sources,
    stores,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError

KEY = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


# --------------------------------------------------------------------------- stream checks


def feed_all(check: sources.StreamCheck, data: bytes, chunk: int, stderr: str = "") -> tuple[bytes, str]:
    out = b"".join(check.feed(data[i : i + chunk]) for i in range(0, len(data), chunk))
    rest, summary = check.finish(stderr)
    return out + rest, summary


RDB = b"REDIS0010" + b"\xfa\x09redis-ver\x067.0.15" + b"\x00" * 50 + b"\xff" + b"12345678"
MARK = b"5778995" + b"7" * 33  # 40 bytes, the diskless EOF mark redis-cli leaves on a pipe


@pytest.mark.parametrize("chunk", [1, 7, 40, 41, 4096])
def test_redis_check_drops_the_eof_mark_redis_cli_writes_to_a_pipe(chunk: int) -> None:
    out, summary = feed_all(sources._RdbCheck(), RDB + MARK, chunk, "writing bytes of bulk transfer until EOF marker")
    assert out == RDB
    assert summary.startswith("RDB 0010 header")


@pytest.mark.parametrize("chunk", [1, 13, 4096])
def test_redis_check_keeps_everything_without_a_mark(chunk: int) -> None:
    out, _summary = feed_all(sources._RdbCheck(), RDB, chunk, "Transfer finished with success")
    assert out == RDB


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"NOTREDIS" + b"\x00" * 60, "not a Redis RDB file"),
        (RDB[:-20], r"incomplete \(no end-of-file opcode\)"),
    ],
)
def test_redis_check_refuses_what_is_not_a_whole_rdb(data: bytes, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        feed_all(sources._RdbCheck(), data, 16)


DUMP = (
    b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n--\nINSERT ...;\n"
    b"-- Dump completed on 2026-12-01\n"
)


def test_mysql_check_wants_the_header_and_the_completion_line() -> None:
    out, summary = feed_all(sources._MysqlCheck(), DUMP, 9)
    assert out == DUMP
    assert "completion line" in summary
    with pytest.raises(BackupError, match="did not write its '-- Dump completed' line"):
        feed_all(sources._MysqlCheck(), DUMP[:-40], 9)
    with pytest.raises(BackupError, match="does not start like a mysqldump file"):
        feed_all(sources._MysqlCheck(), b"hello\n-- Dump completed\n", 9)


def test_mongo_check_wants_the_archive_magic() -> None:
    feed_all(sources._MongoArchiveCheck(), bytes.fromhex("6de29981") + b"rest", 3)
    with pytest.raises(BackupError, match="not a mongodump archive"):
        feed_all(sources._MongoArchiveCheck(), b"\x00\x01\x02\x03", 3)


# --------------------------------------------------------------------------- local store and catalogue


def test_local_store_writes_once_read_only_and_lists(tmp_path) -> None:
    store = stores.LocalStore(str(tmp_path))
    written = store.put_bytes("a/b/20261201T020000Z-0000aaaa/data.sql.zst.age", b"x" * 10)
    path = tmp_path / "a/b/20261201T020000Z-0000aaaa/data.sql.zst.age"
    assert stat.S_IMODE(path.stat().st_mode) == 0o440
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert written.size == 10 and len(written.sha256) == 64
    with pytest.raises(BackupError, match="never overwritten"):
        store.put_bytes("a/b/20261201T020000Z-0000aaaa/data.sql.zst.age", b"y")
    assert list(store.list_keys("a")) == ["a/b/20261201T020000Z-0000aaaa/data.sql.zst.age"]
    with pytest.raises(BackupError, match="invalid key"):
        store.put_bytes("a/../etc/passwd", b"")


def test_local_store_aborted_write_leaves_nothing(tmp_path) -> None:
    store = stores.LocalStore(str(tmp_path))
    writer = store.open_writer("a/b/c")
    writer.write(b"partial")
    assert store.incomplete("a")
    writer.abort()
    assert store.incomplete("a") == [] and list(store.list_keys("")) == []


def test_local_store_refuses_object_lock(tmp_path) -> None:
    with pytest.raises(BackupError, match="Object Lock is an S3 feature"):
        stores.LocalStore(str(tmp_path)).open_writer("k", lock_mode="COMPLIANCE")


def _backup(store: stores.Store, app: str, db: str, backup_id: str, finished: str, manifest: bool = True) -> None:
    layout = catalog.Layout(app, db)
    store.put_bytes(layout.key(backup_id, "data.pgdump.zst.age"), b"data")
    if manifest:
        doc = {
            "id": backup_id,
            "app": app,
            "database": db,
            "engine": "postgres",
            "finished_at": finished,
            "started_at": finished,
            "objects": {"data": {"size": 4}},
            "lock": {"mode": None, "until": None},
        }
        store.put_bytes(layout.key(backup_id, catalog.MANIFEST), catalog.dumps(doc))


def test_only_backups_with_a_manifest_are_listed_newest_first(tmp_path) -> None:
    store = stores.LocalStore(str(tmp_path))
    _backup(store, "shop", "orders", "20261130T020000Z-00000001", "2026-11-30T02:01:00Z")
    _backup(store, "shop", "orders", "20261201T020000Z-00000002", "2026-12-01T02:01:00Z")
    _backup(store, "shop", "orders", "20261201T030000Z-00000003", "2026-12-01T03:01:00Z", manifest=False)
    _backup(store, "shop", "users", "20261201T020000Z-00000004", "2026-12-01T02:01:00Z")
    store.put_bytes("shop/orders/20261130T020000Z-00000001/verified-20261201T050000Z.json", b"{}")
    listed = catalog.list_backups(store, "shop", "orders")
    assert [b["id"] for b in listed] == ["20261201T020000Z-00000002", "20261130T020000Z-00000001"]
    assert listed[1]["verified_at"] == "2026-12-01T05:00:00Z" and listed[0]["verified_at"] is None
    with_incomplete = catalog.list_backups(store, "shop", "orders", include_incomplete=True)
    assert [b["id"] for b in with_incomplete if not b["complete"]] == ["20261201T030000Z-00000003"]
    assert len(catalog.list_backups(store, "shop")) == 3
    assert catalog.select(listed, verified=True)["id"] == "20261130T020000Z-00000001"
    assert catalog.select(listed, before="2026-11-30T12:00:00Z")["id"] == "20261130T020000Z-00000001"
    with pytest.raises(BackupError, match="no complete backup finished at or before 2026-01-01"):
        catalog.select(listed, before="2026-01-01T00:00:00Z")
    with pytest.raises(BackupError, match="no complete backup with id nope"):
        catalog.select(listed, backup_id="nope")


@pytest.mark.parametrize("name", ["", "a/b", "..", "-x", "a b"])
def test_layout_names_must_be_safe_key_parts(name: str) -> None:
    with pytest.raises(BackupError, match="it becomes part of a key"):
        catalog.Layout(name or "", "db") if name != ".." else catalog.Layout("app", name)


# --------------------------------------------------------------------------- settings, config, metrics


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recipients": []}, "at least one age public key"),
        ({"recipients": ["ssh-ed25519 AAAA"]}, "is not an age X25519 public key"),
        ({"recipients": [KEY], "compression_level": 0}, "compression_level: must be 1..19"),
        ({"recipients": [KEY], "lock_mode": "FOREVER"}, "lock_mode: must be GOVERNANCE or COMPLIANCE"),
        ({"recipients": [KEY], "lock_mode": "COMPLIANCE", "lock_days": 0}, "lock_days: must be at least 1"),
    ],
)
def test_settings_refuse_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        pipeline.Settings(**kwargs).validate()


def test_config_must_be_private(tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"jobs": {}}))
    os.chmod(path, 0o640)
    with pytest.raises(BackupError, match="must not be readable by others"):
        config.load(str(path))
    os.chmod(path, 0o600)
    assert config.load(str(path)) == {"jobs": {}}
    with pytest.raises(BackupError, match=r"job 'a/b' is not in the config \(jobs: none\)"):
        config.job_named({"jobs": {}}, "a/b")


def test_job_from_config_keeps_the_password_out_of_repr() -> None:
    job = config.job_from({"app": "shop", "database": "orders", "engine": "mariadb", "password": "hunter22"})
    assert job.name == "shop/orders" and job.conn.engine == "mariadb"
    assert "hunter22" not in repr(job)


def test_metrics_survive_runs_and_render_for_the_textfile_collector(tmp_path) -> None:
    m = metrics.JobMetrics(str(tmp_path / "state"), str(tmp_path / "text"), "shop", "orders", "postgres").load()
    m.failure(100.0)
    m.save()
    again = metrics.JobMetrics(str(tmp_path / "state"), str(tmp_path / "text"), "shop", "orders", "postgres").load()
    again.failure(200.0)
    again.success(300.0, 12.5, 4096)
    again.save()
    text = (tmp_path / "text" / "opsdeck_backup_shop_orders.prom").read_text()
    labels = '{app="shop",database="orders",engine="postgres"}'
    assert f"opsdeck_backup_failures_total{labels} 2" in text
    assert f"opsdeck_backup_last_success_timestamp_seconds{labels} 300" in text
    assert f"opsdeck_backup_last_size_bytes{labels} 4096" in text
    assert "# TYPE opsdeck_backup_failures_total counter" in text
    assert stat.S_IMODE((tmp_path / "state" / "shop_orders.json").stat().st_mode) == 0o600


def test_mask_hides_secrets_longest_first() -> None:
    assert errors.mask("pw=abcdef and abc", ["abc", "abcdef"]) == "pw=******** and ********"


def test_client_keeps_credentials_in_private_files(tmp_path) -> None:
    conn = sources.Connection("postgres", "orders", host="db", password="p:w\\d")
    engine = sources.engine_for("postgres")
    with engine.client(conn) as client:
        argv = engine.dump_argv(client)
        passfile = client.env["PGPASSFILE"]
        assert stat.S_IMODE(os.stat(passfile).st_mode) == 0o600
        with open(passfile) as handle:
            assert handle.read() == "*:*:*:*:p\\:w\\\\d\n"
        assert not any("p:w" in a for a in argv)
    assert not os.path.exists(passfile)


def test_container_client_passes_the_password_by_name_only() -> None:
    conn = sources.Connection("mysql", "orders", container="shop-db-1", user="root", password="s3cret")
    engine = sources.engine_for("mysql")
    with engine.client(conn) as client:
        argv = client.argv(engine.dump_argv(client))
        assert argv[:5] == ["docker", "exec", "-e", "MYSQL_PWD", "shop-db-1"]
        assert client.env["MYSQL_PWD"] == "s3cret"
        assert "s3cret" not in " ".join(argv)


def test_unknown_engine_is_named() -> None:
    with pytest.raises(
        BackupError, match="engine must be one of postgres, mysql, mariadb, redis, mongodb, files, got 'oracle'"
    ):
        sources.engine_for("oracle")
