# SPDX-License-Identifier: GPL-3.0-or-later
"""Textfile metrics of point-in-time recovery (pgBackRest), which the rule library alerts on.

pgBackRest has no metrics endpoint of its own; its ``info --output=json`` says which backups the
repository holds and whether the stanza is healthy, and PostgreSQL's ``pg_stat_archiver`` says
whether WAL archiving (the RPO of point-in-time recovery) keeps up. This module reads both and
renders, for one stanza (labels app, database, stanza)::

    opsdeck_pitr_last_backup_timestamp_seconds{type="full"|"diff"|"incr"}  newest backup's stop time
    opsdeck_pitr_backups                       number of backups in the repository
    opsdeck_pitr_repo_status_code              pgBackRest's status code (0 ok; 1 missing stanza, ...)
    opsdeck_pitr_wal_last_archived_timestamp_seconds / _last_failed_timestamp_seconds
    opsdeck_pitr_wal_archived_total / opsdeck_pitr_wal_failed_total   (pg_stat_archiver counters)
    opsdeck_pitr_last_run_success_timestamp_seconds{type} / _last_run_failure_timestamp_seconds{type}
    opsdeck_pitr_run_failures_total{type}      runs of the backup units (kept in a small state file)
    opsdeck_pitr_metrics_timestamp_seconds     when these numbers were read

The reads run as the ``postgres`` user; the caller is root (a systemd unit of the backup role)
or postgres. No credential is involved: pgBackRest reads its own configuration file.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

from .errors import BackupError
from .metrics import _atomic_write, _escape

PREFIX = "opsdeck_pitr_"
BACKUP_TYPES = ("full", "diff", "incr")

_HELP = {
    "last_backup_timestamp_seconds": ("gauge", "Stop time of the newest pgBackRest backup of this type, Unix time."),
    "backups": ("gauge", "Backups of the stanza in the pgBackRest repository."),
    "repo_status_code": ("gauge", "pgBackRest's status code of the stanza (0 ok)."),
    "wal_last_archived_timestamp_seconds": ("gauge", "Last WAL segment archived successfully, Unix time."),
    "wal_last_failed_timestamp_seconds": ("gauge", "Last failed WAL archive attempt, Unix time."),
    "wal_archived_total": ("counter", "WAL segments archived since PostgreSQL's statistics were reset."),
    "wal_failed_total": ("counter", "Failed WAL archive attempts since PostgreSQL's statistics were reset."),
    "last_run_success_timestamp_seconds": ("gauge", "End of the last successful run of the backup unit, Unix time."),
    "last_run_failure_timestamp_seconds": ("gauge", "End of the last failed run of the backup unit, Unix time."),
    "run_failures_total": ("counter", "Failed runs of the backup unit since the job was installed."),
    "metrics_timestamp_seconds": ("gauge", "When these metrics were read, Unix time."),
}

Runner = Callable[[Sequence[str]], str]
ARCHIVER_QUERY = (
    "SELECT coalesce(extract(epoch FROM last_archived_time)::text, ''), "
    "coalesce(extract(epoch FROM last_failed_time)::text, ''), archived_count, failed_count FROM pg_stat_archiver"
)


def run_as_postgres(argv: Sequence[str], timeout: float = 120.0) -> str:
    """Run ``argv`` as the postgres user (uid, gid, no other groups) and return its stdout.

    The switch is subprocess's own setgid/setuid (CAP_SETUID, CAP_SETGID), not ``runuser``:
    no PAM session, so the systemd unit that calls this needs no capability beyond those two.
    When this process already is postgres nothing is switched. A failure raises BackupError.
    """
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise BackupError("there is no postgres user on this host") from None
    switch: dict[str, Any] = {}
    if os.geteuid() != pw.pw_uid:
        switch = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOME": pw.pw_dir, "LC_ALL": "C.UTF-8"}
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=pw.pw_dir if os.path.isdir(pw.pw_dir) else "/",
            **switch,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"{argv[0]}: {exc}") from None
    if proc.returncode != 0:
        raise BackupError(f"{argv[0]} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return proc.stdout


def parse_info(text: str, stanza: str) -> dict[str, Any]:
    """The numbers of one stanza from ``pgbackrest --output=json info``."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BackupError(f"pgbackrest info: not JSON: {exc}") from None
    entry = (
        next((s for s in doc if isinstance(s, dict) and s.get("name") == stanza), None)
        if isinstance(doc, list)
        else None
    )
    if entry is None:
        raise BackupError(f"pgbackrest info: stanza {stanza!r} is not in the answer")
    newest: dict[str, float] = {}
    backups = entry.get("backup") or []
    for backup in backups:
        kind = backup.get("type")
        stop = (backup.get("timestamp") or {}).get("stop")
        if kind in BACKUP_TYPES and isinstance(stop, (int, float)):
            newest[kind] = max(newest.get(kind, 0.0), float(stop))
    status = entry.get("status") or {}
    return {"status_code": int(status.get("code", 99)), "backups": len(backups), "newest": newest}


