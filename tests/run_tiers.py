# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the test tiers in order and print one summary line per tier.

    run_tiers.py [--scenario NAME] TIER [TIER...]

Tiers: rig, lint, sanity, unit, integration, molecule, k8s. Every tier runs even when an
earlier one failed (so one run reports everything), except that the tiers standing on
the rig (integration, molecule) are counted failed when the rig could not be set up.
Logs of each step go to tests/.logs/; a failing step prints the tail of its log.

Builds that only a later tier needs start early, in the background, at the lowest CPU
priority (``nice -n 19``: they take what the tiers leave idle): the Kubernetes control
plane (tests/rig/k8s/build.sh) from the start when the k8s tier is to run after others,
and the execution environment image (tests/rig/ee/build.py) once the rig is up when the
integration tier is to run. Both take a lock, so the tier that needs one waits for the
background build to end (or builds it itself when the background build failed). On a
machine that has them cached they end at once.

The run ends with a line per tier (``molecule: 3 passed, 0 failed (412 s)``) and a last
line ``total: N passed, N failed``; the exit status is non-zero on any failure. A tier
with nothing to run (pytest's exit 5) counts as 0 passed, 0 failed: not a failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from canary import scan_log  # tests/canary.py (this script's folder is first on sys.path)

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "tests" / ".logs"
VENV_BIN = Path(sys.executable).parent
TAIL = 60
# The summary repeats, per failed step, its last lines that look like a cause, so that the
# end of the output (all that some CI views keep) still says why.
CAUSE = re.compile(r"fatal:|FAILED!|FAILED |ERROR|Error:|AssertionError|assert |Traceback|\*\*\* timed out")
CAUSE_LINES = 15
EXCERPTS: list[tuple[str, list[str]]] = []
# ansible-doc must list the collection's modules and filters and render each one.
DOC_CHECK = """
set -euo pipefail
for kind in module filter; do
  names=$(ansible-doc -t "$kind" -l opsdeck.platform --json | python -c 'import json,sys; print(*json.load(sys.stdin))')
  [ -n "$names" ] || { echo "ansible-doc lists no $kind of opsdeck.platform"; exit 1; }
  for name in $names; do ansible-doc -t "$kind" "$name" >/dev/null; echo "$kind $name: ok"; done
done
"""


@dataclass
class Tier:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return f"{self.name}: {self.passed} passed, {self.failed} failed{skipped} ({self.seconds:.0f} s)"


def say(msg: str) -> None:
    print(msg, flush=True)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{VENV_BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    e.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".collections"))
    e.setdefault("ANSIBLE_FORCE_COLOR", "0")
    e.setdefault("PY_COLORS", "0")
    images_env = ROOT / "tests" / "rig" / ".state" / "images.env"
    if images_env.is_file():
        for line in images_env.read_text().splitlines():
            key, _sep, value = line.partition("=")
            if key:
                e.setdefault(key, value)
    return e


def step(tier: Tier, label: str, argv: list[str], *, cwd: Path = ROOT, timeout: int = 3600) -> int:
    """Run one command, log it to tests/.logs/<tier>-<label>.log, return its exit status."""
    LOGS.mkdir(parents=True, exist_ok=True)
    logfile = LOGS / f"{tier.name}-{label}.log".replace("/", "_")
    say(f"--- {tier.name}: {label}: {' '.join(argv)}")
    start = time.monotonic()
    with logfile.open("wb") as out:
        try:
            rc = subprocess.run(
                argv, cwd=cwd, env=env(), stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            out.write(f"\n*** timed out after {timeout} s\n".encode())
            rc = 124
        except FileNotFoundError as exc:
            out.write(f"\n*** {exc}\n".encode())
            rc = 127
    took = time.monotonic() - start
    if rc not in (0, 5):
        lines = logfile.read_text(errors="replace").splitlines()
        say(f"--- {tier.name}: {label} FAILED (exit {rc}, {took:.0f} s); last {TAIL} lines of {logfile}:")
        for line in lines[-TAIL:]:
            say(f"    {line}")
        EXCERPTS.append((f"{tier.name}: {label}", [ln for ln in lines if CAUSE.search(ln)][-CAUSE_LINES:]))
    else:
        say(f"--- {tier.name}: {label} ok ({took:.0f} s)")
    return rc


def count_simple(tier: Tier, label: str, rc: int) -> None:
    if rc == 0:
        tier.passed += 1
    else:
        tier.failed += 1
        tier.failures.append(label)


def run_pytest(tier: Tier, paths: list[str], extra: list[str] | None = None) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    junit = LOGS / f"{tier.name}-junit.xml"
    junit.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "pytest", *paths, "-rfEs", f"--junitxml={junit}", *(extra or [])]
    rc = step(tier, "pytest", argv)
    if rc == 5:  # no tests collected: an empty tier is not a failure
        return
    if not junit.is_file():
        tier.failed += 1
        tier.failures.append("pytest (no report)")
        return
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for s in suites:
        total = int(s.get("tests", 0))
        failed = int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped = int(s.get("skipped", 0))
        tier.passed += total - failed - skipped
        tier.failed += failed
        tier.skipped += skipped
    if rc != 0 and tier.failed == 0:
        tier.failed += 1
        tier.failures.append(f"pytest exit {rc}")


