# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the integration tier: real services in containers of the rig's images."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from ..procs import free_port, log_tail, port_open, rig_setting, stop_process, supports_user_xattrs

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


# --- Backup tier: an S3 server that enforces Object Lock, and database servers -------------


_rig_setting = rig_setting
_port_open = port_open
_supports_user_xattrs = supports_user_xattrs


class S3Server:
    """versitygw (posix backend) as a host process on loopback: a real S3 server that
    enforces Object Lock. Root credentials reach it through its environment, never argv."""

    region = "us-east-1"

    def __init__(self, binary: str, root: Path, port: int) -> None:
        self.binary = binary
        self.root = root
        self.port = port
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self.access_key = f"it{secrets.token_hex(8)}"
        self.secret_key = secrets.token_urlsafe(30)
        self.log = root / "server.log"
        self._proc: subprocess.Popen | None = None

    def __repr__(self) -> str:  # never the secret
        return f"S3Server({self.endpoint_url}, data={self.root})"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server (same data dir, same port) and wait until it answers."""
        if self.running:
            return
        (self.root / "buckets").mkdir(exist_ok=True)
        (self.root / "versions").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROOT_", "VGW_"))}
        env.update(ROOT_ACCESS_KEY=self.access_key, ROOT_SECRET_KEY=self.secret_key)
        argv = [self.binary, "--port", f"127.0.0.1:{self.port}", "--region", self.region, "--health", "/health"]
        argv += ["--quiet", "posix", "--versioning-dir", str(self.root / "versions"), str(self.root / "buckets")]
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AssertionError(f"the S3 server exited ({self._proc.returncode}): {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the S3 server did not answer within {timeout} s: {self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server process; afterwards connections to its port are refused."""
        proc, self._proc = self._proc, None
        stop_process(proc, timeout)
        deadline = time.monotonic() + timeout
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def client(self, **config):
        """A boto3 S3 client for this server (path-style addressing)."""
        import boto3
        from botocore.config import Config

        conf = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}, **config)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=conf,
        )

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log, lines)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server with Object Lock on 127.0.0.1:<free port>, for the whole session.

    A test that calls stop() must call start() again (in a finally), since later tests share it.
    """
    binary = _rig_setting("OPSDECK_S3_SERVER_BIN")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail(f"no S3 server binary ({binary or 'OPSDECK_S3_SERVER_BIN unset'}): run `make rig` first")
    # The posix backend keeps versions, retention and legal holds in user xattrs.
    root = tmp_path_factory.mktemp("s3")
    made = None
    if not _supports_user_xattrs(root):
        made = Path(tempfile.mkdtemp(prefix="opsdeck-s3-", dir="/var/tmp"))
        root = made
        if not _supports_user_xattrs(root):
            pytest.fail(f"neither the pytest temp dir nor {root} supports user xattrs, which the S3 server needs")
    root.chmod(0o700)
    server = S3Server(binary, root, free_port())
    server.start()
    yield server
    server.stop()
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new bucket with Object Lock enabled (and so versioning) on s3_server.

    Not removed afterwards: objects under retention cannot be deleted; the session's data
    directory goes with the session.
    """
    s3_server.start()  # a no-op unless an earlier test left it stopped
    name = f"it-{uuid.uuid4().hex[:16]}"
    s3_server.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@dataclass
class DbServer:
    """A database server in a container of the rig's images, reached over its bridge address."""

    engine: str  # "postgres" | "mariadb" | "redis" (the model's engine names)
    host: str
    port: int
    user: str | None
    password: str = field(repr=False)
    container: Started = field(repr=False)
    name: str

    def client_env(self) -> dict[str, str]:
        """os.environ plus the password the engine's client tools read from the environment."""
        var = {"postgres": "PGPASSWORD", "mariadb": "MYSQL_PWD", "redis": "REDISCLI_AUTH"}[self.engine]
        return {**os.environ, var: self.password}


