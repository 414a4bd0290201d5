# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the backup engine against the shell pipeline it replaces, measured in one run.

    python tests/bench/bench_backup.py [--gb 1.0] [--small-gb 0.25] [--rounds 3] [--restore-rounds 3] [--no-info]

Stands up its own services: PostgreSQL 15 in a container of the rig's postgresql image
(reached over its bridge address) and versitygw (the rig's S3 server binary,
OPSDECK_S3_SERVER_BIN) on 127.0.0.1 in a temporary directory with user xattrs. Both go
away at the end, also when a step fails or the run is interrupted.

Data: pgbench's tables compress about 100x, which hides the cost of compression and
encryption, so the bulk of the database is random md5 hex text and JSON documents of md5
strings, which zstd compresses only about 2x. The output says the ratio it measured.

1. Backup of the ~1 GB database to S3, rounds in ABBA order, best of each:
   baseline  ``pg_dump -Fc -Z0 | zstd -3 -T0 | age -r KEY | aws s3 cp - s3://bucket/key``
             (the venv's awscli; the same pg_dump and zstd settings as the engine, so the
             ratio measures what the engine adds: hashing, the format check, the globals
             dump, the manifest, its own multipart upload);
   ours      ``pipeline.backup()`` with an S3Store (default part size and concurrency), in a
             child Python process; its wall time includes interpreter start, as the
             baseline's includes the aws CLI's.
   For information also: pg_dump alone to /dev/null (the floor), pg_dump | zstd | age to
   /dev/null (the tools without upload), and the pipeline as first written in the issue,
   ``pg_dump -Fc | zstd | age | aws s3 cp`` (zlib inside pg_dump, single-threaded zstd).
