# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the log shipper (OpenTelemetry Collector) against posting the same lines straight to VictoriaLogs.

    python tests/bench/bench_logging.py [--mb 200] [--containers 4] [--file-mb 20] [--rounds 2]
        [--override JSON]... [--timeout 1800] [--strict]

Set-up (all on 127.0.0.1, containers and temp files removed at the end, even on failure):

- ``--mb`` MiB of container log lines in the engine's json-file format (``{"log": "...\\n",
  "stream": ..., "attrs": {"io.opsdeck.app": "bench", "com.docker.compose.service": "gen"},
  "time": ...}``), random text and JSON-ish messages (nothing repeated, so they compress like
  real logs, not like a repeated line), in a fake containers directory laid out like
  ``/var/lib/docker/containers/<64-hex id>/<id>-json.log`` with rotated ``.1``, ``.2`` ...
  files of ``--file-mb`` MiB, ``--containers`` containers.
- ``floor``: the same lines as VictoriaLogs jsonline rows (``_msg``, ``_time`` and the fields the
  collector gives them: app, service, env, host, stream, container), one file per container,
  posted in parallel with ``curl --data-binary @file`` to a fresh VictoriaLogs'
  ``/insert/jsonline``, timed until its ``vl_rows_ingested_total`` counts every row. This is
  the store's own ingestion speed, the baseline.
- ``collector``: a fresh VictoriaLogs, then the collector (the rig's image, host network,
  loopback ports, hardened and limited to 256m like the role's ``logging_shipper_memory``)
  with the configuration of ``collector_config(url, host='bench', environment='bench',
  containers_dir=<the fake directory>)``, that directory mounted read-only at the same path
  and its file_storage in a temp directory; timed from ``docker run`` until VictoriaLogs
  counts every row.

Both stores are then asked ``app:=bench service:=gen env:=bench host:=bench | stats count()``,
which must equal the number of lines (nothing lost, nothing twice, the fields right).

Throughput is the json-file MiB (the same bytes for both) per second. The CPU seconds of each
container (its cgroup's cpuacct) are printed too: in the collector run the collector and the
store share the cores, so when the floor keeps every core busy (a small machine) the ratio cannot
go below about (collector CPU + store CPU) / store CPU.
Peak RSS is the kernel's high-water mark of the collector's process (``VmHWM`` in
``/proc/<pid>/status``, read before it stops). It counts file-backed pages too: the resident part
of the binary and of the file_storage files, which bbolt maps, so it grows with the persistent
queue's backlog (printed: the largest size of file_storage on disk). The sampled maximum of the
anonymous memory (``RssAnon``, the heap) and of the container's usage as ``docker stats`` shows
it (cgroup usage less inactive page cache) are printed for information.

Targets: ratio collector/floor <= 2.0, peak RSS (VmHWM) <= 200 MB (10^6 bytes). PASS/MISS per
target; the exit status is non-zero on a miss only with ``--strict`` (always on an error).

``--override JSON`` (repeatable) deep-merges into the rendered configuration, to measure a
tuning without changing ``module_utils/logging.py`` (a ``null`` value removes a key), e.g.
``--override '{"exporters": {"otlp_http/victorialogs": {"compression": "none"}}}'``.
With ``--rounds N`` the two sides alternate (ABBA) and the medians are compared.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / ".collections"))

import yaml  # noqa: E402

from ansible_collections.opsdeck.platform.plugins.module_utils import logging as lg  # noqa: E402
from tests.procs import free_port, rig_setting  # noqa: E402

TARGET_RATIO = 2.0
TARGET_RSS = 200 * 10**6
MEMORY = "256m"  # the role's logging_shipper_memory
MIB = 2**20
APP, SERVICE, ENV, HOST = "bench", "gen", "bench", "bench"
ATTRS = {"io.opsdeck.app": APP, "com.docker.compose.service": SERVICE}
PREFIX = f"logging-bench-{os.getpid()}"
ROW_FILTER = f"app:={APP} service:={SERVICE} env:={ENV} host:={HOST}"


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("--timeout reached")
        return left


# --- The lines ------------------------------------------------------------------------------


