# SPDX-License-Identifier: GPL-3.0-or-later
"""The rig's images run the real services they claim to, the way their upstream images do."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import wait_exec, wait_http


@pytest.mark.parametrize(
    ("image", "port", "path", "needle"),
    [
        ("prometheus", 9090, "/-/ready", "Ready"),
        ("alertmanager", 9093, "/-/ready", "OK"),
        ("node-exporter", 9100, "/metrics", "node_cpu_seconds_total"),
        ("blackbox-exporter", 9115, "/metrics", "blackbox_exporter_build_info"),
        ("nginx", 80, "/", "nginx"),
    ],
)
def test_monitoring_and_web_images_answer(images, run_container, image, port, path, needle):
    started = run_container(images[image])
    _status, body = wait_http(f"http://{started.ip}:{port}{path}")
    assert needle in body


def test_prometheus_image_runs_as_non_root_and_ships_promtool(images, run_container):
    started = run_container(images["prometheus"])
    rc, out = started.exec(["id", "-u"])
    assert rc == 0 and out.strip() != "0"
    rc, out = started.exec(["promtool", "--version"])
    assert rc == 0 and "promtool" in out


def test_alertmanager_image_ships_amtool(images, run_container):
    started = run_container(images["alertmanager"])
    rc, out = started.exec(["amtool", "check-config", "/etc/alertmanager/alertmanager.yml"])
    assert rc == 0, out


def test_postgresql_image_initialises_with_password_and_database(images, run_container):
    started = run_container(
        images["postgresql"], environment={"POSTGRES_PASSWORD": "it-secret", "POSTGRES_DB": "appdb"}
    )
    wait_exec(started, ["pg_isready", "-h", "127.0.0.1"])
    # Over TCP, with the password: scram authentication is in force.
    out = wait_exec(
        started,
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "appdb",
            "-Atc",
            "CREATE TABLE t (v text); INSERT INTO t VALUES ('row-1'); SELECT v FROM t;",
        ],
        environment={"PGPASSWORD": "it-secret"},
    )
    assert out.strip().endswith("row-1")
    rc, out = started.exec(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "appdb", "-c", "select 1"],
        environment={"PGPASSWORD": "wrong"},
    )
    assert rc != 0 and "password authentication failed" in out


def test_mariadb_image_initialises_root_user_and_database(images, run_container):
    started = run_container(
        images["mariadb"],
        environment={
            "MARIADB_ROOT_PASSWORD": "it-root",
            "MARIADB_DATABASE": "appdb",
            "MARIADB_USER": "app",
            "MARIADB_PASSWORD": "it-app",
        },
    )
    out = wait_exec(
        started,
        [
            "mariadb",
            "-h",
            "127.0.0.1",
            "-uapp",
            "-pit-app",
            "appdb",
            "-N",
            "-e",
            "CREATE TABLE t (v VARCHAR(10)); INSERT INTO t VALUES ('row-1'); SELECT v FROM t;",
        ],
    )
    assert out.strip() == "row-1"


def test_redis_image_answers(images, run_container):
    started = run_container(images["redis"])
    out = wait_exec(started, ["redis-cli", "-h", "127.0.0.1", "ping"])
    assert out.strip() == "PONG"


@pytest.mark.parametrize(("variant", "version"), [("sampleapp-v1", "1.0.0"), ("sampleapp-v2", "2.0.0")])
def test_sampleapp_versions_are_healthy(images, run_container, variant, version):
    started = run_container(images[variant], read_only=True, user="65534:65534", cap_drop=["ALL"])
    _status, body = wait_http(f"http://{started.ip}:8080/health")
    assert body.strip() == f"ok {version}"
    _status, body = wait_http(f"http://{started.ip}:8080/")
    assert json.loads(body)["version"] == version
    _status, metrics = wait_http(f"http://{started.ip}:8080/metrics")
    assert f'sampleapp_build_info{{version="{version}"}} 1' in metrics
    assert 'http_requests_total{handler="/",code="200"} 1' in metrics


def test_sampleapp_broken_release_fails_its_health_check(images, run_container, docker_client):
    started = run_container(images["sampleapp-v3"])
    _status, body = wait_http(f"http://{started.ip}:8080/health", expect=503)
    assert "unhealthy" in body
    # The image's own HEALTHCHECK turns the container unhealthy.

    for _attempt in range(60):
        started.container.reload()
        health = started.container.attrs["State"].get("Health", {}).get("Status")
        if health == "unhealthy":
            break
        time.sleep(0.5)
    assert health == "unhealthy"
