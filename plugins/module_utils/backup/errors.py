# SPDX-License-Identifier: GPL-3.0-or-later
"""The one exception type of the backup engine, and the masking of secrets in messages."""

from __future__ import annotations

from collections.abc import Iterable


class BackupError(Exception):
    """A backup, restore, verification or prune that did not happen, with the reason.

    The message names the job (``app/database``) and the underlying error (a tool's
    stderr, an S3 error code); secrets are masked before it is raised.
    """


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-trivial secret replaced by ``********``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "********")
    return text


def tail(data: bytes, limit: int = 2000) -> str:
    """The last ``limit`` characters of a tool's output, decoded, stripped."""
    text = data.decode(errors="replace").strip()
    return text if len(text) <= limit else "..." + text[-limit:]
