# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the real servers that tests and benchmarks start as processes on loopback
(the S3 server, BIND): free ports, the rig's settings, user xattrs, stopping, log tails."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("OPSDECK_RIG_STATE", ROOT / "tests" / "rig" / ".state"))


def rig_setting(key: str) -> str | None:
    """A value the rig wrote (images.env, tools.env), unless the environment overrides it."""
    if os.environ.get(key):
        return os.environ[key]
    for name in ("images.env", "tools.env"):
        path = STATE / name
        if path.is_file():
            for line in path.read_text().splitlines():
                k, _sep, v = line.partition("=")
                if k == key and v:
                    return v
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def supports_user_xattrs(directory: Path) -> bool:
    """Whether files in ``directory`` keep user xattrs (versitygw's posix backend needs them)."""
    probe = directory / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.opsdeck", b"1")
        return os.getxattr(probe, "user.opsdeck") == b"1"
    except OSError:
        return False
    finally:
        probe.unlink()


def stop_process(proc: subprocess.Popen | None, timeout: float = 15.0) -> None:
    """Terminate a server process, killing it when it does not stop within ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def log_tail(path: Path, lines: int = 20) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