2. Restore into a fresh database, rounds in ABBA order, best of each:
   baseline  ``createdb NEW && aws s3 cp s3://... - | age -d -i KEY | zstd -d |
             pg_restore --exit-on-error --single-transaction -d NEW`` (the engine's flags);
   ours      ``pipeline.restore()`` (which downloads the object once more first to check
             its SHA-256 against the manifest, before it touches the target).
   Row counts of the restored database are compared with the source's.
3. Peak memory (VmHWM and ru_maxrss of the child Python process) of our backup at ~0.25 GB
   and at ~1 GB. pg_dump, pg_restore, zstd and age are separate processes and not counted.
   The VmHWM reached at 25/50/75/100% of the data stream shows whether it levels off.

Targets: throughput ours/baseline >= 0.90 for backup and for restore; peak memory under
256 MB and flat in the database size: within the S3 writer's bound, which depends on its
part size and concurrency, not on the data (RSS before the backup + (concurrency + 4)
parts: in flight, waiting for a slot, filling, two transient copies). Both peaks are
printed, with their difference and the VmHWM curve of each stream. The CPU
seconds printed are of every process a run started (not of the PostgreSQL server).
6 to 11 minutes on 2 cores (more when the machine is busy). Not part of `make test`: run by `make bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.procs import free_port, log_tail, rig_setting, stop_process, supports_user_xattrs  # noqa: E402

MiB = 1024 * 1024
MB = 1000 * 1000
GB = 1000 * MB
ZSTD_LEVEL = 3
MEMORY_LIMIT = 256 * MiB
STEP_TIMEOUT = 900.0
# Bytes on disk per row (heap + primary key), measured on PostgreSQL 15: sizes the tables.
NOTES_ROW = 454
EVENTS_ROW = 379
NOTES_SHARE = 0.6


class Abort(Exception):
    """The benchmark cannot go on; the message says why."""


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(f"bench_backup: stopped by signal {signum}")


# --------------------------------------------------------------------------- processes


def run(
    argv: list[str], *, env: dict[str, str] | None = None, timeout: float = STEP_TIMEOUT, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run to completion in its own process group (killed whole on timeout); raise on failure."""
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    if proc.returncode != 0:
        shown = " ".join(argv) if argv[:2] != ["bash", "-c"] else argv[-1]
        raise Abort(f"{shown[:300]} exited {proc.returncode}: {err.decode(errors='replace')[-1500:]}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@dataclass
class Run:
    """One timed run: wall seconds, CPU seconds of every process it started (user + sys), the child's report."""

    wall: float
    cpu: float
    report: dict[str, Any] = field(default_factory=dict)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_shell(command: str, env: dict[str, str]) -> Run:
    cpu, t0 = children_cpu(), time.monotonic()
    run(["bash", "-c", "set -euo pipefail; " + command], env=env)
    return Run(time.monotonic() - t0, children_cpu() - cpu)


def xattr_dir() -> Path:
    """A new private directory whose filesystem keeps user xattrs (versitygw's posix backend needs them)."""
    for parent in (None, "/var/tmp"):
        path = Path(tempfile.mkdtemp(prefix="opsdeck-bench-backup-", dir=parent))
        if supports_user_xattrs(path):
            path.chmod(0o700)
            return path
        shutil.rmtree(path, ignore_errors=True)
    raise Abort("neither the temp dir nor /var/tmp supports user xattrs, which the S3 server needs")


# --------------------------------------------------------------------------- services


@dataclass
class S3:
    """versitygw (posix backend) on loopback; root credentials through its environment only."""

    binary: str
    root: Path
    port: int = field(default_factory=free_port)
    access_key: str = field(default_factory=lambda: f"bench{secrets.token_hex(6)}")
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30), repr=False)
    region: str = "us-east-1"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        for sub in ("buckets", "versions"):
            (self.root / sub).mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROOT_", "VGW_"))}
        env.update(ROOT_ACCESS_KEY=self.access_key, ROOT_SECRET_KEY=self.secret_key)
        argv = [self.binary, "--port", f"127.0.0.1:{self.port}", "--region", self.region, "--health", "/health"]
        argv += ["--quiet", "posix", "--versioning-dir", str(self.root / "versions"), str(self.root / "buckets")]
        with (self.root / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Abort(f"the S3 server exited {self.proc.returncode}: {self.log_tail()}")
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                urllib.request.urlopen(f"{self.endpoint_url}/health", timeout=2) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.1)
        raise Abort(f"the S3 server did not answer within 30 s: {self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc)

    def log_tail(self) -> str:
        return log_tail(self.root / "server.log", 15)

    def aws_env(self, base: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_DEFAULT_REGION=self.region,
            AWS_CONFIG_FILE=str(self.root / "aws-config"),  # never the user's ~/.aws
            AWS_SHARED_CREDENTIALS_FILE=str(self.root / "aws-credentials"),
        )
        return env

    def create_bucket(self, name: str) -> None:
        import boto3
        from botocore.config import Config

        boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}),
        ).create_bucket(Bucket=name)


@dataclass
class Postgres:
    """PostgreSQL 15 in a container of the rig's image, superuser postgres with a random password."""

    image: str
    name: str = field(default_factory=lambda: f"opsdeck-bench-{uuid.uuid4().hex[:8]}")
    password: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    host: str = ""
    started: bool = False

    def env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password}

    def start(self) -> None:
        # The password reaches the container through `-e NAME` (copied from this environment), not argv.
        env = {**os.environ, "POSTGRES_PASSWORD": self.password}
        argv = ["docker", "run", "-d", "--name", self.name, "--label", "opsdeck.bench=1", "-e", "POSTGRES_PASSWORD"]
        # Fewer checkpoints while loading and restoring 1 GB; the same server for baseline and ours.
        argv += [self.image, "postgres", "-c", "max_wal_size=4GB", "-c", "checkpoint_timeout=30min"]
        self.started = True
        run(argv, env=env, timeout=120)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            out = run(["docker", "inspect", "-f", "{{.State.Status}} {{.NetworkSettings.IPAddress}}", self.name])
            status, _sep, ip = out.stdout.decode().strip().partition(" ")
            if status == "exited":
                logs = subprocess.run(["docker", "logs", "--tail", "30", self.name], capture_output=True, check=False)
                raise Abort(f"PostgreSQL exited: {logs.stdout.decode(errors='replace')}{logs.stderr.decode()}")
            if ip:
                self.host = ip
                probe = subprocess.run(
                    ["psql", *self.conn("postgres"), "-XAtqc", "select 1"],
                    env=self.env(),
                    capture_output=True,
                    check=False,
                    timeout=20,
                )
                if probe.returncode == 0 and probe.stdout.strip() == b"1":
                    return
            time.sleep(0.5)
        raise Abort("PostgreSQL did not accept connections within 90 s")

    def remove(self) -> None:
        if self.started:
            subprocess.run(["docker", "rm", "-f", "-v", self.name], capture_output=True, check=False, timeout=120)

    def conn(self, database: str) -> list[str]:
        return ["-h", self.host, "-p", "5432", "-U", "postgres", "-d", database]

    def sql(self, database: str, *statements: str) -> str:
        argv = ["psql", *self.conn(database), "-XAtq", "-v", "ON_ERROR_STOP=1"]
        for statement in statements:
            argv += ["-c", statement]
        return run(argv, env=self.env()).stdout.decode().strip()

    def sql_parallel(self, database: str, statements: list[str]) -> None:
        """One psql session per statement, all at once (one per core for the bulk inserts)."""
        procs = [
            subprocess.Popen(
                ["psql", *self.conn(database), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", statement],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            for statement in statements
        ]
        failed = []
        try:
            for proc in procs:
                _out, err = proc.communicate(timeout=STEP_TIMEOUT)
                if proc.returncode:
                    failed.append(err.decode(errors="replace")[-500:])
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        if failed:
            raise Abort(f"loading {database} failed: {failed[0]}")

    def make_database(self, name: str, size: float) -> dict[str, int]:
        """A database of about ``size`` bytes: md5 hex text (60% of the bytes) and JSON of md5 strings."""
        notes = int(size * NOTES_SHARE / NOTES_ROW)
        events = int(size * (1 - NOTES_SHARE) / EVENTS_ROW)
        self.sql("postgres", f"CREATE DATABASE {name}")
        self.sql(
            name,
            "CREATE TABLE notes (id bigint NOT NULL, body text NOT NULL)",
            "CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL, doc jsonb NOT NULL)",
        )
        self.sql_parallel(
            name,
            [
                "INSERT INTO notes SELECT g, (SELECT string_agg(md5(random()::text || g || s), '') "
                f"FROM generate_series(1, 12) s) FROM generate_series(1, {notes}) g",
                "INSERT INTO events SELECT g, now() - g * interval '1 second', jsonb_build_object("
                "'user', md5(random()::text), 'session', md5(random()::text), 'ip', md5(random()::text), "
                "'amount', round((random() * 10000)::numeric, 2), 'ok', random() > 0.5, 'tags', "
                "jsonb_build_array(md5(random()::text), md5(random()::text), md5(random()::text))) "
                f"FROM generate_series(1, {events}) g",
            ],
        )
        self.sql_parallel(
            name,
            ["ALTER TABLE notes ADD PRIMARY KEY (id)", "ALTER TABLE events ADD PRIMARY KEY (id)"],
        )
        self.sql(name, "VACUUM (ANALYZE) notes", "VACUUM (ANALYZE) events")
        return {"bytes": int(self.sql(name, f"SELECT pg_database_size('{name}')")), **self.counts(name)}

    def counts(self, name: str) -> dict[str, int]:
        notes, _sep, events = self.sql(
            name, "SELECT (SELECT count(*) FROM notes) || ' ' || (SELECT count(*) FROM events)"
        ).partition(" ")
        return {"notes": int(notes), "events": int(events)}

    def drop(self, name: str) -> None:
        self.sql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --------------------------------------------------------------------------- ours, in a child process


def child_main() -> int:
    """Run one engine operation described by the JSON on stdin; print timings and peak memory as JSON."""
    t_start = time.monotonic()
    spec = json.loads(sys.stdin.read())
    # appended, not prepended: plugins/module_utils/logging.py would shadow the standard library
    sys.path.append(str(ROOT / "plugins" / "module_utils"))
    from backup import catalog, pipeline, sources, stores

    s3 = spec["s3"]
    store = stores.S3Store(
        s3["bucket"],
        prefix="backups",
        endpoint_url=s3["endpoint_url"],
        region=s3["region"],
        access_key=s3["access_key"],
        secret_key=s3["secret_key"],
    )
    rss_imported = _status_kb("VmRSS")  # interpreter, the engine's modules, boto3 and its S3 client
    pg = spec["pg"]
    phases: dict[str, float] = {}
    # VmHWM over time, to see whether the peak levels off while the data streams.
    hwm: list[tuple[float, int]] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.02):
            kb = _status_kb("VmHWM")
            if not hwm or kb != hwm[-1][1]:
                hwm.append((time.monotonic(), kb))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.monotonic() - t0

        return wrapper

    result: dict[str, Any] = {}
    t0 = time.monotonic()
    if spec["op"] == "backup":
        # Instrumentation only: the same functions, timed (the data stream, then the globals stream).
        original = pipeline.stream_to_store
        calls: list[tuple[float, float]] = []

        def stream(*args: Any, **kwargs: Any) -> Any:
            t = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                calls.append((t, time.monotonic()))

        pipeline.stream_to_store = stream
        conn = sources.Connection(
            "postgres", spec["database"], host=pg["host"], port=5432, user="postgres", password=pg["password"]
        )
        job = pipeline.Job("bench", spec["database"], conn)
        manifest = pipeline.backup(job, store, pipeline.Settings(recipients=[spec["recipient"]]))
        data = manifest["objects"]["data"]
        result.update(raw_size=data["raw_size"], size=data["size"], parts=data["parts"], id=manifest["id"])
        result.update(part_size=store.part_size, concurrency=store.concurrency)
        phases["data stream"] = calls[0][1] - calls[0][0]
        phases["globals stream"] = sum(end - start for start, end in calls[1:])
        start, end = calls[0]
        result["hwm_during_data_kb"] = {
            f"{q}%": max([kb for t, kb in hwm if t <= start + (end - start) * q / 100] or [0])
            for q in (25, 50, 75, 100)
        }
    else:
        pipeline.check_object = timed("checksum download", pipeline.check_object)
        pipeline.stream_from_store = timed("restore stream", pipeline.stream_from_store)
        target = sources.Connection(
            "postgres", spec["target"], host=pg["host"], port=5432, user="postgres", password=pg["password"]
        )
        pipeline.restore(
            store, catalog.Layout("bench", spec["database"]), pipeline.Identity(path=spec["identity"]), target
        )
    seconds = time.monotonic() - t0
    sampling.set()
    sampler.join()
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    phases["other (S3 listing, psql checks, manifest)"] = seconds - sum(phases.values())
    result.update(
        engine_seconds=seconds,
        startup_seconds=t0 - t_start,
        phases=phases,
        rss_imported_kb=rss_imported,
        vmhwm_kb=_status_kb("VmHWM"),
        maxrss_kb=self_usage.ru_maxrss,
        self_cpu=self_usage.ru_utime + self_usage.ru_stime,
    )
    print(json.dumps(result))
    return 0


def _status_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return -1


def ours(spec: dict[str, Any]) -> Run:
    """Run the child (secrets on its stdin); its wall time includes interpreter start, as the aws CLI's does."""
    cpu, t0 = children_cpu(), time.monotonic()
    out = run([sys.executable, str(Path(__file__).resolve()), "--child"], data=json.dumps(spec).encode())
    wall = time.monotonic() - t0
    return Run(wall, children_cpu() - cpu, json.loads(out.stdout.decode().strip().splitlines()[-1]))


# --------------------------------------------------------------------------- the run


def mbps(size: int, seconds: float) -> float:
    return size / MB / seconds


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="size of the main database (GB, 10^9 bytes)")
    parser.add_argument("--small-gb", type=float, default=0.25, help="size of the database for the memory check")
    parser.add_argument("--rounds", type=int, default=3, help="backups of each kind (ABBA order; best counts)")
    parser.add_argument("--restore-rounds", type=int, default=3, help="restores of each kind (ABBA order; best counts)")
    parser.add_argument("--no-info", action="store_true", help="skip the informational runs (floor, literal pipeline)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _terminate)

    aws = Path(sys.executable).parent / "aws"
    for tool in ("docker", "pg_dump", "pg_restore", "psql", "createdb", "zstd", "age", "age-keygen"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench_backup: {tool} is not installed: run `make rig`")
    if not aws.is_file():
        raise SystemExit(f"bench_backup: {aws} is missing: run `make venv` (awscli is in tests/requirements.lock)")
    binary = rig_setting("OPSDECK_S3_SERVER_BIN")
    image = rig_setting("OPSDECK_IMAGE_POSTGRESQL")
    if not binary or not os.access(binary, os.X_OK) or not image:
        raise SystemExit("bench_backup: no S3 server binary or PostgreSQL image in tests/rig/.state: run `make rig`")

    t_run = time.monotonic()
    work = xattr_dir()
    s3 = S3(binary, work / "s3")
    (work / "s3").mkdir(mode=0o700)
    pg = Postgres(image)
    try:
        return bench(args, work, s3, pg, str(aws), t_run)
    except Abort as exc:
        print(f"bench_backup: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        s3.stop()
        pg.remove()
        shutil.rmtree(work, ignore_errors=True)


def bench(args: argparse.Namespace, work: Path, s3: S3, pg: Postgres, aws: str, t_run: float) -> int:
    key_file = work / "age-key.txt"
    run(["age-keygen", "-o", str(key_file)])
    key_file.chmod(0o600)
    recipient = next(
        line.split(": ", 1)[1] for line in key_file.read_text().splitlines() if line.startswith("# public key: ")
    )
    s3.start()
    bucket = "bench-" + secrets.token_hex(6)
    s3.create_bucket(bucket)
    pg.start()
    print(f"backup bench: PostgreSQL at {pg.host} ({pg.name}), S3 at {s3.endpoint_url}, work dir {work}", flush=True)

    t0 = time.monotonic()
    large = pg.make_database("bench_large", args.gb * GB)
    small = pg.make_database("bench_small", args.small_gb * GB) if args.small_gb else None
    print(
        f"backup bench: data loaded in {time.monotonic() - t0:.0f} s: bench_large {large['bytes'] / GB:.2f} GB "
        f"({large['notes']} md5-text rows, {large['events']} JSON rows)"
        + (f", bench_small {small['bytes'] / GB:.2f} GB" if small else ""),
        flush=True,
    )

    env = s3.aws_env(pg.env())
    q = shlex.quote
    conn = " ".join(q(a) for a in ["-h", pg.host, "-p", "5432", "-U", "postgres"])
    cp = f"{q(aws)} s3 cp --quiet --endpoint-url {q(s3.endpoint_url)}"
    dump = f"pg_dump -Fc -Z0 {conn} -d bench_large"
    tools = f"zstd -q -{ZSTD_LEVEL} -T0 -c | age -r {q(recipient)}"
    info: dict[str, Run] = {}

    # Warm-up (the first read of the fresh tables, so no round pays for it) and the floor.
    info["pg_dump -Fc -Z0 > /dev/null (the floor)"] = timed_shell(f"{dump} > /dev/null", env)
    if not args.no_info:
        info[f"pg_dump -Fc -Z0 | zstd -{ZSTD_LEVEL} -T0 | age > /dev/null"] = timed_shell(
            f"{dump} | {tools} > /dev/null", env
        )

    spec_base = {
        "s3": {
            "bucket": bucket,
            "endpoint_url": s3.endpoint_url,
            "region": s3.region,
            "access_key": s3.access_key,
            "secret_key": s3.secret_key,
        },
        "pg": {"host": pg.host, "password": pg.password},
        "recipient": recipient,
        "identity": str(key_file),
    }
    runs: dict[str, list[Run]] = {"base": [], "ours": []}
    base_key = "baseline/bench_large-0.pgdump.zst.age"
    order = [_abba(i) for i in range(2 * args.rounds)]
    for n, kind in enumerate(order):
        if kind == "base":
            key = f"baseline/bench_large-{len(runs['base'])}.pgdump.zst.age"
            runs["base"].append(timed_shell(f"{dump} | {tools} | {cp} - {q(f's3://{bucket}/{key}')}", env))
        else:
            runs["ours"].append(ours({**spec_base, "op": "backup", "database": "bench_large"}))
        print(f"backup bench: backup {n + 1}/{len(order)} {kind}: {runs[kind][-1].wall:.1f} s", flush=True)
    if not args.no_info:
        literal = f"pg_dump -Fc {conn} -d bench_large | zstd -q | age -r {q(recipient)}"
        info["pg_dump -Fc | zstd | age | aws s3 cp (as first written in the issue)"] = timed_shell(
            f"{literal} | {cp} - {q(f's3://{bucket}/baseline/literal.zst.age')}", env
        )

    small_run = ours({**spec_base, "op": "backup", "database": "bench_small"}) if small else None

    # Restores into fresh databases, each compared with the source's row counts, then dropped.
    restores: dict[str, list[Run]] = {"base": [], "ours": []}
    for n, kind in enumerate(_abba(i) for i in range(2 * args.restore_rounds)):
        target = f"restore_{kind}_{n}"
        if kind == "base":
            cmd = (
                f"createdb {conn} {target} && {cp} {q(f's3://{bucket}/{base_key}')} - | "
                f"age -d -i {q(str(key_file))} | zstd -q -d -c | "
                f"pg_restore --exit-on-error --single-transaction {conn} -d {target}"
            )
            restores["base"].append(timed_shell(cmd, env))
        else:
            restores["ours"].append(ours({**spec_base, "op": "restore", "database": "bench_large", "target": target}))
        got = pg.counts(target)
        if got != {k: large[k] for k in ("notes", "events")}:
            raise Abort(f"{kind} restore into {target}: rows {got}, the source has {large}")
        pg.drop(target)
        print(f"backup bench: restore {n + 1} {kind}: {restores[kind][-1].wall:.1f} s, rows match", flush=True)

    report(large, small, info, runs, small_run, restores, t_run)
    return 0


def _abba(i: int) -> str:
    return "base" if i % 4 in (0, 3) else "ours"


def _best(items: list[Run]) -> Run:
    return min(items, key=lambda r: r.wall)


def _walls(items: list[Run]) -> str:
    return ", ".join(f"{r.wall:.1f}" for r in items)


def _phases(rep: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in rep["phases"].items())


def report(
    large: dict[str, int],
    small: dict[str, int] | None,
    info: dict[str, Run],
    runs: dict[str, list[Run]],
    small_run: Run | None,
    restores: dict[str, list[Run]],
    t_run: float,
) -> None:
    base, mine = _best(runs["base"]), _best(runs["ours"])
    raw, stored = mine.report["raw_size"], mine.report["size"]
    print()
    print(
        f"backup: database {large['bytes'] / GB:.2f} GB, the bulk of it random md5 hex text and JSON of md5 "
        f"strings (pgbench's tables compress ~100x and would hide compression and encryption): pg_dump -Fc -Z0 "
        f"output {raw / MB:.0f} MB, stored {stored / MB:.0f} MB (zstd -{ZSTD_LEVEL} + age: {raw / stored:.2f}x)"
    )
    print("backup: MB/s are of pg_dump output; cpu = user+sys of every process started (not the PostgreSQL server)")
    for what, r in info.items():
        print(f"backup: info: {what}: {r.wall:.1f} s, {mbps(raw, r.wall):.0f} MB/s, cpu {r.cpu:.1f} s")
    print(
        f"backup: baseline pg_dump -Fc -Z0 | zstd -{ZSTD_LEVEL} -T0 | age | aws s3 cp: {base.wall:.1f} s, "
        f"{mbps(raw, base.wall):.0f} MB/s, cpu {base.cpu:.1f} s (runs {_walls(runs['base'])})"
    )
    print(
        f"backup: ours pipeline.backup -> S3Store: {mine.wall:.1f} s, {mbps(raw, mine.wall):.0f} MB/s, "
        f"cpu {mine.cpu:.1f} s of which our Python process {mine.report['self_cpu']:.1f} s "
        f"(runs {_walls(runs['ours'])}; best: startup {mine.report['startup_seconds']:.1f} s, "
        f"{_phases(mine.report)}; {mine.report['parts']} parts of 16 MiB, 4 in flight)"
    )
    tools = info.get(f"pg_dump -Fc -Z0 | zstd -{ZSTD_LEVEL} -T0 | age > /dev/null")
    if tools:
        print(
            f"backup: cpu beyond pg_dump | zstd | age: baseline (the aws CLI) {base.cpu - tools.cpu:.1f} s, ours "
            f"{mine.cpu - tools.cpu:.1f} s (our Python process {mine.report['self_cpu']:.1f} s: the dump relayed "
            "through it, SHA-256 of dump, object and parts, the upload; plus pg_dumpall, pg_restore --list, psql)"
        )
    ratio = base.wall / mine.wall
    print(f"backup: throughput ratio ours/baseline = {ratio:.2f} (target >= 0.90) {verdict(ratio >= 0.9)}")

    if restores["base"] and restores["ours"]:
        rb, ro = _best(restores["base"]), _best(restores["ours"])
        print(
            f"restore: baseline aws s3 cp | age -d | zstd -d | pg_restore: {rb.wall:.1f} s, "
            f"{mbps(raw, rb.wall):.0f} MB/s, cpu {rb.cpu:.1f} s (runs {_walls(restores['base'])})"
        )
        print(
            f"restore: ours pipeline.restore: {ro.wall:.1f} s, {mbps(raw, ro.wall):.0f} MB/s, cpu {ro.cpu:.1f} s "
            f"of which our Python process {ro.report['self_cpu']:.1f} s (runs {_walls(restores['ours'])}; best: "
            f"{_phases(ro.report)}; peak memory {ro.report['vmhwm_kb'] / 1024:.0f} MB)"
        )
        rratio = rb.wall / ro.wall
        print(f"restore: throughput ratio ours/baseline = {rratio:.2f} (target >= 0.90) {verdict(rratio >= 0.9)}")

    peaks = [("bench_large", large, max(runs["ours"], key=lambda r: r.report["vmhwm_kb"]).report)]
    if small and small_run:
        peaks.insert(0, ("bench_small", small, small_run.report))
    for name, db, rep in peaks:
        during = ", ".join(f"{k} {v / 1024:.0f}" for k, v in rep["hwm_during_data_kb"].items())
        print(
            f"memory: ours backing up {name} ({db['bytes'] / GB:.2f} GB): peak VmHWM {rep['vmhwm_kb'] / 1024:.0f} MB, "
            f"ru_maxrss {rep['maxrss_kb'] / 1024:.0f} MB (VmRSS {rep['rss_imported_kb'] / 1024:.0f} MB before the "
            f"backup; VmHWM at {during} MB of the data stream)"
        )
    print("memory: pg_dump, pg_restore --list, zstd and age are separate processes and not counted")
    top = max(rep["vmhwm_kb"] for _n, _d, rep in peaks) * 1024
    print(f"memory: peak {top / MiB:.0f} MB (target < 256 MB) {verdict(top < MEMORY_LIMIT)}")
    # Flat: the S3 writer holds at most `concurrency` parts in flight, one waiting for a slot, the one
    # filling, and two transient copies while a part is cut off. That bound depends on the part size and
    # the concurrency, not on the database size; the peak is the moment the most parts happened to be
    # buffered, which a longer stream reaches more surely (so the smaller run's peak is often lower).
    big = peaks[-1][2]
    part, conc = big["part_size"], big["concurrency"]
    bound = big["rss_imported_kb"] * 1024 + (conc + 4) * part
    line = "memory: flat in the database size:"
    if len(peaks) == 2:
        lo, hi = peaks[0][2]["vmhwm_kb"] * 1024, big["vmhwm_kb"] * 1024
        line += f" {peaks[1][1]['bytes'] / peaks[0][1]['bytes']:.1f}x the data, peak {(hi - lo) / MiB:+.0f} MB;"
    line += (
        f" target: the peak within the writer's size-independent bound, RSS before + ({conc} in flight + 4) x "
        f"{part // MiB} MiB = {bound / MiB:.0f} MB {verdict(big['vmhwm_kb'] * 1024 <= bound)}"
    )
    print(line)
    print(f"backup bench: total {time.monotonic() - t_run:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