class Background:
    """A build started early at the lowest CPU priority; its log goes to tests/.logs/background-<name>.log."""

    def __init__(self, name: str, argv: list[str]) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log = LOGS / f"background-{name}.log"
        self.start = time.monotonic()
        say(f"--- background: {name}: {' '.join(argv)} (log: {self.log})")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["nice", "-n", "19", *argv], cwd=ROOT, env=env(), stdout=out, stderr=subprocess.STDOUT
            )

    def finish(self) -> None:
        """Wait for it and say how it ended (a failure is not counted: the tier needing it builds again)."""
        rc = self.proc.wait()
        how = "ok" if rc == 0 else f"FAILED (exit {rc}; the tier that needs it builds it again)"
        say(f"--- background: {self.name} {how} ({time.monotonic() - self.start:.0f} s after its start)")


def background_builds(tiers: list[str], after: str | None) -> list[Background]:
    """The background builds to start at this point of the run (``after``: the tier just done)."""
    started = []
    if after is None and "k8s" in tiers and tiers.index("k8s") > 0:
        started.append(Background("k8s-build", ["bash", "tests/rig/k8s/build.sh"]))
    if after == "rig" and "integration" in tiers:
        started.append(Background("ee-build", [sys.executable, "tests/rig/ee/build.py"]))
    return started


def tier_rig(tier: Tier, _args: argparse.Namespace) -> None:
    count_simple(tier, "up", step(tier, "up", ["bash", "tests/rig/up.sh"], timeout=2400))


def tier_lint(tier: Tier, _args: argparse.Namespace) -> None:
    checks = {
        "yamllint": ["yamllint", "-s", "."],
        "ruff-check": ["ruff", "check", "."],
        "ruff-format": ["ruff", "format", "--check", "."],
        "ansible-lint": ["ansible-lint", "--offline", "-q"],
        "shellcheck": [
            "bash",
            "-c",
            "command -v shellcheck >/dev/null || exit 0; git ls-files -z '*.sh' | xargs -0 -r shellcheck -x -S warning",
        ],
    }
    with tempfile.TemporaryDirectory(prefix="opsdeck-build-") as out:
        # The collection builds, and ansible-doc lists and renders its plugins.
        checks["collection-build"] = ["ansible-galaxy", "collection", "build", "--force", "--output-path", out]
        checks["ansible-doc"] = ["bash", "-c", DOC_CHECK]
        # Independent checks: run two at a time (two cores), report in a fixed order.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {label: pool.submit(step, tier, label, argv) for label, argv in checks.items()}
            for label, fut in futures.items():
                count_simple(tier, label, fut.result())


def install_get_pip_stand_in() -> None:
    """ansible-test downloads a get-pip script that cannot be reached here: put ours in its cache."""
    import re

    import ansible_test

    source = (Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
    match = re.search(r"pip='([0-9.]+)'", source)
    version = match.group(1) if match else "24.2"
    cache = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "tests" / "rig" / "get_pip_offline.py", cache)


def tier_sanity(tier: Tier, _args: argparse.Namespace) -> None:
    """ansible-test sanity on a copy of the tracked files laid out as ansible_collections/opsdeck/platform.

    ansible-test insists that the collection lives at that path (it resolves the real
    working directory, so the .collections symlink does not satisfy it). Tests that
    need a container or a network image are not run: `--venv` builds each test's
    requirements from PyPI instead (through tests/rig/get_pip_offline.py).
    """
    install_get_pip_stand_in()
    tmp = Path(tempfile.mkdtemp(prefix="opsdeck-sanity-"))
    try:
        dest = tmp / "ansible_collections" / "opsdeck" / "platform"
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
        for raw in filter(None, files):
            rel = raw.decode()
            src = ROOT / rel
            if src.is_symlink() and rel.startswith(".collections"):
                continue
            if not src.exists() and not src.is_symlink():
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                target.symlink_to(os.readlink(src))
            else:
                shutil.copy2(src, target)
        subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
        subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
        argv = [
            str(VENV_BIN / "ansible-test"),
            "sanity",
            "--color",
            "no",
            "--python",
            "3.11",
            "--venv",
        ]
        count_simple(tier, "ansible-test", step(tier, "ansible-test", argv, cwd=dest))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tier_unit(tier: Tier, _args: argparse.Namespace) -> None:
    run_pytest(tier, ["tests/unit"])


