#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_restore
short_description: Restore a backup of the application model into its database or another one
version_added: 0.2.0
description:
  - Picks the backup (the latest, the one with O(id), or the latest finished at or before O(before)), checks the
    stored object's SHA-256 against the manifest, then streams it through C(age -d) and C(zstd -d) into the engine's
    restore tool (C(pg_restore --single-transaction), C(mysql), C(mongorestore)) on O(target).
  - Refuses to write into a database that holds data unless O(force) is set (then PostgreSQL restores with
    C(--clean --if-exists), MySQL/MariaDB drops and recreates the database). A missing database is created.
  - Redis restores as a file, to O(path), or into O(target.container) (stopped, file copied to C(/data/dump.rdb),
    started), after C(redis-check-rdb) accepted it.
author:
  - opsdeck platform team (@opsdeck)
extends_documentation_fragment:
  - opsdeck.platform.attributes
  - opsdeck.platform.backup
  - opsdeck.platform.backup.identity
attributes:
  check_mode:
    support: full
    details: Selects the backup and checks that the target may be written (empty, or O(force)); restores nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: A second run finds the target not empty and fails unless O(force) is set.
options:
  target:
    description: The database to restore into.
    type: dict
    required: true
    suboptions:
      engine:
        description: The database engine (as the backup's; mysql and mariadb are interchangeable).
        type: str
        required: true
        choices: [postgres, mysql, mariadb, redis, mongodb, files]
      host:
        description: Host name or address of the server.
        type: str
      port:
        description: The server's port.
        type: int
      user:
        description: The account.
        type: str
      password:
        description: Its password.
        type: str
      container:
        description: Run the restore tools inside this container (Redis, restore into this container).
        type: str
      dbname:
        description: The database to restore into; O(database) by default. Engine V(files), the directory (absolute).
        type: str
      paths:
        description: Ignored (engine V(files) restores into the directory named by O(target.dbname)).
        type: list
        elements: str
  id:
    description: The backup to restore.
    type: str
  before:
    description: Restore the latest backup finished at or before this time (ISO 8601).
    type: str
  force:
    description: Replace the contents of a database that is not empty.
    type: bool
    default: false
  verify_checksum:
    description: Download and check the object's SHA-256 before touching the target (it is checked while restoring too).
    type: bool
    default: true
  path:
    description: Redis, write the restored RDB file here (mode 0600).
    type: path
"""

EXAMPLES = r"""
- name: Restore authdb as it was at 03:00 into a new database next to it
  opsdeck.platform.backup_restore:
    app: auth-service
    database: authdb
    store: "{{ opsdeck_backup_store }}"
    identity: "{{ vault_backup_age_identity }}"
    before: "2026-12-01T03:00:00Z"
    target: {engine: postgres, host: db1.internal, user: postgres, password: "{{ vault_pg }}", dbname: authdb_restored}
"""

RETURN = r"""
restored:
  description: The backup restored and where.
  returned: success
  type: dict
  sample:
    id: 20261201T020000Z-1a2b3c4d
    target: "postgres database 'authdb_restored' on db1.internal:5432"
    seconds: 38.4
    backup: {id: 20261201T020000Z-1a2b3c4d, finished_at: "2026-12-01T02:00:41Z", size: 52428800}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import catalog, pipeline
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError
from ansible_collections.opsdeck.platform.plugins.module_utils.backup_args import (
    common_spec,
    connection_of,
    connection_spec,
    identity_of,
    identity_spec,
    store_of,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **common_spec(),
            **identity_spec(),
            "target": connection_spec(),
            "id": {"type": "str"},
            "before": {"type": "str"},
            "force": {"type": "bool", "default": False},
            "verify_checksum": {"type": "bool", "default": True},
            "path": {"type": "path"},
        },
        required_one_of=[("identity", "identity_file")],
        mutually_exclusive=[("identity", "identity_file"), ("id", "before")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = pipeline.restore(
            store_of(p),
            catalog.Layout(p["app"], p["database"]),
            identity_of(p),
            connection_of(p, "target", p["database"]),
            backup_id=p["id"],
            before=p["before"],
            force=p["force"],
            verify_checksum=p["verify_checksum"],
            redis_path=p["path"],
            check_mode=module.check_mode,
        )
    except BackupError as exc:
        module.fail_json(msg=f"{p['app']}/{p['database']}: {exc}", exception=traceback.format_exc())
    module.exit_json(changed=True, restored=result)


if __name__ == "__main__":
    main()
