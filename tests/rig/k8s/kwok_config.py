# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the kwokctl configuration of the test cluster.

    kwok_config.py STAGES_DIR OUTPUT

STAGES_DIR holds the kwok module's own stage files (build.sh copies them from the
module cache). A ``--config`` file with Stage documents replaces kwok's default stages,
so the output carries the defaults of ``kustomize/stage/fast`` (fast node initialize,
node heartbeat with lease, pod ready / complete / delete) with one change:

* ``pod-ready`` is narrowed to pods WITHOUT the marker label ``opsdeck.test/unready``;
* ``pod-unready``, a copy of it for pods WITH the label ``opsdeck.test/unready: "true"``,
  gives them an IP and a Running phase but writes ``Ready`` and ``ContainersReady``
  False and its containers ``ready: false``. Such a pod never becomes Ready, so a
  Deployment whose new template carries the label stalls and reports
  ``ProgressDeadlineExceeded`` while its old pods stay Ready;
* ``pod-complete`` (pods of Jobs finish with exit code 0) is narrowed to pods WITHOUT
  the marker label ``opsdeck.test/fail``; ``pod-failed``, a copy of it for pods WITH
  ``opsdeck.test/fail: "true"``, ends them with exit code 1 (reason ``Error``, phase
  ``Failed``), so a Job of such pods fails for real (``BackoffLimitExceeded``).

A first KwokctlConfiguration document binds every component to 127.0.0.1 (kwokctl's
default is 0.0.0.0).
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import yaml

MARKER = "opsdeck.test/unready"
MARKER_KEY = f'.metadata.labels["{MARKER}"]'
FAIL_MARKER = "opsdeck.test/fail"
FAIL_KEY = f'.metadata.labels["{FAIL_MARKER}"]'

# Stage files taken as they are, in kwok's own order (kustomize/stage/fast).
AS_IS = [
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-delete.yaml",
]
POD_READY = "pod/fast/pod-ready.yaml"
POD_COMPLETE = "pod/fast/pod-complete.yaml"

KWOKCTL = {
    "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
    "kind": "KwokctlConfiguration",
    "options": {"bindAddress": "127.0.0.1"},
}


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or doc.get("kind") != "Stage":
        raise SystemExit(f"{path}: not a kwok Stage")
    return doc


def unready(ready: dict) -> dict:
    """The pod-ready stage turned into one that leaves the pod Running but not Ready."""
    stage = copy.deepcopy(ready)
    stage["metadata"]["name"] = "pod-unready"
    stage["spec"]["selector"]["matchExpressions"].append({"key": MARKER_KEY, "operator": "In", "values": ["true"]})
    template = stage["spec"]["next"]["statusTemplate"]
    template, n = re.subn(r'status: "True"(\s+)type: (Ready|ContainersReady)\b', r'status: "False"\1type: \2', template)
    if n != 2:
        raise SystemExit(f"{POD_READY}: expected the Ready and ContainersReady conditions, changed {n}")
    head, sep, tail = template.partition("initContainerStatuses:")
    head, n = re.subn(r"\bready: true\b", "ready: false", head)
    if n != 1 or not sep:
        raise SystemExit(f"{POD_READY}: expected one 'ready: true' in containerStatuses, changed {n}")
    stage["spec"]["next"]["statusTemplate"] = head + sep + tail
    return stage


def failed(complete: dict) -> dict:
    """The pod-complete stage turned into one that ends the pod's containers with exit code 1."""
    stage = copy.deepcopy(complete)
    stage["metadata"]["name"] = "pod-failed"
    stage["spec"]["selector"]["matchExpressions"].append({"key": FAIL_KEY, "operator": "In", "values": ["true"]})
    template = stage["spec"]["next"]["statusTemplate"]
    changes = (
        (r"\bexitCode: 0\b", "exitCode: 1"),
        (r"\breason: Completed\b", "reason: Error"),
        (r"\bphase: Succeeded\b", "phase: Failed"),
    )
    for pattern, replacement in changes:
        template, n = re.subn(pattern, replacement, template)
        if n != 1:
            raise SystemExit(f"{POD_COMPLETE}: expected one {pattern!r}, changed {n}")
    stage["spec"]["next"]["statusTemplate"] = template
    return stage


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    stages_dir, output = Path(argv[1]), Path(argv[2])
    docs: list[dict] = [KWOKCTL]
    docs += [load(stages_dir / rel) for rel in AS_IS[:2]]
    ready = load(stages_dir / POD_READY)
    not_marked = copy.deepcopy(ready)
    not_marked["spec"]["selector"]["matchExpressions"].append({"key": MARKER_KEY, "operator": "DoesNotExist"})
    docs += [not_marked, unready(ready)]
    complete = load(stages_dir / POD_COMPLETE)
    not_failing = copy.deepcopy(complete)
    not_failing["spec"]["selector"]["matchExpressions"].append({"key": FAIL_KEY, "operator": "DoesNotExist"})
    docs += [not_failing, failed(complete)]
    docs += [load(stages_dir / rel) for rel in AS_IS[2:]]
    tmp = output.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    tmp.replace(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
