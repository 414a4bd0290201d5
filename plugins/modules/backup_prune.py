#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_prune
short_description: Apply a retention policy to the backups of one app's database
version_added: 0.2.0
description:
  - Keeps the newest O(keep.last) backups and the newest backup of each of the last O(keep.hourly) hours,
    O(keep.daily) days, O(keep.weekly) ISO weeks, O(keep.monthly) months and O(keep.yearly) years (UTC), like
    restic's and borg's C(forget); deletes the other complete backups of that one app and database, nothing else.
  - Never deletes the newest verified backup. A backup under Object Lock is reported in RV(locked) and RV(kept),
    not as an error. Failed runs (objects without a manifest) older than O(incomplete_after) seconds are deleted too.
  - The manifest of a backup is deleted first, so a prune cut short never leaves a listed backup with missing data.
  - Give it the pruner's credentials in O(store); the writer of the backups needs no delete right.
author:
  - opsdeck platform team (@opsdeck)
extends_documentation_fragment:
  - opsdeck.platform.attributes
  - opsdeck.platform.backup
attributes:
  check_mode:
    support: full
    details: Computes the plan and deletes nothing; RV(would_delete) lists exactly what would go.
  diff_mode:
    support: full
    details: C(before) lists the backup ids present, C(after) those that stay.
  idempotent:
    support: full
options:
  keep:
    description: The retention policy, the shape of the model's C(databases[].backup.keep). At least one count above 0.
    type: dict
    required: true
    suboptions:
      last:
        description: Newest backups kept whatever their time.
        type: int
        default: 0
      hourly:
        description: Hours with a backup kept (the newest backup of each).
        type: int
        default: 0
      daily:
        description: Days kept.
        type: int
        default: 0
      weekly:
        description: ISO weeks kept.
        type: int
        default: 0
      monthly:
        description: Months kept.
        type: int
        default: 0
      yearly:
        description: Years kept.
        type: int
        default: 0
  incomplete_after:
    description: Seconds after which objects of a run that wrote no manifest count as a failed run and are deleted.
    type: int
    default: 86400
"""

EXAMPLES = r"""
- name: Keep 7 daily, 4 weekly and 6 monthly backups of authdb (show what would go first)
  opsdeck.platform.backup_prune:
    app: auth-service
    database: authdb
    store: "{{ opsdeck_backup_prune_store }}"
    keep: {daily: 7, weekly: 4, monthly: 6}
  check_mode: true
  diff: true
"""

RETURN = r"""
kept:
  description: Ids of the backups that stay, newest first.
  returned: always
  type: list
  elements: str
  sample: [20261201T020000Z-1a2b3c4d]
deleted:
  description: Ids of the backups deleted (empty in check mode).
  returned: always
  type: list
  elements: str
  sample: [20261101T020000Z-0a0b0c0d]
would_delete:
  description: Ids the policy lets go (what check mode would delete).
  returned: always
  type: list
  elements: str
  sample: [20261101T020000Z-0a0b0c0d]
locked:
  description: Ids kept only because their objects are under Object Lock.
  returned: always
  type: list
  elements: str
  sample: []
incomplete_deleted:
  description: Ids of failed runs whose objects were deleted.
  returned: always
  type: list
  elements: str
  sample: []
plan:
  description: The retention plan, each kept backup with the rules that keep it.
  returned: always
  type: dict
  sample: {keep: [{id: 20261201T020000Z-1a2b3c4d, reasons: ["daily 1/7", "weekly 1/4"]}], delete: [], locked: []}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opsdeck.platform.plugins.module_utils.backup.catalog import Layout
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.prune import prune
from ansible_collections.opsdeck.platform.plugins.module_utils.backup_args import common_spec, store_of

KEEP = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **common_spec(),
            "keep": {
                "type": "dict",
                "required": True,
                "options": {k: {"type": "int", "default": 0} for k in KEEP},
            },
            "incomplete_after": {"type": "int", "default": 86400},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = prune(
            store_of(p),
            Layout(p["app"], p["database"]),
            p["keep"],
            dry_run=module.check_mode,
            incomplete_after=p["incomplete_after"],
        )
    except BackupError as exc:
        module.fail_json(msg=f"{p['app']}/{p['database']}: {exc}", exception=traceback.format_exc())
    gone = set(result["would_delete"])
    before = sorted(set(result["kept"]) | gone, reverse=True)
    diff = {"before": "\n".join(before) + "\n", "after": "\n".join(i for i in before if i not in gone) + "\n"}
    if result["failed"]:
        module.fail_json(msg=f"{p['app']}/{p['database']}: some backups could not be deleted", **result)
    module.exit_json(diff=diff, **result)


if __name__ == "__main__":
    main()
