# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of module_utils/k8s_logging.py: logging on Kubernetes (store and shipper releases)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import yaml
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
    store, shipper, legacy = kl.releases(settings)
    assert legacy["app"] == "opsdeck-logship" and legacy["manifests"] == []
    return store, shipper


def _config(shipper: dict[str, Any]) -> dict[str, Any]:
    """The collector's configuration in the shipper's ConfigMap, parsed back."""
    (cm,) = _by_kind(shipper)["ConfigMap"]
    assert list(cm["data"]) == ["config.yaml"]
    return yaml.safe_load(cm["data"]["config.yaml"])


def _digest(shipper: dict[str, Any]) -> str:
    return _by_kind(shipper)["DaemonSet"][0]["spec"]["template"]["metadata"]["annotations"]["opsdeck.io/config-digest"]


def test_three_releases_store_first_each_in_its_namespace() -> None:
    store, shipper, legacy = kl.releases({})
    assert [r["app"] for r in (store, shipper, legacy)] == ["opsdeck-logging", "opsdeck-otelcol", "opsdeck-logship"]
    assert [r["namespace"] for r in (store, shipper, legacy)] == ["logging", "logging-shipper", "logging-shipper"]
    assert store["selector"] == "app.kubernetes.io/managed-by=opsdeck,app.kubernetes.io/instance=opsdeck-logging"
    assert store["title"] == "logging release 'opsdeck-logging'"
    assert shipper["title"] == "logging release 'opsdeck-otelcol'"
    for release in (store, shipper):
        assert release["manifests"][0]["kind"] == "Namespace"
        for m in release["manifests"]:
            labels = m["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "opsdeck"
            assert labels["app.kubernetes.io/instance"] == release["app"]
            if m["kind"] != "Namespace":
                assert m["metadata"]["namespace"] == release["namespace"]
    assert not any("logship" in json.dumps(m) for m in shipper["manifests"] + store["manifests"])


def test_logship_release_is_emptied_after_the_collector_in_the_same_namespace() -> None:
    """A cluster that ran logship: its release, with no objects, is applied after the collector's
    (by then the namespace carries the collector's label), so prune deletes logship's objects only."""
    _store, shipper, legacy = kl.releases({"shipper_namespace": "ship"})
    assert legacy == {
        "app": "opsdeck-logship",
        "title": "logging release 'opsdeck-logship' (logship, the shipper before the OpenTelemetry Collector)",
        "namespace": "ship",
        "state": "present",
        "selector": "app.kubernetes.io/managed-by=opsdeck,app.kubernetes.io/instance=opsdeck-logship",
        "progress_deadline_s": 300,
        "manifests": [],
    }
    assert _by_kind(shipper)["Namespace"][0]["metadata"]["name"] == "ship"


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


def test_collector_daemonset_reads_pod_logs_on_every_node() -> None:
    _store, shipper = _releases(environment="prod", fields={"cluster": "fra1"}, namespace_prefix="shop-")
    kinds = _by_kind(shipper)
    ns = kinds["Namespace"][0]["metadata"]
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    why = ns["annotations"]["opsdeck.io/pod-security-justification"]
    assert "hostPath" in why and "OpenTelemetry Collector" in why and "logship" not in why
    ds = kinds["DaemonSet"][0]
    assert ds["metadata"]["name"] == "otelcol"
    pod = ds["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["automountServiceAccountToken"] is False
    assert kinds["ServiceAccount"][0]["automountServiceAccountToken"] is False
    # no API access: no k8sattributes processor, no RBAC
    assert not {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} & set(kinds)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes == {
        "config": {"name": "config", "configMap": {"name": "otelcol", "defaultMode": 0o444}},
        "pods": {"name": "pods", "hostPath": {"path": "/var/log/pods", "type": "Directory"}},
        "state": {"name": "state", "hostPath": {"path": "/var/lib/opsdeck-otelcol", "type": "DirectoryOrCreate"}},
    }
    container = pod["containers"][0]
    assert container["image"] == "otel/opentelemetry-collector-contrib:0.165.1"
    assert container["args"] == ["--config", "/etc/otelcol-contrib/config.yaml"]
    assert container["volumeMounts"] == [
        {"name": "config", "mountPath": "/etc/otelcol-contrib", "readOnly": True},
        {"name": "pods", "mountPath": "/var/log/pods", "readOnly": True},
        {"name": "state", "mountPath": "/var/lib/otelcol/file_storage"},
    ]
    assert container["env"] == [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert container["ports"] == [
        {"name": "http", "containerPort": 9430, "protocol": "TCP"},
        {"name": "health", "containerPort": 13133, "protocol": "TCP"},
    ]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/", "port": "health"}
    sc = container["securityContext"]
    assert sc["runAsUser"] == 0 and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}


def test_configmap_holds_the_pod_collector_config() -> None:
    _store, shipper = _releases(
        namespace="logs", environment="prod", fields={"cluster": "fra1"}, namespace_prefix="shop-", interval="2s"
    )
    config = _config(shipper)
    assert config == lg.pod_collector_config(
        "http://victorialogs.logs.svc:9428",
        environment="prod",
        fields={"cluster": "fra1"},
        namespace_prefix="shop-",
        interval="2s",
        port=9430,
        health_port=13133,
        queue_size=500,
        pods_dir="/var/log/pods",
        node_env="NODE_NAME",
    )
    exporter = config["exporters"]["otlp_http/victorialogs"]
    assert exporter["logs_endpoint"] == "http://victorialogs.logs.svc:9428/insert/opentelemetry/v1/logs"
    assert exporter["headers"] == {"VL-Stream-Fields": "app,service,env,host,namespace"}
    assert exporter["sending_queue"]["storage"] == "file_storage"
    assert config["extensions"]["file_storage"]["directory"] == "/var/lib/otelcol/file_storage"
    assert config["extensions"]["health_check"] == {"endpoint": "0.0.0.0:13133"}
    receiver = config["receivers"]["file_log/pods"]
    assert receiver["include"][0] == "/var/log/pods/*/*/*.log" and receiver["storage"] == "file_storage"
    assert receiver["poll_interval"] == "2s"
    operators = receiver["operators"]
    assert operators[0] == {"type": "container", "add_metadata_from_filepath": True}
    assert {"type": "add", "field": 'attributes["host"]', "value": 'EXPR(env("NODE_NAME"))'} in operators
    assert {"type": "add", "field": 'attributes["cluster"]', "value": "fra1"} in operators
    assert {"type": "add", "field": 'attributes["env"]', "value": "prod"} in operators
    metrics = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    assert metrics == {"host": "0.0.0.0", "port": 9430}
    # the pod template carries the digest of exactly this file
    (cm,) = _by_kind(shipper)["ConfigMap"]
    assert _digest(shipper) == "sha256:" + hashlib.sha256(cm["data"]["config.yaml"].encode()).hexdigest()


class _Tagged(str):
    """What Ansible hands a filter: a subclass of str (its tagged strings)."""


def test_ansible_strings_are_written_as_plain_yaml() -> None:
    _store, shipper = _releases(
        interval=_Tagged("2s"), fields={_Tagged("cluster"): _Tagged("fra1")}, environment=_Tagged("prod")
    )
    (cm,) = _by_kind(shipper)["ConfigMap"]
    assert "!!python" not in cm["data"]["config.yaml"]
    assert _config(shipper)["receivers"]["file_log/pods"]["poll_interval"] == "2s"
    assert _config(shipper) == _config(_releases(interval="2s", fields={"cluster": "fra1"}, environment="prod")[1])


def test_ports_and_queue_reach_the_configuration_and_the_pod() -> None:
    _store, shipper = _releases(shipper_port=9431, health_port=13134, queue_size=100, state_dir="/srv/otelcol")
    config = _config(shipper)
    assert config["extensions"]["health_check"] == {"endpoint": "0.0.0.0:13134"}
    assert config["exporters"]["otlp_http/victorialogs"]["sending_queue"]["queue_size"] == 100
    pod = _by_kind(shipper)["DaemonSet"][0]["spec"]["template"]["spec"]
    assert [p["containerPort"] for p in pod["containers"][0]["ports"]] == [9431, 13134]
    assert pod["volumes"][2]["hostPath"]["path"] == "/srv/otelcol"
    service = _by_kind(shipper)["Service"][0]
    assert service["spec"]["ports"] == [{"name": "http", "port": 9431, "targetPort": "http", "protocol": "TCP"}]


def test_a_config_change_changes_the_digest_and_nothing_else_does() -> None:
    base = _digest(_releases()[1])
    assert _digest(_releases()[1]) == base
    assert _digest(_releases(shipper_resources={"requests": {"cpu": "1"}})[1]) == base
    for changed in ({"fields": {"cluster": "x"}}, {"interval": "5s"}, {"namespace": "logs"}, {"health_port": 1}):
        assert _digest(_releases(**changed)[1]) != base, changed


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
    assert allowed["from"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "otelcol",
        "app.kubernetes.io/instance": "opsdeck-otelcol",
    }
    assert allowed["ports"] == [{"protocol": "TCP", "port": 9428}]
    ship_policies = {p["metadata"]["name"]: p["spec"] for p in _by_kind(shipper)["NetworkPolicy"]}
    egress = ship_policies["otelcol-allow-egress"]["egress"]
    assert egress[0]["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "logging"}
    assert egress[0]["ports"] == [{"protocol": "TCP", "port": 9428}]
    assert egress[1]["ports"][0]["port"] == 53
    assert ship_policies["otelcol-allow-monitoring"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9430}]


def test_service_monitors_carry_the_docker_hosts_jobs() -> None:
    store, shipper = _releases()
    for release, job in ((store, "victorialogs"), (shipper, "otelcol")):
        sm = _by_kind(release)["ServiceMonitor"][0]
        relabel = sm["spec"]["endpoints"][0]["relabelings"][0]
        assert relabel == {"action": "replace", "targetLabel": "job", "replacement": job}
        service = _by_kind(release)["Service"][0]
        assert sm["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_absent_removes_the_shippers_first() -> None:
    releases = kl.releases({"state": "absent"})
    assert [r["app"] for r in releases] == ["opsdeck-otelcol", "opsdeck-logship", "opsdeck-logging"]
    assert all(r["manifests"] == [] and r["state"] == "absent" for r in releases)


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
        ({"health_port": 9430}, "logging_shipper_health_port: must differ from logging_shipper_port"),
        ({"health_port": 70000}, "logging_shipper_health_port: 70000 is not a port"),
        ({"queue_size": 0}, "logging_shipper_queue_size: 0 is not an integer >= 1"),
        ({"shipper_image": "otel/otelcol contrib"}, "logging_shipper_image: 'otel/otelcol contrib' is not an image"),
        ({"fields": ["cluster"]}, "logging_shipper_fields: must map field names to values"),
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


def test_collector_config_without_prefix_or_environment() -> None:
    _store, shipper = _releases()
    operators = _config(shipper)["receivers"]["file_log/pods"]["operators"]
    assert not any("startsWith" in op.get("if", "") for op in operators)
    assert not any(op.get("field") == 'attributes["env"]' for op in operators)
