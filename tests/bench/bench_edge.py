# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: requests per second through the edge proxy against direct to the app, on loopback.

    python tests/bench/bench_edge.py [--duration 10] [--connections 100] [--rounds 2]

Set-up (all on 127.0.0.1, removed at the end): the sample app (the rig's image) published on a
free port, and the ``edge`` role applied by ansible-playbook to this machine with a self-signed
certificate, configured from a model with two public ports of that app: ``bench.edge.test``
(TLS) and ``plain.edge.test`` (``tls: false``), no rate limit. Then ``wrk`` (Debian) with
``--connections`` keep-alive connections, in ABBA rounds so that drift on a shared machine
hits both sides alike:

1. Baseline: ``wrk`` straight to the app's published port (HTTP).
2. Through the proxy over HTTP (``plain.edge.test``): the proxy's own cost. The target is
   under 15 %% (ratio >= 0.85).
3. Through the proxy over HTTPS (``bench.edge.test``, TLS 1.3): the proxy plus TLS, printed
   for information.

``wrk`` runs in a mount namespace whose /etc/hosts maps the two names to 127.0.0.1, so that
SNI and Host are the public names (nginx refuses a TLS handshake for an unknown name). On a
two-core machine wrk, nginx and the app share the cores: the proxied numbers include nginx's
CPU taking cycles from the app and from wrk, which a separate edge host would not.
Exit status 1 when the HTTP ratio is below 0.85.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.procs import free_port, port_open, rig_setting  # noqa: E402

TARGET_RATIO = 0.85
PROJECT = "edge-bench"


def wrk(url: str, hosts_file: Path, args: argparse.Namespace) -> float:
    cmd = (
        f"mount --bind {hosts_file} /etc/hosts && exec wrk -t2 -c{args.connections} -d{args.duration}s "
        f"--timeout 5s {url}"
    )
    out = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    if not match:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    if errors:
        raise RuntimeError(f"wrk saw errors for {url}:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", default="auto", help="edge_worker_processes (auto: one per core)")
    parser.add_argument("--access-log", default="/dev/stdout", help="edge_access_log (/dev/stdout or off)")
    args = parser.parse_args()
    for tool in ("wrk", "unshare", "docker"):
        if not shutil.which(tool):
            print(f"bench_edge: {tool} is not installed (wrk: apt-get install wrk)", file=sys.stderr)
            return 2
    app_image, nginx_image, exporter_image = (
        rig_setting(k) for k in ("OPSDECK_IMAGE_SAMPLEAPP_V1", "OPSDECK_IMAGE_NGINX", "OPSDECK_IMAGE_NGINX_EXPORTER")
    )
    if not (app_image and nginx_image and exporter_image):
        print("bench_edge: the rig's images are missing (make rig)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    app_port, plain_port, http_port, https_port, status_port, exporter_port = (free_port() for _i in range(6))
    containers = {f"{PROJECT}-app": app_port, f"{PROJECT}-plain": plain_port}
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_FORCE_COLOR="0",
    )
    try:
        for container, port in containers.items():
            subprocess.run(
                ["docker", "run", "-d", "--rm", "--name", container, "-p", f"127.0.0.1:{port}:8080", app_image],
                check=True, capture_output=True,
            )  # fmt: skip
        apps = [
            {
                "name": "bench",
                "image": "opsdeck/sampleapp:1.0.0",
                "ports": [
                    {"name": "https", "port": 8080, "host_port": app_port, "public": True, "host": "bench.edge.test"},
                ],
            },
            {
                "name": "plain",
                "image": "opsdeck/sampleapp:1.0.0",
                "ports": [
                    {"name": "http", "port": 8080, "host_port": plain_port, "public": True, "host": "plain.edge.test",
                     "tls": False},
                ],
            },
        ]  # fmt: skip
        # two containers of the same image: direct and HTTPS go to the first, plain HTTP to the second
        inventory = {
            "all": {
                "children": {"docker_hosts": {"hosts": {"localhost": {}}}, "edge": {"hosts": {"localhost": {}}}},
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                },
            }
        }
        variables = {
            "opsdeck_apps": apps,
            "edge_root": str(work / "edge"),
            "edge_project": PROJECT,
            "edge_nginx_image": nginx_image,
            "edge_exporter_image": exporter_image,
            "edge_tls_mode": "selfsigned",
            "edge_rate_limit": None,
            "edge_listen_address": "127.0.0.1",
            "edge_http_port": http_port,
            "edge_https_port": https_port,
            "edge_status_port": status_port,
            "edge_exporter_listen_address": "127.0.0.1",
            "edge_exporter_port": exporter_port,
            "edge_worker_processes": args.workers,
            "edge_access_log": args.access_log,
        }
        (work / "inventory.json").write_text(json.dumps(inventory))
        (work / "vars.json").write_text(json.dumps(variables))
        (work / "play.yml").write_text(
            "- hosts: edge\n  gather_facts: false\n  roles: [{role: opsdeck.platform.edge}]\n"
        )
        t0 = time.perf_counter()
        play = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(work / "inventory.json"),
             "-e", f"@{work / 'vars.json'}", str(work / "play.yml")],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if play.returncode != 0:
            print(play.stdout[-4000:], file=sys.stderr)
            return 1
        print(f"edge role applied in {time.perf_counter() - t0:.1f} s")
        for _i in range(50):
            if all(port_open(p) for p in containers.values()):
                break
            time.sleep(0.2)

        hosts_file = work / "hosts"
        hosts_file.write_text(Path("/etc/hosts").read_text() + "\n127.0.0.1 bench.edge.test plain.edge.test\n")
        urls = {
            "direct": f"http://127.0.0.1:{app_port}/",
            "proxy_http": f"http://plain.edge.test:{http_port}/",
            "proxy_https": f"https://bench.edge.test:{https_port}/",
        }
        wrk(urls["direct"], hosts_file, argparse.Namespace(connections=10, duration=2))  # warm-up
        results: dict[str, list[float]] = {k: [] for k in urls}
        order = list(urls)
        for r in range(args.rounds):
            for name in order if r % 2 == 0 else list(reversed(order)):
                results[name].append(wrk(urls[name], hosts_file, args))
        med = {k: statistics.median(v) for k, v in results.items()}
        ratio_http = med["proxy_http"] / med["direct"]
        ratio_https = med["proxy_https"] / med["direct"]
        print(f"wrk -t2 -c{args.connections} -d{args.duration}s, keep-alive, {args.rounds} ABBA rounds (median req/s)")
        for name in urls:
            print(f"  {name:12s} {med[name]:10.0f} req/s   rounds: {', '.join(f'{v:.0f}' for v in results[name])}")
        print(f"ratio proxy_http/direct  = {ratio_http:.2f} (target >= {TARGET_RATIO})")
        print(f"ratio proxy_https/direct = {ratio_https:.2f} (TLS included, for information)")
        return 0 if ratio_http >= TARGET_RATIO else 1
    finally:
        subprocess.run(["docker", "rm", "-f", *containers], capture_output=True, check=False)
        subprocess.run(
            ["docker", "compose", "-p", PROJECT, "down", "--remove-orphans"], capture_output=True, check=False,
            cwd=str(work / "edge" / "compose") if (work / "edge" / "compose").is_dir() else None,
        )  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
