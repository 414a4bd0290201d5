# SPDX-License-Identifier: GPL-3.0-or-later
"""The database fixtures answer the host's own client tools over the containers' bridge
addresses, with the password in the environment (never on a command line)."""

from __future__ import annotations

import subprocess
import uuid


def _run(server, argv: list[str], stdin: str | None = None) -> str:
    proc = subprocess.run(
        argv, env=server.client_env(), input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cmdline_of_pid1(server) -> str:
    rc, out = server.container.exec(["cat", "/proc/1/cmdline"])
    assert rc == 0, out
    return out.replace("\0", " ")


def test_postgres_server_round_trips_a_row(postgres_server):
    s = postgres_server
    assert (s.engine, s.user, s.port) == ("postgres", "postgres", 5432)
    value = uuid.uuid4().hex
    sql = f"CREATE TABLE IF NOT EXISTS rig_t (v text); INSERT INTO rig_t VALUES ('{value}'); SELECT v FROM rig_t;"
    out = _run(
        s,
        ["psql", "-h", s.host, "-p", str(s.port), "-U", s.user, "-d", "postgres", "-XAtq", "-v", "ON_ERROR_STOP=1"],
        sql,
    )
    assert value in out.split()
    # The password is what lets it in.
    proc = subprocess.run(
        ["psql", "-h", s.host, "-U", s.user, "-d", "postgres", "-Xc", "select 1"],
        env={**s.client_env(), "PGPASSWORD": "wrong"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode != 0 and "password authentication failed" in proc.stderr


def test_mariadb_server_round_trips_a_row(mariadb_server):
    s = mariadb_server
    assert (s.engine, s.user, s.port) == ("mariadb", "root", 3306)
    value = uuid.uuid4().hex
    sql = (
        "CREATE DATABASE IF NOT EXISTS rig; CREATE TABLE IF NOT EXISTS rig.t (v text);"
        f" INSERT INTO rig.t VALUES ('{value}'); SELECT v FROM rig.t;"
    )
    out = _run(s, ["mariadb", "-h", s.host, "-P", str(s.port), "-u", s.user, "-N", "-B"], sql)
    assert value in out.split()


def test_redis_server_round_trips_a_key_and_keeps_its_password_off_argv(redis_server):
    s = redis_server
    assert (s.engine, s.user, s.port) == ("redis", None, 6379)
    value = uuid.uuid4().hex
    cli = ["redis-cli", "-h", s.host, "-p", str(s.port), "--no-auth-warning"]
    assert _run(s, [*cli, "SET", "rig:key", value]).strip() == "OK"
    assert _run(s, [*cli, "GET", "rig:key"]).strip() == value
    proc = subprocess.run([*cli, "PING"], capture_output=True, text=True, timeout=30, check=False)
    assert "NOAUTH" in proc.stdout + proc.stderr  # without the password: refused
    assert s.password not in _cmdline_of_pid1(s)
