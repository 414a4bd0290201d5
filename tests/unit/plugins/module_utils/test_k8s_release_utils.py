# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure parts of module_utils/k8s_release.py: manifest hash, the no-dry-run comparison, secret
references, Job states, the discovery cache, and app pruning's choice of namespaces.

Releases against a cluster are tested on the real control plane (tests/k8s); the small fake
client here only answers what these functions ask (a namespace list, a discovery lookup).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_release as kr

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "web-secrets", "namespace": "web", "labels": {"a": "b"}},
    "data": {"TOKEN": "c2VjcmV0LXZhbHVl"},  # base64 of secret-value
}


def test_the_manifest_hash_leaves_secret_values_out_but_not_their_keys() -> None:
    h = kr.manifest_hash(SECRET)
    assert h == kr.manifest_hash({**SECRET, "data": {"TOKEN": "b3RoZXI="}})  # another value: same hash
    assert h != kr.manifest_hash({**SECRET, "data": {"TOKEN": "x", "MORE": "y"}})  # another key: another
    stamped = kr.stamped(SECRET)
    assert stamped["metadata"]["annotations"][kr.MANIFEST_HASH] == h
    assert kr.manifest_hash(stamped) == h  # its own annotation is not hashed
    assert "c2VjcmV0LXZhbHVl" not in json.dumps(stamped["metadata"])


def test_unchanged_needs_the_hash_and_every_field_with_its_value() -> None:
    m = kr.stamped(SECRET)
    live = json.loads(json.dumps(m))
    live["metadata"].update({"uid": "u", "resourceVersion": "7", "managedFields": []})
    live["type"] = "Opaque"  # a default the server added
    assert kr.unchanged(m, live)
    other_value = json.loads(json.dumps(live))
    other_value["data"]["TOKEN"] = "b3RoZXI="
    assert not kr.unchanged(m, other_value)  # a rotated value is seen without any hash of it
    dropped = kr.stamped({**SECRET, "metadata": {**SECRET["metadata"], "labels": {}}})
    assert not kr.unchanged(dropped, live)  # a field left out of the manifest: the hash differs
    no_hash = json.loads(json.dumps(live))
    del no_hash["metadata"]["annotations"]
    assert not kr.unchanged(m, no_hash)  # applied before the hash existed: dry-run decides


@pytest.mark.parametrize(
    ("want", "have", "expected"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]}, True),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]}, False),
        ({"a": "1"}, {"a": 1}, False),
        ({"a": {}}, {}, False),
    ],
)
def test_contains(want: Any, have: Any, expected: bool) -> None:
    assert kr.contains(want, have) is expected


def test_referenced_secrets() -> None:
    template = {
        "spec": {
            "containers": [
                {"envFrom": [{"secretRef": {"name": "b"}}, {"configMapRef": {"name": "cm"}}]},
                {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "a", "key": "k"}}}]},
            ],
            "volumes": [{"name": "v", "secret": {"secretName": "c"}}, {"name": "t", "emptyDir": {}}],
        }
    }
    assert kr.referenced_secrets(template) == ["a", "b", "c"]
    assert kr.referenced_secrets({"spec": {"containers": [{}]}}) == []


def test_job_state() -> None:
    assert kr.job_state({"status": {"active": 1}}) == ("running", "1 active, 0 failed")
    done = {"status": {"conditions": [{"type": "Complete", "status": "True", "reason": "Completed"}]}}
    assert kr.job_state(done)[0] == "complete"
    failed = {
        "status": {
            "conditions": [
                {"type": "FailureTarget", "status": "True"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "limit"},
            ]
        }
    }
    assert kr.job_state(failed) == ("failed", "BackoffLimitExceeded: limit")


class Listed:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def to_dict(self) -> dict[str, Any]:
        return {"items": json.loads(json.dumps(self.items))}


class FakeClient:
    """Discovery that knows only v1 kinds, one namespace list, and a record of deletes."""

    def __init__(self, namespaces: list[dict[str, Any]] | None = None) -> None:
        self.lookups: list[tuple[str, str]] = []
        self.deleted: list[str] = []
        self.selectors: list[str] = []
        self.namespaces = namespaces or []
        self.resources = self

    def get(self, resource: Any = None, *, api_version: str | None = None, kind: str | None = None, **kw: Any) -> Any:
        if api_version is not None:  # resources.get
            self.lookups.append((api_version, kind or ""))
            if api_version != "v1":
                raise ResourceNotFoundError(f"no {api_version}")
            return f"resource {kind}"
        self.selectors.append(kw.get("label_selector", ""))
        return Listed(self.namespaces)

    def delete(self, resource: Any, name: str, **_: Any) -> None:
        self.deleted.append(name)


