# SPDX-License-Identifier: GPL-3.0-or-later
"""The k8s_releases filter: a thin wrapper whose errors name the app and the field."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.filter.k8s import FilterModule
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps

k8s_releases = FilterModule().filters()["k8s_releases"]


def test_renders_one_release_per_app() -> None:
    apps = normalize_apps([{"name": "a", "image": "x/a:1"}, {"name": "b", "image": "x/b:1", "state": "absent"}])
    releases = k8s_releases(apps, {"namespace_prefix": "dev-"})
    assert [(r["app"], r["namespace"], r["state"]) for r in releases] == [
        ("a", "dev-a", "present"),
        ("b", "dev-b", "absent"),
    ]


def test_findings_are_counted_and_listed() -> None:
    apps = normalize_apps([{"name": "a", "image": "x/a:1", "hardening": {"cap_add": ["SYS_ADMIN"]}}])
    with pytest.raises(AnsibleFilterError) as err:
        k8s_releases(apps, {"nonsense": 1})
    text = str(err.value)
    assert text.startswith("opsdeck_apps cannot be deployed to Kubernetes (1 finding):")
    assert "k8s_app: unknown option 'nonsense'" in text
    with pytest.raises(AnsibleFilterError, match=r"\(1 finding\):\napp 'a': field 'hardening.cap_add': SYS_ADMIN"):
        k8s_releases(apps)


def test_raw_model_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="expects the normalized app list"):
        k8s_releases([{"name": "a", "image": "x/a:1"}])
