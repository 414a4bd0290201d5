#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module files: a set of directories and small text files on a host, in one call.

Written because ansible.builtin.copy and ansible.builtin.file take one path a call: a role that
lays down ten configuration files in a loop pays ten module runs (copy runs two: stat, then copy
or file) on every no-change run. This module does what a loop of them does for all the paths of
one task, through plugins/module_utils/files.py.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: files
short_description: Directories and small text files on a host, in one call
version_added: 0.1.0
description:
  - Makes each directory of O(directories) (with its parents) and writes each file of O(files) whose content differs
    from the wanted one, atomically (a temporary file in the same directory, then renamed), and sets owner, group
    and mode where they differ. What a loop of M(ansible.builtin.file) and M(ansible.builtin.copy) tasks does, in
    one module run instead of one or two per path.
  - Directories are handled first, in the order given, then the files, then the paths of O(absent).
  - For small text files (configuration, unit files, target lists, rule files checked by O(validate)). Large or
    binary files are for M(ansible.builtin.copy).
author:
  - opsdeck platform team (@opsdeck)
extends_documentation_fragment:
  - opsdeck.platform.attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be made, written or have its owner, group or mode changed; changes nothing.
  diff_mode:
    support: full
    details: The before and after of each file's content (unless O(diff_content=false)) and of each path's state.
  idempotent:
    support: full
options:
  directories:
    description: The directories, each made with its parents when missing.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      owner:
        description: Its owner (name or number); unchanged when not set.
        type: str
      group:
        description: Its group (name or number); unchanged when not set.
        type: str
      mode:
        description: Its mode, an octal string such as V('0755'); V('0755') for a new one when not set.
        type: str
  files:
    description: The files.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path; its directory must exist (or be in O(directories)).
        type: path
        required: true
      content:
        description: The whole content of the file, as text (written as UTF-8).
        type: str
        required: true
      owner:
        description: Its owner (name or number); the writer's when not set.
        type: str
      group:
        description: Its group (name or number); the writer's when not set.
        type: str
      mode:
        description: Its mode, an octal string such as V('0644'); V('0644') for a new one when not set.
        type: str
  diff_content:
    description: Show the files' content in diff mode. Set V(false) for content that must not reach the output.
    type: bool
    default: true
  absent:
    description: Files (or links) removed when they exist, after the files are written (those a role no longer writes).
    type: list
    elements: path
    default: []
  prune:
    description:
      - Absolute glob patterns (such as V(/opt/engine/*.py)); a file or link that matches one and is not a path of
        O(files) is removed, after the files are written. For a directory whose whole content the task owns, a file the
        role no longer ships goes without a listing task of its own.
      - Only the last part of a pattern may hold wildcards; directories that match are left alone.
    type: list
    elements: str
    default: []
  validate:
    description:
      - A command that checks each file to be written, with V(%s) for the path of its new content (a temporary file
        in the file's directory), as in M(ansible.builtin.copy). It runs only for files whose content changes, and not
        in check mode.
      - With it, the new files replace the old ones only after every one has passed. A file that fails leaves all the
        files of the task as they were, and the module fails with the command's output.
    type: str
notes:
  - A file whose content holds secrets belongs in a task with C(no_log=true) and O(diff_content=false).
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Make Prometheus's directories and write its file_sd target lists, in one module run
  opsdeck.platform.files:
    directories:
      - {path: /opt/opsdeck/monitoring/prometheus, owner: root, group: root, mode: "0755"}
      - {path: /opt/opsdeck/monitoring/prometheus/file_sd, owner: root, group: root, mode: "0755"}
    files: >-
      {{ targets | opsdeck.platform.file_entries('/opt/opsdeck/monitoring/prometheus/file_sd/{}.json',
                                                 as_json=true, owner='root', group='root', mode='0644') }}

- name: A unit file
  opsdeck.platform.files:
    files:
      - path: /etc/systemd/system/example.service
        content: |
          [Service]
          ExecStart=/usr/local/bin/example
"""

RETURN = r"""
changed_paths:
  description:
    - The paths made, written, removed (O(absent) and O(prune)) or given another owner, group or mode (or that would
      be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/opt/opsdeck/monitoring/prometheus/file_sd/apps.json]
written:
  description: The files whose content was (or would be) written.
  returned: always
  type: list
  elements: str
"""

import glob
import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opsdeck.platform.plugins.module_utils.files import (
    commit,
    ensure_directory,
    ensure_file,
    remove_file,
)


def main() -> None:
    path_options = {
        "path": {"type": "path", "required": True},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "mode": {"type": "str"},
    }
    module = AnsibleModule(
        argument_spec={
            "directories": {"type": "list", "elements": "dict", "default": [], "options": path_options},
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {**path_options, "content": {"type": "str", "required": True}},
            },
            "diff_content": {"type": "bool", "default": True},
            "validate": {"type": "str"},
            "absent": {"type": "list", "elements": "path", "default": []},
            "prune": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    for kind in ("directories", "files"):
        for entry in module.params[kind]:
            if not os.path.isabs(entry["path"]):
                module.fail_json(msg=f"{kind}: {entry['path']!r} is not an absolute path")
    for path in module.params["absent"]:
        if not os.path.isabs(path):
            module.fail_json(msg=f"absent: {path!r} is not an absolute path")
        if os.path.isdir(path) and not os.path.islink(path):
            module.fail_json(msg=f"absent: {path} is a directory (only files are removed)")
    for pattern in module.params["prune"]:
        if not os.path.isabs(pattern) or any(c in os.path.dirname(pattern) for c in "*?["):
            module.fail_json(msg=f"prune: {pattern!r} is not an absolute path with wildcards in its last part only")
    validate = module.params["validate"]
    if validate and "%s" not in validate:
        module.fail_json(msg=f"validate: {validate!r} has no %s for the file to check")
    staged: list[tuple[str, str]] = []
    diffs: list[dict[str, Any]] = []
    changed_paths, written = [], []
    for entry in module.params["directories"]:
        if ensure_directory(module, entry, diffs):
            changed_paths.append(entry["path"])
    for entry in module.params["files"]:
        changed, wrote = ensure_file(
            module, entry, diffs, module.params["diff_content"], validate, staged if validate else None
        )
        if changed:
            changed_paths.append(entry["path"])
        if wrote:
            written.append(entry["path"])
    commit(module, staged)  # with validate: no file replaced unless every one passed its check
    kept = {entry["path"] for entry in module.params["files"]}
    pruned = sorted(
        path
        for pattern in module.params["prune"]
        for path in glob.glob(pattern)
        if path not in kept and (os.path.islink(path) or not os.path.isdir(path))
    )
    for path in list(dict.fromkeys(module.params["absent"] + pruned)):
        if remove_file(module, path, diffs):
            changed_paths.append(path)
    result: dict[str, Any] = {"changed": bool(changed_paths), "changed_paths": changed_paths, "written": written}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
