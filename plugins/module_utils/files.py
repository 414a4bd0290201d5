# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Directories and small text files for the modules that lay many of them down in one run.

What ansible.builtin.file and ansible.builtin.copy do for one path (content compared, written
atomically, owner, group and mode set through AnsibleModule's own helpers, check and diff mode),
as functions that the modules files and systemd_timers call once a path. Those modules exist
because the builtins take one path a module run.

An entry is a mapping with ``path`` and optional ``owner``, ``group`` and ``mode`` (and
``content`` for a file). Diffs are appended to the list passed in, in the shape of the builtins'.
"""

from __future__ import annotations

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


def ensure_directory(module: AnsibleModule, entry: dict[str, Any], diffs: list[dict[str, Any]]) -> bool:
    """The directory of ``entry`` made (with its parents) and given its attributes: whether it changed."""
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


def discard(staged: list[tuple[str, str]]) -> None:
    """The temporary files of ``staged`` removed (a run that failed before committing them)."""
    for tmp, _path in staged:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    staged.clear()


def commit(module: AnsibleModule, staged: list[tuple[str, str]]) -> None:
    """Each temporary file of ``staged`` renamed over its path."""
    try:
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as exc:
        discard(staged)
        module.fail_json(msg=f"files: cannot write {path}: {to_native(exc)}")
    staged.clear()


def ensure_file(
    module: AnsibleModule,
    entry: dict[str, Any],
    diffs: list[dict[str, Any]],
    show: bool = True,
    validate: str | None = None,
    staged: list[tuple[str, str]] | None = None,
) -> tuple[bool, bool]:
    """The file of ``entry`` with its content and attributes: (anything changed, content written).

    ``show``: the content goes into the diff (else a line saying it is hidden). ``validate``: a
    command with ``%s`` run on the new content (a temporary file beside the path) before it
    replaces the old; a failure fails the module. ``staged``: the new content is left in its
    temporary file and (temporary, path) appended, for commit() once every file is checked; a
    failure discards what is staged."""
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
        keep = False
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(wanted)
            module.set_fs_attributes_if_different(_file_args(module, tmp, entry, mode), False, expand=False)
            if validate:
                rc, out, err = module.run_command(validate % tmp)
                if rc != 0:
                    os.unlink(tmp)
                    discard(staged or [])
                    module.fail_json(msg=f"files: {path} failed its check (rc {rc}): {(err or out).strip()}")
            if staged is None:
                os.replace(tmp, path)
            else:
                staged.append((tmp, path))
                keep = True
        except OSError as exc:
            discard(staged or [])
            module.fail_json(msg=f"files: cannot write {path}: {to_native(exc)}")
        finally:
            if not keep and os.path.lexists(tmp):
                os.unlink(tmp)
        return True, True
    if write:  # check mode: the attributes of a file not written yet cannot be compared
        return True, True
    return _attributes(module, _file_args(module, path, entry, mode), diffs), False


def remove_file(module: AnsibleModule, path: str, diffs: list[dict[str, Any]]) -> bool:
    """The file at ``path`` removed (only reported in check mode): whether it was there."""
    if not os.path.lexists(path):
        return False
    diffs.append({"before": {"path": path, "state": "file"}, "after": {"path": path, "state": "absent"}})
    if not module.check_mode:
        try:
            os.unlink(path)
        except OSError as exc:
            module.fail_json(msg=f"files: cannot remove {path}: {to_native(exc)}")
    return True
