# SPDX-License-Identifier: GPL-3.0-or-later
"""Backup, restore and test restore as streams that fail closed.

Backup::

    dump tool --stdout--> [format check] --> zstd -T0 --> age -r KEY... --> store writer
                   (this process)         (OS pipe between zstd and age)    (parts, in flight)

The dump's bytes pass through this process (to count them and show them to the engine's
format check) for as long as the check needs them: a PostgreSQL check reads only the header
and the table of contents, and the rest then moves from pipe to pipe in the kernel
(splice(2)). The encrypted bytes pass through once more (to hash and upload them: the
SHA-256 of the stored object is the one end-to-end hash; the dump itself is guarded by
zstd's content checksum and age's authenticated encryption, so it is not hashed again).
Nothing is written to local disk and memory stays bounded by the store's part size times
its concurrency. The backup becomes *complete* only when every step exited 0,
the dump was not empty, the format check passed, the data object was committed and
checked, and then the manifest was written. Any failure kills what still runs, aborts the
upload and leaves no manifest, so the failed run is never listed.

Restore reverses it: store reader --> age -d --> zstd -d --> restore tool, with the
SHA-256 of the stored object compared to the manifest first (``verify_checksum``), so a
damaged backup is refused before the target is touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from . import catalog
from .catalog import Layout
from .errors import BackupError, tail
from .metrics import JobMetrics, job_lock
from .sources import Client, Connection, Engine, Files, Redis, StreamCheck, engine_for, test_database_name
from .stores import MiB, Store, Writer

CHUNK = 1 * MiB
# Reads from a store: larger, so the download (one GET stream) costs fewer round trips through Python.
READ_CHUNK = 4 * MiB
AGE_PREFIX = "age1"
# Pipes between the stages: 1 MiB instead of Linux's 64 KiB, so each read in Python returns up to
# a whole CHUNK and the stages wake each other 16 times less often. 1 MiB is the default
# /proc/sys/fs/pipe-max-size; where it is lower the pipe keeps its size (nothing depends on it).
PIPE_SIZE = 1 * MiB
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _widen(*pipes: IO[bytes] | None) -> None:
    for pipe in pipes:
        if pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, PIPE_SIZE)


@dataclass
class Job:
    """One database to back up: the app and database of the model, and how to reach it."""

    app: str
    database: str
    conn: Connection
    keep: dict[str, int] = field(default_factory=dict)
    verify_query: str | None = None
    globals: bool = True  # PostgreSQL: also pg_dumpall --globals-only

    @property
    def layout(self) -> Layout:
        return Layout(self.app, self.database)

    @property
    def name(self) -> str:
        return f"{self.app}/{self.database}"


@dataclass
class Settings:
    """How backups are written: age recipients, zstd level, Object Lock, clean-up of failed uploads."""

    recipients: list[str]
    compression_level: int = 3
    lock_mode: str | None = None
    lock_days: int = 0
    stale_upload_seconds: float = 6 * 3600

    def validate(self) -> None:
        if not self.recipients:
            raise BackupError(
                "recipients: at least one age public key (age1...) is needed; backups are always encrypted"
            )
        for r in self.recipients:
            if not isinstance(r, str) or not r.startswith(AGE_PREFIX) or any(c.isspace() for c in r):
                raise BackupError(f"recipients: {r!r} is not an age X25519 public key (age1...)")
        if not 1 <= int(self.compression_level) <= 19:
            raise BackupError(f"compression_level: must be 1..19, got {self.compression_level}")
        if self.lock_mode not in (None, "GOVERNANCE", "COMPLIANCE"):
            raise BackupError(f"lock_mode: must be GOVERNANCE or COMPLIANCE, got {self.lock_mode!r}")
        if self.lock_mode and int(self.lock_days) < 1:
            raise BackupError("lock_days: must be at least 1 when lock_mode is set")

    def lock_until(self, now: dt.datetime) -> dt.datetime | None:
        return now + dt.timedelta(days=int(self.lock_days)) if self.lock_mode else None


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return "unknown"
    return (
        (out.stdout or out.stderr).decode(errors="replace").strip().splitlines()[0]
        if (out.stdout or out.stderr)
        else "unknown"
    )


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed on this host (Debian package: {tool})")


def _kill(*procs: subprocess.Popen[bytes] | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    for proc in procs:
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=30)


def _exit_text(what: str, rc: int, err: bytes, client: Client | None = None) -> str:
    how = f"was killed by signal {-rc}" if rc < 0 else f"exited {rc}"
    text = tail(err)
    if client is not None:
        text = client.mask(text)
    return f"{what} {how}" + (f": {text}" if text else "")


def _splice_rest(src: int, dst: IO[bytes], count: list[int], check: StreamCheck) -> bool:
    """Move the rest of the dump from its pipe into zstd's with splice(2), in the kernel: once the
    format check has seen what it needs, the bytes need not be copied through this process.
    Returns False (nothing moved; read and write as before) where splice is not available."""
    splice = getattr(os, "splice", None)
    if splice is None:
        return False
    dst.flush()
    out = dst.fileno()
    moved = False
    while True:
        try:
            n = splice(src, out, PIPE_SIZE)
        except OSError as exc:
            if moved or exc.errno not in (errno.EINVAL, errno.ENOSYS):
                raise
            return False  # not pipes after all (or no splice for them): the caller reads instead
        if not n:
            return True
        moved = True
        count[0] += n
        check.passed(n)


@dataclass
class Streamed:
    raw_size: int
    check: str
    written: Any

    def meta(self) -> dict[str, Any]:
        """The object's entry of the manifest: what the store wrote, and the size of the dump."""
        return {**self.written.to_dict(), "raw_size": self.raw_size}


