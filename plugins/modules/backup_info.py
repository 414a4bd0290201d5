#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_info
short_description: List the complete backups of an app's database, newest first
version_added: 0.2.0
description:
  - Reads the manifests under the store. A backup is complete when its manifest exists (it is written last); runs
    that failed or are still running have none and are listed only with O(include_incomplete).
  - Each backup carries C(verified_at), the time of its latest successful test restore
    (M(opsdeck.platform.backup_verify)).
author:
  - opsdeck platform team (@opsdeck)
extends_documentation_fragment:
  - opsdeck.platform.attributes
  - opsdeck.platform.backup
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: N/A
  idempotent:
    support: full
options:
  database:
    description: The database's name in the model; V(*) for every database of the app.
    type: str
    required: true
  id:
    description: Only the backup with this id.
    type: str
  before:
    description: Only the latest backup finished at or before this time (ISO 8601, for example V(2026-12-01T03:00:00Z)).
    type: str
  latest:
    description: Only the newest backup (with O(verified), the newest verified one).
    type: bool
    default: false
  verified:
    description: Only backups with a successful test restore.
    type: bool
    default: false
  include_incomplete:
    description: Also list the ids that have objects but no manifest (failed or running backups).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The latest verified backup of authdb
  opsdeck.platform.backup_info:
    app: auth-service
    database: authdb
    store: "{{ opsdeck_backup_store }}"
    latest: true
    verified: true
  register: __latest

- name: Every backup of the app
  opsdeck.platform.backup_info:
    app: auth-service
    database: "*"
    store: "{{ opsdeck_backup_store }}"
"""

RETURN = r"""
backups:
  description: The complete backups (manifests plus C(verified_at)), newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 20261201T020000Z-1a2b3c4d
      app: auth-service
      database: authdb
      engine: postgres
      finished_at: "2026-12-01T02:00:41Z"
      verified_at: "2026-12-01T05:00:12Z"
      complete: true
latest:
  description: The first of RV(backups), or null when there is none.
  returned: always
  type: dict
  sample: {id: 20261201T020000Z-1a2b3c4d, finished_at: "2026-12-01T02:00:41Z"}
incomplete:
  description: With O(include_incomplete), the ids that have objects but no manifest, and their keys.
  returned: always
  type: list
  elements: dict
  sample: [{id: 20261201T010000Z-0f0f0f0f, keys: [auth-service/authdb/20261201T010000Z-0f0f0f0f/data.pgdump.zst.age]}]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import catalog
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError
from ansible_collections.opsdeck.platform.plugins.module_utils.backup_args import common_spec, store_of


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **common_spec(),
            "id": {"type": "str"},
            "before": {"type": "str"},
            "latest": {"type": "bool", "default": False},
            "verified": {"type": "bool", "default": False},
            "include_incomplete": {"type": "bool", "default": False},
        },
        mutually_exclusive=[("id", "before")],
        supports_check_mode=True,
    )
    p = module.params
    database = None if p["database"] == "*" else p["database"]
    try:
        found = catalog.list_backups(store_of(p), p["app"], database, include_incomplete=p["include_incomplete"])
        complete = [b for b in found if b.get("complete")]
        incomplete = [{"id": b["id"], "keys": b["keys"]} for b in found if not b.get("complete")]
        if p["verified"]:
            complete = [b for b in complete if b.get("verified_at")]
        if p["id"] or p["before"]:
            complete = [catalog.select(complete, backup_id=p["id"], before=p["before"])]
        if p["latest"]:
            complete = complete[:1]
    except BackupError as exc:
        module.fail_json(msg=f"{p['app']}/{p['database']}: {exc}", exception=traceback.format_exc())
    module.exit_json(changed=False, backups=complete, latest=complete[0] if complete else None, incomplete=incomplete)


if __name__ == "__main__":
    main()
