# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the test images with no container registry to pull from.

The base image comes from ``debootstrap`` plus ``docker import``; every other image is a
Dockerfile under ``tests/rig/images/<dir>/`` that starts ``FROM ${BASE}`` and installs
Debian packages (or a binary that the directory's ``prebuild.sh`` compiles from source).

An image whose recipe is a product file of the collection (the backup engine's
``images/backup-engine/``) names it with ``context`` (paths of the collection root, copied into
the build context at the same paths, ``__pycache__`` left out) and ``dockerfile`` (its path in
that context) instead of a directory here: the rig builds the recipe users build, from its base.

Each image is tagged by a hash of its recipe: the files of its directory (or of its context),
its build arguments and its parent's reference. An image whose tag already exists locally or in
the local registry is not rebuilt. Built images are pushed to the local registry
(``127.0.0.1:5000`` by default), so roles pull them by a registry-prefixed name exactly
as an air-gapped site pulls from its mirror.

The resolved references are written to ``$RIG_STATE/images.json`` (name -> reference),
``images.env`` (``OPSDECK_IMAGE_<NAME>=...`` for the shell and molecule, followed by the
lines of ``tools.env``: the host tools that up.sh built, e.g. ``OPSDECK_S3_SERVER_BIN``) and
``images.yml`` (``opsdeck_rig_images`` for Ansible).

Usage: images.py build [NAME...] | images.py list
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("RIG_ROOT", HERE.parents[1]))
STATE = Path(os.environ.get("RIG_STATE", HERE / ".state"))
CACHE = Path(os.environ.get("RIG_CACHE", Path.home() / ".cache" / "opsdeck"))
REGISTRY = os.environ.get("RIG_REGISTRY", "127.0.0.1:5000")
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def log(msg: str) -> None:
    print(f"rig: {msg}", file=sys.stderr, flush=True)


@dataclass
class Image:
    name: str  # key in images.yml, e.g. "sampleapp-v1"
    repo: str  # repository under the registry, e.g. "opsdeck/sampleapp"
    directory: Path | None  # recipe directory; None for the debootstrap base
    args: dict[str, str] = field(default_factory=dict)
    tag_prefix: str = ""
    parent: str | None = "base"
    ref: str = ""
    context: list[str] = field(default_factory=list)  # collection paths (instead of directory)
    dockerfile: str = "Dockerfile"


_IGNORED = ("__pycache__", "*.pyc")


def _files_digest(h: hashlib._Hash, directory: Path, prefix: str = "") -> None:
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        rel = prefix + path.relative_to(directory).as_posix()
        h.update(rel.encode() + b"\0")
        h.update(oct(path.stat().st_mode & 0o111).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")


def load_recipes() -> tuple[dict, dict[str, Image]]:
    spec = yaml.safe_load((HERE / "images.yml").read_text())
    images: dict[str, Image] = {}
    for name, conf in (spec.get("images") or {}).items():
        conf = conf or {}
        context = [str(c).strip("/") for c in conf.get("context") or []]
        directory = None if context else HERE / "images" / conf.get("dir", name)
        dockerfile = str(conf.get("dockerfile", "Dockerfile"))
        if context:
            missing = [c for c in context if not (ROOT / c).is_dir()]
            if missing or not (ROOT / dockerfile).is_file():
                raise SystemExit(f"rig: image '{name}': context {missing or context} or {dockerfile} not in {ROOT}")
        elif not (directory / "Dockerfile").is_file():
            raise SystemExit(f"rig: image '{name}': no Dockerfile in {directory}")
        repo = conf.get("repo", f"opsdeck/{conf.get('dir', name)}")
        images[name] = Image(
            name=name,
            repo=repo,
            directory=directory,
            args={k: str(v) for k, v in (conf.get("args") or {}).items()},
            tag_prefix=str(conf.get("tag_prefix", "")),
            parent=conf.get("parent", "base"),
            context=context,
            dockerfile=dockerfile,
        )
    return spec.get("base") or {}, images


def apt_mirror() -> str:
    """The Debian mirror of this machine's apt sources (debootstrap must use a reachable one)."""
    candidates = [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]
    for src in candidates:
        if not src.is_file():
            continue
        text = src.read_text()
        m = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.M) or re.search(
            r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s+bookworm", text, re.M
        )
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def base_hash(base: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(base, sort_keys=True).encode())
    h.update((HERE / "base.sh").read_bytes())
    return h.hexdigest()[:12]


def image_hash(img: Image, parent_ref: str) -> str:
    h = hashlib.sha256()
    h.update(parent_ref.encode() + b"\0")
    h.update(json.dumps(img.args, sort_keys=True).encode() + b"\0")
    if img.context:
        h.update(img.dockerfile.encode() + b"\0")
        for path in img.context:
            _files_digest(h, ROOT / path, prefix=f"{path}/")
        return h.hexdigest()[:12]
    assert img.directory is not None
    _files_digest(h, img.directory)
    return h.hexdigest()[:12]