def start_container(client: docker.DockerClient, image: str, **kw) -> Started:
    """Start a labelled container (the caller removes it) and wait for its bridge address."""
    name = f"opsdeck-it-{uuid.uuid4().hex[:8]}"
    container = client.containers.run(image, name=name, detach=True, labels={"opsdeck.test": "1"}, **kw)
    for _attempt in range(100):
        container.reload()
        if container.attrs["NetworkSettings"]["IPAddress"] or container.status == "exited":
            break
        time.sleep(0.1)
    if container.status == "exited" or not container.attrs["NetworkSettings"]["IPAddress"]:
        logs = container.logs().decode(errors="replace")[-2000:]
        container.remove(force=True, v=True)
        pytest.fail(f"{image} did not come up: {logs}")
    return Started(container, container.attrs["NetworkSettings"]["IPAddress"])


def _host_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed on this host: run `make rig` (tests/rig/up.sh installs it)")
    return path


def _wait_ready(server: DbServer, argv: list[str], timeout: float, expect: str | None = None) -> None:
    """Run a client tool on the HOST until it succeeds (and prints `expect`)."""
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        proc = subprocess.run(argv, env=server.client_env(), capture_output=True, text=True, timeout=20, check=False)
        out = proc.stdout + proc.stderr
        if proc.returncode == 0 and (expect is None or expect in proc.stdout):
            return
        server.container.container.reload()
        if server.container.container.status == "exited":
            break
        time.sleep(0.5)
    logs = server.container.container.logs().decode(errors="replace")[-1500:]
    raise AssertionError(f"{server.engine} in {server.name} not ready after {timeout} s: {out[-500:]}\n{logs}")


@contextmanager
def _db_container(
    client: docker.DockerClient, image: str, engine: str, port: int, user: str | None, password_env: str, **kw
) -> Iterator[DbServer]:
    """A DbServer in a new container whose `password_env` variable carries a random password."""
    password = secrets.token_hex(16)
    started = start_container(client, image, environment={password_env: password}, **kw)
    try:
        yield DbServer(engine, started.ip, port, user, password, started, started.container.name)
    finally:
        started.container.remove(force=True, v=True)


@pytest.fixture(scope="session")
def postgres_server(images, docker_client) -> Iterator[DbServer]:
    """PostgreSQL 15 (rig image), superuser postgres with a random password."""
    psql, pg_isready = _host_tool("psql"), _host_tool("pg_isready")
    with _db_container(
        docker_client, images["postgresql"], "postgres", 5432, "postgres", "POSTGRES_PASSWORD"
    ) as server:
        conn = ["-h", server.host, "-p", str(server.port), "-U", "postgres"]
        _wait_ready(server, [pg_isready, *conn, "-d", "postgres"], 60)
        _wait_ready(server, [psql, *conn, "-d", "postgres", "-XAtqc", "select 1"], 30, expect="1")
        yield server


@pytest.fixture(scope="session")
def mariadb_server(images, docker_client) -> Iterator[DbServer]:
    """MariaDB 10.11 (rig image), root@'%' with a random password."""
    admin, cli = _host_tool("mariadb-admin"), _host_tool("mariadb")
    with _db_container(docker_client, images["mariadb"], "mariadb", 3306, "root", "MARIADB_ROOT_PASSWORD") as server:
        conn = ["-h", server.host, "-P", str(server.port), "-u", "root"]
        _wait_ready(server, [admin, *conn, "ping"], 90)
        _wait_ready(server, [cli, *conn, "-N", "-B", "-e", "select 1"], 30, expect="1")
        yield server


# The password goes into a 0600 config file inside the container, not onto redis-server's command line.
_REDIS_START = (
    'umask 077; printf "requirepass %s\\n" "$REDIS_PASSWORD" >/tmp/redis.conf; unset REDIS_PASSWORD; '
    "exec redis-server /tmp/redis.conf --bind 0.0.0.0 --protected-mode no --dir /data"
)


@pytest.fixture(scope="session")
def redis_server(images, docker_client) -> Iterator[DbServer]:
    """Redis 7.0 (rig image) with requirepass set to a random password; no user (default)."""
    cli = _host_tool("redis-cli")
    redis = images["redis"]
    with _db_container(
        docker_client, redis, "redis", 6379, None, "REDIS_PASSWORD", command=["bash", "-c", _REDIS_START]
    ) as server:
        _wait_ready(server, [cli, "-h", server.host, "-p", str(server.port), "--no-auth-warning", "ping"], 30, "PONG")
        yield server
