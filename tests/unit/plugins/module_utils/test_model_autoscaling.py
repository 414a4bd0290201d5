# SPDX-License-Identifier: GPL-3.0-or-later
"""The model's ``autoscaling`` block: defaults, normalization and the findings it can raise."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError, normalize_apps


def one(**fields: Any) -> dict[str, Any]:
    return normalize_apps([{"name": "web", "image": "acme/web:1.0", **fields}])[0]


def errors(**fields: Any) -> list[str]:
    with pytest.raises(ModelError) as err:
        normalize_apps([{"name": "web", "image": "acme/web:1.0", **fields}])
    return err.value.errors


def test_absent_is_null() -> None:
    assert one()["autoscaling"] is None


def test_defaults_follow_replicas() -> None:
    assert one(replicas=3, autoscaling={"max_replicas": 10})["autoscaling"] == {
        "min_replicas": 3,
        "max_replicas": 10,
        "cpu_percent": 70,
        "memory_percent": 80,
    }


def test_given_values_are_kept() -> None:
    auto = {"min_replicas": 2, "max_replicas": 4, "cpu_percent": 50, "memory_percent": None}
    assert one(autoscaling=auto)["autoscaling"] == auto


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"autoscaling": {"min_replicas": 5, "max_replicas": 3}},
            "app 'web': field 'autoscaling.min_replicas': 5 is more than autoscaling.max_replicas 3",
        ),
        (
            {"replicas": 4, "autoscaling": {"max_replicas": 3}},
            "app 'web': field 'autoscaling.max_replicas': 3 is less than replicas 4 (min_replicas defaults to "
            "replicas); raise max_replicas or set min_replicas",
        ),
        (
            {"replicas": 0, "autoscaling": {"max_replicas": 3}},
            "app 'web': field 'replicas': 0 with autoscaling set: the autoscaler keeps at least min_replicas "
            "running; remove autoscaling to stop the app",
        ),
        (
            {"autoscaling": {"max_replicas": 3, "cpu_percent": None, "memory_percent": None}},
            "app 'web': field 'autoscaling': sets neither cpu_percent nor memory_percent; the autoscaler needs "
            "one to scale on",
        ),
    ],
)
def test_findings(fields: dict[str, Any], expected: str) -> None:
    assert expected in errors(**fields)


def test_schema_findings_name_the_field() -> None:
    found = errors(autoscaling={"min_replicas": 0})
    assert any(e.startswith("app 'web': field 'autoscaling.max_replicas'") for e in found), found
    assert any(e.startswith("app 'web': field 'autoscaling.min_replicas'") for e in found), found
    assert any("unknown field" in e for e in errors(autoscaling={"max_replicas": 2, "max": 3}))
