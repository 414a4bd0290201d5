# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the collection's filters share on the controller: turning the model's errors into filter errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError


def wrap(func: Callable[..., Any], what: str) -> Callable[..., Any]:
    """``func`` raising AnsibleFilterError: its findings counted and listed, or the unexpected input named."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ModelError as exc:
            count = len(exc.errors)
            raise AnsibleFilterError(f"{what} ({count} finding{'s' if count != 1 else ''}):\n{exc}") from None
        except (TypeError, KeyError, AttributeError) as exc:
            raise AnsibleFilterError(f"{what}: unexpected input ({type(exc).__name__}: {exc})") from None

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper
