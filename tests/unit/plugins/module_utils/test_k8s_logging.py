# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of module_utils/k8s_logging.py: logging on Kubernetes (store and shipper releases)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opsdeck.platform.plugins.filter import logging as flt
from ansible_collections.opsdeck.platform.plugins.module_utils import k8s_logging as kl
from ansible_collections.opsdeck.platform.plugins.module_utils import logging as lg


def _by_kind(release: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in release["manifests"]:
        out.setdefault(m["kind"], []).append(m)
    return out


def _releases(**settings: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    store, shipper = kl.releases(settings)
    return store, shipper


def test_two_releases_store_first_each_in_its_namespace() -> None:
    store, shipper = _releases()
    assert [store["app"], store["namespace"], shipper["app"], shipper["namespace"]] == [
        "opsdeck-logging",
        "logging",
        "opsdeck-logship",
        "logging-shipper",
    ]
    assert store["selector"] == "app.kubernetes.io/managed-by=opsdeck,app.kubernetes.io/instance=opsdeck-logging"
    assert store["title"] == "logging release 'opsdeck-logging'"
    for release in (store, shipper):
        assert release["manifests"][0]["kind"] == "Namespace"
        for m in release["manifests"]:
            labels = m["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "opsdeck"
            assert labels["app.kubernetes.io/instance"] == release["app"]
            if m["kind"] != "Namespace":
                assert m["metadata"]["namespace"] == release["namespace"]


def test_store_flags_are_the_docker_hosts_derivation() -> None:
    store, _shipper = _releases(retention_period="4w", max_disk_usage="5GiB", extra_flags=["-loggerLevel=WARN"])
    sts = _by_kind(store)["StatefulSet"][0]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == lg.store_flags(
        "4w", "5GiB", listen_address="0.0.0.0", port=9428, extra_flags=["-loggerLevel=WARN"]
    )
    assert "-retention.maxDiskSpaceUsageBytes=5GiB" in container["args"]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/victoria-logs-data"}]
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "storageClassName" not in claim["spec"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


def test_store_is_hardened_to_restricted() -> None:
    store, _shipper = _releases(storage_class="fast")
    kinds = _by_kind(store)
    ns = kinds["Namespace"][0]["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted"
    pod = kinds["StatefulSet"][0]["spec"]["template"]["spec"]
    sc = pod["containers"][0]["securityContext"]
    assert sc["runAsNonRoot"] and sc["runAsUser"] == 65534 and sc["readOnlyRootFilesystem"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["allowPrivilegeEscalation"] is False
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert kinds["ServiceAccount"][0]["automountServiceAccountToken"] is False
    assert kinds["StatefulSet"][0]["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "fast"


def test_shipper_daemonset_reads_pod_logs_on_every_node() -> None:
    _store, shipper = _releases(environment="prod", fields={"cluster": "fra1"}, namespace_prefix="shop-")
    kinds = _by_kind(shipper)
    assert kinds["Namespace"][0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert "hostPath" in kinds["Namespace"][0]["metadata"]["annotations"]["opsdeck.io/pod-security-justification"]
    ds = kinds["DaemonSet"][0]
    pod = ds["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v["hostPath"] for v in pod["volumes"]}
    assert volumes == {
        "pods": {"path": "/var/log/pods", "type": "Directory"},
        "state": {"path": "/var/lib/opsdeck-logship", "type": "DirectoryOrCreate"},
    }
    container = pod["containers"][0]
    assert {"name": "pods", "mountPath": "/var/log/pods", "readOnly": True} in container["volumeMounts"]
    assert container["env"] == [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert container["args"] == [
        "-url=http://victorialogs.logging.svc:9428/insert/jsonline",
        "-pods-dir=/var/log/pods",
        "-state=/state/positions.json",
        "-interval=1s",
        "-listen=0.0.0.0:9430",
        "-stream-fields=app,service,env,host,namespace",
        "-namespace-prefix=shop-",
        "-field-env=host=NODE_NAME",
        "-field=cluster=fra1",
        "-field=env=prod",
    ]
    sc = container["securityContext"]
    assert sc["runAsUser"] == 0 and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False


def test_network_policies_shipper_to_store_only() -> None:
    store, shipper = _releases(store_clients=["grafana"], monitoring_namespace="mon")
    store_policies = {p["metadata"]["name"]: p["spec"] for p in _by_kind(store)["NetworkPolicy"]}
    assert store_policies["victorialogs-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    allowed = store_policies["victorialogs-allow-clients"]["ingress"][0]
    assert [f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for f in allowed["from"]] == [
        "logging-shipper",
        "mon",
        "grafana",
    ]
    assert allowed["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "logship"
    assert allowed["ports"] == [{"protocol": "TCP", "port": 9428}]
    ship_policies = {p["metadata"]["name"]: p["spec"] for p in _by_kind(shipper)["NetworkPolicy"]}
    egress = ship_policies["logship-allow-egress"]["egress"]
    assert egress[0]["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "logging"}
    assert egress[0]["ports"] == [{"protocol": "TCP", "port": 9428}]
    assert egress[1]["ports"][0]["port"] == 53
    assert ship_policies["logship-allow-monitoring"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9430}]


def test_service_monitors_carry_the_docker_hosts_jobs() -> None:
    store, shipper = _releases()
    for release, job in ((store, "victorialogs"), (shipper, "logship")):
        sm = _by_kind(release)["ServiceMonitor"][0]
        relabel = sm["spec"]["endpoints"][0]["relabelings"][0]
        assert relabel == {"action": "replace", "targetLabel": "job", "replacement": job}
        service = _by_kind(release)["Service"][0]
        assert sm["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_absent_removes_shipper_first() -> None:
    first, second = kl.releases({"state": "absent"})
    assert [first["app"], second["app"]] == ["opsdeck-logship", "opsdeck-logging"]
    assert first["manifests"] == [] and first["state"] == "absent"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"retention_period": "3 days"}, "logging_retention_period: '3 days' is not a duration"),
        ({"retention_period": "12h"}, "logging_retention_period: '12h' is shorter than 1d"),
        ({"max_disk_usage": "lots"}, "logging_retention_max_disk_usage: 'lots' is not a size"),
        ({"max_disk_usage": "30GiB"}, "logging_retention_max_disk_usage: '30GiB' does not fit in the store's volume"),
        ({"extra_flags": ["-retentionPeriod=1d"]}, "logging_extra_flags[0]: -retentionPeriod is set by the role"),
        ({"volume_size": "big"}, "logging_k8s_volume_size: "),
        ({"namespace": "Logging"}, "logging_k8s_namespace: 'Logging' is not a namespace name"),
        ({"shipper_namespace": "logging"}, "logging_k8s_shipper_namespace: must differ from logging_k8s_namespace"),
        ({"store_clients": "grafana"}, "logging_k8s_store_clients: 'grafana' is not a list of namespace names"),
        ({"fields": {"host": "x"}}, "logging_shipper_fields: field name 'host' is not allowed"),
        ({"fields": {"namespace": "x"}}, "logging_shipper_fields: field name 'namespace' is not allowed"),
        ({"interval": "1 second"}, "logging_shipper_interval: '1 second' is not a duration"),
        ({"namespace_prefix": "Shop_"}, "logging_k8s_namespace_prefix: 'Shop_' is not the start of a namespace name"),
        ({"store_resources": {"requests": {"cpu": "lots"}}}, "logging_k8s_store_resources.requests.cpu: "),
        ({"shipper_resources": {"limit": {}}}, "logging_k8s_shipper_resources: expected"),
        ({"state_dir": "relative"}, "logging_k8s_shipper_state_dir: 'relative' is not an absolute directory"),
        ({"port": 0}, "logging_port: 0 is not a port"),
        ({"shipper_port": 9428}, "logging_shipper_port: must differ from logging_port"),
        ({"state": "gone"}, "logging_k8s_state: 'gone' is not one of"),
        ({"scrape_interval": "often"}, "logging_k8s_scrape_interval: 'often' is not a duration"),
        ({"progress_deadline_s": 0}, "logging_k8s_progress_deadline_s: 0 is not an integer >= 1"),
        ({"nope": 1}, "logging (kubernetes): unknown setting 'nope'"),
    ],
)
def test_bad_settings_name_the_variable(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(lg.LoggingError) as err:
        kl.releases(settings)
    assert any(message in e for e in err.value.errors), err.value.errors


def test_every_finding_at_once_through_the_filter() -> None:
    with pytest.raises(AnsibleFilterError, match=r"invalid logging settings for Kubernetes \(2 findings\)") as err:
        flt.logging_k8s_releases({"retention_period": "x", "volume_size": "y"})
    assert "logging_retention_period" in str(err.value) and "logging_k8s_volume_size" in str(err.value)
    assert flt.FilterModule().filters()["logging_k8s_releases"] is flt.logging_k8s_releases


def test_pod_shipper_args_without_prefix_or_environment() -> None:
    argv = lg.pod_shipper_args("http://vl:9428/")
    assert argv[0] == "-url=http://vl:9428/insert/jsonline"
    assert not any(a.startswith(("-namespace-prefix", "-field=")) for a in argv)
    assert "-field-env=host=NODE_NAME" in argv
    with pytest.raises(lg.LoggingError, match="logging_push_url: 'ftp://x' is not an http"):
        lg.pod_shipper_args("ftp://x")
