# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Apply one app's release to a cluster: validate, server-side apply, prune, wait, roll back.

Used by the module ``opsdeck.platform.k8s_release``; the manifests come from
``k8s_render.render_apps``. Built on the ``kubernetes`` Python client's DynamicClient
(the library kubernetes.core uses) for what kubernetes.core's modules lack:

- one release is validated as a whole by a server dry-run before anything but its namespace
  is written (a namespaced object cannot be dry-run in a namespace that does not exist yet);
- ``changed`` and the diff come from comparing the live object with the server's dry-run
  of the apply, so a second run with the same model is ``changed=false`` and check mode
  tells exactly what a real run would write (defaults filled in by the server included);
- Secret values come from a separate ``no_log`` argument; the diff shows only which keys
  changed. Server-side apply writes no ``last-applied-configuration`` annotation;
- a failed rollout is told apart from a slow one: a Deployment whose ``Progressing``
  condition turns False with ``ProgressDeadlineExceeded``, or a StatefulSet that made no
  progress for ``progress_deadline_s`` (StatefulSets have no such condition), is rolled back
  to its previous revision (Deployment: the previous ReplicaSet's template, as ``kubectl
  rollout undo`` does; StatefulSet: the previous ControllerRevision, then its pods of the
  failed revision are deleted, as the StatefulSet documentation's "forced rollback" says)
  and the release fails with the reason. A rollout that still progresses when ``wait_timeout``
  runs out fails without a rollback: it is slow, not failed;
- objects of the app (by label) that the release no longer has are deleted (prune).

A DaemonSet (the platform's own releases have one: the log shipper of ``k8s_logging``) is
waited for like a StatefulSet: done when every scheduled node runs the updated pod, Ready
(``updatedNumberScheduled``, ``numberReady``, ``numberAvailable`` at ``desiredNumberScheduled``,
``observedGeneration`` current); failed when it made no progress for ``progress_deadline_s``,
then patched back to its previous ControllerRevision (the controller replaces the unavailable
pods itself). An object whose API path the server answers with a bare 404 (the discovery, cached
in a file that processes share, still had a CRD removed since) fails the release, or, for a
ServiceMonitor or PrometheusRule, is reported not applied; the discovery is fetched again.
A release that is not an app of the model names itself in messages by its
``title`` (``logging release 'opsdeck-logging'``) instead of ``app '<name>'``.

The reads (one list per kind for the whole run, the LiveIndex, instead of a GET per object)
and the dry-runs of one release run on a few threads. An object that carries the hash of its
manifest and every field of it with its value is not even dry-run (``unchanged``). The
writes keep the order that matters: what the workload needs (quota, limits, RBAC, config,
secrets, policies, Service, managed databases) on a few threads, then (once the databases'
StatefulSets are Ready) each hook Job, then the workload, then
what refers to it (PDB, HPA, Ingress, monitoring) on a few threads.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_common import (
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    release_set_selector,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_databases import keep_or_generate, secret_reader
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_manifests import (
    HOOK_ANNOTATION,
    HOOK_KINDS,
    MONITORING_KINDS,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_manifests import PRUNABLE as APP_PRUNABLE
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_manifests import (
    WORKLOAD_KINDS as APP_WORKLOAD_KINDS,
)

# The apps' workloads, and the DaemonSets of the platform's own releases (the log shipper).
WORKLOAD_KINDS = (*APP_WORKLOAD_KINDS, "DaemonSet")
# What may be pruned, in deletion order: a DaemonSet goes with the other workloads.
PRUNABLE = tuple(
    entry
    for item in APP_PRUNABLE
    for entry in ((item, ("apps/v1", "DaemonSet")) if item == ("apps/v1", "StatefulSet") else (item,))
)

FIELD_MANAGER = "opsdeck"
ROLLBACK_MANAGER = "opsdeck-rollback"
HIDDEN = "VALUE_HIDDEN"
# The hash of the manifest last applied (Secret values left out), on every object we apply.
MANIFEST_HASH = "opsdeck.io/manifest-hash"
# On a workload's pod template: the resourceVersion of each Secret its pods read.
SECRET_VERSIONS = "opsdeck.io/secret-versions"
CHANGING = "written-by-this-run"
_VOLATILE_META = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink")


def resource_of(client: Any, api_version: str, kind: str) -> Any | None:
    """The client's resource for (apiVersion, kind), or None when the cluster does not serve it.

    Remembered per client, misses included: the DynamicClient's discovery answers a kind it
    does not know (the Prometheus Operator's, on a cluster without them) by invalidating its
    cache and fetching the whole discovery again, on every lookup; for 50 apps that was
    several hundred requests of a no-change run. Forgotten when the discovery's own cache is
    replaced (``client.resources.invalidate_cache()``, after CRDs were installed, say).
    """
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    discovered = getattr(client.resources, "_cache", None)
    memo = client.__dict__.get("_opsdeck_resources")
    if memo is None or memo[0] is not discovered:
        memo = (discovered, {})
    key = (api_version, kind)
    if key not in memo[1]:
        try:
            memo[1][key] = client.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            memo[1][key] = None
        # a miss replaced the discovery's cache (it fetched everything again): remember that one
        memo = (getattr(client.resources, "_cache", None), memo[1])
    client.__dict__["_opsdeck_resources"] = memo
    return memo[1][key]


class ReleaseError(Exception):
    """The release failed; ``result`` is what the module returns with the failure."""

    def __init__(self, msg: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result or {}


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            data = json.loads(body)
            return f"{data.get('reason', '')}: {data.get('message', body)}".strip(": ")
        except (ValueError, TypeError, AttributeError):
            return str(body)[:2000]
    return str(exc)


def _status(exc: Exception) -> int | None:
    return getattr(exc, "status", None)


# The dry-run's answer for an object whose API path is not served (see Release._drop_unserved).
UNSERVED = object()


def unserved(exc: Exception) -> bool:
    """A 404 of a path the server does not serve at all (its plain "404 page not found"), not the
    Status of an object or namespace that does not exist."""
    if _status(exc) != 404:
        return False
    try:
        data = json.loads(getattr(exc, "body", None) or "")
    except (ValueError, TypeError):
        return True
    return not isinstance(data, dict) or data.get("kind") != "Status"


def _ident(m: dict[str, Any]) -> str:
    ns = m["metadata"].get("namespace")
    return f"{m['kind']} {ns + '/' if ns else ''}{m['metadata']['name']}"


def comparable(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The object without what the server changes on every write (status, managedFields, versions)."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata", {})
    for key in _VOLATILE_META:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    annotations.pop("deployment.kubernetes.io/revision", None)
    if not annotations:
        meta.pop("annotations", None)
    return out


def mask_secret(
    obj: dict[str, Any] | None, other: dict[str, Any] | None = None, *, side: str = "after"
) -> dict[str, Any] | None:
    """A Secret with its values replaced: ``VALUE_HIDDEN``; on the ``after`` side of a diff,
    ``VALUE_HIDDEN (changed)`` where ``other`` (the before side) has another value for the key,
    so the two sides differ in the diff where the value does, and only there."""
    if obj is None or obj.get("kind") != "Secret":
        return obj
    out = copy.deepcopy(obj)
    theirs = (other or {}).get("data") or {}
    for field in ("data", "stringData"):
        if isinstance(out.get(field), dict):
            out[field] = {
                k: HIDDEN if other is None or side == "before" or theirs.get(k) == v else f"{HIDDEN} (changed)"
                for k, v in out[field].items()
            }
    return out


def fill_secrets(manifests: list[dict[str, Any]], secrets: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifests with each Secret's ``data`` keys filled (base64) from ``secrets``."""
    out = []
    for m in manifests:
        if m.get("kind") == "Secret" and isinstance(m.get("data"), dict):
            m = copy.deepcopy(m)
            missing = [k for k in m["data"] if k not in secrets]
            if missing:
                raise ReleaseError(f"{_ident(m)}: no value given for secret(s) {', '.join(sorted(missing))}")
            m["data"] = {k: base64.b64encode(str(secrets[k]).encode()).decode() for k in m["data"]}
        out.append(m)
    return out


def manifest_hash(m: dict[str, Any]) -> str:
    """A hash of what we apply, without its own annotation and without Secret values (keys only):
    an unsalted hash of a secret in the cluster could be brute-forced; a changed value is
    seen by comparing the live data instead (``unchanged``)."""
    body = copy.deepcopy(m)
    annotations = body["metadata"].get("annotations") or {}
    annotations.pop(MANIFEST_HASH, None)
    if not annotations:
        body["metadata"].pop("annotations", None)
    for field in ("data", "stringData"):
        if body.get("kind") == "Secret" and isinstance(body.get(field), dict):
            body[field] = sorted(body[field])
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]


def stamped(m: dict[str, Any]) -> dict[str, Any]:
    """The manifest with its MANIFEST_HASH annotation (recomputed)."""
    out = copy.deepcopy(m)
    out["metadata"].setdefault("annotations", {})[MANIFEST_HASH] = manifest_hash(out)
    return out


def contains(want: Any, have: Any) -> bool:
    """Every field of ``want`` is in ``have`` with the same value (lists: same length, item by item)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and contains(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(map(contains, want, have))
    return want == have


def unchanged(m: dict[str, Any], live: dict[str, Any]) -> bool:
    """The live object is what applying ``m`` (a stamped manifest) would leave: it carries the
    hash of ``m`` (so no field was added to or dropped from the manifest since) and every
    field of ``m`` has its value there (so nobody changed one). Then the apply would be a
    no-op and no dry-run is needed; in any other case (a default the server writes in
    another form, say) the dry-run decides, so a false "changed" costs a request, never a
    missed change."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    if annotations.get(MANIFEST_HASH) != m["metadata"]["annotations"][MANIFEST_HASH]:
        return False
    want = {k: v for k, v in m.items() if k not in ("apiVersion", "kind")}
    return contains(want, live)


def referenced_secrets(template: dict[str, Any]) -> list[str]:
    """Names of the Secrets a pod template reads (envFrom, env valueFrom, volumes), sorted."""
    spec = template.get("spec") or {}
    names = set()
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for source in container.get("envFrom") or []:
            if (source.get("secretRef") or {}).get("name"):
                names.add(source["secretRef"]["name"])
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name"):
                names.add(ref["name"])
    for volume in spec.get("volumes") or []:
        if (volume.get("secret") or {}).get("secretName"):
            names.add(volume["secret"]["secretName"])
    return sorted(names)


def job_state(job: dict[str, Any]) -> tuple[str, str]:
    """('complete' | 'failed' | 'running', why) of a Job, from its final conditions."""
    for kind, state in (("Failed", "failed"), ("Complete", "complete")):
        c = condition(job, kind)
        if c and c.get("status") == "True":
            return state, f"{c.get('reason', kind)}: {c.get('message', '')}".strip(": ")
    status = job.get("status") or {}
    return "running", f"{status.get('active', 0)} active, {status.get('failed', 0)} failed"


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def deployment_state(d: dict[str, Any]) -> tuple[str, str]:
    """('done' | 'failed' | 'progressing', why) of a Deployment's rollout, from its status."""
    spec, status = d.get("spec") or {}, d.get("status") or {}
    want = spec.get("replicas", 1)
    if (status.get("observedGeneration") or 0) < d["metadata"].get("generation", 0):
        # a condition from before this generation (e.g. the failure a rollback answers) says nothing yet
        return "progressing", "the controller has not seen the new generation yet"
    progressing = condition(d, "Progressing")
    if progressing and progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return "failed", f"ProgressDeadlineExceeded: {progressing.get('message', '')}"
    counts = {k: status.get(k) or 0 for k in ("updatedReplicas", "readyReplicas", "availableReplicas", "replicas")}
    if counts["updatedReplicas"] == want and counts["availableReplicas"] == want and counts["replicas"] == want:
        return "done", f"{want} of {want} replicas updated and available"
    return "progressing", f"{counts['updatedReplicas']} updated, {counts['availableReplicas']} available of {want}"


def statefulset_state(s: dict[str, Any]) -> tuple[str, str]:
    """('done' | 'progressing', why) of a StatefulSet's rolling update (no deadline here)."""
    spec, status = s.get("spec") or {}, s.get("status") or {}
    want = spec.get("replicas", 1)
    if (status.get("observedGeneration") or 0) < s["metadata"].get("generation", 0):
        return "progressing", "the controller has not seen the new generation yet"
    ready = status.get("readyReplicas") or 0
    updated = status.get("updatedReplicas") or 0
    same = status.get("currentRevision") == status.get("updateRevision")
    if same and ready == want and (status.get("replicas") or 0) == want and updated == want:
        return "done", f"{want} of {want} replicas ready at revision {status.get('updateRevision')}"
    return "progressing", f"{updated} updated, {ready} ready of {want} (revision {status.get('updateRevision')})"


def daemonset_state(d: dict[str, Any]) -> tuple[str, str]:
    """('done' | 'progressing', why) of a DaemonSet's rolling update (no deadline here either)."""
    status = d.get("status") or {}
    if (status.get("observedGeneration") or 0) < d["metadata"].get("generation", 0):
        return "progressing", "the controller has not seen the new generation yet"
    want = status.get("desiredNumberScheduled") or 0
    counts = {
        k: status.get(k) or 0
        for k in ("updatedNumberScheduled", "numberReady", "numberAvailable", "currentNumberScheduled")
    }
    unavailable = status.get("numberUnavailable") or 0
    if (
        counts["updatedNumberScheduled"] == want
        and counts["numberReady"] == want
        and counts["numberAvailable"] == want
        and counts["currentNumberScheduled"] == want
        and not unavailable
    ):
        return "done", f"{want} of {want} nodes run the updated pod, ready"
    return "progressing", (
        f"{counts['updatedNumberScheduled']} updated, {counts['numberReady']} ready of {want} nodes"
        f"{f', {unavailable} unavailable' if unavailable else ''}"
    )


class Release:
    """One app's release against one cluster (a DynamicClient)."""

    def __init__(
        self,
        client: Any,
        release: dict[str, Any],
        *,
        secrets: dict[str, Any] | None = None,
        check_mode: bool = False,
        prune: bool = True,
        wait: bool = True,
        wait_timeout: float = 600,
        poll: float = 1.0,
        workers: int = 4,
        index: LiveIndex | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.app = release["app"]
        # how messages name the release: an app of the model, or a platform release (its title)
        self.who = release.get("title") or f"app {self.app!r}"
        self.namespace = release["namespace"]
        self.state = release.get("state", "present")
        self.selector = release["selector"]
        self.deadline_s = float(release.get("progress_deadline_s", 600))
        # managed databases' Secrets: the cluster's values kept, missing ones generated (k8s_databases.py)
        self.manifests = keep_or_generate(
            secret_reader(client), fill_secrets(release.get("manifests") or [], secrets or {}), given=secrets or {}
        )
        self.check_mode = check_mode
        self.prune = prune
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll = poll
        self.workers = workers
        self.index = index
        self.secret_versions: dict[str, str] = {}
        self.clock = clock
        self.sleep = sleep
        self.result: dict[str, Any] = {
            "app": self.app,
            "namespace": self.namespace,
            "changed": False,
            "objects": [],
            "pruned": [],
            "not_applied": [],
            "diff": [],
            "rollout": None,
        }

    # -- API helpers ---------------------------------------------------------------------------

    def _resource(self, api_version: str, kind: str) -> Any | None:
        return resource_of(self.client, api_version, kind)

    def _get(self, resource: Any, name: str, namespace: str | None) -> dict[str, Any] | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            return self.client.get(resource, name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def _apply(self, resource: Any, body: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "force_conflicts": True}
        if dry_run:
            kwargs["dry_run"] = "All"
        return self.client.server_side_apply(
            resource, body=body, namespace=body["metadata"].get("namespace"), **kwargs
        ).to_dict()

    def _record(self, m: dict[str, Any], action: str, before: Any, after: Any) -> None:
        self.result["objects"].append({"kind": m["kind"], "name": m["metadata"]["name"], "action": action})
        if action != "unchanged":
            self.result["changed"] = True
            self.result["diff"].append(
                {
                    "before_header": _ident(m),
                    "after_header": _ident(m),
                    "before": mask_secret(comparable(before), comparable(after), side="before") or {},
                    "after": mask_secret(comparable(after), comparable(before)) or {},
                }
            )

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if self.state == "absent":
            self._remove()
            return self.result
        plan = []
        for m in self.manifests:
            resource = self._resource(m["apiVersion"], m["kind"])
            if resource is None:
                if m["kind"] in MONITORING_KINDS:
                    self.result["not_applied"].append(
                        {"kind": m["kind"], "name": m["metadata"]["name"], "why": "no Prometheus Operator CRDs"}
                    )
                    continue
                raise ReleaseError(f"{self.who}: {_ident(m)}: the cluster does not serve {m['apiVersion']}")
            plan.append((m, resource))
        existed, namespace_ready = True, True
        # The namespace first: everything else is dry-run inside it.
        for m, resource in plan:
            if m["kind"] == "Namespace":
                existed, namespace_ready = self._one(m, resource)
        # What the app has on the cluster: one list per kind (by the prune labels, or the
        # run's LiveIndex) rather than a GET per object; it is the "before" of the comparison
        # and what prune looks at.
        managed = self._managed() if existed else []
        live = {(item["kind"], item["metadata"]["name"]): item for _key, item in managed}
        scaled = {
            (m["spec"]["scaleTargetRef"]["kind"], m["spec"]["scaleTargetRef"]["name"]): m["spec"]["minReplicas"]
            for m, _action in plan
            if m["kind"] == "HorizontalPodAutoscaler"
        }
        prepared: list[tuple[dict[str, Any], Any, Any]] = []
        for m, resource in plan:
            if m["kind"] == "Namespace":
                continue
            before = live.get((m["kind"], m["metadata"]["name"]))
            if before is None and existed:  # not ours yet (no labels), or a kind not listed
                before = self._get(resource, m["metadata"]["name"], m["metadata"].get("namespace"))
            if (m["kind"], m["metadata"]["name"]) in scaled:
                # The HPA owns the replica count: a new workload starts at minReplicas, an existing
                # one keeps what it runs (not applying the field would make the server drop it to 1).
                running = ((before or {}).get("spec") or {}).get("replicas")
                m = copy.deepcopy(m)
                m["spec"]["replicas"] = running if running is not None else scaled[(m["kind"], m["metadata"]["name"])]
            prepared.append((m, resource, before))

        def decide(entry: tuple[dict[str, Any], Any, Any]) -> tuple[dict[str, Any], Any, Any, Any, bool]:
            """(manifest, resource, before, after, write?): unchanged without a request when the live
            object carries this manifest's hash and every field of it; else the server's dry-run."""
            m, resource, before = entry
            m = stamped(m)
            if before is not None and unchanged(m, before):
                return m, resource, before, before, False
            if not namespace_ready:
                return m, resource, before, m, True  # check mode, new namespace: nothing to dry-run against
            try:
                after = self._apply(resource, m, dry_run=True)
            except Exception as exc:  # an ApiException: the server refused the object
                if _status(exc) is None:
                    raise
                if unserved(exc):  # a stale discovery (a CRD removed since): told apart below
                    return m, resource, before, UNSERVED, False
                raise ReleaseError(
                    f"{self.who}: {_ident(m)} was refused by the server's dry-run "
                    f"(nothing of the app was applied): {_api_message(exc)}",
                    self.result,
                ) from None
            return m, resource, before, after, before is None or comparable(before) != comparable(after)

        # Secrets (and everything but the workloads) first: which Secrets change decides the
        # workloads' secret stamp, so the workloads are decided in a second batch.
        first = self._parallel(decide, [e for e in prepared if e[0]["kind"] not in WORKLOAD_KINDS])
        changing = set()
        for m, _resource, _before, after, write in first:
            if m["kind"] == "Secret":
                self.secret_versions[m["metadata"]["name"]] = ((after or {}).get("metadata") or {}).get(
                    "resourceVersion", ""
                )
                if write:
                    changing.add(m["metadata"]["name"])
        workloads = [(self._stamp(m, changing), r, before) for m, r, before in prepared if m["kind"] in WORKLOAD_KINDS]
        decided = {(e[0]["kind"], e[0]["metadata"]["name"]): e for e in first + self._parallel(decide, workloads)}
        self._drop_unserved(decided)
        workload_changed = False
        batch: list[tuple[dict[str, Any], Any, Any, Any]] = []

        def write(entry: tuple[dict[str, Any], Any, Any, Any]) -> tuple[dict[str, Any], Any, Any]:
            m, resource, before, after = entry
            if not self.check_mode:
                after = self._apply(resource, m, dry_run=False)
            return m, before, after

        def flush() -> None:
            for m, before, after in self._parallel(write, batch):
                if m["kind"] == "Secret" and not self.check_mode:
                    self.secret_versions[m["metadata"]["name"]] = after["metadata"].get("resourceVersion", "")
                self._record(m, "created" if before is None else "updated", before, after)
            batch.clear()

        ahead: list[tuple[dict[str, Any], Any]] = []  # workloads before the hooks: the managed databases
        for m, _resource in plan:
            if m["kind"] == "Namespace" or (m["kind"], m["metadata"]["name"]) not in decided:
                continue
            m, resource, before, after, write_it = decided[(m["kind"], m["metadata"]["name"])]
            if m["kind"] in HOOK_KINDS:
                flush()  # what the hook reads (ConfigMap, Secret, ServiceAccount) is written first
                if self.wait and not self.check_mode:
                    # a migration needs its database up: wait for it (rolled back if it fails)
                    for w, w_resource in ahead:
                        self._wait(w, w_resource, changed=True)
                    ahead.clear()
                self._hook(m, resource, before, after, write_it)
                continue
            if m["kind"] in WORKLOAD_KINDS:
                ahead.append((m, resource))
            if not write_it:
                self._record(m, "unchanged", before, after)
                continue
            if m["kind"] not in WORKLOAD_KINDS:
                batch.append((m, resource, before, after))
                continue
            flush()
            if not self.check_mode:
                m = stamped(self._stamp(m, set()))  # the Secrets it reads are written now: their versions
                after = self._apply(resource, m, dry_run=False)
            self._record(m, "created" if before is None else "updated", before, after)
            workload_changed = True
        flush()
        if self.prune:
            self._prune({(m["kind"], m["metadata"]["name"]) for m in self.manifests}, managed)
        if self.wait and not self.check_mode:
            for m, resource in plan:
                if m["kind"] in WORKLOAD_KINDS:
                    self._wait(m, resource, changed=workload_changed)
        return self.result

    def _drop_unserved(self, decided: dict[tuple[str, str], tuple[Any, ...]]) -> None:
        """Objects whose API path the server does not serve after all (the discovery, cached on
        disk and shared by processes, still had a CRD that was removed since): the discovery is
        fetched again next time; monitoring objects are reported not applied, anything else fails."""
        gone = [key for key, entry in decided.items() if entry[3] is UNSERVED]
        if not gone:
            return
        self.client.resources.invalidate_cache()
        for key in gone:
            m = decided.pop(key)[0]
            if m["kind"] not in MONITORING_KINDS:
                raise ReleaseError(
                    f"{self.who}: {_ident(m)}: the cluster does not serve {m['apiVersion']}", self.result
                )
            self.result["not_applied"].append(
                {"kind": m["kind"], "name": m["metadata"]["name"], "why": "no Prometheus Operator CRDs"}
            )

    def _stamp(self, m: dict[str, Any], changing: set[str]) -> dict[str, Any]:
        """The workload with its pod template stamped with the versions of the Secrets it reads.

        A Secret's ``resourceVersion`` changes with every write of it, so a new value (and only
        a write) rolls the pods, and nothing derived from the value is put in the cluster
        (a plain hash of a secret in an annotation could be brute-forced). ``changing``:
        Secrets this run writes, whose new version is not known yet (check mode shows them so).
        """
        names = referenced_secrets(m["spec"]["template"])
        if not names:
            return m
        parts = []
        for name in names:
            if name in changing:
                version = CHANGING
            elif name in self.secret_versions:
                version = self.secret_versions[name]
            else:  # a Secret the release does not write (made by someone else): read its version
                found = self._get(self._resource("v1", "Secret"), name, m["metadata"]["namespace"])
                version = (found or {}).get("metadata", {}).get("resourceVersion", "absent")
                self.secret_versions[name] = version
            parts.append(f"{name}={version}")
        out = copy.deepcopy(m)
        template_meta = out["spec"]["template"].setdefault("metadata", {})
        template_meta.setdefault("annotations", {})[SECRET_VERSIONS] = ",".join(parts)
        return out

    def _hook(self, m: dict[str, Any], resource: Any, before: Any, after: Any, write: bool) -> None:
        """Run a ``hooks.pre_deploy`` Job before the workload and wait for it; a failed one stops the release.

        The Job's name carries the revision it prepares: found complete, it is not run again;
        found failed (an earlier run), it is deleted and run again; new, it is created.
        """
        name, ns = m["metadata"]["name"], m["metadata"]["namespace"]
        hook = (m["metadata"].get("annotations") or {}).get(HOOK_ANNOTATION, name)
        state = job_state(before)[0] if before is not None else None
        if state == "complete" and not write:
            self._record(m, "unchanged", before, after)
            return
        self._record(m, "created" if before is None or state == "failed" else "updated", before, after)
        if self.check_mode:
            return
        if state == "failed" or (before is not None and write):
            self._delete_and_wait(resource, name, ns)
        self._apply(resource, m, dry_run=False)
        deadline = self.clock() + float(m["spec"].get("activeDeadlineSeconds") or self.wait_timeout) + 30
        while True:
            job = self.client.get(resource, name=name, namespace=ns).to_dict()
            state, why = job_state(job)
            if state == "complete":
                self.result.setdefault("hooks", []).append({"name": hook, "job": name, "state": "complete"})
                return
            if state == "failed":
                detail = self._job_pod_detail(ns, name)
                self.result.setdefault("hooks", []).append(
                    {"name": hook, "job": name, "state": "failed", "message": why}
                )
                raise ReleaseError(
                    f"{self.who}: pre_deploy hook {hook!r} (Job {ns}/{name}) failed: {why}{detail}; "
                    "the new revision was not applied, the running one keeps serving",
                    self.result,
                )
            if self.clock() >= deadline:
                raise ReleaseError(
                    f"{self.who}: pre_deploy hook {hook!r} (Job {ns}/{name}) did not finish "
                    f"within its timeout ({why}); the new revision was not applied",
                    self.result,
                )
            self.sleep(self.poll)

    def _job_pod_detail(self, ns: str, job: str) -> str:
        """How the Job's pod ended (exit code, reason) and its last log lines, when the node serves them."""
        pods = self._resource("v1", "Pod")
        found = self.client.get(pods, namespace=ns, label_selector=f"batch.kubernetes.io/job-name={job}").to_dict()
        out = []
        for pod in found.get("items") or []:
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                ended = (status.get("state") or {}).get("terminated")
                if ended:
                    out.append(
                        f"pod {pod['metadata']['name']}: exit code {ended.get('exitCode')} ({ended.get('reason')})"
                    )
            with contextlib.suppress(Exception):  # logs are a help, not a need (simulated nodes have none)
                from kubernetes import client as k8s

                log = k8s.CoreV1Api(self.client.client).read_namespaced_pod_log(
                    pod["metadata"]["name"], ns, tail_lines=20, _request_timeout=5
                )
                if log:
                    out.append("last lines: " + " | ".join(str(log).strip().splitlines()[-20:]))
        return f" ({'; '.join(out)})" if out else ""

    def _delete_and_wait(self, resource: Any, name: str, ns: str, timeout: float = 60) -> None:
        from kubernetes.dynamic.exceptions import NotFoundError

        with contextlib.suppress(NotFoundError):
            self.client.delete(resource, name=name, namespace=ns, body={"propagationPolicy": "Foreground"})
        deadline = self.clock() + timeout
        while self._get(resource, name, ns) is not None:
            if self.clock() >= deadline:
                raise ReleaseError(f"{self.who}: Job {ns}/{name} was not deleted within {timeout:.0f} s", self.result)
            self.sleep(self.poll)

    def _one(self, m: dict[str, Any], resource: Any) -> tuple[bool, bool]:
        """Dry-run and apply one cluster-scoped object (the namespace): (existed before, exists now)."""
        m = stamped(m)
        before = self.index.namespace(m["metadata"]["name"]) if self.index else None
        if before is None:
            before = self._get(resource, m["metadata"]["name"], None)
        if before is not None and unchanged(m, before):
            self._record(m, "unchanged", before, before)
            return True, True
        try:
            after = self._apply(resource, m, dry_run=True)
        except Exception as exc:
            if _status(exc) is None:
                raise
            raise ReleaseError(
                f"{self.who}: {_ident(m)} was refused by the server's dry-run: {_api_message(exc)}"
            ) from None
        if before is not None and comparable(before) == comparable(after):
            self._record(m, "unchanged", before, after)
            return True, True
        if not self.check_mode:
            after = self._apply(resource, m, dry_run=False)
        self._record(m, "created" if before is None else "updated", before, after)
        return before is not None, before is not None or not self.check_mode

    def _managed(self) -> list[tuple[Any, dict[str, Any]]]:
        """Every object of the app in its namespace, found by the prune label selector
        (in the run's LiveIndex when it listed the kind, else one list per kind here)."""
        kinds = [(av, kind, self._resource(av, kind)) for av, kind in PRUNABLE]
        served = [(av, kind, r) for av, kind, r in kinds if r is not None]
        found: list[tuple[Any, dict[str, Any]]] = []
        if self.index is not None:
            rest = []
            for av, kind, resource in served:
                items = self.index.objects(kind, self.namespace, self.app)
                if items is None:
                    rest.append((av, kind, resource))
                else:
                    found += [(resource, item) for item in items]
            served = rest

        def listed(entry: tuple[str, str, Any]) -> list[tuple[Any, dict[str, Any]]]:
            api_version, kind, resource = entry
            try:
                items = self.client.get(resource, namespace=self.namespace, label_selector=self.selector).to_dict()
            except Exception as exc:
                if unserved(exc):  # a kind the discovery still had but the server no longer serves
                    return []
                raise
            out = []
            for item in items.get("items") or []:
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api_version)
                out.append((resource, item))
            return out

        return found + [one for chunk in self._parallel(listed, served) for one in chunk]

    def _parallel(self, func: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``func`` over ``items`` on ``self.workers`` threads (reads and dry-runs only), results in order."""
        if self.workers <= 1 or len(items) <= 1:
            return [func(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(func, items))

    def _delete(self, resource: Any, item: dict[str, Any]) -> None:
        from kubernetes.dynamic.exceptions import NotFoundError

        name = item["metadata"]["name"]
        self.result["pruned"].append({"kind": item["kind"], "name": name})
        self.result["changed"] = True
        self.result["diff"].append(
            {
                "before_header": _ident(item),
                "after_header": _ident(item),
                "before": mask_secret(comparable(item)) or {},
                "after": {},
            }
        )
        if self.check_mode:
            return
        with contextlib.suppress(NotFoundError):
            self.client.delete(
                resource,
                name=name,
                namespace=item["metadata"].get("namespace"),
                body={"propagationPolicy": "Foreground"},
            )

    def _prune(self, keep: set[tuple[str, str]], managed: list[tuple[Any, dict[str, Any]]]) -> None:
        for resource, item in managed:
            if (item["kind"], item["metadata"]["name"]) not in keep:
                self._delete(resource, item)

    def _remove(self) -> None:
        ns_resource = self._resource("v1", "Namespace")
        namespace = self._get(ns_resource, self.namespace, None)
        if namespace is None:
            return
        labels = namespace["metadata"].get("labels") or {}
        if (
            labels.get("app.kubernetes.io/managed-by") == "opsdeck"
            and labels.get("app.kubernetes.io/instance") == self.app
        ):
            namespace.setdefault("kind", "Namespace")
            self._delete(ns_resource, namespace)  # its objects go with it
        else:
            self._prune(set(), self._managed())

    # -- rollout ---------------------------------------------------------------------------------

    def _wait(self, m: dict[str, Any], resource: Any, *, changed: bool) -> None:
        name, ns = m["metadata"]["name"], m["metadata"]["namespace"]
        state, why, obj = self._watch(resource, m["kind"], name, ns)
        rollout = {"kind": m["kind"], "name": name, "state": state, "message": why}
        self.result["rollout"] = rollout
        if state == "done":
            return
        if state == "slow":
            raise ReleaseError(
                f"{self.who}: {m['kind']} {ns}/{name} is still rolling out after {self.wait_timeout:.0f} s "
                f"({why}); it has not failed (it still makes progress), so it was not rolled back",
                self.result,
            )
        # failed: roll back to the previous revision, wait for it, and fail with the reason
        previous = self._rollback(resource, m["kind"], obj, why)
        rollout["rolled_back_to"] = previous
        self.result["changed"] = True
        back_state, back_why = self._watch(resource, m["kind"], name, ns)[:2]
        rollout["rollback_state"] = back_state
        tail = (
            f"rolled back to revision {previous} ({back_why})"
            if back_state == "done"
            else f"rolled back to revision {previous}, which is not healthy either ({back_state}: {back_why})"
        )
        raise ReleaseError(f"{self.who}: rollout of {m['kind']} {ns}/{name} failed: {why}; {tail}", self.result)

    def _watch(self, resource: Any, kind: str, name: str, ns: str) -> tuple[str, str, dict[str, Any]]:
        """Poll the workload until its rollout is done, failed or still going at wait_timeout ('slow')."""
        start = self.clock()
        last_progress = start
        marker: Any = None
        while True:
            obj = self.client.get(resource, name=name, namespace=ns).to_dict()
            if kind == "Deployment":
                state, why = deployment_state(obj)
            else:
                # StatefulSets and DaemonSets have no ProgressDeadlineExceeded: no progress in
                # progress_deadline_s is a failure
                if kind == "DaemonSet":
                    state, why = daemonset_state(obj)
                    keys: tuple[str, ...] = (
                        "numberReady",
                        "updatedNumberScheduled",
                        "numberAvailable",
                        "desiredNumberScheduled",
                        "observedGeneration",
                    )
                else:
                    state, why = statefulset_state(obj)
                    keys = (
                        "readyReplicas",
                        "updatedReplicas",
                        "currentReplicas",
                        "updateRevision",
                        "observedGeneration",
                    )
                status = obj.get("status") or {}
                now_marker = tuple(status.get(k) for k in keys)
                if now_marker != marker:
                    marker, last_progress = now_marker, self.clock()
                elif state == "progressing" and self.clock() - last_progress >= self.deadline_s:
                    state = "failed"
                    why = (
                        f"ProgressDeadlineExceeded: {kind} {name!r} made no progress in {self.deadline_s:.0f} s ({why})"
                    )
            if state in ("done", "failed"):
                return state, why, obj
            if self.clock() - start >= self.wait_timeout:
                return "slow", why, obj
            self.sleep(self.poll)

    def _owned(self, api_version: str, kind: str, owner: dict[str, Any]) -> list[dict[str, Any]]:
        resource = self._resource(api_version, kind)
        items = self.client.get(resource, namespace=owner["metadata"]["namespace"]).to_dict().get("items") or []
        uid = owner["metadata"]["uid"]
        return [i for i in items if any(r.get("uid") == uid for r in i["metadata"].get("ownerReferences") or [])]

    def _rollback(self, resource: Any, kind: str, obj: dict[str, Any], why: str) -> str:
        name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
        if kind == "Deployment":
            sets = self._owned("apps/v1", "ReplicaSet", obj)
            rev = "deployment.kubernetes.io/revision"
            sets.sort(key=lambda r: int((r["metadata"].get("annotations") or {}).get(rev, "0")))
            if len(sets) < 2:
                raise self._no_previous("Deployment", ns, name, why)
            previous = sets[-2]
            template = copy.deepcopy(previous["spec"]["template"])
            template["metadata"].get("labels", {}).pop("pod-template-hash", None)
            patch = [{"op": "replace", "path": "/spec/template", "value": template}]
            self.client.patch(
                resource,
                body=patch,
                name=name,
                namespace=ns,
                content_type="application/json-patch+json",
                field_manager=ROLLBACK_MANAGER,
            )
            return previous["metadata"]["annotations"][rev]
        if kind == "DaemonSet":
            return self._rollback_daemonset(resource, obj, why)
        status = obj.get("status") or {}
        revisions = self._owned("apps/v1", "ControllerRevision", obj)
        revisions.sort(key=lambda r: r.get("revision", 0))
        bad = status.get("updateRevision")
        candidates = [r for r in revisions if r["metadata"]["name"] != bad]
        target = next((r for r in candidates if r["metadata"]["name"] == status.get("currentRevision")), None)
        if target is None and candidates:
            target = candidates[-1]
        if target is None:
            raise self._no_previous("StatefulSet", ns, name, why)
        self._patch_back(resource, name, ns, target["data"])
        # Forced rollback: the StatefulSet controller waits for a pod of the failed revision
        # to become Ready before it replaces it, which it never does: delete those pods.
        pods = self._resource("v1", "Pod")
        if bad:
            self._delete_pods(pods, ns, bad)
        return f"{target.get('revision')} ({target['metadata']['name']})"

    def _rollback_daemonset(self, resource: Any, obj: dict[str, Any], why: str) -> str:
        """The DaemonSet back to its previous ControllerRevision (as ``kubectl rollout undo``).

        The newest revision is the failed one (the controller gives the template it rolls out
        the highest number); the one before it is patched back. The DaemonSet controller then
        replaces the failed, unavailable pods itself (a rolling update deletes unavailable old
        pods first), so no pod is deleted here.
        """
        name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
        revisions = sorted(self._owned("apps/v1", "ControllerRevision", obj), key=lambda r: r.get("revision", 0))
        if len(revisions) < 2:
            raise self._no_previous("DaemonSet", ns, name, why)
        target = revisions[-2]
        self._patch_back(resource, name, ns, target["data"])
        return f"{target.get('revision')} ({target['metadata']['name']})"

    def _no_previous(self, kind: str, ns: str, name: str, why: str) -> ReleaseError:
        return ReleaseError(
            f"{self.who}: rollout of {kind} {ns}/{name} failed and there is no previous "
            f"revision to roll back to (first deploy): {why}",
            self.result,
        )

    def _patch_back(self, resource: Any, name: str, ns: str, revision_data: dict[str, Any]) -> None:
        """A StatefulSet's or DaemonSet's template back to a ControllerRevision's (its data is a patch)."""
        self.client.patch(
            resource,
            body=revision_data,
            name=name,
            namespace=ns,
            content_type="application/strategic-merge-patch+json",
            field_manager=ROLLBACK_MANAGER,
        )

    def _delete_pods(self, pods: Any, ns: str, revision: str) -> None:
        from kubernetes.dynamic.exceptions import NotFoundError

        items = self.client.get(pods, namespace=ns, label_selector=f"controller-revision-hash={revision}").to_dict()
        for pod in items.get("items") or []:
            with contextlib.suppress(NotFoundError):
                self.client.delete(pods, name=pod["metadata"]["name"], namespace=ns)


class LiveIndex:
    """What opsdeck manages on the cluster, listed once per kind for a whole run.

    One cluster-wide list per kind (label ``app.kubernetes.io/managed-by=opsdeck``) instead
    of one per kind and app: for 50 apps, 17 requests instead of 850. A kind that the
    credentials may not list across namespaces (403) is left out, and each release lists it
    in its own namespace as before. Built before the releases run; a release reads only its
    own namespace, which no other release of the run writes.
    """

    def __init__(self, client: Any, workers: int = 4) -> None:
        self._items: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = {}
        self._namespaces: dict[str, dict[str, Any]] | None = None
        selector = f"{LABEL_MANAGED_BY}={MANAGED_BY}"

        def listed(entry: tuple[str, str]) -> tuple[str, Any]:
            api_version, kind = entry
            resource = resource_of(client, api_version, kind)
            if resource is None:
                return kind, []
            try:
                return kind, client.get(resource, label_selector=selector).to_dict().get("items") or []
            except Exception as exc:  # 403 (namespaced rights only), or a list the server refuses
                if _status(exc) is None:
                    raise
                return kind, None

        kinds = [("v1", "Namespace"), *PRUNABLE]
        for api_version, kind in kinds:  # discovery once, before the threads
            resource_of(client, api_version, kind)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            answers = list(pool.map(listed, kinds))
        for (api_version, _kind), (kind, items) in zip(kinds, answers, strict=True):
            if items is None:
                continue
            if kind == "Namespace":
                self._namespaces = {
                    i["metadata"]["name"]: {"kind": kind, "apiVersion": api_version, **i} for i in items
                }
                continue
            by_place: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for item in items:
                meta = item["metadata"]
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api_version)
                key = (meta.get("namespace") or "", (meta.get("labels") or {}).get(LABEL_INSTANCE, ""))
                by_place.setdefault(key, []).append(item)
            self._items[kind] = by_place

    def objects(self, kind: str, namespace: str, app: str) -> list[dict[str, Any]] | None:
        """The app's objects of ``kind`` in ``namespace``; None when the kind was not listed."""
        if kind not in self._items:
            return None
        return self._items[kind].get((namespace, app), [])

    def namespace(self, name: str) -> dict[str, Any] | None:
        """The namespace when it carries our label (None: not listed, or not ours: GET it)."""
        return (self._namespaces or {}).get(name)


def prune_apps(
    client: Any, release_set: str, keep: list[str], *, check_mode: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Delete the namespaces of apps that this release set deployed and the model no longer has.

    Only namespaces carrying ``app.kubernetes.io/managed-by=opsdeck`` and
    ``opsdeck.io/release-set=<release_set>`` are looked at (another inventory's apps carry
    another set), and those whose name is in ``keep`` (the namespaces of every app of the
    model, present or absent) stay. Returns (pruned ``[{app, namespace}]``, diff entries);
    check mode deletes nothing.
    """
    from kubernetes.dynamic.exceptions import NotFoundError

    if not release_set:
        raise ReleaseError(
            "pruning apps needs a release set (k8s_app_release_set): the label that says which apps are ours"
        )
    resource = resource_of(client, "v1", "Namespace")
    items = client.get(resource, label_selector=release_set_selector(release_set)).to_dict().get("items") or []
    pruned, diff = [], []
    for ns in sorted(items, key=lambda i: i["metadata"]["name"]):
        meta = ns["metadata"]
        if meta["name"] in keep or meta.get("deletionTimestamp"):
            continue
        ns.setdefault("kind", "Namespace")
        ns.setdefault("apiVersion", "v1")
        app = (meta.get("labels") or {}).get(LABEL_INSTANCE, "")
        pruned.append({"app": app, "namespace": meta["name"]})
        header = f"Namespace {meta['name']} (app {app!r} left the model; everything in it goes)"
        diff.append({"before_header": header, "after_header": header, "before": comparable(ns) or {}, "after": {}})
        if not check_mode:
            with contextlib.suppress(NotFoundError):
                client.delete(resource, name=meta["name"], body={"propagationPolicy": "Foreground"})
    return pruned, diff


class DeployError(Exception):
    """A deploy stopped; ``result`` is the module's result so far."""

    def __init__(self, msg: str, result: dict[str, Any]) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


# Fewer apps than this: each release lists its own namespace (a cluster-wide list of every
# app's objects costs more than it saves for one or two apps).
INDEX_FROM = 3


def deploy(
    client: Any,
    releases: list[dict[str, Any]],
    secrets: dict[str, dict[str, Any]] | None = None,
    *,
    check_mode: bool = False,
    prune: bool = True,
    wait: bool = True,
    wait_timeout: float = 600,
    prune_apps_of: str | None = None,
    keep_namespaces: list[str] | None = None,
    release_cls: type[Release] = Release,
    **release_kwargs: Any,
) -> dict[str, Any]:
    """Run ``releases`` in order (the first failure stops the run), then, with
    ``prune_apps_of`` (a release set), delete the apps of that set no longer in the model.

    Returns ``{changed, releases, pruned_apps, diff}``; raises DeployError with the same
    result and the failure's message.
    """
    results: list[dict[str, Any]] = []
    diffs: list[dict[str, Any]] = []
    pruned_apps: list[dict[str, Any]] = []

    def finish() -> dict[str, Any]:
        changed = any(r["changed"] for r in results) or bool(pruned_apps)
        return {"changed": changed, "releases": results, "pruned_apps": pruned_apps, "diff": diffs}

    index = LiveIndex(client) if len(releases) >= INDEX_FROM else None
    for release in releases:
        try:
            result = release_cls(
                client,
                release,
                secrets=(secrets or {}).get(release["app"]) or {},
                check_mode=check_mode,
                prune=prune,
                wait=wait,
                wait_timeout=wait_timeout,
                index=index,
                **release_kwargs,
            ).run()
        except ReleaseError as exc:
            failed = dict(exc.result) or {"app": release["app"], "changed": False}
            diffs.extend(failed.pop("diff", None) or [])
            results.append({**failed, "failed": True, "msg": exc.msg})
            raise DeployError(exc.msg, finish()) from None
        except Exception as exc:  # a library or API error nobody expected: say which app, keep the traceback
            who = release.get("title") or f"app {release['app']!r}"
            msg = f"{who}: {type(exc).__name__}: {getattr(exc, 'body', None) or exc}"
            raise DeployError(msg, finish()) from exc
        diffs.extend(result.pop("diff"))
        results.append(result)
    if prune_apps_of is not None:
        try:
            pruned, diff = prune_apps(client, prune_apps_of, keep_namespaces or [], check_mode=check_mode)
        except ReleaseError as exc:
            raise DeployError(exc.msg, finish()) from None
        pruned_apps.extend(pruned)
        diffs.extend(diff)
    return finish()
