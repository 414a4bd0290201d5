# SPDX-License-Identifier: GPL-3.0-or-later
"""``opsdeck-backup``: the backup engine as a command, for systemd timers on database hosts.

    opsdeck-backup [--config FILE] run APP/DB
    opsdeck-backup [--config FILE] list [APP/DB]
    opsdeck-backup [--config FILE] verify APP/DB [--id ID]
    opsdeck-backup [--config FILE] prune APP/DB [--dry-run]
    opsdeck-backup [--config FILE] restore APP/DB [--id ID | --before TIME] [--database NAME] [--force]
    opsdeck-backup pitr-metrics APP/DB --stanza STANZA --port PORT --metrics-dir DIR
                   [--state-dir DIR] [--pgbackrest BIN] [--run-type full|diff|incr --run-result RESULT]

Every command prints JSON on stdout and errors on stderr; the exit status is 0 on
success, 1 on failure, 2 on a usage error. ``run`` and ``verify`` update the job's
textfile metrics whether they succeed or fail, and hold a per-job lock so two runs of
one job never overlap. Credentials come from the config file (0600), never from argv.
``pitr-metrics`` needs no config: it reads pgBackRest's ``info`` and PostgreSQL's
``pg_stat_archiver`` as postgres and writes the stanza's textfile metrics (``pitr.py``);
``--run-result`` (systemd's $SERVICE_RESULT in ExecStopPost) also records how a backup unit ended.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from . import catalog, config, pipeline, pitr, prune
from .errors import BackupError
from .metrics import DEFAULT_STATE_DIR, JobMetrics
from .metrics import job_lock as _job_lock

DEFAULT_CONFIG = "/etc/opsdeck-backup/config.json"


def _print(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def _metrics(conf: dict[str, Any], job: pipeline.Job) -> JobMetrics:
    state = conf.get("state_dir") or DEFAULT_STATE_DIR
    return JobMetrics(state, conf.get("metrics_dir"), job.app, job.database, job.conn.engine).load()


def _identity(conf: dict[str, Any]) -> pipeline.Identity:
    path = conf.get("identity_file")
    if not path:
        raise BackupError("config: identity_file is not set; verify and restore need the age identity")
    return pipeline.Identity(path=path)


def cmd_run(conf: dict[str, Any], args: argparse.Namespace) -> int:
    job = config.job_named(conf, args.job)
    manifest = pipeline.recorded_backup(
        job,
        config.store_from(conf),
        config.settings_from(conf),
        state_dir=conf.get("state_dir") or DEFAULT_STATE_DIR,
        metrics_dir=conf.get("metrics_dir"),
    )
    data = manifest["objects"]["data"]
    _print(
        {
            "job": job.name,
            "id": manifest["id"],
            "key": data["key"],
            "size": data["size"],
            "seconds": manifest["duration_seconds"],
        }
    )
    return 0


def cmd_list(conf: dict[str, Any], args: argparse.Namespace) -> int:
    app = database = None
    if args.job:
        job = config.job_named(conf, args.job)
        app, database = job.app, job.database
    found = catalog.list_backups(config.store_from(conf), app, database)
    _print(
        [
            {k: b.get(k) for k in ("id", "app", "database", "engine", "finished_at", "verified_at")}
            | {"size": b["objects"]["data"]["size"]}
            for b in found
        ]
    )
    return 0


def cmd_verify(conf: dict[str, Any], args: argparse.Namespace) -> int:
    job = config.job_named(conf, args.job)
    metrics = _metrics(conf, job)
    with _job_lock(conf.get("state_dir") or DEFAULT_STATE_DIR, job.name):
        try:
            doc = pipeline.verify(
                config.store_from(conf),
                job.layout,
                _identity(conf),
                job.conn,
                backup_id=args.id,
                query=job.verify_query,
            )
        except BaseException:
            metrics.verify_failed(time.time())
            metrics.save()
            raise
        metrics.verified(time.time())
        metrics.save()
    _print(doc)
    return 0


def cmd_prune(conf: dict[str, Any], args: argparse.Namespace) -> int:
    job = config.job_named(conf, args.job)
    result = prune.prune(config.store_from(conf, prune=True), job.layout, job.keep, dry_run=args.dry_run)
    result.pop("plan", None)
    _print(result)
    return 1 if result["failed"] else 0


def cmd_restore(conf: dict[str, Any], args: argparse.Namespace) -> int:
    job = config.job_named(conf, args.job)
    target = job.conn.with_database(args.database) if args.database else job.conn
    result = pipeline.restore(
        config.store_from(conf),
        job.layout,
        _identity(conf),
        target,
        backup_id=args.id,
        before=args.before,
        force=args.force,
        redis_path=args.path,
    )
    _print(result)
    return 0


def cmd_pitr_metrics(conf: dict[str, Any] | None, args: argparse.Namespace) -> int:
    app, sep, database = args.job.partition("/")
    if not (app and sep and database):
        raise BackupError(f"pitr-metrics: the job must be APP/DB, got {args.job!r}")
    state_dir = args.state_dir or DEFAULT_STATE_DIR
    with _job_lock(state_dir, f"pitr_{args.stanza}", wait=True):
        metrics = pitr.PitrMetrics(state_dir, args.metrics_dir, app, database, args.stanza).load()
        if args.run_type:
            metrics.record_run(args.run_type, args.run_result == "success", time.time())
        metrics.read(pgbackrest=args.pgbackrest, port=args.port)
        metrics.save()
    _print({"stanza": args.stanza, "metrics": metrics.metrics_path, "errors": metrics.errors})
    return 1 if metrics.errors else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opsdeck-backup", description="Backups of the databases of the opsdeck model.")
    p.add_argument("--config", default=os.environ.get("OPSDECK_BACKUP_CONFIG", DEFAULT_CONFIG))
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="back up one job")
    run.add_argument("job", help="APP/DB")
    run.set_defaults(fn=cmd_run)
    lst = sub.add_parser("list", help="list complete backups, newest first")
    lst.add_argument("job", nargs="?")
    lst.set_defaults(fn=cmd_list)
    ver = sub.add_parser("verify", help="test-restore the latest backup into a throwaway database")
    ver.add_argument("job")
    ver.add_argument("--id")
    ver.set_defaults(fn=cmd_verify)
    pru = sub.add_parser("prune", help="apply the job's retention")
    pru.add_argument("job")
    pru.add_argument("--dry-run", action="store_true")
    pru.set_defaults(fn=cmd_prune)
    res = sub.add_parser("restore", help="restore a backup into the job's database or another one")
    res.add_argument("job")
    which = res.add_mutually_exclusive_group()
    which.add_argument("--id")
    which.add_argument("--before", help="the latest backup finished at or before this ISO time")
    res.add_argument("--database", help="restore into this database instead of the job's")
    res.add_argument("--path", help="redis: write the RDB file here")
    res.add_argument("--force", action="store_true", help="replace a non-empty target")
    res.set_defaults(fn=cmd_restore)
    pm = sub.add_parser("pitr-metrics", help="write the textfile metrics of a pgBackRest stanza")
    pm.add_argument("job", help="APP/DB")
    pm.add_argument("--stanza", required=True)
    pm.add_argument("--port", required=True, type=int)
    pm.add_argument("--metrics-dir", required=True)
    pm.add_argument("--state-dir")
    pm.add_argument("--pgbackrest", default="pgbackrest")
    pm.add_argument("--run-type", choices=pitr.BACKUP_TYPES)
    pm.add_argument("--run-result", help="how the backup unit ended: success, or systemd's failure reason")
    pm.set_defaults(fn=cmd_pitr_metrics, needs_config=False)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        conf = config.load(args.config) if getattr(args, "needs_config", True) else None
        return int(args.fn(conf, args))
    except BackupError as exc:
        sys.stderr.write(f"opsdeck-backup: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("opsdeck-backup: interrupted\n")
        return 130
