# SPDX-License-Identifier: GPL-3.0-or-later
"""Node-exporter textfile metrics of a job, which the monitoring rule library alerts on.

The numbers live in a small state file per job (so counters survive between runs); the
``.prom`` file is rendered from it and replaced atomically (write, fsync, rename), as the
textfile collector requires. Metric names are the ones the rules of
``module_utils/monitoring.py`` use:

    opsdeck_backup_last_success_timestamp_seconds{app,database,engine}
    opsdeck_backup_last_failure_timestamp_seconds
    opsdeck_backup_last_duration_seconds
    opsdeck_backup_last_size_bytes
    opsdeck_backup_failures_total
    opsdeck_backup_last_verified_restore_timestamp_seconds
    opsdeck_backup_last_verify_failure_timestamp_seconds
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from .errors import BackupError

DEFAULT_STATE_DIR = "/var/lib/opsdeck-backup"

PREFIX = "opsdeck_backup_"
_HELP = {
    "last_success_timestamp_seconds": ("gauge", "End of the last successful backup, Unix time."),
    "last_failure_timestamp_seconds": ("gauge", "End of the last failed backup attempt, Unix time."),
    "last_duration_seconds": ("gauge", "Duration of the last successful backup."),
    "last_size_bytes": ("gauge", "Stored (compressed, encrypted) size of the last successful backup."),
    "failures_total": ("counter", "Failed backup attempts since the job was installed."),
    "last_verified_restore_timestamp_seconds": ("gauge", "End of the last successful test restore, Unix time."),
    "last_verify_failure_timestamp_seconds": ("gauge", "End of the last failed test restore, Unix time."),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def file_name(app: str, database: str) -> str:
    return f"opsdeck_backup_{app}_{database}.prom".replace("-", "_")


def _atomic_write(path: str, data: str, mode: int) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class JobMetrics:
    """The metrics of one job: ``load``, update with ``success``/``failure``/``verified``, ``save``."""

    def __init__(self, state_dir: str, metrics_dir: str | None, app: str, database: str, engine: str) -> None:
        self.app, self.database, self.engine = app, database, engine
        self.state_path = os.path.join(state_dir, f"{app}_{database}.json")
        self.metrics_path = os.path.join(metrics_dir, file_name(app, database)) if metrics_dir else None
        self.values: dict[str, float] = {"failures_total": 0}

    def load(self) -> JobMetrics:
        with contextlib.suppress(FileNotFoundError, ValueError), open(self.state_path) as handle:
            self.values.update({k: float(v) for k, v in json.load(handle).items() if k in _HELP})
        return self

    def success(self, finished: float, duration: float, size: int) -> None:
        self.values.update(
            last_success_timestamp_seconds=finished, last_duration_seconds=duration, last_size_bytes=size
        )

    def failure(self, when: float) -> None:
        self.values["last_failure_timestamp_seconds"] = when
        self.values["failures_total"] = self.values.get("failures_total", 0) + 1

    def verified(self, when: float) -> None:
        self.values["last_verified_restore_timestamp_seconds"] = when

    def verify_failed(self, when: float) -> None:
        self.values["last_verify_failure_timestamp_seconds"] = when

    def render(self) -> str:
        labels = f'app="{_escape(self.app)}",database="{_escape(self.database)}",engine="{_escape(self.engine)}"'
        lines = []
        for name, (kind, text) in _HELP.items():
            if name not in self.values:
                continue
            value = self.values[name]
            lines += [
                f"# HELP {PREFIX}{name} {text}",
                f"# TYPE {PREFIX}{name} {kind}",
                f"{PREFIX}{name}{{{labels}}} {value:.17g}",
            ]
        return "\n".join(lines) + "\n"

    def save(self) -> None:
        _atomic_write(self.state_path, json.dumps(self.values, sort_keys=True) + "\n", 0o600)
        if self.metrics_path:
            _atomic_write(self.metrics_path, self.render(), 0o644)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@contextlib.contextmanager
def job_lock(state_dir: str, job: str, *, wait: bool = False) -> Iterator[None]:
    """The job's lock in its state directory: two runs of one job (a timer's and a playbook's) never overlap."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    path = os.path.join(state_dir, job.replace("/", "_") + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"{job}: another run of this job is in progress") from None
        yield
    finally:
        os.close(fd)
