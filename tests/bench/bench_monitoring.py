# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: rules and scrape targets for N apps (default 500), measured in one run.

    python tests/bench/bench_monitoring.py [--apps 500] [--no-promtool]

1. Baseline: ``json.dumps`` of the same raw apps (a trivial pass over the same data).
2. Ours: normalize the model, then ``slo_rules`` + ``base_rules`` + ``backup_rules`` +
   ``scrape_targets`` + ``alertmanager_config``, and serialize rules and targets as the role
   writes them (JSON, which is valid YAML for Prometheus).
3. ``promtool check rules`` on the generated rules (the rig's prometheus image).

Prints the time of each, the ratio ours/baseline, and fails when generation takes 2 s or more
or promtool rejects the rules.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.opsdeck.platform.plugins.module_utils import monitoring as m  # noqa: E402
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps  # noqa: E402

LIMIT_S = 2.0


def model(count: int) -> list[dict]:
    return [
        {
            "name": f"app{i:04d}",
            "image": f"acme/app{i:04d}:1.0.{i}",
            "team": f"team{i % 12}",
            "hosts": [f"docker{i % 20:02d}"],
            "ports": [
                {"name": "http", "port": 8080, "host_port": 20000 + i, "host_ip": "0.0.0.0"},
                {"name": "web", "port": 8443, "public": True, "host": f"app{i:04d}.example.com"},
            ],
            "health": {"path": "/health", "port": "http"},
            "metrics": {"path": "/metrics", "port": "http"},
            "slo": {"availability": 99.9 if i % 2 else 99.5, "latency_p95_ms": 300 + i % 7 * 50},
            "databases": [{"name": f"db{i}", "engine": "postgres"}] if i % 3 == 0 else [],
        }
        for i in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--no-promtool", action="store_true")
    args = parser.parse_args()
    apps = model(args.apps)
    hosts = [{"name": f"docker{h:02d}", "address": f"10.0.0.{h + 10}", "groups": ["docker_hosts"]} for h in range(20)]

    t0 = time.perf_counter()
    baseline_text = json.dumps(apps)
    baseline = time.perf_counter() - t0

    t0 = time.perf_counter()
    normalized = normalize_apps(apps, environment="prod")
    t_model = time.perf_counter() - t0
    t1 = time.perf_counter()
    groups = m.base_rules() + m.slo_rules(normalized) + m.backup_rules(normalized)
    targets = m.scrape_targets(normalized, hosts, local_hosts=["docker00"], environment="prod")
    m.alertmanager_config([{"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/"}])
    # the role writes rule files as JSON (valid YAML): a YAML dump of 5,000 rules takes seconds
    rules_text = json.dumps({"groups": groups}, indent=2, sort_keys=True)
    targets_text = json.dumps(targets)
    t_ours = time.perf_counter() - t1
    total = t_model + t_ours

    rules = sum(len(g["rules"]) for g in groups)
    n_targets = sum(len(v) for v in targets.values())
    print(f"apps: {args.apps}; rule groups: {len(groups)}, rules: {rules}; file_sd targets: {n_targets}")
    print(f"rules file: {len(rules_text) / 1e6:.1f} MB; targets JSON: {len(targets_text) / 1e6:.2f} MB")
    print(f"baseline json.dumps(apps): {baseline * 1000:.1f} ms ({len(baseline_text) / 1e6:.2f} MB)")
    print(f"model validation+normalization: {t_model:.3f} s")
    print(f"rules + targets + alertmanager + serialization: {t_ours:.3f} s")
    print(f"total: {total:.3f} s (limit {LIMIT_S} s); ratio total/baseline: {total / baseline:.0f}x")
    ok = total < LIMIT_S

    if not args.no_promtool:
        image = json.loads((ROOT / "tests" / "rig" / ".state" / "images.json").read_text())["prometheus"]
        with tempfile.TemporaryDirectory(prefix="opsdeck-bench-") as tmp:
            os.chmod(tmp, 0o755)
            path = Path(tmp) / "rules.yml"
            path.write_text(rules_text)
            path.chmod(0o644)
            t0 = time.perf_counter()
            res = subprocess.run(
                [
                    *("docker", "run", "--rm", "--network", "none", "-v", f"{tmp}:/w:ro"),
                    *("--entrypoint", "/bin/promtool", image, "check", "rules", "/w/rules.yml"),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            output = (res.stdout + res.stderr).strip().splitlines()
            summary = next((line.strip() for line in output if "SUCCESS" in line or "FAILED" in line), output[-1:])
            print(f"promtool check rules: exit {res.returncode} in {time.perf_counter() - t0:.1f} s: {summary}")
            ok = ok and res.returncode == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
