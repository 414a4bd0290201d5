# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: k8s_release against `kubectl apply --server-side` of the same manifests, in one run.

    python tests/bench/bench_k8s_app.py [--apps 10,50] [--role-apps 10] [--keep]

Against the rig's control plane (tests/rig/k8s/up.sh brings it up; OPSDECK_K8S_NODES sets
the number of simulated nodes, default 3). For each count N of apps (each about 16 objects:
namespace, quota, RBAC, config, secret, network policies, Service, Deployment, PDB, HPA,
Ingress), the manifests rendered by k8s_render.render_apps are applied

1. baseline: with one `kubectl apply --server-side --force-conflicts` of all of them (one
   process, discovery once), then the same command again (no change);
2. ours: with k8s_release's ``deploy`` (what the module runs), one app after the other in
   this process, without the rollout wait (kubectl does not wait either): one cluster-wide
   list per kind (the LiveIndex), a dry-run of every new or changed object, the comparison,
   the apply of what changed and the prune; then again (no change: the lists, and objects
   found unchanged by their manifest hash and fields, with no dry-run and no write).

Each side has its own namespaces (prefixes bk- and bo-). Prints the times, how they grow
with N, and the ratios ours/baseline (targets: first apply 2.0 or less, no-change run 1.5 or
less). With --role-apps M, also the role through ansible-playbook for M apps (first and
second run), for information: it adds Ansible's per-app module start-up. Everything it
creates it deletes (unless --keep).
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

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".collections"))

from kubernetes import client, config  # noqa: E402
from kubernetes.dynamic import DynamicClient  # noqa: E402

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import deploy, fill_secrets  # noqa: E402
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_render import render_apps  # noqa: E402
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps  # noqa: E402

STATE = Path(os.environ.get("OPSDECK_RIG_STATE", ROOT / "tests" / "rig" / ".state"))


def model(count: int, tag: str = "1.0.0") -> list[dict]:
    return [
        {
            "name": f"bench{i:03d}",
            "image": f"opsdeck/sampleapp:{tag}",
            "replicas": 2,
            "autoscaling": {"min_replicas": 2, "max_replicas": 4},
            "ports": [{"name": "http", "port": 8080, "public": True, "host": f"bench{i:03d}.example.com"}],
            "health": {"path": "/health"},
            "env": {"MODE": "bench"},
            "secrets": {"TOKEN": f"bench-token-{i}"},
            "resources": {"cpu": "100m", "memory": "64Mi"},
        }
        for i in range(count)
    ]


def releases(count: int, prefix: str) -> list[dict]:
    return render_apps(normalize_apps(model(count), environment="dev"), {"namespace_prefix": prefix})


def secrets_of(release: dict) -> dict:
    return {"TOKEN": f"bench-token-{int(release['app'][5:])}"}


def up() -> tuple[Path, Path]:
    done = subprocess.run(["bash", str(ROOT / "tests/rig/k8s/up.sh")], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"tests/rig/k8s/up.sh failed:\n{done.stderr[-3000:]}")
    env = dict(line.split("=", 1) for line in (STATE / "k8s.env").read_text().splitlines() if "=" in line)
    return Path(done.stdout.strip().splitlines()[-1]), Path(env["OPSDECK_K8S_BIN"])


