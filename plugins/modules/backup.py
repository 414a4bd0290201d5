#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup
short_description: Back up one database of the application model, compressed, encrypted and write-once
version_added: 0.2.0
description:
  - Streams the database's dump (C(pg_dump) custom format plus C(pg_dumpall --globals-only), C(mysqldump
    --single-transaction), C(redis-cli --rdb), C(mongodump --archive)) through zstd and age into the store, never
    holding the whole backup in memory or on local disk.
  - Fails closed. A dump that exits non-zero, prints nothing, or fails its format check (C(pg_restore --list), the
    mysqldump completion line, the RDB end-of-file opcode) never becomes a complete backup. The upload is aborted and
    no manifest is written, so the run is not listed by M(opsdeck.platform.backup_info).
  - Encrypted to age X25519 public keys. The host that writes a backup cannot read it.
  - Built on the engine in C(plugins/module_utils/backup/), which the M(opsdeck.platform.backup_info),
    M(opsdeck.platform.backup_prune), M(opsdeck.platform.backup_verify) and M(opsdeck.platform.backup_restore)
    modules and the C(opsdeck-backup) command of the
    R(opsdeck.platform.backup,ansible_collections.opsdeck.platform.backup_role) role share.
author:
  - opsdeck platform team (@opsdeck)
extends_documentation_fragment:
  - opsdeck.platform.attributes
  - opsdeck.platform.backup
attributes:
  check_mode:
    support: full
    details: Reports whether a backup would be taken (always, unless O(fresh_within) finds a recent one); takes none.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: Every run takes a new backup, unless O(fresh_within) is set and a complete backup that recent exists.
