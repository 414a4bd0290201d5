# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the integration tier: real services in containers of the rig's images."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("OPSDECK_RIG_STATE", ROOT / "tests" / "rig" / ".state"))


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """The rig's image references (name -> registry-prefixed reference)."""
    path = STATE / "images.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make rig` (tests/rig/up.sh) first")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = docker.from_env()
    client.ping()
    return client


class Started:
    def __init__(self, container, ip: str) -> None:
        self.container = container
        self.ip = ip

    def exec(self, cmd: list[str], **kw) -> tuple[int, str]:
        rc, out = self.container.exec_run(cmd, **kw)
        return rc, out.decode(errors="replace")


@pytest.fixture
def run_container(docker_client: docker.DockerClient) -> Iterator[Callable[..., Started]]:
    """Start a container (removed after the test) and return it with its bridge address."""
    started = []

    def _run(image: str, **kw) -> Started:
        name = f"opsdeck-it-{uuid.uuid4().hex[:8]}"
        container = docker_client.containers.run(image, name=name, detach=True, labels={"opsdeck.test": "1"}, **kw)
        started.append(container)
        for _attempt in range(50):
            container.reload()
            ip = container.attrs["NetworkSettings"]["IPAddress"]
            if ip or container.status == "exited":
                break
            time.sleep(0.1)
        if container.status == "exited":
            pytest.fail(f"{image} exited: {container.logs().decode(errors='replace')[-2000:]}")
        return Started(container, ip)

    yield _run
    for container in started:
        container.remove(force=True, v=True)


def wait_http(url: str, timeout: float = 30.0, expect: int | None = 200) -> tuple[int, str]:
    """Poll URL until it answers (with `expect` when given); return status and body."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                status, body = resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
            time.sleep(0.3)
            continue
        if expect is None or status == expect:
            return status, body
        last = f"HTTP {status}: {body[:200]}"
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer {expect} within {timeout} s (last: {last})")


def wait_exec(started: Started, cmd: list[str], timeout: float = 60.0, **kw) -> str:
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        rc, out = started.exec(cmd, **kw)
        if rc == 0:
            return out
        time.sleep(0.5)
    raise AssertionError(f"{cmd} kept failing for {timeout} s: {out[-500:]}")
