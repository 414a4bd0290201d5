# SPDX-License-Identifier: GPL-3.0-or-later
"""The k8s_release module's main(): argument checks, per-app secrets, exit and failure paths.

The cluster is replaced here (its behaviour is tested on the real control plane in
tests/k8s); what is tested is the module's own wiring.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_release import ReleaseError
from ansible_collections.opsdeck.platform.plugins.modules import k8s_release as module


def release(app: str) -> dict[str, Any]:
    return {"app": app, "namespace": app, "state": "present", "selector": f"x={app}", "manifests": []}


class FakeApi:
    closed = False

    def close(self) -> None:
        FakeApi.closed = True


class FakeRelease:
    calls: list[tuple[str, dict[str, Any], bool]] = []
    fail_app: str | None = None

    def __init__(self, client: Any, rel: dict[str, Any], *, secrets: dict[str, Any], check_mode: bool, **_: Any):
        self.rel, self.secrets, self.check_mode = rel, secrets, check_mode

    def run(self) -> dict[str, Any]:
        FakeRelease.calls.append((self.rel["app"], self.secrets, self.check_mode))
        result = {
            "app": self.rel["app"],
            "changed": True,
            "objects": [],
            "pruned": [],
            "not_applied": [],
            "rollout": None,
            "diff": [{"before": {}, "after": {"kind": "ConfigMap"}}],
        }
        if self.rel["app"] == FakeRelease.fail_app:
            raise ReleaseError(f"app {self.rel['app']!r}: rollout failed: ProgressDeadlineExceeded", result)
        return result


@pytest.fixture(autouse=True)
def fake_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeRelease.calls, FakeRelease.fail_app, FakeApi.closed = [], None, False
    monkeypatch.setattr(module.config, "new_client_from_config", lambda **_: FakeApi())
    monkeypatch.setattr(module, "DynamicClient", lambda api: object())
    monkeypatch.setattr(module, "Release", FakeRelease)


def run(args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_every_app_gets_its_own_secrets_and_results(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(
        {
            "releases": [release("a"), release("b")],
            "secrets": {"a": {"K": "va"}, "b": {"K": "vb"}},
            "_ansible_diff": True,
        },
        capsys,
    )
    assert FakeRelease.calls == [("a", {"K": "va"}, False), ("b", {"K": "vb"}, False)]
    assert out["changed"] is True
    assert [r["app"] for r in out["releases"]] == ["a", "b"]
    assert all("diff" not in r for r in out["releases"])
    assert len(out["diff"]) == 2
    assert "va" not in json.dumps(out) and "vb" not in json.dumps(out)
    assert FakeApi.closed


def test_the_first_failing_app_stops_the_run_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    FakeRelease.fail_app = "a"
    out = run({"releases": [release("a"), release("b")], "secrets": {"a": {"K": "secret-a"}}}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "app 'a': rollout failed: ProgressDeadlineExceeded"
    assert [c[0] for c in FakeRelease.calls] == ["a"]
    assert out["releases"][0]["failed"] is True
    assert "secret-a" not in json.dumps(out)
    assert "diff" not in out  # not asked for


def test_check_mode_is_passed_on(capsys: pytest.CaptureFixture[str]) -> None:
    run({"releases": [release("a")], "_ansible_check_mode": True}, capsys)
    assert FakeRelease.calls == [("a", {}, True)]


def test_a_release_that_is_not_the_filters_output_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    out = run({"releases": [{"app": "a", "manifests": []}]}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "releases[0]: 'namespace' is missing; pass the output of the k8s_releases filter"
    assert FakeRelease.calls == []


def test_a_kubeconfig_that_does_not_load_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(**_: Any) -> None:
        raise OSError("no such file")

    monkeypatch.setattr(module.config, "new_client_from_config", broken)
    out = run({"releases": [release("a")], "kubeconfig": "/nowhere/kubeconfig"}, capsys)
    assert out["msg"] == "cannot load the kubeconfig /nowhere/kubeconfig: no such file"


def test_pruning_apps_with_an_empty_model_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    out = run({"releases": [], "prune_apps": True, "release_set": "prod"}, capsys)
    assert out["failed"] is True
    assert out["msg"].startswith("prune_apps: keep_namespaces is empty; an empty model would delete every app")
    out = run({"releases": [release("a")], "prune_apps": True, "keep_namespaces": ["a"]}, capsys)
    assert out["msg"] == "prune_apps is True but all of the following are missing: release_set"