options:
  source:
    description: How to reach the database to back up (see the notes).
    type: dict
    required: true
    suboptions:
      engine:
        description: The database engine.
        type: str
        required: true
        choices: [postgres, mysql, mariadb, redis, mongodb, files]
      host:
        description: Host name or address of the server; unset for a local socket (or inside O(source.container)).
        type: str
      port:
        description: The server's port.
        type: int
      user:
        description: The account to connect as.
        type: str
      password:
        description: Its password.
        type: str
      container:
        description: Run the dump inside this container with the container's own tools.
        type: str
      dbname:
        description: The database's name on the server, when it differs from O(database).
        type: str
      paths:
        description:
          - Engine V(files), the absolute paths (files, directories, a volume's mount point) archived with GNU tar.
          - With O(source.container), paths inside the container.
        type: list
        elements: str
  recipients:
    description: age X25519 public keys (C(age1...)) the backup is encrypted to; any of their identities decrypts it.
    type: list
    elements: str
    required: true
  compression_level:
    description: zstd level (1-19).
    type: int
    default: 3
  globals:
    description: For PostgreSQL, also back up roles and tablespaces (C(pg_dumpall --globals-only)).
    type: bool
    default: true
  fresh_within:
    description: Take no backup when a complete one finished less than this many seconds ago (0 to always take one).
    type: int
    default: 0
  stale_upload_seconds:
    description: Abort the job's unfinished uploads older than this (left by a run that could not abort them).
    type: int
    default: 21600
  metrics_dir:
    description:
      - The node exporter textfile directory of the host (the backup role's C(backup_metrics_dir)). When set
        and present, the outcome of this run (success or failure) is recorded in the job's metrics there, as a
        scheduled run records it, so that a backup taken by hand counts for the backup alerts too. The run
        then also takes the job's lock in O(state_dir); while a scheduled run of the same job is going on,
        it waits for that run to end, then takes its own backup.
      - When the directory does not exist (the backup role is not installed on the host), or this user cannot
        write it or O(state_dir), nothing is recorded and the module warns.
    type: path
  state_dir:
    description: Where the job's metrics state and lock live (the backup role's C(backup_state_dir)).
    type: path
    default: /var/lib/opsdeck-backup
"""

EXAMPLES = r"""
- name: Back up the auth database to S3 with a 30-day compliance lock
  opsdeck.platform.backup:
    app: auth-service
    database: authdb
    source: {engine: postgres, host: db1.internal, user: backup, password: "{{ vault_authdb_backup_password }}"}
    store:
      bucket: acme-backups
      region: eu-west-1
      lock_mode: COMPLIANCE
      lock_days: 30
      access_key: "{{ vault_backup_writer_key }}"
      secret_key: "{{ vault_backup_writer_secret }}"
    recipients: "{{ opsdeck_backup_recipients }}"

- name: Back up a database that lives in a compose project, unless one is less than a day old
  opsdeck.platform.backup:
    app: shop
    database: orders
    source: {engine: mariadb, container: shop-db-1, user: root, password: "{{ vault_shop_db_root }}"}
    store: {type: local, path: /srv/backups}
    recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
    fresh_within: 86400
"""

RETURN = r"""
backup:
  description: The manifest of the backup taken (or of the recent one found with O(fresh_within)).
  returned: success, not in check mode
  type: dict
  sample:
    id: 20261201T020000Z-1a2b3c4d
    app: auth-service
    database: authdb
    engine: postgres
    started_at: "2026-12-01T02:00:00Z"
    finished_at: "2026-12-01T02:00:41Z"
    objects:
      data:
        key: auth-service/authdb/20261201T020000Z-1a2b3c4d/data.pgdump.zst.age
        size: 52428800
        sha256: "9f86d0..."
    checks: {data: "pg_restore --list: 214 entries"}
    lock: {mode: COMPLIANCE, until: "2026-12-31T02:00:00Z"}
    restore_by_hand: "age -d -i KEY.txt data.pgdump.zst.age | zstd -d | pg_restore ... -d DBNAME"
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import catalog, pipeline
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.metrics import DEFAULT_STATE_DIR
from ansible_collections.opsdeck.platform.plugins.module_utils.backup_args import (
    common_spec,
    connection_spec,
    job_of,
    store_of,
)


def _writable(metrics_dir: str, state_dir: str) -> bool:
    """The metrics directory exists and is writable, and so is the state directory (or where it goes)."""
    state = state_dir if os.path.isdir(state_dir) else os.path.dirname(state_dir.rstrip("/")) or "/"
    return os.path.isdir(metrics_dir) and os.access(metrics_dir, os.W_OK) and os.access(state, os.W_OK)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **common_spec(),
            "source": connection_spec(),
            "recipients": {"type": "list", "elements": "str", "required": True},
            "compression_level": {"type": "int", "default": 3},
            "globals": {"type": "bool", "default": True},
            "fresh_within": {"type": "int", "default": 0},
            "stale_upload_seconds": {"type": "int", "default": 21600},
            "metrics_dir": {"type": "path"},
            "state_dir": {"type": "path", "default": DEFAULT_STATE_DIR},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        job = job_of(p, globals=p["globals"])
        settings = pipeline.Settings(
            recipients=p["recipients"],
            compression_level=p["compression_level"],
            lock_mode=p["store"].get("lock_mode"),
            lock_days=p["store"].get("lock_days") or 0,
            stale_upload_seconds=p["stale_upload_seconds"],
        )
        settings.validate()
        store = store_of(p)
        if p["fresh_within"] > 0:
            recent = catalog.list_backups(store, job.app, job.database)
            if recent:
                age = (catalog.utcnow() - catalog.parse_iso(recent[0]["finished_at"])).total_seconds()
                if age < p["fresh_within"]:
                    module.exit_json(changed=False, backup=recent[0], msg=f"a backup {age:.0f} s old exists")
        if module.check_mode:
            module.exit_json(changed=True, msg=f"would back up {job.name}")
        metrics_dir = p["metrics_dir"]
        if metrics_dir and not _writable(metrics_dir, p["state_dir"]):
            module.warn(
                f"metrics_dir {metrics_dir} does not exist, or it or state_dir {p['state_dir']} is not writable "
                "by this user (become?): this backup is not recorded in the metrics"
            )
            metrics_dir = None
        if metrics_dir:
            manifest = pipeline.recorded_backup(job, store, settings, state_dir=p["state_dir"], metrics_dir=metrics_dir)
        else:
            manifest = pipeline.backup(job, store, settings)
    except BackupError as exc:
        module.fail_json(msg=f"{p['app']}/{p['database']}: {exc}", exception=traceback.format_exc())
    module.exit_json(changed=True, backup=manifest)


if __name__ == "__main__":
    main()