def parse_archiver(text: str) -> dict[str, float | None]:
    """``last_archived, last_failed, archived_count, failed_count`` from psql's unaligned output."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    parts = line.split("|")
    if len(parts) != 4:
        raise BackupError(f"pg_stat_archiver: unexpected answer {line[:120]!r}")

    def num(value: str) -> float | None:
        return float(value) if value.strip() else None

    try:
        archived, failed, archived_count, failed_count = (num(p) for p in parts)
    except ValueError:
        raise BackupError(f"pg_stat_archiver: unexpected answer {line[:120]!r}") from None
    return {"last_archived": archived, "last_failed": failed, "archived": archived_count, "failed": failed_count}


class PitrMetrics:
    """The metrics of one stanza: ``load`` the run state, ``record_run``, ``read``, ``save``."""

    def __init__(self, state_dir: str, metrics_dir: str, app: str, database: str, stanza: str) -> None:
        self.app, self.database, self.stanza = app, database, stanza
        base = f"opsdeck_pitr_{stanza}".replace("-", "_").replace(".", "_")
        self.state_path = os.path.join(state_dir, f"pitr_{stanza}.json")
        self.metrics_path = os.path.join(metrics_dir, base + ".prom")
        self.runs: dict[str, dict[str, float]] = {}
        self.info: dict[str, Any] | None = None
        self.archiver: dict[str, float | None] | None = None
        self.errors: list[str] = []
        self.read_at = 0.0

    def load(self) -> PitrMetrics:
        with contextlib.suppress(FileNotFoundError, ValueError), open(self.state_path) as handle:
            runs = json.load(handle).get("runs") or {}
            self.runs = {k: {n: float(v) for n, v in values.items()} for k, values in runs.items() if k in BACKUP_TYPES}
        return self

    def record_run(self, kind: str, success: bool, when: float) -> None:
        if kind not in BACKUP_TYPES:
            raise BackupError(f"backup type must be one of {', '.join(BACKUP_TYPES)}, got {kind!r}")
        run = self.runs.setdefault(kind, {"run_failures_total": 0.0})
        if success:
            run["last_run_success_timestamp_seconds"] = when
        else:
            run["last_run_failure_timestamp_seconds"] = when
            run["run_failures_total"] = run.get("run_failures_total", 0.0) + 1

    def read(self, *, pgbackrest: str, port: int, runner: Runner | None = None, now: float | None = None) -> None:
        """Read pgBackRest's and PostgreSQL's numbers; a read that fails is left out, not guessed."""
        runner = runner or run_as_postgres
        self.read_at = time.time() if now is None else now
        try:
            self.info = parse_info(
                runner([pgbackrest, f"--stanza={self.stanza}", "--output=json", "info"]), self.stanza
            )
        except BackupError as exc:
            self.errors.append(str(exc))
        try:
            out = runner(
                [
                    "psql",
                    "-X",
                    "-A",
                    "-t",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-p",
                    str(port),
                    "-d",
                    "postgres",
                    "-c",
                    ARCHIVER_QUERY,
                ]
            )
            self.archiver = parse_archiver(out)
        except BackupError as exc:
            self.errors.append(str(exc))

    def render(self) -> str:
        base = f'app="{_escape(self.app)}",database="{_escape(self.database)}",stanza="{_escape(self.stanza)}"'
        samples: dict[str, list[str]] = {name: [] for name in _HELP}

        def put(name: str, value: float, kind: str | None = None) -> None:
            labels = base + (f',type="{kind}"' if kind else "")
            samples[name].append(f"{PREFIX}{name}{{{labels}}} {value:.17g}")

        if self.info is not None:
            for kind in BACKUP_TYPES:
                if kind in self.info["newest"]:
                    put("last_backup_timestamp_seconds", self.info["newest"][kind], kind)
            put("backups", self.info["backups"])
            put("repo_status_code", self.info["status_code"])
        if self.archiver is not None:
            for key, name in (
                ("last_archived", "wal_last_archived_timestamp_seconds"),
                ("last_failed", "wal_last_failed_timestamp_seconds"),
                ("archived", "wal_archived_total"),
                ("failed", "wal_failed_total"),
            ):
                if self.archiver[key] is not None:
                    put(name, float(self.archiver[key]))  # type: ignore[arg-type]
        for kind in BACKUP_TYPES:
            for name, value in sorted((self.runs.get(kind) or {}).items()):
                put(name, value, kind)
        if self.read_at:
            put("metrics_timestamp_seconds", self.read_at)
        lines: list[str] = []
        for name, (kind, text) in _HELP.items():
            if samples[name]:
                lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} {kind}", *samples[name]]
        return "\n".join(lines) + "\n"

    def save(self) -> None:
        _atomic_write(self.state_path, json.dumps({"runs": self.runs}, sort_keys=True) + "\n", 0o600)
        _atomic_write(self.metrics_path, self.render(), 0o644)
