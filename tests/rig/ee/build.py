# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the collection's execution environment with ansible-builder, on the rig's Debian base.

``execution-environment.yml`` is the definition for real sites (an EL9 base, dnf, Galaxy). No
container registry or Galaxy can be reached here, so this script builds the same definition with
``override.yml`` merged over it (see that file: the rig's Debian base image from the local
registry, apt-get as ansible-builder's package manager, the collections of the PyPI ``ansible``
package). Steps:

1. ``ansible-galaxy collection build`` into ``build/`` (what ``make build`` does);
2. the merged definition into ``$RIG_STATE/ee/execution-environment.yml``, with the definition's
   relative paths made absolute, the build host's CA certificates (``/usr/local/share/ca-certificates``:
   the build containers reach PyPI through the same TLS proxy as the host) and, when the rig has
   built them, kubectl and helm (``tests/rig/k8s/build.sh``);
3. a tag made of a hash of everything that goes in (the merged definition, the files it names,
   the collection tarball's members, ansible-builder's version): an image with that tag, locally or
   in the local registry, is not built again;
4. ``ansible-builder build`` (log: ``$RIG_STATE/build-ee.log``), then a push to the local registry,
   which AAP would pull the EE from.

Usage: build.py           build if needed, print the image reference
       build.py --ref     print the reference it would have, build nothing
Needs the rig (``make rig``: the engine, the registry and the base image).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
RIG = HERE.parent
ROOT = RIG.parents[1]
sys.path.insert(0, str(RIG))
import images  # noqa: E402  (the rig's registry and cache helpers)

WORK = images.STATE / "ee"  # the merged definition, its files and the build context
REPO = "opsdeck/ee"
HOST_CAS = Path("/usr/local/share/ca-certificates")
BIN = Path(sys.executable).parent


def merge(base: Any, over: Any) -> Any:
    """override.yml's rules: mappings merge, ``key+`` appends a list, null removes, else replace."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    out = dict(base)
    for key, value in over.items():
        if key.endswith("+"):
            name = key[:-1]
            out[name] = [*(out.get(name) or []), *value]
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


def absolute(definition: dict) -> dict:
    """The definition's relative paths made absolute (relative to the repository root)."""
    deps = definition.get("dependencies") or {}
    for key in ("python", "system", "galaxy"):
        if isinstance(deps.get(key), str):
            deps[key] = str(ROOT / deps[key])
    entries = []
    for entry in definition.get("additional_build_files") or []:
        matches = sorted(ROOT.glob(entry["src"]))
        if len(matches) != 1:
            raise SystemExit(f"ee: additional_build_files {entry['src']!r} matches {len(matches)} files, not one")
        entries.append({**entry, "src": str(matches[0])})
    definition["additional_build_files"] = entries
    return definition


def collection_tarball() -> Path:
    meta = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    tarball = ROOT / "build" / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(tarball.parent)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return tarball


def k8s_binaries() -> list[Path]:
    """kubectl and helm of the rig's Kubernetes control plane, if tests/rig/k8s/build.sh built them."""
    key = subprocess.run(
        ["bash", str(RIG / "k8s" / "build.sh"), "--key"], capture_output=True, text=True, check=True
    ).stdout.strip()
    bindir = images.CACHE / "k8s" / key / "bin"
    return [bindir / name for name in ("kubectl", "helm") if os.access(bindir / name, os.X_OK)]


def digest(h: hashlib._Hash, path: Path) -> None:
    if path.is_dir():
        images._files_digest(h, path)
    elif path.name.endswith(".tar.gz"):
        # the members, not the archive: a rebuilt tarball of the same files has other mtimes
        with tarfile.open(path) as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                h.update(f"{member.name}\0{member.mode:o}\0".encode())
                if member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    h.update(extracted.read() + b"\0")
    else:
        h.update(path.read_bytes() + b"\0")


def prepare() -> tuple[Path, str]:
    """Write the merged definition and its files under build/ee; return it and the image reference."""
    base_ref = os.environ.get("OPSDECK_EE_BASE_IMAGE")
    if not base_ref:
        state = images.STATE / "images.json"
        if not state.is_file():
            raise SystemExit(f"ee: {state} is missing: run `make rig` first (it builds the base image)")
        base_ref = json.loads(state.read_text())["base"]
    collection_tarball()
    definition = absolute(yaml.safe_load((ROOT / "execution-environment.yml").read_text()))
    definition = merge(definition, yaml.safe_load((HERE / "override.yml").read_text()))
    definition["images"] = {"base_image": {"name": base_ref}}

    if WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "ca").mkdir(parents=True)
    (WORK / "bin").mkdir()
    for cert in sorted(HOST_CAS.glob("*.crt")):
        shutil.copyfile(cert, WORK / "ca" / f"opsdeck-build-{cert.name}")
    for binary in k8s_binaries():
        shutil.copy2(binary, WORK / "bin" / binary.name)
    path = WORK / "execution-environment.yml"
    path.write_text(
        "# Generated by tests/rig/ee/build.py: execution-environment.yml with tests/rig/ee/override.yml\n"
        + yaml.safe_dump(definition, sort_keys=False)
    )

    h = hashlib.sha256()
    # paths relative to the checkout, so that another clone of the same files finds the same image
    portable = yaml.safe_dump(definition, sort_keys=True).replace(str(WORK), "$WORK").replace(str(ROOT), ".")
    h.update(portable.encode() + b"\0")
    h.update(f"ansible-builder {version('ansible-builder')}\0".encode())
    deps = definition["dependencies"]
    files = [Path(deps[k]) for k in ("python", "system", "galaxy") if isinstance(deps.get(k), str)]
    files += [path.parent / entry["src"] for entry in definition["additional_build_files"]]
    for file in files:
        name = file.relative_to(WORK) if file.is_relative_to(WORK) else file.relative_to(ROOT)
        h.update(f"{name}\0".encode())
        digest(h, file)
    return path, f"{images.REGISTRY}/{REPO}:{h.hexdigest()[:12]}"


def build(only_ref: bool = False) -> str:
    images.STATE.mkdir(parents=True, exist_ok=True)
    with (images.STATE / "ee.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        definition, ref = prepare()
        if only_ref:
            return ref
        logfile = images.STATE / "build-ee.log"
        if images.local_has(ref):
            images.ensure_published(ref, logfile)
            return ref
        if images.registry_has(ref):
            images.run(["docker", "pull", "-q", ref], logfile)
            return ref
        images.log(f"building the execution environment {ref} with ansible-builder (log {logfile})")
        start = time.monotonic()
        logfile.write_text("")
        images.run(
            [
                str(BIN / "ansible-builder"),
                "build",
                "-f",
                str(definition),
                "-c",
                str(WORK / "context"),
                "-t",
                ref,
                "--container-runtime",
                "docker",
                "-v",
                "3",
            ],
            logfile,
            cwd=ROOT,
            env=dict(os.environ, DOCKER_BUILDKIT="0"),
        )
        images.ensure_published(ref, logfile)
        images.log(f"execution environment built in {time.monotonic() - start:.0f} s")
        return ref


def main(argv: list[str]) -> int:
    if argv not in ([], ["--ref"]):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        print(build(only_ref=bool(argv)))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"ee: ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
