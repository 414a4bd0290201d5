# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The edge proxy's sites: upstreams across docker hosts, headers, limits, certificates."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.opsdeck.platform.plugins.module_utils.edge import (
    EdgeError,
    acme_challenges,
    certificate_problems,
    edge_sites,
    security_headers,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import EDGE_DEFAULTS

HOSTS = [
    {"name": "edge1", "address": "10.0.0.1", "groups": ["edge", "docker_hosts"]},
    {"name": "dock1", "address": "10.0.0.11", "groups": ["docker_hosts", "eu"]},
    {"name": "dock2", "address": "10.0.0.12", "groups": ["docker_hosts", "us"]},
]


def app(name: str = "web", host: str = "web.example.com", **fields: Any) -> dict[str, Any]:
    port = {"name": "http", "port": 8080, "public": True, "host": host, "host_port": 18080, "host_ip": "0.0.0.0"}
    port.update(fields.pop("port", {}))
    return {"name": name, "image": "acme/web:1.0", "ports": [port], **fields}


def sites(apps: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return edge_sites(apps, HOSTS, edge_host=kwargs.pop("edge_host", "edge1"), **kwargs)


def test_upstreams_are_the_published_port_on_every_placed_host() -> None:
    result = sites([app(hosts=["eu", "us"])])
    (site,) = result["sites"]
    assert site["servers"] == ["10.0.0.11:18080", "10.0.0.12:18080"]
    assert site["host"] == "web.example.com" and site["tls"] is True and site["cert_source"] == "acme"
    assert site["upstream"] == "web_http"


def test_the_edge_host_itself_is_reached_on_loopback() -> None:
    (site,) = sites([app(hosts=["edge1"])])["sites"]
    assert site["servers"] == ["127.0.0.1:18080"]


def test_every_host_when_the_app_names_none() -> None:
    (site,) = sites([app()])["sites"]
    assert site["servers"] == ["10.0.0.11:18080", "10.0.0.12:18080", "127.0.0.1:18080"]


def test_a_port_bound_to_a_given_address_is_reached_there() -> None:
    (site,) = sites([app(hosts=["dock1"], port={"host_ip": "192.0.2.7"})])["sites"]
    assert site["servers"] == ["192.0.2.7:18080"]


def test_loopback_on_another_host_cannot_be_reached() -> None:
    with pytest.raises(EdgeError) as err:
        sites([app(hosts=["dock1"], port={"host_ip": "127.0.0.1"})])
    assert err.value.errors == [
        "app 'web': field 'ports[0]': public host 'web.example.com' has no replica the edge can reach: host port "
        "18080 is published on 127.0.0.1 only on docker host 'dock1', which the edge on 'edge1' cannot reach; set "
        "host_ip to an address of that host (or 0.0.0.0)"
    ]


def test_a_public_port_without_host_port_is_refused() -> None:
    bare = app()
    del bare["ports"][0]["host_port"]
    with pytest.raises(EdgeError, match=r"app 'web': field 'ports\[0\]': .*no host_port"):
        sites([bare])


def test_absent_apps_and_private_ports_get_no_site() -> None:
    private = {"name": "db", "image": "acme/db:1", "ports": [{"name": "pg", "port": 5432, "host_port": 15432}]}
    assert sites([app(state="absent"), private])["sites"] == []


def test_rate_limit_zones_and_limits_from_the_model_or_the_defaults() -> None:
    result = sites(
        [
            app(),
            app(
                "api",
                "api.example.com",
                edge={"rate_limit": {"rps": 5, "burst": 2}, "body_size": "8m"},
                port={"host_port": 18081},
            ),
        ],
        rate_limit={"rps": 50, "burst": 100},
        body_size=1000,
    )
    by_host = {s["host"]: s for s in result["sites"]}
    assert result["zones"] == [{"name": "app_web", "rps": 50}, {"name": "app_api", "rps": 5}]
    assert (by_host["web.example.com"]["zone"], by_host["web.example.com"]["burst"]) == ("app_web", 100)
    assert (by_host["api.example.com"]["zone"], by_host["api.example.com"]["burst"]) == ("app_api", 2)
    assert by_host["web.example.com"]["body_size_bytes"] == 1000
    assert by_host["api.example.com"]["body_size_bytes"] == 8 * 1024 * 1024


def test_no_rate_limit_when_neither_sets_one() -> None:
    (site,) = sites([app()], rate_limit=None)["sites"]
    assert site["zone"] is None


def test_security_headers_defaults_and_overrides() -> None:
    edge = {**EDGE_DEFAULTS, "headers": {"x-frame-options": None, "X-Robots-Tag": "noindex"}, "csp": None}
    headers = dict((k, v) for k, v in security_headers(edge, tls=True))
    assert headers == {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Robots-Tag": "noindex",
    }
    assert "Strict-Transport-Security" not in dict(security_headers(EDGE_DEFAULTS, tls=False))


def test_plain_http_site_has_no_certificate() -> None:
    (site,) = sites([app(port={"tls": False})])["sites"]
    assert site["tls"] is False and site["cert_source"] is None


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"tls_mode": "letsencrypt"}, "edge_tls_mode: 'letsencrypt' is not one of acme, selfsigned"),
        ({"rate_limit": {"rps": 0}}, "edge_rate_limit: {'rps': 0} is not a mapping"),
        ({"body_size": -1}, "edge_client_max_body_size: -1 is not a number of bytes >= 0"),
        ({"certificates": {"other.example.com": {}}}, "edge_certificates: 'other.example.com' is not the public host"),
    ],
)
def test_bad_role_settings_are_named(kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(EdgeError) as err:
        sites([app()], **kwargs)
    assert any(e.startswith(expected) for e in err.value.errors), err.value.errors


def test_model_errors_come_first_and_whole() -> None:
    with pytest.raises(EdgeError.__mro__[1]) as err:
        sites([app(), app("api")])
    assert "public host 'web.example.com' is claimed by both app 'web' (ports[0]) and app 'api' (ports[0])" in str(
        err.value
    )


# ---------------------------------------------------------------------------------------------
# certificates given in inventory


def _pem_pair(names: list[str], *, days: int = 30, key: Any = None) -> tuple[str, str, Any]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem, key


def test_a_matching_certificate_is_accepted_and_marked_inventory() -> None:
    cert, key = _pem_pair(["web.example.com"])[:2]
    (site,) = sites([app()], certificates={"web.example.com": {"cert": cert, "key": key}})["sites"]
    assert site["cert_source"] == "inventory"


def test_a_wildcard_certificate_covers_one_label() -> None:
    cert, key = _pem_pair(["*.example.com"])[:2]
    assert certificate_problems("web.example.com", {"cert": cert, "key": key}) == []
    assert (
        "does not name 'a.web.example.com'" in certificate_problems("a.web.example.com", {"cert": cert, "key": key})[0]
    )


def test_a_key_that_does_not_match_is_refused_without_showing_it() -> None:
    cert = _pem_pair(["web.example.com"])[0]
    other_key = _pem_pair(["web.example.com"])[1]
    with pytest.raises(EdgeError) as err:
        sites([app()], certificates={"web.example.com": {"cert": cert, "key": other_key}})
    assert err.value.errors == [
        "edge_certificates['web.example.com']: field 'key': does not match the certificate (the certificate's public "
        "key is not the key's); give the key the certificate was issued for"
    ]
    assert "PRIVATE KEY" not in str(err.value)


def test_wrong_name_expired_and_garbage_are_refused() -> None:
    cert, key = _pem_pair(["other.example.com"], days=-1)[:2]
    problems = certificate_problems("web.example.com", {"cert": cert, "key": key})
    assert problems[0].startswith("edge_certificates['web.example.com']: field 'cert': does not name 'web.example.com'")
    assert problems[1].startswith("edge_certificates['web.example.com']: field 'cert': expired on ")
    assert certificate_problems("w", {"cert": "nope", "key": key})[0].startswith(
        "edge_certificates['w']: field 'cert': not a PEM"
    )
    assert certificate_problems("w", {"cert": cert, "key": "secret-ish"}) == [
        "edge_certificates['w']: field 'key': not an unencrypted PEM private key (its content is not shown)"
    ]
    assert certificate_problems("w", "x") == [
        "edge_certificates['w']: expected a mapping {cert, key} of PEM texts (the key from a vault)"
    ]


# ---------------------------------------------------------------------------------------------
# ACME challenge files


def test_challenges_are_flattened_and_checked() -> None:
    token = ".well-known/acme-challenge/abc-DEF_1"
    results = [
        {
            "changed": True,
            "challenge_data": {"web.example.com": {"http-01": {"resource": token, "resource_value": "v1"}}},
        },
        {"changed": False},
    ]
    assert acme_challenges(results) == [{"host": "web.example.com", "resource": token, "resource_value": "v1"}]
    assert acme_challenges(None) == []
    bad = [
        {
            "challenge_data": {
                "w": {"http-01": {"resource": ".well-known/acme-challenge/../../x", "resource_value": "v"}}
            }
        }
    ]
    with pytest.raises(EdgeError, match="unexpected challenge resource"):
        acme_challenges(bad)
