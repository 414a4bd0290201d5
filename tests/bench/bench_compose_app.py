# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: compose_app against plain `docker compose up -d --wait`, measured in one run.

    python tests/bench/bench_compose_app.py [--apps 20]

1. Baseline: the same compose files that compose_app renders (deploy_plan) are brought up
   with `docker compose up -d --wait`, one project after the other, then torn down.
2. Ours: `ansible-playbook` applying the compose_app role to the same model on the local
   engine (health gate, revisions, secrets files included).
3. No-change second run of the role, with its task count.

Prints the ratio ours/baseline (target: 1.5 or less) and the no-change time (target: under
5 s). Needs the rig (the sample app image). Runs only against the local engine; everything
it starts it removes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.opsdeck.platform.plugins.module_utils.compose import deploy_plan  # noqa: E402
from ansible_collections.opsdeck.platform.plugins.module_utils.compose_project import (  # noqa: E402
    dump_definition,
    render_env_file,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps  # noqa: E402


def model(count: int, image: str) -> list[dict]:
    return [
        {
            "name": f"bench{i:02d}",
            "image": image,
            "ports": [{"name": "http", "port": 8080}],
            "health": {"path": "/health", "port": "http", "timeout_s": 2},
            "secrets": {"TOKEN": f"bench-token-{i}"},
            "resources": {"memory": "64Mi", "cpu": "0.25"},
        }
        for i in range(count)
    ]


def sh(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def down_all(root: Path, names: list[str]) -> None:
    for name in names:
        subprocess.run(
            ["docker", "compose", "--project-name", name, "down", "--remove-orphans", "--volumes", "--timeout", "1"],
            capture_output=True,
            check=False,
        )
    shutil.rmtree(root, ignore_errors=True)


def baseline(apps: list[dict], root: Path) -> float:
    plan = deploy_plan(normalize_apps(apps))
    for spec, app in zip(plan, apps, strict=True):
        pdir = root / spec["name"]
        (pdir / "secrets").mkdir(parents=True)
        (pdir / "compose.yaml").write_text(dump_definition(spec["definition"]))
        (pdir / "secrets.env").write_text(render_env_file(app["secrets"]))
        for key, value in app["secrets"].items():
            (pdir / "secrets" / key).write_text(value)
    start = time.monotonic()
    for spec in plan:
        pdir = root / spec["name"]
        sh(["docker", "compose", "--project-directory", str(pdir), "-p", spec["name"], "up", "-d", "--wait"])
    return time.monotonic() - start


def playbook(apps: list[dict], workdir: Path, root: Path) -> Path:
    (workdir / "vars.yml").write_text(
        yaml.safe_dump({"opsdeck_apps": apps, "compose_app_root": str(root), "opsdeck_environment": "local"})
    )
    play = [
        {
            "name": "bench",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars_files": [str(workdir / "vars.yml")],
            "roles": ["opsdeck.platform.compose_app"],
        }
    ]
    path = workdir / "play.yml"
    path.write_text(yaml.safe_dump(play))
    return path


def run_role(play: Path) -> tuple[float, str]:
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
    )
    start = time.monotonic()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - start
    if proc.returncode:
        raise SystemExit(f"ansible-playbook failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return took, proc.stdout


def recap(stdout: str) -> dict[str, int]:
    m = re.search(r"localhost\s*:\s*(.*)", stdout.split("PLAY RECAP")[-1])
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))} if m else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="leave the role's projects running (for profiling)")
    args = parser.parse_args()
    images = json.loads((ROOT / "tests" / "rig" / ".state" / "images.json").read_text())
    apps = model(args.apps, images["sampleapp-v1"])
    names = [a["name"] for a in apps]
    work = Path(tempfile.mkdtemp(prefix="opsdeck-bench-"))
    try:
        down_all(work / "baseline", names)
        t_base = baseline(apps, work / "baseline")
        down_all(work / "baseline", names)

        play = playbook(apps, work, work / "ours")
        t_ours, _out = run_role(play)
        t_noop, out = run_role(play)
        counts = recap(out)
        if os.environ.get("BENCH_VERBOSE"):
            print(out.split("TASKS RECAP")[-1])
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            down_all(work / "ours", names)
            shutil.rmtree(work, ignore_errors=True)

    ratio = t_ours / t_base
    print(f"compose_app: {args.apps} services deployed in {t_ours:.1f} s; docker compose up -d --wait: {t_base:.1f} s")
    print(f"compose_app: deploy ratio ours/baseline = {ratio:.2f} (target <= 1.50) {'OK' if ratio <= 1.5 else 'OVER'}")
    tasks = counts.get("ok", 0) + counts.get("changed", 0) + counts.get("skipped", 0)
    print(
        f"compose_app: no-change run {t_noop:.1f} s (target < 5 s) {'OK' if t_noop < 5 else 'OVER'}; "
        f"tasks {tasks}, changed {counts.get('changed', '?')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
