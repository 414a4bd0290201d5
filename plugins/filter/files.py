# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter file_entries: the ``files`` of the opsdeck.platform.files module from a mapping.

Its documentation is in file_entries.yml next to this file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def file_entries(
    mapping: Mapping[str, Any],
    path: str,
    as_json: bool = False,
    owner: str | None = None,
    group: str | None = None,
    mode: str | None = None,
) -> list[dict[str, Any]]:
    """One file per key: its path ``path`` with ``{}`` replaced by the key, its content the value
    (as text, or, with ``as_json``, JSON as to_nice_json(indent=2) writes it, and a final newline)."""
    if not isinstance(mapping, Mapping):
        raise AnsibleFilterError(f"file_entries: expected a mapping, got {type(mapping).__name__}")
    if "{}" not in path:
        raise AnsibleFilterError(f"file_entries: the path {path!r} has no '{{}}' for the key")
    entries = []
    for key, value in mapping.items():
        if as_json:
            content = json.dumps(value, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
        elif isinstance(value, str):
            content = value
        else:
            raise AnsibleFilterError(f"file_entries: the value of {key!r} is not text (set as_json=true)")
        entry = {"path": path.replace("{}", str(key)), "content": content}
        entry.update({k: v for k, v in (("owner", owner), ("group", group), ("mode", mode)) if v is not None})
        entries.append(entry)
    return entries


class FilterModule:
    """The files filter of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        return {"file_entries": file_entries}
