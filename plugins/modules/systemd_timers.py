#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module systemd_timers: a set of systemd service/timer pairs on a host, in one call.

Written because ansible.builtin.template, ansible.builtin.find, ansible.builtin.file and
ansible.builtin.systemd_service take one path or one unit a module run: the backup role's ten
timers took some forty module runs on every no-change run. This module writes the unit files
(through plugins/module_utils/files.py), removes the pairs no longer wanted, reloads systemd once,
restarts the timers whose schedule changed and starts and enables the rest, with one systemctl
call for each of those steps, and asks systemd the state of every timer in one ``systemctl show``.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: systemd_timers
short_description: systemd service and timer pairs on a host, written, pruned, started and enabled in one call
version_added: 0.1.0
description:
  - Writes C(<name>.service) and C(<name>.timer) in O(unit_dir) for each unit of O(units) whose content differs
    (atomically, root-owned, mode 0644).
  - Units in O(unit_dir) whose name matches a pattern of O(prune) and that O(units) does not name are stopped,
    disabled and removed (both files).
  - When a unit file was written or removed, runs C(systemctl daemon-reload) once.
  - Restarts the timers whose timer file changed (so that their next run is computed from the new schedule), then
    starts and enables the timers that are not active or not enabled, with one C(systemctl) call each.
  - The services are not started or enabled (their timers start them).
author:
  - opsdeck platform team (@opsdeck)
extends_documentation_fragment:
  - opsdeck.platform.attributes
attributes:
  check_mode:
    support: full
    details: >-
      Reports the unit files it would write or remove, the timers it would restart and those it would start or
      enable (from what systemd says of the units it has now); changes nothing.
  diff_mode:
    support: full
    details: The before and after of each unit file written, and the unit files removed.
  idempotent:
    support: full
options:
  units:
    description: The units; each a service and its timer.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The unit name without suffix (letters, digits and C(:_.@-)).
        type: str
        required: true
      service:
        description: The whole content of C(<name>.service).
        type: str
        required: true
      timer:
        description: The whole content of C(<name>.timer).
        type: str
        required: true
  prune:
    description:
      - Shell-style patterns of unit names (without suffix), such as V(opsdeck-backup-*). A service or timer file in
        O(unit_dir) that matches one and is not in O(units) is removed, its timer stopped and disabled first.
    type: list
    elements: str
    default: []
  unit_dir:
    description: The directory of the unit files.
    type: path
    default: /etc/systemd/system
requirements:
  - systemd as the host's init (C(systemctl) on PATH).
seealso:
  - module: ansible.builtin.systemd_service
  - module: opsdeck.platform.files
"""

EXAMPLES = r"""
- name: A nightly job and its timer; other example-job-* units are removed
  opsdeck.platform.systemd_timers:
    prune: [example-job-*]
    units:
      - name: example-job-nightly
        service: |
          [Service]
          Type=oneshot
          ExecStart=/usr/local/bin/example-job
        timer: |
          [Timer]
          OnCalendar=*-*-* 02:00:00
          [Install]
          WantedBy=timers.target
"""

RETURN = r"""
written:
  description: The unit files written or given back owner root and mode 0644 (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/example-job-nightly.timer]
removed:
  description: The unit files removed (or that would be).
  returned: always
  type: list
  elements: str
restarted:
  description: The timers restarted because their timer file changed (or that would be).
  returned: always
  type: list
  elements: str
started:
  description: The timers started and enabled because they were not active or not enabled (or that would be).
  returned: always
  type: list
  elements: str
