# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``edge`` field of the application model: defaults, normalization and every finding."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.model import (
    EDGE_DEFAULTS,
    ModelError,
    normalize_apps,
    validate_apps,
)

PUBLIC = [{"name": "http", "port": 8080, "public": True, "host": "web.example.com"}]


def app(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "image": "acme/web:1.0", "ports": PUBLIC, **fields}


def test_defaults_fill_every_field() -> None:
    edge = normalize_apps([app()])[0]["edge"]
    assert edge == {**EDGE_DEFAULTS, "body_size_bytes": None}
    assert edge["frame_options"] == "DENY" and edge["hsts_max_age_s"] == 31536000


def test_overrides_are_normalized() -> None:
    edge = normalize_apps(
        [
            app(
                edge={
                    "rate_limit": {"rps": 5},
                    "body_size": "10m",
                    "csp": None,
                    "headers": {"X-Frame-Options": None, "X-Robots-Tag": "noindex"},
                    "cors": {"origins": ["https://a.example.com"], "credentials": True},
                }
            )
        ]
    )[0]["edge"]
    assert edge["rate_limit"] == {"rps": 5, "burst": 0}
    assert edge["body_size_bytes"] == 10 * 1024 * 1024
    assert edge["csp"] is None
    assert edge["headers"] == {"X-Frame-Options": None, "X-Robots-Tag": "noindex"}
    assert edge["cors"] == {
        "origins": ["https://a.example.com"],
        "methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "headers": ["Authorization", "Content-Type"],
        "credentials": True,
        "max_age_s": 600,
    }


@pytest.mark.parametrize(
    ("edge", "expected"),
    [
        ({"csp": 'a"b'}, "app 'web': field 'edge.csp': 'a\"b' holds a double quote"),
        ({"headers": {"X-A": "$host"}}, "app 'web': field 'edge.headers.X-A': '$host' holds"),
        ({"headers": {"X A": "v"}}, "app 'web': field 'edge.headers"),
        ({"referrer_policy": "a\nb"}, "app 'web': field 'edge.referrer_policy'"),
        ({"body_size": "lots"}, "app 'web': field 'edge.body_size': 'lots' is not a memory size"),
        ({"rate_limit": {"rps": 0}}, "app 'web': field 'edge.rate_limit.rps'"),
        ({"rate_limit": {"burst": 3}}, "app 'web': field 'edge.rate_limit.rps': is missing"),
        ({"frame_options": "ALLOW"}, "app 'web': field 'edge.frame_options': 'ALLOW' is not one of DENY, SAMEORIGIN"),
        ({"cors": {"origins": ["ftp://x"]}}, "app 'web': field 'edge.cors.origins[0]': 'ftp://x' is not an origin"),
        ({"cors": {"origins": ["*", "https://a.io"]}}, "app 'web': field 'edge.cors.origins': '*' allows every origin"),
        (
            {"cors": {"origins": ["*"], "credentials": True}},
            "app 'web': field 'edge.cors.credentials': true with origins ['*']: browsers refuse credentials",
        ),
        ({"gzip": True}, "app 'web': field 'edge.gzip': unknown field"),
    ],
)
def test_bad_edge_settings_name_the_app_and_field(edge: dict[str, Any], expected: str) -> None:
    errors = validate_apps([app(edge=edge)])
    assert any(e.startswith(expected) for e in errors), errors
    with pytest.raises(ModelError):
        normalize_apps([app(edge=edge)])


def test_edge_without_a_public_port_is_an_error() -> None:
    errors = validate_apps(
        [{"name": "web", "image": "acme/web:1.0", "ports": [{"name": "http", "port": 80}], "edge": {}}]
    )
    assert errors == [
        "app 'web': field 'edge': configures the edge proxy for public ports, and the app has none (public: true)"
    ]


def test_two_apps_claiming_one_host_and_a_bad_dns_name() -> None:
    errors = validate_apps(
        [
            app(),
            {"name": "api", "image": "acme/api:1", "ports": PUBLIC},
            {
                "name": "bad",
                "image": "acme/bad:1",
                "ports": [{"name": "http", "port": 80, "public": True, "host": "Bad_Host"}],
            },
        ]
    )
    assert (
        "opsdeck_apps: public host 'web.example.com' is claimed by both app 'web' (ports[0]) and app 'api' (ports[0])"
        in errors
    )
    assert any(e.startswith("app 'bad': field 'ports[0].host': 'Bad_Host' is not a DNS name") for e in errors)