def test_resource_lookups_are_remembered_per_client_misses_included() -> None:
    client = FakeClient()
    for _attempt in range(3):
        assert kr.resource_of(client, "monitoring.coreos.com/v1", "ServiceMonitor") is None
        assert kr.resource_of(client, "v1", "Secret") == "resource Secret"
    assert client.lookups == [("monitoring.coreos.com/v1", "ServiceMonitor"), ("v1", "Secret")]
    client._cache = {}  # the discovery was invalidated (CRDs installed): asked again
    kr.resource_of(client, "monitoring.coreos.com/v1", "ServiceMonitor")
    assert len(client.lookups) == 3


def ns(name: str, app: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app.kubernetes.io/instance": app}, **meta}}


def test_prune_apps_deletes_only_namespaces_of_the_set_that_the_model_no_longer_has() -> None:
    client = FakeClient([ns("shop", "shop"), ns("old", "old"), ns("gone", "gone", deletionTimestamp="t")])
    pruned, diff = kr.prune_apps(client, "prod", ["shop", "new"], check_mode=True)
    assert client.selectors == ["app.kubernetes.io/managed-by=opsdeck,opsdeck.io/release-set=prod"]
    assert pruned == [{"app": "old", "namespace": "old"}]
    assert diff[0]["before_header"] == "Namespace old (app 'old' left the model; everything in it goes)"
    assert diff[0]["after"] == {} and client.deleted == []  # check mode
    kr.prune_apps(client, "prod", ["shop"], check_mode=False)
    assert client.deleted == ["old"]


def test_prune_apps_needs_a_release_set() -> None:
    with pytest.raises(kr.ReleaseError, match="pruning apps needs a release set"):
        kr.prune_apps(FakeClient(), "", ["a"], check_mode=True)


def test_deploy_runs_releases_in_order_stops_at_the_first_failure_and_then_prunes_apps() -> None:
    ran: list[str] = []

    class FakeRelease:
        def __init__(self, client: Any, rel: dict[str, Any], *, secrets: dict[str, Any], **_: Any) -> None:
            self.rel, self.secrets = rel, secrets

        def run(self) -> dict[str, Any]:
            ran.append(self.rel["app"])
            result = {"app": self.rel["app"], "changed": False, "diff": [{"x": 1}]}
            if self.rel["app"] == "bad":
                raise kr.ReleaseError("app 'bad': failed", result)
            return result

    client = FakeClient([ns("old", "old")])
    out = kr.deploy(client, [{"app": "a"}], {}, prune_apps_of="prod", keep_namespaces=["a"], release_cls=FakeRelease)
    assert out["changed"] is True and out["pruned_apps"] == [{"app": "old", "namespace": "old"}]
    assert len(out["diff"]) == 2 and "diff" not in out["releases"][0]
    with pytest.raises(kr.DeployError) as err:
        kr.deploy(client, [{"app": "bad"}, {"app": "b"}], {}, prune_apps_of="prod", release_cls=FakeRelease)
    assert err.value.msg == "app 'bad': failed"
    assert ran == ["a", "bad"]  # b was not run, and no app was pruned after the failure
    assert err.value.result["pruned_apps"] == [] and err.value.result["releases"][0]["failed"] is True


def _daemonset(generation: int = 2, **status: int) -> dict[str, Any]:
    base = {
        "observedGeneration": 2,
        "desiredNumberScheduled": 3,
        "currentNumberScheduled": 3,
        "updatedNumberScheduled": 3,
        "numberReady": 3,
        "numberAvailable": 3,
    }
    return {"metadata": {"name": "otelcol", "generation": generation}, "status": {**base, **status}}


def test_daemonset_state() -> None:
    assert kr.daemonset_state(_daemonset())[0] == "done"
    assert kr.daemonset_state(_daemonset(generation=3)) == (
        "progressing",
        "the controller has not seen the new generation yet",
    )
    state, why = kr.daemonset_state(_daemonset(updatedNumberScheduled=1, numberReady=2, numberUnavailable=1))
    assert state == "progressing"
    assert why == "1 updated, 2 ready of 3 nodes, 1 unavailable"
    assert kr.daemonset_state(_daemonset(numberAvailable=2))[0] == "progressing"


def test_daemonsets_are_workloads_and_pruned_with_them() -> None:
    assert "DaemonSet" in kr.WORKLOAD_KINDS
    order = [kind for _av, kind in kr.PRUNABLE]
    assert order.index("StatefulSet") < order.index("DaemonSet") < order.index("Service")
    assert len(order) == len(set(order))


class _ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(body)
        self.status, self.body = status, body


def test_an_unserved_path_is_told_apart_from_a_missing_object() -> None:
    assert kr.unserved(_ApiError(404, "404 page not found"))
    missing = json.dumps({"kind": "Status", "reason": "NotFound", "message": 'namespaces "x" not found'})
    assert not kr.unserved(_ApiError(404, missing))
    assert not kr.unserved(_ApiError(422, "404 page not found"))
    assert not kr.unserved(ValueError("no status"))
