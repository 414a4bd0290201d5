# SPDX-License-Identifier: GPL-3.0-or-later
"""ComposeProject against the real Docker engine and Compose v2 plugin."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.compose import deploy_spec
from ansible_collections.opsdeck.platform.plugins.module_utils.compose_project import ComposeError, ComposeProject
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps


def run(argv, cwd=None, environ_update=None):
    env = {**os.environ, **(environ_update or {})}
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def project(tmp_path):
    name = f"it-{uuid.uuid4().hex[:8]}"
    proj = ComposeProject(run, str(tmp_path / name), name)
    yield proj
    proj.absent(remove_volumes=True)


def spec(project, image, **fields):
    app = normalize_apps(
        [
            {
                "name": project.name,
                "image": image,
                "ports": [{"name": "http", "port": 8080}],
                "health": {"path": "/health", "port": "http", "timeout_s": 2},
                **fields,
            }
        ]
    )[0]
    return deploy_spec(app)


def deploy(project, s, secrets=None, **kw):
    return project.present(
        s["definition"],
        secrets=secrets,
        secret_owner=s["secret_owner"],
        health_checks=s["health_checks"],
        smoke_checks=s["smoke_checks"],
        pre_deploy=s["pre_deploy"],
        **{"wait_timeout": 40, **kw},
    )


def test_secrets_reach_compose_exactly_and_stay_out_of_the_compose_file(project, images):
    tricky = {"PASSWORD": 'it\'s "q" $HOME ${X} a\\b #c', "MULTI": "line1\nline2"}
    s = spec(project, images["sampleapp-v1"], secrets=tricky)
    result = deploy(project, s, secrets=tricky)
    assert result["changed"] and result["revision"] == 1
    compose_text = Path(project.path("compose.yaml")).read_text()
    assert "line1" not in compose_text and "$HOME" not in compose_text
    _rc, out, _err = project.compose("config", "--format", "json")
    env = json.loads(out)["services"][project.name]["environment"]
    assert {k: env[k].replace("$$", "$") for k in tricky} == tricky
    assert oct(os.stat(project.path("secrets.env")).st_mode & 0o777) == "0o600"
    assert oct(os.stat(project.path("secrets", "PASSWORD")).st_mode & 0o777) == "0o400"
    assert Path(project.path("secrets", "MULTI")).read_text() == "line1\nline2"
    # unchanged second run
    again = deploy(project, s, secrets=tricky)
    assert not again["changed"]
    # a changed secret is a change
    assert deploy(project, s, secrets={**tricky, "PASSWORD": "new"})["changed"]


def test_a_failing_first_deploy_has_nothing_to_roll_back_and_is_not_recorded_healthy(project, images):
    s = spec(project, images["sampleapp-v3"])
    with pytest.raises(ComposeError) as err:
        deploy(project, s)
    assert "is not healthy" in str(err.value) and "no healthy revision to roll back to" in str(err.value)
    state = project.read_state()
    assert state["status"] == "failed"
    assert not os.path.isdir(project.path("revisions"))


def test_revisions_are_pinned_by_digest_and_only_the_last_n_kept(project, images):
    v1, v2 = spec(project, images["sampleapp-v1"]), spec(project, images["sampleapp-v2"])
    for s in (v1, v2, v1, v2):
        deploy(project, s, revisions_keep=2)
    revisions = sorted(os.listdir(project.path("revisions")))
    assert revisions == ["0003", "0004"]
    pinned = Path(project.path("revisions", "0004", "compose.yaml")).read_text()
    assert "@sha256:" in pinned


def test_check_mode_reports_a_change_and_touches_nothing(project, images):
    deploy(project, spec(project, images["sampleapp-v1"]))
    before = Path(project.path("compose.yaml")).read_text()
    result = deploy(project, spec(project, images["sampleapp-v2"]), check_mode=True)
    assert result["changed"]
    assert images["sampleapp-v2"] in result["diff"]["after"]
    assert Path(project.path("compose.yaml")).read_text() == before
    running = [c.image for c in project.containers() if c.state == "running"]
    assert running == [images["sampleapp-v1"]]


def test_absent_removes_containers_and_directory(project, images):
    deploy(project, spec(project, images["sampleapp-v1"]))
    assert project.absent()["changed"]
    assert project.containers() == []
    assert not os.path.exists(project.dir)
    assert not project.absent()["changed"]