def run(cmd: list[str], logfile: Path | None = None, **kw) -> None:
    if logfile is None:
        subprocess.run(cmd, check=True, **kw)
        return
    with logfile.open("ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False, **kw)
    if proc.returncode:
        tail = logfile.read_text(errors="replace").splitlines()[-25:]
        raise RuntimeError(f"{' '.join(cmd[:3])} failed (exit {proc.returncode}); log {logfile}:\n" + "\n".join(tail))


def local_has(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True, check=False).returncode == 0


def registry_has(ref: str) -> bool:
    registry, _sep, rest = ref.partition("/")
    repo, _sep, tag = rest.rpartition(":")
    req = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{tag}", method="HEAD", headers={"Accept": MANIFEST_ACCEPT}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise
    except urllib.error.URLError as exc:
        raise SystemExit(f"rig: the registry {registry} does not answer ({exc.reason}); run tests/rig/up.sh") from exc


def ensure_published(ref: str, logfile: Path) -> None:
    if not registry_has(ref):
        run(["docker", "push", "-q", ref], logfile)


def build_base(base: dict) -> str:
    ref = f"{REGISTRY}/opsdeck/base:{base.get('suite', 'bookworm')}-{base_hash(base)}"
    logfile = STATE / "build-base.log"
    if local_has(ref):
        ensure_published(ref, logfile)
        return ref
    if registry_has(ref):
        run(["docker", "pull", "-q", ref], logfile)
        return ref
    log(f"building base image {ref} with debootstrap (about 40 s)")
    start = time.monotonic()
    env = dict(os.environ, SUITE=base.get("suite", "bookworm"), VARIANT=base.get("variant", "minbase"))
    env["INCLUDE"] = ",".join(base.get("include", []))
    env["MIRROR"] = apt_mirror()
    env["REF"] = ref
    run(["bash", str(HERE / "base.sh")], logfile, env=env)
    ensure_published(ref, logfile)
    log(f"base image built in {time.monotonic() - start:.0f} s")
    return ref


def build_image(img: Image, parent_ref: str) -> str:
    tag = f"{img.tag_prefix}{image_hash(img, parent_ref)}"
    ref = f"{REGISTRY}/{img.repo}:{tag}"
    logfile = STATE / f"build-{img.name}.log"
    if local_has(ref):
        ensure_published(ref, logfile)
        return ref
    if registry_has(ref):
        run(["docker", "pull", "-q", ref], logfile)
        return ref
    log(f"building {ref}")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"rig-{img.name}-") as tmp:
        ctx = Path(tmp) / "ctx"
        if img.context:
            for path in img.context:
                shutil.copytree(ROOT / path, ctx / path, ignore=shutil.ignore_patterns(*_IGNORED))
        else:
            assert img.directory is not None
            shutil.copytree(img.directory, ctx)
        if (ctx / "prebuild.sh").is_file():
            env = dict(os.environ, CONTEXT=str(ctx), RIG_ROOT=os.environ.get("RIG_ROOT", str(HERE.parents[1])))
            run(["bash", str(ctx / "prebuild.sh")], logfile, cwd=ctx, env=env)
        cmd = ["docker", "build", "-q", "-f", str(ctx / img.dockerfile), "--build-arg", f"BASE={parent_ref}"]
        cmd += ["-t", ref]
        for key, value in img.args.items():
            cmd += ["--build-arg", f"{key}={value}"]
        run([*cmd, str(ctx)], logfile, env=dict(os.environ, DOCKER_BUILDKIT="0"))
    ensure_published(ref, logfile)
    log(f"built {img.name} in {time.monotonic() - start:.0f} s")
    return ref


def write_state(refs: dict[str, str]) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "images.json").write_text(json.dumps(refs, indent=2, sort_keys=True) + "\n")
    env_lines = [f"OPSDECK_IMAGE_{re.sub(r'[^A-Z0-9]', '_', k.upper())}={v}" for k, v in sorted(refs.items())]
    env_lines.append(f"OPSDECK_REGISTRY={REGISTRY}")
    # Host tools that up.sh built (e.g. OPSDECK_S3_SERVER_BIN), so that tests see them too.
    tools = STATE / "tools.env"
    if tools.is_file():
        env_lines += [line for line in tools.read_text().splitlines() if line.strip()]
    (STATE / "images.env").write_text("\n".join(env_lines) + "\n")
    (STATE / "images.yml").write_text(
        yaml.safe_dump({"opsdeck_rig_registry": REGISTRY, "opsdeck_rig_images": refs}, sort_keys=True)
    )


def build(selected: list[str]) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    base, images = load_recipes()
    unknown = [s for s in selected if s not in images and s != "base"]
    if unknown:
        raise SystemExit(f"rig: unknown image(s) {unknown}; known: {sorted(images)}")
    refs: dict[str, str] = {"base": build_base(base)}
    todo = {n: i for n, i in images.items() if not selected or n in selected}
    start = time.monotonic()
    # Images whose parent is built go in waves; apt downloads overlap well on two cores.
    while todo:
        ready = [i for i in todo.values() if (i.parent or "base") in refs]
        if not ready:
            raise SystemExit(f"rig: images with unknown or cyclic parents: {sorted(todo)}")
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = {i.name: pool.submit(build_image, i, refs[i.parent or "base"]) for i in ready}
        for name, fut in results.items():
            refs[name] = fut.result()
            del todo[name]
    if selected:
        previous = json.loads((STATE / "images.json").read_text()) if (STATE / "images.json").is_file() else {}
        refs = {**previous, **refs}
    write_state(refs)
    log(f"{len(refs)} images ready in {time.monotonic() - start:.0f} s")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("build", "list"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "list":
        _base, images = load_recipes()
        print("\n".join(["base", *images]))
        return 0
    try:
        build(argv[1:])
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"rig: ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