class Lines:
    """Random, non-repeating log messages (text and JSON-ish) from a seeded generator."""

    LEVELS = ("debug", "info", "info", "info", "warn", "error")
    METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        letters = "abcdefghijklmnopqrstuvwxyz"
        self.words = ["".join(self.rnd.choices(letters, k=self.rnd.randint(2, 11))) for _i in range(8192)]

    def _words(self, low: int, high: int) -> str:
        return " ".join(self.rnd.choices(self.words, k=self.rnd.randint(low, high)))

    def message(self) -> str:
        r = self.rnd
        w = self.words
        if r.random() < 0.5:
            return (
                f"{r.choice(self.LEVELS).upper()} [{r.choice(w)}.{r.choice(w)}] {self._words(3, 24)} "
                f"{r.choice(self.METHODS)} /{r.choice(w)}/{r.choice(w)}/{r.getrandbits(40)} "
                f"status={r.choice((200, 200, 200, 201, 204, 301, 404, 500))} took={r.random() * 900:.3f}ms "
                f"req={r.getrandbits(64):016x} user={r.choice(w)}{r.randint(0, 99999)}"
            )
        doc = {
            "level": r.choice(self.LEVELS),
            "logger": f"{r.choice(w)}.{r.choice(w)}",
            "msg": self._words(2, 18),
            "trace_id": f"{r.getrandbits(128):032x}",
            "span_id": f"{r.getrandbits(64):016x}",
            "user": f"{r.choice(w)}{r.randint(0, 99999)}",
            "status": r.choice((200, 200, 201, 400, 403, 500, 503)),
            "latency_ms": round(r.random() * 2000, 3),
            "path": f"/{r.choice(w)}/{r.choice(w)}?{r.choice(w)}={r.getrandbits(32)}",
        }
        if r.random() < 0.3:
            doc["error"] = self._words(4, 30)
        return json.dumps(doc, separators=(",", ":"))