def kubectl_apply(kubectl: list[str], path: Path) -> float:
    start = time.monotonic()
    done = subprocess.run(
        [*kubectl, "apply", "--server-side", "--force-conflicts", "--field-manager=opsdeck", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - start
    if done.returncode:
        sys.exit(f"kubectl apply failed:\n{done.stderr[-3000:]}")
    return took


def ours(dynamic: DynamicClient, rels: list[dict]) -> tuple[float, int]:
    start = time.monotonic()
    result = deploy(dynamic, rels, {rel["app"]: secrets_of(rel) for rel in rels}, wait=False)
    changed = sum(1 for r in result["releases"] for o in r["objects"] if o["action"] != "unchanged")
    return time.monotonic() - start, changed


def delete_namespaces(kubectl: list[str], prefix: str) -> None:
    names = subprocess.run([*kubectl, "get", "ns", "-o", "name"], capture_output=True, text=True, check=False).stdout
    doomed = [n for n in names.split() if n.startswith(f"namespace/{prefix}")]
    if doomed:
        subprocess.run([*kubectl, "delete", "--wait=false", *doomed], capture_output=True, check=False)


def wait_gone(kubectl: list[str], prefixes: tuple[str, ...], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = subprocess.run(
            [*kubectl, "get", "ns", "-o", "name"], capture_output=True, text=True, check=False
        ).stdout.split()
        if not any(n.startswith(f"namespace/{p}") for n in names for p in prefixes):
            return
        time.sleep(2)


def role(kubeconfig: Path, count: int, work: Path) -> tuple[float, float]:
    inventory = work / "inventory.yml"
    python = str(ROOT / ".venv/bin/python")
    inventory.write_text(
        yaml.safe_dump(
            {
                "k8s_clusters": {
                    "hosts": {"bench": {"ansible_python_interpreter": python, "k8s_app_kubeconfig": str(kubeconfig)}}
                }
            }
        )
    )
    variables = work / "vars.yml"
    variables.write_text(
        yaml.safe_dump(
            {
                "opsdeck_apps": model(count),
                "opsdeck_environment": "dev",
                "k8s_app_namespace_prefix": "br-",
                "k8s_app_wait": False,
            }
        )
    )
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
    }
    argv = [
        str(ROOT / ".venv/bin/ansible-playbook"),
        "-i",
        str(inventory),
        str(ROOT / "playbooks/k8s.yml"),
        "-e",
        f"@{variables}",
    ]
    times = []
    for _i in range(2):
        start = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        times.append(time.monotonic() - start)
        if done.returncode:
            sys.exit(f"ansible-playbook failed:\n{done.stdout[-3000:]}")
    return times[0], times[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", default="10,50", help="comma-separated app counts (default 10,50)")
    parser.add_argument("--role-apps", type=int, default=0, help="also run the role for this many apps")
    parser.add_argument("--keep", action="store_true", help="leave the namespaces in place")
    args = parser.parse_args()
    counts = [int(c) for c in args.apps.split(",")]
    kubeconfig, bin_dir = up()
    kubectl = [str(bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig)]
    api = config.new_client_from_config(config_file=str(kubeconfig))
    dynamic = DynamicClient(api)
    nodes = len(client.CoreV1Api(api).list_node().items)
    rows = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-k8s-") as tmp:
        work = Path(tmp)
        try:
            for count in counts:
                base_rels = releases(count, "bk-")
                manifests = [m for r in base_rels for m in fill_secrets(r["manifests"], secrets_of(r))]
                path = work / f"all-{count}.yaml"
                path.write_text(yaml.safe_dump_all(manifests))
                base_first = kubectl_apply(kubectl, path)
                base_again = kubectl_apply(kubectl, path)
                our_rels = releases(count, "bo-")
                our_first, changed_first = ours(dynamic, our_rels)
                if changed_first != len(manifests):
                    print(f"WARNING: the first run wrote {changed_first} of {len(manifests)} objects")
                    ok = False
                our_again, changed_again = ours(dynamic, our_rels)
                if changed_again:
                    print(f"WARNING: the no-change run changed {changed_again} objects")
                    ok = False
                rows.append((count, len(manifests), base_first, our_first, base_again, our_again))
                if not args.keep:
                    delete_namespaces(kubectl, "bk-")
                    delete_namespaces(kubectl, "bo-")
                    wait_gone(kubectl, ("bk-", "bo-"))
            role_times = role(kubeconfig, args.role_apps, work) if args.role_apps else None
        finally:
            if not args.keep:
                for prefix in ("bk-", "bo-", "br-"):
                    delete_namespaces(kubectl, prefix)
            api.close()
    print(f"k8s_release vs kubectl apply --server-side ({nodes} simulated nodes)")
    print(
        f"{'apps':>5} {'objects':>8} {'kubectl':>9} {'ours':>8} {'ratio':>6}   "
        f"{'kubectl no-op':>13} {'ours no-op':>10} {'ratio':>6}"
    )
    for count, objects, bf, of, ba, oa in rows:
        print(
            f"{count:>5} {objects:>8} {bf:>8.2f}s {of:>7.2f}s {of / bf:>6.2f}   "
            f"{ba:>12.2f}s {oa:>9.2f}s {oa / ba:>6.2f}"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last[0] / first[0]
        print(
            f"growth {first[0]} -> {last[0]} apps (x{growth:.0f}): kubectl x{last[2] / first[2]:.1f}, "
            f"ours x{last[3] / first[3]:.1f}; no-op: kubectl x{last[4] / first[4]:.1f}, ours x{last[5] / first[5]:.1f}"
        )
    count, objects, bf, of, ba, oa = rows[-1]
    first_ok, again_ok = of / bf <= 2.0, oa / ba <= 1.5
    print(
        f"k8s_release: first apply ratio ours/kubectl = {of / bf:.2f} (target <= 2.00) {'OK' if first_ok else 'OVER'}"
    )
    print(f"k8s_release: no-change ratio ours/kubectl = {oa / ba:.2f} (target <= 1.50) {'OK' if again_ok else 'OVER'}")
    if role_times:
        print(
            f"role k8s_app through ansible-playbook, {args.role_apps} apps: first {role_times[0]:.1f} s, "
            f"second (no change) {role_times[1]:.1f} s"
        )
    print(json.dumps({"rows": rows}))
    return 0 if ok and first_ok and again_ok else 1


if __name__ == "__main__":
    sys.exit(main())
