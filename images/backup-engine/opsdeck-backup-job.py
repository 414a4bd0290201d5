# SPDX-License-Identifier: GPL-3.0-or-later
"""opsdeck-backup-job: the entry point of the backup engine's image (Kubernetes CronJobs of k8s_app).

    opsdeck-backup-job APP/DB STEP [STEP...]     STEP: run, prune, verify, list
    opsdeck-backup-job -- ARG...                 one opsdeck-backup command as given (restore, ...)

The engine's config.json is a Secret volume (OPSDECK_BACKUP_CONFIG_SOURCE, default
/etc/opsdeck-backup/config/config.json). The kubelet hands it over group-readable for the pod's
fsGroup, which the engine refuses for a file with credentials; so it is copied first to a
private file (0600, this user's) in OPSDECK_BACKUP_RUNTIME_DIR (a memory-backed emptyDir), and
the steps run with that copy, in order: the first that fails ends the Job with its exit status
(``run prune``: retention only after a good backup, as ExecStartPost does on hosts).
"""

import os
import sys

sys.path.insert(0, "/usr/local/lib/opsdeck-backup")
from opsdeck_backup.cli import main

STEPS = ("run", "prune", "verify", "list")


def private_config() -> str:
    source = os.environ.get("OPSDECK_BACKUP_CONFIG_SOURCE", "/etc/opsdeck-backup/config/config.json")
    runtime = os.environ.get("OPSDECK_BACKUP_RUNTIME_DIR", "/run/opsdeck-backup")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    target = os.path.join(runtime, "config.json")
    with open(source, "rb") as handle:
        data = handle.read()
    fd = os.open(target + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(target + ".tmp", 0o600)
    os.replace(target + ".tmp", target)
    return target


def run(argv: list[str]) -> int:
    if argv[:1] == ["--"] and len(argv) > 1:
        return main(["--config", private_config(), *argv[1:]])
    if len(argv) < 2 or "/" not in argv[0] or any(step not in STEPS for step in argv[1:]):
        sys.stderr.write(__doc__)
        return 2
    config = private_config()
    for step in argv[1:]:
        status = main(["--config", config, step, argv[0]])
        if status:
            sys.stderr.write(f"opsdeck-backup-job: {step} {argv[0]} failed (exit {status})\n")
            return status
    return 0


if __name__ == "__main__":
    try:
        sys.exit(run(sys.argv[1:]))
    except OSError as exc:
        sys.stderr.write(f"opsdeck-backup-job: {exc}\n")
        sys.exit(1)