def stream_to_store(
    client: Client,
    dump_argv: list[str],
    check: StreamCheck,
    writer: Writer,
    settings: Settings,
    what: str,
) -> Streamed:
    """Run one dump through zstd and age into ``writer``; commit only when every step succeeded."""
    _need("zstd")
    _need("age")
    errs = [tempfile.TemporaryFile() for _i in range(3)]  # noqa: SIM115 - closed in finally/close()
    dump = comp = enc = None
    feeder_error: list[BaseException] = []
    raw_size = [0]
    summary = [""]
    argv = client.argv(dump_argv)
    try:
        try:
            dump = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=errs[0], stdin=subprocess.DEVNULL, env=client.env
            )
        except FileNotFoundError:
            raise BackupError(f"{what}: {argv[0]} is not installed on this host") from None
        comp = subprocess.Popen(
            ["zstd", "-q", f"-{int(settings.compression_level)}", "-T0", "-c"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errs[1],
        )
        recipients = [arg for r in settings.recipients for arg in ("-r", r)]
        _widen(dump.stdout, comp.stdin, comp.stdout)
        enc = subprocess.Popen(["age", *recipients], stdin=comp.stdout, stdout=subprocess.PIPE, stderr=errs[2])
        comp.stdout.close()  # age holds it now
        _widen(enc.stdout)

        def feed() -> None:
            try:
                fd = dump.stdout.fileno()
                while True:
                    if not check.needs_more() and _splice_rest(fd, comp.stdin, raw_size, check):
                        break
                    chunk = os.read(fd, CHUNK)
                    if not chunk:
                        break
                    raw_size[0] += len(chunk)
                    out = check.feed(chunk)
                    if out:
                        comp.stdin.write(out)
                rc = dump.wait()
                errs[0].seek(0)
                err = errs[0].read()
                if rc != 0:
                    raise BackupError(f"{what}: " + _exit_text(dump_argv[0], rc, err, client))
                if raw_size[0] == 0:
                    raise BackupError(f"{what}: {dump_argv[0]} printed nothing; an empty dump is not a backup")
                rest, summary[0] = check.finish(err.decode(errors="replace"))
                if rest:
                    comp.stdin.write(rest)
            except BaseException as exc:
                feeder_error.append(exc)
            finally:
                with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                    comp.stdin.close()

        feeder = threading.Thread(target=feed, name="opsdeck-backup-feed", daemon=True)
        feeder.start()
        fd = enc.stdout.fileno()
        try:
            while True:
                chunk = os.read(fd, CHUNK)
                if not chunk:
                    break
                writer.write(chunk)
        except BaseException:
            _kill(dump, comp, enc)
            feeder.join(timeout=60)
            raise
        enc_rc = enc.wait()
        comp_rc = comp.wait()
        feeder.join()
        if feeder_error:
            exc = feeder_error[0]
            if isinstance(exc, BackupError):
                raise exc
            if isinstance(exc, BrokenPipeError):
                pass  # zstd went away: its exit status below says why
            else:
                raise BackupError(f"{what}: {exc}") from exc
        for name, rc, err in (("zstd", comp_rc, errs[1]), ("age", enc_rc, errs[2])):
            if rc != 0:
                err.seek(0)
                raise BackupError(f"{what}: " + _exit_text(name, rc, err.read()))
        if feeder_error:
            raise BackupError(f"{what}: the pipe to zstd broke")
        written = writer.commit()
        return Streamed(raw_size=raw_size[0], check=summary[0], written=written)
    except BaseException as exc:
        _kill(dump, comp, enc)
        try:
            writer.abort()
        except BackupError as abort_exc:
            raise BackupError(
                f"{exc}; and the incomplete upload could not be aborted ({abort_exc}): the next run aborts it"
            ) from exc
        raise
    finally:
        check.close()
        for err in errs:
            err.close()


def backup(job: Job, store: Store, settings: Settings, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Back up one database; return its manifest. Raises BackupError and leaves no complete backup on failure."""
    settings.validate()
    engine = engine_for(job.conn.engine)
    layout = job.layout
    started = now or catalog.utcnow()
    t0 = time.monotonic()
    backup_id = catalog.new_id(started)
    lock_until = settings.lock_until(started)
    if lock_until and not store.supports_lock:
        raise BackupError(f"{job.name}: lock_mode is set but a {store.kind} store has no Object Lock")
    # Housekeeping of earlier runs (uploads left incomplete for stale_upload_seconds, never this
    # run's) in a thread, beside the dump: it is a listing round trip the backup need not wait for.
    cleaned: list[dict[str, Any]] = []

    def clean() -> None:
        with contextlib.suppress(BackupError):
            cleaned.extend(store.abort_incomplete(layout.prefix(), settings.stale_upload_seconds))

    cleaner = threading.Thread(target=clean, name="opsdeck-backup-clean", daemon=True)
    cleaner.start()
    try:
        objects: dict[str, Any] = {}
        checks: dict[str, str] = {}
        with engine.client(job.conn) as client:
            data_key = layout.key(backup_id, f"data.{engine.ext}.zst.age")
            what = f"backup of {job.name} ({job.conn.label()})"
            writer = store.open_writer(data_key, lock_until=lock_until, lock_mode=settings.lock_mode)
            result = stream_to_store(client, engine.dump_argv(client), engine.check(client), writer, settings, what)
            objects["data"] = result.meta()
            checks["data"] = result.check
            if job.globals and engine.name == "postgres":
                gkey = layout.key(backup_id, "globals.sql.zst.age")
                gwriter = store.open_writer(gkey, lock_until=lock_until, lock_mode=settings.lock_mode)
                gres = stream_to_store(
                    client, engine.globals_argv(client), StreamCheck(), gwriter, settings, f"globals of {job.name}"
                )
                objects["globals"] = gres.meta()
                checks["globals"] = gres.check
            versions = {
                engine.dump_tool: engine.version(client),
                "zstd": tool_version(["zstd", "--version"]),
                "age": tool_version(["age", "--version"]),
            }
        finished = catalog.utcnow()
        cleaner.join(timeout=120)  # its result goes into the manifest
        manifest = {
            "format": catalog.FORMAT,
            "id": backup_id,
            "app": job.app,
            "database": job.database,
            "engine": engine.name,
            "source": {
                "database": job.conn.database,
                "host": job.conn.host,
                "port": job.conn.port,
                "user": job.conn.user,
                "container": job.conn.container,
            },
            "started_at": catalog.iso(started),
            "finished_at": catalog.iso(finished),
            "duration_seconds": round(time.monotonic() - t0, 3),
            "objects": objects,
            "checks": checks,
            "tools": versions,
            "compression": {"type": "zstd", "level": int(settings.compression_level)},
            "encryption": {"type": "age", "recipients": list(settings.recipients)},
            "lock": {"mode": settings.lock_mode, "until": catalog.iso(lock_until) if lock_until else None},
            "store": store.describe(),
            "restore_by_hand": engine.hint(objects["data"]["key"].rsplit("/", 1)[-1]),
            "cleaned_incomplete": [c["key"] for c in cleaned],
        }
        # Written last: only now is the backup complete (and listed).
        store.put_bytes(
            layout.key(backup_id, catalog.MANIFEST),
            catalog.dumps(manifest),
            lock_until=lock_until,
            lock_mode=settings.lock_mode,
        )
        manifest["complete"] = True
        manifest["verified_at"] = None
        return manifest
    finally:
        cleaner.join(timeout=120)


def recorded_backup(
    job: Job, store: Store, settings: Settings, *, state_dir: str, metrics_dir: str | None, wait: bool = False
) -> dict[str, Any]:
    """``backup`` under the job's lock, its outcome (success or failure) recorded in the job's
    textfile metrics: what a scheduled run does, and what the ``backup`` module does when told
    where the metrics go, so a backup taken by hand counts for the alerts as well. ``wait``: wait
    for a run of the job going on to end (else fail at once, as a scheduled run does)."""
    with job_lock(state_dir, job.name, wait=wait):
        metrics = JobMetrics(state_dir, metrics_dir, job.app, job.database, job.conn.engine).load()
        t0 = time.monotonic()
        try:
            manifest = backup(job, store, settings)
        except BaseException:
            metrics.failure(time.time())
            metrics.save()
            raise
        metrics.success(time.time(), time.monotonic() - t0, manifest["objects"]["data"]["size"])
        metrics.save()
    return manifest


# --------------------------------------------------------------------------- restore


class Identity:
    """The age identity (private key) in a private 0600 file, for ``age -d -i``; removed on exit."""

    def __init__(self, secret: str | None = None, path: str | None = None) -> None:
        if not secret and not path:
            raise BackupError("identity: the age identity (AGE-SECRET-KEY-...) is needed to decrypt a backup")
        self.secret = secret
        self.given = path
        self.tmp: str | None = None
        self.path = path or ""

    def __enter__(self) -> Identity:
        if self.secret:
            if "AGE-SECRET-KEY-" not in self.secret:
                raise BackupError("identity: not an age identity (it should contain AGE-SECRET-KEY-...)")
            self.tmp = tempfile.mkdtemp(prefix="opsdeck-identity-")
            self.path = os.path.join(self.tmp, "identity.txt")
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.secret.strip() + "\n")
        elif not os.path.isfile(self.path):
            raise BackupError(f"identity: {self.path} does not exist")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def check_object(store: Store, meta: dict[str, Any]) -> None:
    """Download an object and compare its size and SHA-256 with the manifest."""
    digest = hashlib.sha256()
    size = 0
    with store.open_reader(meta["key"]) as reader:
        for chunk in _chunks(reader):
            digest.update(chunk)
            size += len(chunk)
    if size != meta["size"] or digest.hexdigest() != meta["sha256"]:
        raise BackupError(
            f"{meta['key']}: stored object is damaged: {size} bytes with SHA-256 {digest.hexdigest()}, "
            f"the manifest says {meta['size']} bytes with {meta['sha256']}"
        )


def _chunks(reader: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = reader.read(READ_CHUNK)
        if not chunk:
            return
        yield chunk


def stream_from_store(
    store: Store,
    meta: dict[str, Any],
    identity: Identity,
    sink_argv: list[str],
    env: dict[str, str] | None,
    what: str,
    client: Client | None = None,
    sink_stdout: Any = subprocess.DEVNULL,
) -> None:
    """Stored object --> age -d --> zstd -d --> sink command; every step must exit 0 and the SHA-256 match."""
    _need("zstd")
    _need("age")
    errs = [tempfile.TemporaryFile() for _i in range(3)]  # noqa: SIM115 - closed in finally/close()
    dec = comp = sink = None
    digest = hashlib.sha256()
    try:
        dec = subprocess.Popen(
            ["age", "-d", "-i", identity.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errs[0]
        )
        _widen(dec.stdin, dec.stdout)
        comp = subprocess.Popen(["zstd", "-d", "-q", "-c"], stdin=dec.stdout, stdout=subprocess.PIPE, stderr=errs[1])
        dec.stdout.close()
        _widen(comp.stdout)
        try:
            sink = subprocess.Popen(sink_argv, stdin=comp.stdout, stdout=sink_stdout, stderr=errs[2], env=env)
        except FileNotFoundError:
            raise BackupError(f"{what}: {sink_argv[0]} is not installed on this host") from None
        comp.stdout.close()
        broken = False
        with store.open_reader(meta["key"]) as reader:
            for chunk in _chunks(reader):
                digest.update(chunk)
                try:
                    dec.stdin.write(chunk)
                except BrokenPipeError:
                    broken = True
                    break
        with contextlib.suppress(BrokenPipeError, OSError):
            dec.stdin.close()
        rcs = [("age", dec.wait(), errs[0]), ("zstd", comp.wait(), errs[1]), (sink_argv[0], sink.wait(), errs[2])]
        for name, rc, err in rcs:
            if rc != 0:
                err.seek(0)
                text = _exit_text(name, rc, err.read(), client)
                if name == "age" and "no identity matched" in text:
                    text += " (the identity does not belong to any recipient of this backup)"
                raise BackupError(f"{what}: {text}")
        if broken:
            raise BackupError(f"{what}: age stopped reading before the end of the backup")
        if digest.hexdigest() != meta["sha256"]:
            raise BackupError(
                f"{what}: the stored object's SHA-256 {digest.hexdigest()} is not the manifest's {meta['sha256']}"
            )
    except BaseException:
        _kill(dec, comp, sink)
        raise
    finally:
        for err in errs:
            err.close()


def _refuse_non_empty(engine: Engine, client: Client, force: bool, what: str) -> bool:
    """Whether the target database exists; raise when it holds data and force is not set."""
    exists = engine.exists(client)
    if exists and not force and not engine.is_empty(client):
        raise BackupError(
            f"{what}: {client.conn.label()} is not empty; restore into an empty or new database, "
            "or set force to replace its contents"
        )
    return exists


def restore(
    store: Store,
    layout: Layout,
    identity: Identity,
    target: Connection,
    *,
    backup_id: str | None = None,
    before: str | None = None,
    force: bool = False,
    verify_checksum: bool = True,
    redis_path: str | None = None,
    check_mode: bool = False,
) -> dict[str, Any]:
    """Restore one backup (by id, the latest at or before a time, or the latest) into ``target``."""
    chosen = catalog.select(
        catalog.list_backups(store, layout.app, layout.database), backup_id=backup_id, before=before
    )
    engine = engine_for(chosen["engine"])
    if target.engine not in (engine.name, *(("mysql", "mariadb") if engine.name in ("mysql", "mariadb") else ())):
        raise BackupError(f"restore of {layout.job}: the backup is {engine.name}, the target is {target.engine}")
    what = f"restore of {layout.job} backup {chosen['id']} into {target.label()}"
    data = chosen["objects"]["data"]
    result: dict[str, Any] = {"id": chosen["id"], "backup": _summary(chosen), "target": target.label(), "changed": True}
    if isinstance(engine, Files):
        return _restore_files(store, chosen, identity, target, force, what, result, verify_checksum, check_mode)
    if isinstance(engine, Redis):
        return _restore_redis(
            store, chosen, identity, target, redis_path, force, what, result, verify_checksum, check_mode
        )
    t0 = time.monotonic()
    with engine.client(target) as client:
        exists = _refuse_non_empty(engine, client, force, what)
        if check_mode:
            return {**result, "would_create": not exists}
        if verify_checksum:
            check_object(store, data)
        if engine.name in ("mysql", "mariadb") and exists and force:
            engine.drop(client)
            exists = False
        if not exists:
            engine.create(client)
        sink = client.argv(engine.restore_argv(client, clean=force and exists), stdin=True)
        with identity:
            stream_from_store(store, data, identity, sink, client.env, what, client)
    result["seconds"] = round(time.monotonic() - t0, 3)
    return result


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "app", "database", "engine", "started_at", "finished_at", "verified_at")
    return {k: manifest.get(k) for k in keys} | {"size": manifest["objects"]["data"]["size"]}


def _restore_files(
    store: Store,
    chosen: dict[str, Any],
    identity: Identity,
    target: Connection,
    force: bool,
    what: str,
    result: dict[str, Any],
    verify_checksum: bool,
    check_mode: bool,
) -> dict[str, Any]:
    """Files restore into a directory (``target.database``, absolute): empty or new unless ``force``."""
    directory = target.database
    if not directory.startswith("/"):
        raise BackupError(f"{what}: the target of a files restore is an absolute directory, got {directory!r}")
    if os.path.isdir(directory) and os.listdir(directory) and not force and not target.container:
        raise BackupError(f"{what}: {directory} is not empty; restore into an empty or new directory, or set force")
    if check_mode:
        return result
    if verify_checksum:
        check_object(store, chosen["objects"]["data"])
    engine = Files()
    with engine.client(target) as client:
        if not target.container:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        sink = client.argv(engine.restore_argv(client, clean=force), stdin=True)
        with identity:
            stream_from_store(store, chosen["objects"]["data"], identity, sink, client.env, what, client)
    result["path"] = directory
    return result


def _restore_redis(
    store: Store,
    chosen: dict[str, Any],
    identity: Identity,
    target: Connection,
    path: str | None,
    force: bool,
    what: str,
    result: dict[str, Any],
    verify_checksum: bool,
    check_mode: bool,
) -> dict[str, Any]:
    """Redis restores as a file: to ``path``, or into a container's /data with the container stopped."""
    data = chosen["objects"]["data"]
    if not path and not target.container:
        raise BackupError(f"{what}: give a path for the RDB file, or a container to restore into")
    if path and os.path.exists(path) and not force:
        raise BackupError(f"{what}: {path} exists; set force to replace it")
    if target.container and not force:
        engine = Redis()
        with engine.client(target) as client:
            size = engine.command(client, ["DBSIZE"], what="DBSIZE")
        if size not in ("0", "(integer) 0"):
            raise BackupError(f"{what}: {target.label()} holds {size} keys; set force to replace them")
    if check_mode:
        return result
    if verify_checksum:
        check_object(store, data)
    workdir = tempfile.mkdtemp(prefix="opsdeck-restore-")
    try:
        out_path = path or os.path.join(workdir, "dump.rdb")
        tmp_path = out_path + ".partial"
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with identity, os.fdopen(fd, "wb") as out:
            stream_from_store(store, data, identity, ["cat"], None, what, sink_stdout=out)
        check = subprocess.run(["redis-check-rdb", tmp_path], capture_output=True, check=False)
        if check.returncode != 0:
            raise BackupError(f"{what}: redis-check-rdb refused the restored file: {tail(check.stdout + check.stderr)}")
        os.replace(tmp_path, out_path)
        if target.container:
            # docker cp makes the file root's inside the container: it must be readable by the
            # server's user there. It sits in a private (0700) directory on this side.
            os.chmod(out_path, 0o644)
            docker = target.docker
            for argv in (
                [docker, "stop", target.container],
                [docker, "cp", out_path, f"{target.container}:/data/dump.rdb"],
                [docker, "start", target.container],
            ):
                proc = subprocess.run(argv, capture_output=True, check=False)
                if proc.returncode != 0:
                    raise BackupError(f"{what}: {' '.join(argv[:2])} failed: {tail(proc.stderr)}")
        result["path"] = path
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- verify


def verify(
    store: Store,
    layout: Layout,
    identity: Identity,
    server: Connection,
    *,
    backup_id: str | None = None,
    query: str | None = None,
    now: dt.datetime | None = None,
    record: bool = True,
) -> dict[str, Any]:
    """Test-restore a backup into a throwaway database on ``server``; check it; record the success.

    The throwaway database is created fresh and dropped afterwards, pass or fail. For
    Redis the RDB file is restored to a temporary directory, checked with
    ``redis-check-rdb`` and, when a query is given, loaded by a private ``redis-server``
    on a Unix socket.
    """
    chosen = catalog.select(catalog.list_backups(store, layout.app, layout.database), backup_id=backup_id)
    engine = engine_for(chosen["engine"])
    scratch = server.with_database(test_database_name(engine, chosen["id"]))
    what = f"test restore of {layout.job} backup {chosen['id']}"
    t0 = time.monotonic()
    answer = None
    with identity:
        if isinstance(engine, Files):
            listing = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
            try:
                stream_from_store(
                    store,
                    chosen["objects"]["data"],
                    identity,
                    ["tar", "--list", "--file=-"],
                    None,
                    what,
                    sink_stdout=listing,
                )
                listing.seek(0)
                answer = f"{sum(1 for _line in listing)} entries"
            finally:
                listing.close()
        elif isinstance(engine, Redis):
            answer = _verify_redis(store, chosen, identity, query, what)
        else:
            with engine.client(scratch) as client:
                engine.drop(client)
                engine.create(client)
                try:
                    argv = engine.restore_argv(client, clean=False)
                    if engine.name == "postgres":
                        argv = [*argv, "--no-owner", "--no-acl"]
                    stream_from_store(
                        store,
                        chosen["objects"]["data"],
                        identity,
                        client.argv(argv, stdin=True),
                        client.env,
                        what,
                        client,
                    )
                    if query:
                        answer = engine.query(client, query)
                        if not _truthy(answer):
                            raise BackupError(f"{what}: the verification query answered {answer!r}, not true")
                finally:
                    with contextlib.suppress(BackupError):
                        engine.drop(client)
    when = now or catalog.utcnow()
    doc = {
        "id": chosen["id"],
        "verified_at": catalog.iso(when),
        "seconds": round(time.monotonic() - t0, 3),
        "query": query,
        "answer": answer,
        "sha256": chosen["objects"]["data"]["sha256"],
        "restored_into": scratch.label(),
    }
    if record:
        store.put_bytes(catalog.verification_key(layout, chosen["id"], when), catalog.dumps(doc))
    return doc


def _truthy(answer: str | None) -> bool:
    first = (answer or "").strip().splitlines()[0].split("\t")[0].strip().lower() if (answer or "").strip() else ""
    if first in ("t", "true", "yes", "on"):
        return True
    try:
        return float(first.replace("(integer)", "").strip()) != 0
    except ValueError:
        return False


def _verify_redis(store: Store, chosen: dict[str, Any], identity: Identity, query: str | None, what: str) -> str | None:
    workdir = tempfile.mkdtemp(prefix="opsdeck-verify-")
    try:
        rdb = os.path.join(workdir, "dump.rdb")
        fd = os.open(rdb, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            stream_from_store(store, chosen["objects"]["data"], identity, ["cat"], None, what, sink_stdout=out)
        check = subprocess.run(["redis-check-rdb", rdb], capture_output=True, check=False)
        if check.returncode != 0:
            raise BackupError(f"{what}: redis-check-rdb refused the file: {tail(check.stdout + check.stderr)}")
        if not query:
            return None
        if shutil.which("redis-server") is None:
            raise BackupError(f"{what}: redis-server is needed on this host to run the verification query")
        sock = os.path.join(workdir, "redis.sock")
        server = subprocess.Popen(
            [
                "redis-server",
                "--port",
                "0",
                "--unixsocket",
                sock,
                "--dir",
                workdir,
                "--dbfilename",
                "dump.rdb",
                "--appendonly",
                "no",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                ping = subprocess.run(["redis-cli", "-s", sock, "PING"], capture_output=True, check=False)
                if ping.stdout.strip() == b"PONG":
                    break
                if time.monotonic() > deadline or server.poll() is not None:
                    raise BackupError(f"{what}: the throwaway redis-server did not load the file")
                time.sleep(0.2)
            answer = subprocess.run(["redis-cli", "-s", sock, *query.split()], capture_output=True, check=False)
            text = answer.stdout.decode(errors="replace").strip()
            if answer.returncode != 0 or not _truthy(text):
                raise BackupError(f"{what}: the verification command {query!r} answered {text!r}, not non-zero")
            return text
        finally:
            _kill(server)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
