#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_verify
short_description: Prove a backup restores, by restoring it into a throwaway database
version_added: 0.2.0
description:
  - Downloads the backup, checks its SHA-256 against the manifest, decrypts it with the age identity, and restores it
    into a new throwaway database (C(opsdeck_verify_<id>)) on O(server); runs O(query), whose answer must be true;
    drops the throwaway database, pass or fail.
  - For Redis the RDB file is restored into a temporary directory and checked with C(redis-check-rdb); with
    O(query), a private C(redis-server) on a Unix socket loads it and answers the command (non-zero to pass).
  - Records the success as an object next to the backup (C(verified-<time>.json)); the manifest, possibly under Object
    Lock, is never rewritten. M(opsdeck.platform.backup_info) returns it as C(verified_at), and
    M(opsdeck.platform.backup_prune) never deletes the newest verified backup.
author:
  - opsdeck platform team (@opsdeck)
extends_documentation_fragment:
  - opsdeck.platform.attributes
  - opsdeck.platform.backup
  - opsdeck.platform.backup.identity
attributes:
  check_mode:
    support: full
    details: Selects the backup and reports that it would be verified; restores nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each run is a new test restore and, with O(record), a new record.
options:
  server:
    description:
      - The server the throwaway database is created on, with an account allowed to create and drop databases.
        Not needed for Redis.
    type: dict
    suboptions:
      engine:
        description: The database engine (as the backup's).
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
        description: Run the restore tools inside this container.
        type: str
      dbname:
        description: Ignored (the throwaway database gets its own name).
        type: str
      paths:
        description: Ignored (engine V(files) restores into the directory named by O(server.dbname)).
        type: list
        elements: str
  id:
    description: The backup to verify; the newest complete one by default.
    type: str
  query:
    description:
      - SQL whose first column of the first row must be true (or a non-zero number) after the restore, for example
        V(SELECT count(*) > 0 FROM users). For Redis, a command such as V(DBSIZE) whose answer must be non-zero.
    type: str
  record:
    description: Record a success next to the backup (it feeds C(verified_at) and the restore-test freshness alert).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Test-restore the latest authdb backup and check the users are there
  opsdeck.platform.backup_verify:
    app: auth-service
    database: authdb
    store: "{{ opsdeck_backup_store }}"
    identity: "{{ vault_backup_age_identity }}"
    server: {engine: postgres, host: scratch-db.internal, user: postgres, password: "{{ vault_scratch_pg }}"}
    query: SELECT count(*) > 0 FROM users
"""

RETURN = r"""
verification:
  description: What was restored and checked.
  returned: success, not in check mode
  type: dict
  sample:
    id: 20261201T020000Z-1a2b3c4d
    verified_at: "2026-12-01T05:00:12Z"
    seconds: 41.2
    query: SELECT count(*) > 0 FROM users
    answer: t
    restored_into: "postgres database 'opsdeck_verify_20261201t020000z_1a2b3c4d' on scratch-db.internal:5432"
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import catalog, pipeline
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.sources import Connection
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
            "server": connection_spec(required=False),
            "id": {"type": "str"},
            "query": {"type": "str"},
            "record": {"type": "bool", "default": True},
        },
        required_one_of=[("identity", "identity_file")],
        mutually_exclusive=[("identity", "identity_file")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        store = store_of(p)
        layout = catalog.Layout(p["app"], p["database"])
        chosen = catalog.select(catalog.list_backups(store, layout.app, layout.database), backup_id=p["id"])
        if module.check_mode:
            module.exit_json(changed=True, msg=f"would test-restore backup {chosen['id']}")
        if p["server"]:
            server = connection_of(p, "server", p["database"])
        elif chosen["engine"] in ("redis", "files"):
            server = Connection(chosen["engine"], p["database"])
        else:
            raise BackupError("server: a server to restore a throwaway database into is required")
        doc = pipeline.verify(
            store, layout, identity_of(p), server, backup_id=chosen["id"], query=p["query"], record=p["record"]
        )
    except BackupError as exc:
        module.fail_json(msg=f"{p['app']}/{p['database']}: {exc}", exception=traceback.format_exc())
    module.exit_json(changed=p["record"], verification=doc)


if __name__ == "__main__":
    main()