def tier_integration(tier: Tier, _args: argparse.Namespace) -> None:
    run_pytest(tier, ["tests/integration"])


def scenarios(only: str | None) -> list[str]:
    found = sorted(
        p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml") if not p.parent.name.startswith("_")
    )
    if only:
        if only not in found:
            raise SystemExit(f"no molecule scenario '{only}'; have: {', '.join(found)}")
        return [only]
    skip = set(filter(None, os.environ.get("MOLECULE_SKIP", "").split(",")))
    return [s for s in found if s not in skip]


def scenario_secrets(name: str) -> dict[str, str]:
    """The ``vault_*`` values of a scenario's group_vars: what must never reach its log."""
    found = {}
    for path in sorted((ROOT / "molecule" / name / "group_vars").glob("*/*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        found.update({k: v for k, v in data.items() if k.startswith("vault_") and isinstance(v, str)})
    return found


def secret_leaks(name: str) -> list[str]:
    """The scenario's secrets found in its log (the site scenario runs at -vvv), as leaks to print.

    A real run's counterpart of tests/integration/test_secret_canary.py (check mode): the values
    are searched as they are and in base64, and a hit shows the line with the value masked.
    """
    canaries = scenario_secrets(name)
    logfile = LOGS / f"molecule-{name}.log"
    if not canaries or not logfile.exists():
        return []
    return [str(leak) for leak in scan_log(logfile.read_text(errors="replace"), logfile.name, canaries)]


def tier_molecule(tier: Tier, args: argparse.Namespace) -> None:
    for name in scenarios(args.scenario):
        rc = step(tier, name, [str(VENV_BIN / "molecule"), "test", "-s", name], timeout=2400)
        leaks = secret_leaks(name)
        if leaks:
            say(f"--- {tier.name}: {name}: {len(leaks)} secret value(s) in the log:")
            for leak in leaks[:TAIL]:
                say(f"    {leak}")
            EXCERPTS.append((f"{tier.name}: {name}: secrets in the log", leaks[:CAUSE_LINES]))
            rc = rc or 1
        count_simple(tier, name, rc)


def tier_k8s(tier: Tier, _args: argparse.Namespace) -> None:
    """The Kubernetes tier: build (first time on a machine) and start the control plane, then pytest.

    tests/k8s's session fixture finds the cluster up (up.sh is idempotent) and deletes it at the end.
    """
    rc = step(tier, "up", ["bash", "tests/rig/k8s/up.sh"], timeout=3600)
    if rc != 0:
        tier.failed += 1
        tier.failures.append("tests/rig/k8s/up.sh")
        return
    run_pytest(tier, ["tests/k8s"])


TIERS = {
    "rig": tier_rig,
    "lint": tier_lint,
    "sanity": tier_sanity,
    "unit": tier_unit,
    "integration": tier_integration,
    "molecule": tier_molecule,
    "k8s": tier_k8s,
}
NEEDS_RIG = {"integration", "molecule"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", help="run only this molecule scenario")
    parser.add_argument("tiers", nargs="+", choices=sorted(TIERS))
    args = parser.parse_args()
    results: list[Tier] = []
    rig_ok = True
    builds = background_builds(args.tiers, None)
    for name in args.tiers:
        tier = Tier(name)
        say(f"=== {name}")
        start = time.monotonic()
        if name in NEEDS_RIG and not rig_ok:
            tier.failed += 1
            tier.failures.append("the rig is not up")
        else:
            TIERS[name](tier, args)
        tier.seconds = time.monotonic() - start
        if name == "rig" and tier.failed:
            rig_ok = False
        results.append(tier)
        say(tier.line())
        if rig_ok:
            builds += background_builds(args.tiers, name)
    for build in builds:
        build.finish()
    say("=== summary")
    for tier in results:
        say(tier.line() + (f"  [failed: {', '.join(tier.failures)}]" if tier.failures else ""))
    for where, excerpt in EXCERPTS:
        say(f"--- why {where} failed (its last lines that name a cause):")
        for line in excerpt:
            say(f"    {line[:400]}")
    passed = sum(t.passed for t in results)
    failed = sum(t.failed for t in results)
    skipped = sum(t.skipped for t in results)
    say(f"total: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