"""

import fnmatch
import os
import re
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opsdeck.platform.plugins.module_utils.files import ensure_file, remove_file

UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.@-]+$")
SUFFIXES = (".service", ".timer")


def _systemctl(module: AnsibleModule, systemctl: str, *args: str) -> str:
    rc, out, err = module.run_command([systemctl, *args])
    if rc != 0:
        module.fail_json(msg=f"systemctl {' '.join(args)} failed (rc {rc}): {(err or out).strip()}")
    return out


def _states(module: AnsibleModule, systemctl: str, timers: list[str]) -> dict[str, dict[str, str]]:
    """ActiveState and UnitFileState of each timer, from one ``systemctl show``."""
    if not timers:
        return {}
    out = _systemctl(module, systemctl, "show", "--property=Id,ActiveState,UnitFileState", "--", *timers)
    states: dict[str, dict[str, str]] = {}
    for block in out.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in props:
            states[props["Id"]] = props
    return states


def _stale(unit_dir: str, patterns: list[str], wanted: set[str]) -> list[str]:
    """The unit files in ``unit_dir`` that a pattern matches and ``wanted`` does not name, sorted."""
    if not patterns or not os.path.isdir(unit_dir):
        return []
    stale = []
    for entry in os.listdir(unit_dir):
        base, suffix = os.path.splitext(entry)
        if suffix not in SUFFIXES or base in wanted or not os.path.isfile(os.path.join(unit_dir, entry)):
            continue
        if any(fnmatch.fnmatchcase(base, pattern) for pattern in patterns):
            stale.append(entry)
    return sorted(stale)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "units": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "service": {"type": "str", "required": True},
                    "timer": {"type": "str", "required": True},
                },
            },
            "prune": {"type": "list", "elements": "str", "default": []},
            "unit_dir": {"type": "path", "default": "/etc/systemd/system"},
        },
        supports_check_mode=True,
    )
    units, unit_dir = module.params["units"], module.params["unit_dir"]
    names = [unit["name"] for unit in units]
    for name in names:
        if not UNIT_NAME.match(name):
            module.fail_json(msg=f"units: {name!r} is not a unit name (letters, digits and :_.@- only)")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        module.fail_json(msg=f"units: named twice: {', '.join(duplicates)}")
    stale = _stale(unit_dir, module.params["prune"], set(names))
    if not units and not stale:  # nothing to ask systemd about: a host without systemd is fine
        module.exit_json(changed=False, written=[], removed=[], restarted=[], started=[])
    if not os.path.isdir(unit_dir):
        module.fail_json(msg=f"unit_dir: {unit_dir} is not a directory")
    systemctl = module.get_bin_path("systemctl", required=True)  # before anything is written

    diffs: list[dict[str, Any]] = []
    written, reschedule = [], []
    for unit in units:
        for suffix in SUFFIXES:
            path = os.path.join(unit_dir, unit["name"] + suffix)
            existed = os.path.lexists(path)
            entry = {"path": path, "content": unit[suffix[1:]], "owner": "root", "group": "root", "mode": "0644"}
            changed, wrote = ensure_file(module, entry, diffs)
            if changed:
                written.append(path)
            if wrote and suffix == ".timer" and existed:
                reschedule.append(unit["name"] + ".timer")

    stale_timers = [entry for entry in stale if entry.endswith(".timer")]
    if stale_timers and not module.check_mode:
        _systemctl(module, systemctl, "disable", "--now", "--", *stale_timers)
    paths = [os.path.join(unit_dir, entry) for entry in stale]
    removed = [path for path in paths if remove_file(module, path, diffs)]

    if (written or removed) and not module.check_mode:
        _systemctl(module, systemctl, "daemon-reload")

    # In check mode systemd still has the old units (or none): what it says is what the run would find.
    timers = [name + ".timer" for name in names]
    states = _states(module, systemctl, timers)
    restarted = [timer for timer in reschedule if states.get(timer, {}).get("ActiveState") == "active"]
    settled = {"ActiveState": "active", "UnitFileState": "enabled"}
    started = [
        timer for timer in timers if any(states.get(timer, {}).get(key) != value for key, value in settled.items())
    ]
    if not module.check_mode:
        if restarted:
            _systemctl(module, systemctl, "restart", "--", *restarted)
        if started:
            _systemctl(module, systemctl, "enable", "--now", "--", *started)

    result: dict[str, Any] = {
        "changed": bool(written or removed or restarted or started),
        "written": written,
        "removed": removed,
        "restarted": restarted,
        "started": started,
    }
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
