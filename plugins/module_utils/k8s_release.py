# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Apply one app's release to a cluster: validate, server-side apply, prune, wait, roll back.

Used by the module ``opsdeck.platform.k8s_release``; the manifests come from
``k8s_manifests.render_apps``. Built on the ``kubernetes`` Python client's DynamicClient
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

The reads (one list per kind, found by the prune labels, instead of a GET per object) and
the dry-runs of one release run on a few threads; the writes go one after the other, in
apply order.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_manifests import (
    MONITORING_KINDS,
    PRUNABLE,
    WORKLOAD_KINDS,
)

FIELD_MANAGER = "opsdeck"
ROLLBACK_MANAGER = "opsdeck-rollback"
HIDDEN = "VALUE_HIDDEN"
_VOLATILE_META = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink")


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
            import json

            data = json.loads(body)
            return f"{data.get('reason', '')}: {data.get('message', body)}".strip(": ")
        except (ValueError, TypeError, AttributeError):
            return str(body)[:2000]
    return str(exc)


def _status(exc: Exception) -> int | None:
    return getattr(exc, "status", None)


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


def mask_secret(obj: dict[str, Any] | None, other: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A Secret with its values replaced: ``VALUE_HIDDEN``, or ``VALUE_HIDDEN (changed)`` when
    ``other`` (the other side of a diff) has a different value for the key."""
    if obj is None or obj.get("kind") != "Secret":
        return obj
    out = copy.deepcopy(obj)
    theirs = (other or {}).get("data") or {}
    for field in ("data", "stringData"):
        if isinstance(out.get(field), dict):
            out[field] = {
                k: HIDDEN if other is None or theirs.get(k) == v else f"{HIDDEN} (changed)"
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
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.app = release["app"]
        self.namespace = release["namespace"]
        self.state = release.get("state", "present")
        self.selector = release["selector"]
        self.deadline_s = float(release.get("progress_deadline_s", 600))
        # managed databases' Secrets: the cluster's values kept, missing ones generated (k8s_databases.py)
        from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_databases import (
            keep_or_generate,
            secret_reader,
        )

        self.manifests = keep_or_generate(
            secret_reader(client), fill_secrets(release.get("manifests") or [], secrets or {})
        )
        self.check_mode = check_mode
        self.prune = prune
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll = poll
        self.workers = workers
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
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.client.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return None

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
                    "before": mask_secret(comparable(before), comparable(after)) or {},
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
                raise ReleaseError(f"app {self.app!r}: {_ident(m)}: the cluster does not serve {m['apiVersion']}")
            plan.append((m, resource))
        existed, namespace_ready = True, True
        # The namespace first: everything else is dry-run inside it.
        for m, resource in plan:
            if m["kind"] == "Namespace":
                existed, namespace_ready = self._one(m, resource)
        # What the app has on the cluster: one list per kind (by the prune labels) rather
        # than a GET per object; it serves as the "before" of the comparison and for prune.
        managed = self._managed() if existed else []
        live = {(item["kind"], item["metadata"]["name"]): item for _key, item in managed}
        scaled = {
            (m["spec"]["scaleTargetRef"]["kind"], m["spec"]["scaleTargetRef"]["name"]): m["spec"]["minReplicas"]
            for m, _action in plan
            if m["kind"] == "HorizontalPodAutoscaler"
        }
        prepared: list[tuple[dict[str, Any], Any, Any]] = []
        for i, (m, resource) in enumerate(plan):
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
                plan[i] = (m, resource)
            prepared.append((m, resource, before))

        def dry_run(entry: tuple[dict[str, Any], Any, Any]) -> tuple[dict[str, Any], Any, Any, Any]:
            m, resource, before = entry
            if not namespace_ready:
                return m, resource, before, m  # check mode, new namespace: nothing to dry-run against
            try:
                return m, resource, before, self._apply(resource, m, dry_run=True)
            except Exception as exc:  # an ApiException: the server refused the object
                if _status(exc) is None:
                    raise
                raise ReleaseError(
                    f"app {self.app!r}: {_ident(m)} was refused by the server's dry-run "
                    f"(nothing of the app was applied): {_api_message(exc)}",
                    self.result,
                ) from None

        dry = self._parallel(dry_run, prepared)
        workload_changed = False
        for m, resource, before, after in dry:
            if before is not None and comparable(before) == comparable(after):
                self._record(m, "unchanged", before, after)
                continue
            if not self.check_mode:
                after = self._apply(resource, m, dry_run=False)
            self._record(m, "created" if before is None else "updated", before, after)
            if m["kind"] in WORKLOAD_KINDS:
                workload_changed = True
        if self.prune:
            self._prune({(m["kind"], m["metadata"]["name"]) for m in self.manifests}, managed)
        if self.wait and not self.check_mode:
            for m, resource in plan:
                if m["kind"] in WORKLOAD_KINDS:
                    self._wait(m, resource, changed=workload_changed)
        return self.result

    def _one(self, m: dict[str, Any], resource: Any) -> tuple[bool, bool]:
        """Dry-run and apply one cluster-scoped object (the namespace): (existed before, exists now)."""
        before = self._get(resource, m["metadata"]["name"], None)
        try:
            after = self._apply(resource, m, dry_run=True)
        except Exception as exc:
            if _status(exc) is None:
                raise
            raise ReleaseError(
                f"app {self.app!r}: {_ident(m)} was refused by the server's dry-run: {_api_message(exc)}"
            ) from None
        if before is not None and comparable(before) == comparable(after):
            self._record(m, "unchanged", before, after)
            return True, True
        if not self.check_mode:
            after = self._apply(resource, m, dry_run=False)
        self._record(m, "created" if before is None else "updated", before, after)
        return before is not None, before is not None or not self.check_mode

    def _managed(self) -> list[tuple[Any, dict[str, Any]]]:
        """Every object of the app in its namespace, found by the prune label selector."""
        kinds = [(av, kind, self._resource(av, kind)) for av, kind in PRUNABLE]
        served = [(av, kind, r) for av, kind, r in kinds if r is not None]

        def listed(entry: tuple[str, str, Any]) -> list[tuple[Any, dict[str, Any]]]:
            api_version, kind, resource = entry
            items = self.client.get(resource, namespace=self.namespace, label_selector=self.selector).to_dict()
            out = []
            for item in items.get("items") or []:
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api_version)
                out.append((resource, item))
            return out

        return [found for chunk in self._parallel(listed, served) for found in chunk]

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
                f"app {self.app!r}: {m['kind']} {ns}/{name} is still rolling out after {self.wait_timeout:.0f} s "
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
        raise ReleaseError(f"app {self.app!r}: rollout of {m['kind']} {ns}/{name} failed: {why}; {tail}", self.result)

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
                state, why = statefulset_state(obj)
                status = obj.get("status") or {}
                now_marker = tuple(
                    status.get(k)
                    for k in (
                        "readyReplicas",
                        "updatedReplicas",
                        "currentReplicas",
                        "updateRevision",
                        "observedGeneration",
                    )
                )
                if now_marker != marker:
                    marker, last_progress = now_marker, self.clock()
                elif state == "progressing" and self.clock() - last_progress >= self.deadline_s:
                    state = "failed"
                    why = (
                        f"ProgressDeadlineExceeded: StatefulSet {name!r} made no progress in "
                        f"{self.deadline_s:.0f} s ({why})"
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
                raise ReleaseError(
                    f"app {self.app!r}: rollout of Deployment {ns}/{name} failed and there is no previous "
                    f"revision to roll back to (first deploy): {why}",
                    self.result,
                )
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
        status = obj.get("status") or {}
        revisions = self._owned("apps/v1", "ControllerRevision", obj)
        revisions.sort(key=lambda r: r.get("revision", 0))
        bad = status.get("updateRevision")
        candidates = [r for r in revisions if r["metadata"]["name"] != bad]
        target = next((r for r in candidates if r["metadata"]["name"] == status.get("currentRevision")), None)
        if target is None and candidates:
            target = candidates[-1]
        if target is None:
            raise ReleaseError(
                f"app {self.app!r}: rollout of StatefulSet {ns}/{name} failed and there is no previous "
                f"revision to roll back to (first deploy): {why}",
                self.result,
            )
        self.client.patch(
            resource,
            body=target["data"],
            name=name,
            namespace=ns,
            content_type="application/strategic-merge-patch+json",
            field_manager=ROLLBACK_MANAGER,
        )
        # Forced rollback: the StatefulSet controller waits for a pod of the failed revision
        # to become Ready before it replaces it, which it never does: delete those pods.
        pods = self._resource("v1", "Pod")
        if bad:
            self._delete_pods(pods, ns, bad)
        return f"{target.get('revision')} ({target['metadata']['name']})"

    def _delete_pods(self, pods: Any, ns: str, revision: str) -> None:
        from kubernetes.dynamic.exceptions import NotFoundError

        items = self.client.get(pods, namespace=ns, label_selector=f"controller-revision-hash={revision}").to_dict()
        for pod in items.get("items") or []:
            with contextlib.suppress(NotFoundError):
                self.client.delete(pods, name=pod["metadata"]["name"], namespace=ns)
