# SPDX-License-Identifier: GPL-3.0-or-later
"""Searching a run's output for secret values (canaries), as they are and in base64.

Shared by the site-wide canary test (tests/integration/test_secret_canary.py, check mode at -vvv
through ansible-runner) and the molecule tier of tests/run_tiers.py, which searches the log of a
real run of a scenario (the site scenario runs at -vvv) for the scenario's ``vault_*`` values.
A hit names the canary (never its value) and shows the line with every canary in it replaced by
``***<name>***``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

SHOW = 240  # characters of a leaking line shown around the (masked) canary
_TASK_HEADER = re.compile(r"^(TASK|PLAY|HANDLER|RUNNING HANDLER) \[(.*)\]")


def forms(value: str) -> dict[str, str]:
    """The canary as it is and in base64 at each of the three alignments in a longer text."""
    found = {"plain": value}
    raw = value.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        # the first group mixes in the bytes before the canary, a partial last one those after it
        start = 4 if shift else 0
        end = len(encoded) - 4 if (shift + len(raw)) % 3 else len(encoded)
        found[f"base64/{shift}"] = encoded[start:end]
    return found


@dataclass
class Leak:
    canary: str
    form: str
    where: str
    task: str
    line: str

    def __str__(self) -> str:
        return f"{self.canary} ({self.form}) in {self.where}, task {self.task!r}: {self.line}"


def _masked(line: str, all_needles: dict[str, str], hit: str) -> str:
    """The line cut around the hit, every canary in it replaced by ***<name>***."""
    at = line.find(all_needles[hit])
    piece = line[max(0, at - SHOW // 2) : at + len(all_needles[hit]) + SHOW // 2]
    for name, needle in sorted(all_needles.items(), key=lambda item: -len(item[1])):
        piece = piece.replace(needle, f"***{name}***")
    return piece.strip()


def needles(canaries: dict[str, str]) -> dict[str, str]:
    """``{"<name> [<form>]": text}`` for every canary in every form."""
    return {f"{name} [{form}]": text for name, value in canaries.items() for form, text in forms(value).items()}


def scan_text(text: str, where: str, all_needles: dict[str, str], task_of_line: Callable[[int], str]) -> list[Leak]:
    """Every line of ``text`` holding a needle, with the task ``task_of_line(line number)`` names."""
    leaks = []
    for number, line in enumerate(text.splitlines(), 1):
        for label, needle in all_needles.items():
            if needle in line:
                name, form = label.split(" [", 1)
                leaks.append(
                    Leak(
                        name,
                        form.rstrip("]"),
                        f"{where}:{number}",
                        task_of_line(number),
                        _masked(line, all_needles, label),
                    )
                )
    return leaks


def stdout_tasks(text: str) -> list[str]:
    """For each line of a stdout, the TASK/PLAY header above it."""
    current, tasks = "(before the first task)", []
    for line in text.splitlines():
        match = _TASK_HEADER.match(line)
        if match:
            current = f"{match.group(1)} {match.group(2)}"
        tasks.append(current)
    return tasks


def scan_log(text: str, where: str, canaries: dict[str, str]) -> list[Leak]:
    """The leaks of ``canaries`` in an ansible-playbook (or molecule) log."""
    tasks = stdout_tasks(text)
    return scan_text(text, where, needles(canaries), lambda n: tasks[n - 1] if n <= len(tasks) else "-")
