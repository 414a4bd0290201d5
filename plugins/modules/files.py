#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module files: a set of directories and small text files on a host, in one call.

Written because ansible.builtin.copy and ansible.builtin.file take one path a call: a role that
lays down ten configuration files in a loop pays ten module runs (copy runs two: stat, then copy
or file) on every no-change run. This module does what a loop of them does (content compared,
written atomically, owner, group and mode set through AnsibleModule's own helpers, check and diff
mode) for all the paths of one task.
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
  - Directories are handled first, in the order given, then the files.
  - For small text files (configuration, unit files, target lists). Large or binary files and templates checked by
    a command before they replace the old ones (C(validate)) are for M(ansible.builtin.copy) and
    M(ansible.builtin.template).
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
  description: The paths made, written or given another owner, group or mode (or that would be, in check mode).
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

import os
import stat
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

DEFAULT_FILE_MODE = "0644"
DEFAULT_DIR_MODE = "0755"


def _file_args(module: AnsibleModule, path: str, entry: dict[str, Any], mode: str | None) -> dict[str, Any]:
    """What AnsibleModule's file helpers take for ``path`` (no SELinux context or attributes set)."""
    return module.load_file_common_arguments(
        {"mode": mode, "owner": entry.get("owner"), "group": entry.get("group"), "attributes": None}, path=path
    )


def _attributes(module: AnsibleModule, args: dict[str, Any], diffs: list[dict[str, Any]]) -> bool:
    """Owner, group and mode set where they differ (only reported in check mode)."""
    diff = {"before": {"path": args["path"]}, "after": {"path": args["path"]}}
    changed = module.set_fs_attributes_if_different(args, False, diff, expand=False)
    if changed and module._diff:
        diffs.append(diff)
    return changed


def _directory(module: AnsibleModule, entry: dict[str, Any], diffs: list[dict[str, Any]]) -> bool:
    path = entry["path"]
    made = False
    if not os.path.isdir(path):
        if os.path.lexists(path):
            module.fail_json(msg=f"directories: {path} exists and is not a directory")
        made = True
        diffs.append({"before": {"path": path, "state": "absent"}, "after": {"path": path, "state": "directory"}})
        if module.check_mode:
            return True
        try:
            os.makedirs(path, mode=0o755)
        except OSError as exc:
            module.fail_json(msg=f"directories: cannot make {path}: {to_native(exc)}")
    mode = entry.get("mode") or (DEFAULT_DIR_MODE if made else None)
    return _attributes(module, _file_args(module, path, entry, mode), diffs) or made


def _file(module: AnsibleModule, entry: dict[str, Any], diffs: list[dict[str, Any]], show: bool) -> tuple[bool, bool]:
    """(attributes or content changed, content written) for one file."""
    path = entry["path"]
    wanted = to_bytes(entry["content"], errors="surrogate_or_strict")
    exists = os.path.lexists(path)
    if exists and not os.path.isfile(path):
        module.fail_json(msg=f"files: {path} exists and is not a regular file")
    current = None
    if exists:
        try:
            with open(path, "rb") as handle:
                current = handle.read()
        except OSError as exc:
            module.fail_json(msg=f"files: cannot read {path}: {to_native(exc)}")
    write = current != wanted
    if write:
        shown_before = "" if current is None else to_native(current, errors="replace")
        diffs.append(
            {
                "before_header": path if exists else f"{path} (absent)",
                "after_header": path,
                "before": shown_before if show else "(content hidden)\n",
                "after": entry["content"] if show else "(content hidden, changed)\n",
            }
        )
    mode = entry.get("mode") or (None if exists else DEFAULT_FILE_MODE)
    if write and not module.check_mode:
        if exists:  # what the entry leaves unset stays as the file had it
            st = os.stat(path)
            mode = mode or format(stat.S_IMODE(st.st_mode), "04o")
            entry = {"owner": str(st.st_uid), "group": str(st.st_gid), **{k: v for k, v in entry.items() if v}}
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            module.fail_json(msg=f"files: the directory of {path} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=".opsdeck-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(wanted)
            module.set_fs_attributes_if_different(_file_args(module, tmp, entry, mode), False, expand=False)
            os.replace(tmp, path)
        except OSError as exc:
            module.fail_json(msg=f"files: cannot write {path}: {to_native(exc)}")
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        return True, True
    if write:  # check mode: the attributes of a file not written yet cannot be compared
        return True, True
    return _attributes(module, _file_args(module, path, entry, mode), diffs), False


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
        },
        supports_check_mode=True,
    )
    for kind in ("directories", "files"):
        for entry in module.params[kind]:
            if not os.path.isabs(entry["path"]):
                module.fail_json(msg=f"{kind}: {entry['path']!r} is not an absolute path")
    diffs: list[dict[str, Any]] = []
    changed_paths, written = [], []
    for entry in module.params["directories"]:
        if _directory(module, entry, diffs):
            changed_paths.append(entry["path"])
    for entry in module.params["files"]:
        changed, wrote = _file(module, entry, diffs, module.params["diff_content"])
        if changed:
            changed_paths.append(entry["path"])
        if wrote:
            written.append(entry["path"])
    result: dict[str, Any] = {"changed": bool(changed_paths), "changed_paths": changed_paths, "written": written}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