def timestamp(ns: int, cache: dict[int, str]) -> str:
    sec, frac = divmod(ns, 10**9)
    prefix = cache.get(sec)
    if prefix is None:
        prefix = cache[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{prefix}.{frac:09d}Z"


def generate(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Write the json-file logs under work/containers and the same rows as jsonline under work/floor."""
    containers_dir, floor_dir = work / "containers", work / "floor"
    floor_dir.mkdir()
    per_container = args.mb * MIB // args.containers
    file_size = max(1, args.file_mb) * MIB
    n_files = -(-per_container // file_size)
    gen = Lines(args.seed)
    now_ns = time.time_ns()
    total_lines, total_bytes, floor_bytes = 0, 0, 0
    files = []
    fields = {"app": APP, "service": SERVICE, "env": ENV, "host": HOST}
    for c in range(args.containers):
        cid = secrets.token_hex(32)
        cdir = containers_dir / cid
        cdir.mkdir(parents=True)
        # lines spread over the last hour, oldest first: the highest .N holds the oldest ones
        n_est = per_container // 360 + 1
        step = 3600 * 10**9 // n_est
        t_ns = now_ns - 3600 * 10**9 - 10**9 + c
        cache: dict[int, str] = {}
        floor_path = floor_dir / f"{cid[:12]}.jsonl"
        written = 0
        with floor_path.open("w") as floor:
            for f in range(n_files):
                suffix = n_files - 1 - f
                path = cdir / (f"{cid}-json.log" + (f".{suffix}" if suffix else ""))
                files.append(path)
                target = min(file_size, per_container - written)
                size = 0
                docker_buf: list[str] = []
                floor_buf: list[str] = []
                while size < target:
                    msg = gen.message()
                    stream = "stderr" if gen.rnd.random() < 0.1 else "stdout"
                    ts = timestamp(t_ns, cache)
                    t_ns += step
                    line = json.dumps({"log": msg + "\n", "stream": stream, "attrs": ATTRS, "time": ts}, **_COMPACT)
                    docker_buf.append(line)
                    row = {"_msg": msg, "_time": ts, **fields, "stream": stream, "container": cid[:12]}
                    floor_buf.append(json.dumps(row, **_COMPACT))
                    size += len(line) + 1
                    total_lines += 1
                    if len(docker_buf) >= 20000:
                        _flush(path, docker_buf, floor, floor_buf)
                _flush(path, docker_buf, floor, floor_buf)
                written += size
        total_bytes += written
        floor_bytes += floor_path.stat().st_size
    return {
        "containers_dir": containers_dir,
        "floor_files": sorted(floor_dir.iterdir()),
        "lines": total_lines,
        "bytes": total_bytes,
        "floor_bytes": floor_bytes,
        "files": len(files),
    }


_COMPACT: dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False}


def _flush(path: Path, docker_buf: list[str], floor: Any, floor_buf: list[str]) -> None:
    if docker_buf:
        with path.open("a") as out:
            out.write("\n".join(docker_buf) + "\n")
        floor.write("\n".join(floor_buf) + "\n")
    docker_buf.clear()
    floor_buf.clear()


# --- Docker, VictoriaLogs, the collector ----------------------------------------------------


def docker(*argv: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=timeout, check=check)


def http_get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def metric_sum(text: str, name: str) -> float:
    """The sum over all series of the counter ``name`` (with or without ``_total``) in a Prometheus exposition."""
    total = 0.0
    for match in re.finditer(rf"(?m)^{re.escape(name)}(?:_total)?(?:\{{[^}}]*\}})? (\S+)$", text):
        total += float(match.group(1))
    return total


def start_store(name: str, work: Path, deadline: Deadline) -> str:
    """A fresh VictoriaLogs (the role's flags and hardening) on a free loopback port; its URL."""
    port = free_port()
    data = work / f"{name}-data"
    data.mkdir()
    os.chown(data, 65534, 65534)
    flags = lg.store_flags("7d", listen_address="127.0.0.1", port=port)
    docker(
        "run", "-d", "--name", name, "--network", "host", "--user", "65534:65534", "--read-only",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--pids-limit", "256",
        "-v", f"{data}:/victoria-logs-data", rig_setting("OPSDECK_IMAGE_VICTORIALOGS") or "", *flags,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while deadline.left():
        with contextlib.suppress(OSError):
            if http_get(f"{url}/health", timeout=1).strip() == "OK":
                return url
        time.sleep(0.1)
    raise AssertionError("unreachable")


def ingested(url: str) -> int:
    return int(metric_sum(http_get(f"{url}/metrics"), "vl_rows_ingested"))


def stored_rows(url: str, lines: int, deadline: Deadline) -> int:
    """Rows with the bench's fields that a query finds (polled: the last rows become searchable within ~1 s)."""
    query = urllib.parse.urlencode({"query": f"{ROW_FILTER} | stats count() rows"})
    count = -1
    end = time.monotonic() + 20
    while time.monotonic() < end and deadline.left():
        body = http_get(f"{url}/select/logsql/query?{query}", timeout=60).strip()
        count = int(json.loads(body.splitlines()[0])["rows"]) if body else 0
        if count == lines:
            break
        time.sleep(0.5)
    return count


def wait_rows(url: str, lines: int, deadline: Deadline, stall: float, on_sample=None) -> None:
    """Poll the store's ingestion counter until it reaches ``lines``; fail when it stalls."""
    last, last_change = -1, time.monotonic()
    while True:
        deadline.left()
        count = ingested(url)
        if on_sample:
            on_sample()
        if count >= lines:
            return
        if count != last:
            last, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > stall:
            raise RuntimeError(f"the store's row count stalled at {count} of {lines} for {stall:.0f} s")
        time.sleep(0.2)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def collector_settings(url: str, containers_dir: Path, overrides: list[dict[str, Any]]) -> tuple[dict, int, int]:
    port, health_port = free_port(), free_port()
    config = lg.collector_config(
        url, host=HOST, environment=ENV, containers_dir=str(containers_dir), port=port, health_port=health_port
    )
    for override in overrides:
        config = deep_merge(config, override)
    return config, port, health_port


def cgroup_file(pid: int, controller: str, v1_name: str, v2_name: str) -> Path | None:
    """A file of the cgroup of process ``pid``: ``controller``'s v1 hierarchy, else the unified one."""
    found = None
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _id, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                candidate = Path("/sys/fs/cgroup", controller, path.lstrip("/"), v1_name)
            elif controllers == "":
                candidate = Path("/sys/fs/cgroup", path.lstrip("/"), v2_name)
            else:
                continue
            if candidate.is_file() and (found is None or controllers):
                found = candidate
    return found


def container_pid(container: str) -> int:
    return int(docker("inspect", "--format", "{{.State.Pid}}", container).stdout.strip())


def cpu_seconds(pid: int) -> float:
    """CPU time of the cgroup of process ``pid`` so far (cpuacct.usage, or cpu.stat's usage_usec)."""
    path = cgroup_file(pid, "cpuacct", "cpuacct.usage", "cpu.stat")
    with contextlib.suppress(OSError, ValueError, AttributeError):
        text = path.read_text()  # type: ignore[union-attr]
        if path.name == "cpuacct.usage":  # type: ignore[union-attr]
            return int(text) / 1e9
        return int(re.search(r"(?m)^usage_usec (\d+)", text).group(1)) / 1e6  # type: ignore[union-attr]
    return float("nan")


class Memory:
    """The collector's memory: its process's VmHWM (the kernel's peak RSS) and samples of RssAnon
    and of the container's usage as ``docker stats`` shows it (cgroup usage less inactive page cache)."""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.usage = cgroup_file(pid, "memory", "memory.usage_in_bytes", "memory.current")
        self.stat = cgroup_file(pid, "memory", "memory.stat", "memory.stat")
        self.hwm = self.anon_max = self.stats_max = 0

    def sample(self) -> None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            fields = {
                k: int(v.split()[0]) * 1024
                for k, _sep, v in (line.partition(":") for line in self.status.read_text().splitlines())
                if k in ("VmHWM", "RssAnon")
            }
            self.hwm = max(self.hwm, fields["VmHWM"])
            self.anon_max = max(self.anon_max, fields["RssAnon"])
        if self.usage is not None and self.stat is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stat = self.stat.read_text()
                inactive = re.search(r"(?m)^(?:total_)?inactive_file (\d+)", stat)
                used = int(self.usage.read_text()) - (int(inactive.group(1)) if inactive else 0)
                self.stats_max = max(self.stats_max, used)


def run_floor(
    data: dict[str, Any], work: Path, args: argparse.Namespace, deadline: Deadline, rnd: int
) -> dict[str, Any]:
    name = f"{PREFIX}-floor-vl-{rnd}"
    procs: list[subprocess.Popen] = []
    try:
        url = start_store(name, work, deadline)
        store_pid = container_pid(name)
        params = urllib.parse.urlencode(
            {"_stream_fields": ",".join(lg.STREAM_FIELDS), "_msg_field": "_msg", "_time_field": "_time"}
        )
        cpu0 = cpu_seconds(store_pid)
        t0 = time.perf_counter()
        for path in data["floor_files"]:
            # the content type matters: with curl's default (a form) the store reads no rows
            cmd = [
                "curl", "-sS", "--fail", "--max-time", str(int(deadline.left())), "-o", "/dev/null",
                "-H", "Content-Type: application/stream+json", "--data-binary", f"@{path}",
                f"{url}/insert/jsonline?{params}",
            ]  # fmt: skip
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for proc in procs:
            _out, err = proc.communicate(timeout=deadline.left())
            if proc.returncode != 0:
                raise RuntimeError(f"curl to /insert/jsonline failed ({proc.returncode}): {err.strip()}")
        wait_rows(url, data["lines"], deadline, args.stall)
        elapsed = time.perf_counter() - t0
        store_cpu = cpu_seconds(store_pid) - cpu0
        found = stored_rows(url, data["lines"], deadline)
        if found != data["lines"]:
            raise RuntimeError(f"floor: the store has {found} rows with the bench's fields, not {data['lines']}")
        return {"time": elapsed, "store_cpu": store_cpu}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        docker("rm", "-f", "-v", name, check=False)


def run_collector(
    data: dict[str, Any], work: Path, args: argparse.Namespace, deadline: Deadline, rnd: int
) -> dict[str, Any]:
    store, collector = f"{PREFIX}-vl-{rnd}", f"{PREFIX}-otelcol-{rnd}"
    try:
        url = start_store(store, work, deadline)
        store_pid = container_pid(store)
        config, port, health_port = collector_settings(url, data["containers_dir"], args.override)
        config_file = work / f"otelcol-{rnd}.yaml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False, width=1000))
        storage = work / f"otelcol-storage-{rnd}"
        storage.mkdir(mode=0o700)
        cdir = str(data["containers_dir"])
        cpu0 = cpu_seconds(store_pid)
        t0 = time.perf_counter()
        docker(
            "run", "-d", "--name", collector, "--network", "host", "--user", "0:0", "--read-only",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--pids-limit", "256",
            "--memory", MEMORY,
            "-v", f"{config_file}:{lg.CONFIG_PATH}:ro", "-v", f"{storage}:{lg.STORAGE_DIR}", "-v", f"{cdir}:{cdir}:ro",
            rig_setting("OPSDECK_IMAGE_OTELCOL") or "", "--config", lg.CONFIG_PATH,
        )  # fmt: skip
        pid = container_pid(collector)
        memory = Memory(pid)
        healthy: list[float] = []

        storage_max = [0]

        def sample() -> None:
            memory.sample()
            if not Path(f"/proc/{pid}").exists():
                raise RuntimeError("the collector exited")
            with contextlib.suppress(OSError):
                storage_max[0] = max(storage_max[0], sum(f.stat().st_size for f in storage.iterdir()))
            if not healthy:
                with contextlib.suppress(OSError):
                    http_get(f"http://127.0.0.1:{health_port}/", timeout=1)
                    healthy.append(time.perf_counter() - t0)

        try:
            wait_rows(url, data["lines"], deadline, args.stall, on_sample=sample)
        except (RuntimeError, TimeoutError):
            logs = docker("logs", "--tail", "8", collector, check=False)
            print(f"collector's last log lines:\n{logs.stdout}{logs.stderr}", file=sys.stderr)
            raise
        elapsed = time.perf_counter() - t0
        memory.sample()
        collector_cpu, store_cpu = cpu_seconds(pid), cpu_seconds(store_pid) - cpu0
        try:
            metrics = http_get(f"http://127.0.0.1:{port}/metrics")
        except OSError:
            metrics = ""
        state = json.loads(docker("inspect", "--format", "{{json .State}}", collector).stdout)
        if not state.get("Running") or state.get("OOMKilled"):
            raise RuntimeError(f"the collector is not running at the end: {state}")
        found = stored_rows(url, data["lines"], deadline)
        if found != data["lines"]:
            raise RuntimeError(f"collector: the store has {found} rows with the bench's fields, not {data['lines']}")
        return {
            "time": elapsed,
            "healthy": healthy[0] if healthy else None,
            "hwm": memory.hwm,
            "anon_max": memory.anon_max,
            "stats_max": memory.stats_max,
            "storage_max": storage_max[0],
            "collector_cpu": collector_cpu,
            "store_cpu": store_cpu,
            "refused": metric_sum(metrics, "otelcol_receiver_refused_log_records"),
            "send_failed": metric_sum(metrics, "otelcol_exporter_send_failed_log_records"),
            "sent": metric_sum(metrics, "otelcol_exporter_sent_log_records"),
        }
    finally:
        docker("rm", "-f", "-v", collector, store, check=False)


# --- Main -------------------------------------------------------------------------------------


def _on_signal(signum: int, _frame: Any) -> None:
    raise TimeoutError("--timeout reached") if signum == signal.SIGALRM else SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200, help="MiB of json-file log lines (default 200)")
    parser.add_argument("--containers", type=int, default=4)
    parser.add_argument("--file-mb", type=int, default=20, help="rotation size of each container's files (MiB)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of floor and collector, ABBA order")
    parser.add_argument(
        "--override", type=json.loads, action="append", default=[], help="JSON deep-merged into the collector config"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds for the whole bench, then it stops")
    parser.add_argument("--stall", type=float, default=120, help="fail when no row arrives for this many seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="parent of the temp directory (default: the system's)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    for tool in ("docker", "curl"):
        if not shutil.which(tool):
            print(f"bench_logging: {tool} is not installed", file=sys.stderr)
            return 2
    if not (rig_setting("OPSDECK_IMAGE_OTELCOL") and rig_setting("OPSDECK_IMAGE_VICTORIALOGS")):
        print("bench_logging: the rig's images are missing (make rig)", file=sys.stderr)
        return 2
    if any(not isinstance(o, dict) for o in args.override):
        print("bench_logging: --override takes a JSON object", file=sys.stderr)
        return 2

    deadline = Deadline(args.timeout)
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    signal.alarm(args.timeout + 5)
    work = Path(tempfile.mkdtemp(prefix="logging-bench-", dir=args.workdir))
    work.chmod(0o755)
    try:
        t0 = time.perf_counter()
        data = generate(work, args)
        mib = data["bytes"] / MIB
        print(
            f"generated {mib:.1f} MiB of json-file lines ({data['lines']} lines, {args.containers} containers, "
            f"{data['files']} files) in {time.perf_counter() - t0:.1f} s; jsonline for the floor "
            f"{data['floor_bytes'] / MIB:.1f} MiB; {os.cpu_count()} CPUs"
        )
        if args.override:
            print(f"collector config overrides: {json.dumps(args.override)}")
        floors: list[dict[str, Any]] = []
        runs: list[dict[str, Any]] = []
        for rnd in range(args.rounds):
            order = ("floor", "collector") if rnd % 2 == 0 else ("collector", "floor")
            for side in order:
                if side == "floor":
                    floors.append(run_floor(data, work, args, deadline, rnd))
                    print(f"  round {rnd + 1} floor     {floors[-1]['time']:7.2f} s")
                else:
                    runs.append(run_collector(data, work, args, deadline, rnd))
                    print(f"  round {rnd + 1} collector {runs[-1]['time']:7.2f} s")
        floor_t = statistics.median(r["time"] for r in floors)
        coll_t = statistics.median(r["time"] for r in runs)
        ratio = coll_t / floor_t
        peak = {k: max(r[k] for r in runs) for k in ("hwm", "anon_max", "stats_max", "storage_max")}
        healthy = [r["healthy"] for r in runs if r["healthy"] is not None]
        cpu = {k: statistics.median(r[k] for r in runs) for k in ("collector_cpu", "store_cpu")}
        print(
            f"floor     curl -> /insert/jsonline ({len(data['floor_files'])} parallel)  {floor_t:7.2f} s  "
            f"{mib / floor_t:7.1f} MiB/s  {data['lines'] / floor_t:9.0f} rows/s   "
            f"CPU: store {statistics.median(r['store_cpu'] for r in floors):.1f} s"
        )
        print(
            f"collector filelog -> otlp_http (mem {MEMORY})        {coll_t:7.2f} s  "
            f"{mib / coll_t:7.1f} MiB/s  {data['lines'] / coll_t:9.0f} rows/s   "
            f"CPU: collector {cpu['collector_cpu']:.1f} s, store {cpu['store_cpu']:.1f} s"
        )
        last = runs[-1]
        print(
            f"  timed from docker run{f'; healthy after {min(healthy):.1f} s' if healthy else ''}; "
            f"collector metrics: sent {last['sent']:.0f}, refused by memory_limiter {last['refused']:.0f}, "
            f"send failed {last['send_failed']:.0f}; every row stored once with app/service/env/host"
        )
        ratio_ok, rss_ok = ratio <= TARGET_RATIO, peak["hwm"] <= TARGET_RSS
        print(f"ratio collector/floor = {ratio:.2f}   target <= {TARGET_RATIO}   {'PASS' if ratio_ok else 'MISS'}")
        print(
            f"peak RSS (VmHWM of otelcol-contrib, /proc/<pid>/status) = {peak['hwm'] / 10**6:.0f} MB   "
            f"target <= {TARGET_RSS // 10**6} MB   {'PASS' if rss_ok else 'MISS'}"
        )
        print(
            f"  sampled every 0.2 s: RssAnon (heap) max {peak['anon_max'] / 10**6:.0f} MB, the rest of VmHWM is "
            f"file-backed (binary, file_storage mapped by bbolt); file_storage on disk max "
            f"{peak['storage_max'] / 10**6:.0f} MB (the queue's backlog); docker-stats usage max "
            f"{peak['stats_max'] / 10**6:.0f} MB of the {MEMORY} limit"
        )
        return 1 if args.strict and not (ratio_ok and rss_ok) else 0
    except (RuntimeError, TimeoutError, subprocess.SubprocessError, OSError) as exc:
        detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else ""
        print(f"bench_logging: {exc} {detail or ''}".rstrip(), file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        names = docker("ps", "-aq", "--filter", f"name=^{PREFIX}-", check=False).stdout.split()
        if names:
            docker("rm", "-f", "-v", *names, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
