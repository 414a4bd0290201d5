# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter backup_engine_image: the image the collection builds itself (docs/images.md).

No upstream project publishes the backup engine's image, so the collection builds it from its
own files (``images/backup-engine/`` and the engine, ``plugins/module_utils/backup/``) with
community.docker's ``docker_image`` (playbooks/images.yml) and k8s_app's CronJobs run it. Both
sides must name the same tag without talking to each other or to the registry: the tag is the
collection's version and a digest of the build's inputs, computed here from the files of the
collection on the controller. A change to the engine or its recipe is a new tag (so a running
CronJob never pulls a different image under an old name); the same files are the same tag (so
a second build is a no-op). community.docker has no notion of an input digest, which is why this
exists. Documentation: images.yml next to this file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "opsdeck/backup-engine"
DOCKERFILE = "images/backup-engine/Dockerfile"
DEFAULT_BASE = "debian:bookworm-slim"
# The build context: what Dockerfile.dockerignore lets through, and the recipe itself.
_CONTEXT = (
    ("images/backup-engine", ("Dockerfile", "Dockerfile.dockerignore", "opsdeck-backup.py", "opsdeck-backup-job.py")),
    ("plugins/module_utils/backup", ("*.py",)),
)


def _version(root: Path) -> str:
    manifest = root / "MANIFEST.json"  # an installed collection
    if manifest.is_file():
        return str(json.loads(manifest.read_text())["collection_info"]["version"])
    for line in (root / "galaxy.yml").read_text().splitlines():  # a checkout
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    raise AnsibleFilterError(f"backup_engine_image: no version in {root}/MANIFEST.json or galaxy.yml")


def _context(root: Path) -> list[str]:
    files: list[str] = []
    for directory, patterns in _CONTEXT:
        for pattern in patterns:
            found = sorted(p for p in (root / directory).glob(pattern) if p.is_file())
            if not found:
                raise AnsibleFilterError(f"backup_engine_image: {directory}/{pattern} is missing from {root}")
            files += [p.relative_to(root).as_posix() for p in found]
    return files


def backup_engine_image(_input: Any = None, base: str = DEFAULT_BASE, root: str | None = None) -> dict[str, Any]:
    """``{repository, tag, reference, dockerfile, base, root, files}`` of the backup engine's image.

    ``reference`` (``opsdeck/backup-engine:<version>-<digest>``) names no registry: the roles put
    ``opsdeck_registry`` in front, as for every image without a registry host. ``base`` (the
    Dockerfile's BASE, a Debian bookworm image) is one of the inputs; ``files`` are the build
    context's paths relative to ``root``.
    """
    if not isinstance(base, str) or not base.strip():
        raise AnsibleFilterError(f"opsdeck_backup_engine_base: {base!r} is not an image reference")
    top = Path(root) if root else ROOT
    files = _context(top)
    h = hashlib.sha256()
    h.update(f"BASE={base}\0".encode())
    for rel in files:
        h.update(rel.encode() + b"\0" + (top / rel).read_bytes() + b"\0")
    tag = f"{_version(top)}-{h.hexdigest()[:12]}"
    return {
        "repository": REPOSITORY,
        "tag": tag,
        "reference": f"{REPOSITORY}:{tag}",
        "dockerfile": DOCKERFILE,
        "base": base,
        "root": str(top),
        "files": files,
    }


class FilterModule:
    """Image filters of opsdeck.platform."""

    def filters(self) -> dict[str, Any]:
        return {"backup_engine_image": backup_engine_image}
