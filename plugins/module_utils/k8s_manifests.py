# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An app's own Kubernetes manifests, derived from the application model (pure functions, no I/O).

``own_manifests(app, opts)`` turns one app of the *normalized* ``opsdeck_apps``
(``normalize_apps``) into its objects, in apply order; ``k8s_render.render_apps`` (the filter
``k8s_releases``) adds its managed databases (k8s_databases) and their backups (k8s_backup) and
makes one release per app. The release module ``opsdeck.platform.k8s_release`` applies them
server-side; the role ``opsdeck.platform.k8s_app`` wires the two. Labels, metadata and names
shared with the other renderers are k8s_common's. What each app gets (docs/kubernetes.md):

- a Namespace of its own, Pod Security ``restricted`` enforced (and audited, warned), with a
  ResourceQuota sized for the most pods the app can run during a rollout and a LimitRange that
  gives containers without resources the defaults;
- a ServiceAccount (no token mounted) with a least-privilege Role: read its own ConfigMap;
- a ConfigMap of ``env`` and a Secret of ``secrets`` (its values are left out here: the module
  takes them from a ``no_log`` option, so they never travel in a plan or a task result);
- a Deployment, or a StatefulSet (with a headless Service and volumeClaimTemplates) when the
  app has ``volumes``, hardened to the restricted profile, with startup / readiness / liveness
  probes from ``health``, resources, topology spread and anti-affinity across nodes, and a
  RollingUpdate of maxSurge 1 / maxUnavailable 0;
- the ``hooks.pre_deploy`` of the app as Jobs (the new image, the app's env and secrets, the
  same restricted securityContext), named after the revision they prepare, applied before
  the workload: the module runs them and waits (``hooks.smoke`` is not run on Kubernetes);
- a Service; an Ingress for ``public`` ports (class, cert-manager TLS, the ``edge`` block as
  ingress-nginx annotations, its security headers in a ConfigMap that the ``custom-headers``
  annotation names: ``edge.security_headers``, the edge role's own computation); an HPA
  (autoscaling/v2) when ``autoscaling`` is set; a PodDisruptionBudget when two or more pods
  run; NetworkPolicies: default deny, DNS, and allows from the ingress controller's namespace,
  the monitoring namespace and the apps that ``depends_on`` this one;
- a ServiceMonitor when ``metrics`` is set and a PrometheusRule with the SLO rules of
  ``monitoring.slo_rules`` when ``slo`` is set (the module drops both when the cluster has no
  Prometheus Operator CRDs).

Every object carries ``app.kubernetes.io/managed-by: opsdeck`` and
``app.kubernetes.io/instance: <app>``: the module prunes by these labels; with the option
``release_set``, also ``opsdeck.io/release-set: <set>``, by which the module finds (and, when
asked, deletes) whole apps of this inventory that left the model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from typing import Any

from ansible_collections.opsdeck.platform.plugins.module_utils.edge import security_headers
from ansible_collections.opsdeck.platform.plugins.module_utils.k8s_common import (
    DNS_LABEL,
    LABEL_ENVIRONMENT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_OPSDECK_COMPONENT,
    LABEL_PART_OF,
    LABEL_TEAM,
    LABEL_VALUE,
    LABEL_VERSION,
    MANAGED_BY,
    PART_OF,
    apart_by_host,
    object_meta,
    selector_labels,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.model import (
    ModelError,
    format_memory_k8s,
    parse_cpu,
    parse_memory,
)
from ansible_collections.opsdeck.platform.plugins.module_utils.monitoring import slo_rules
from ansible_collections.opsdeck.platform.plugins.module_utils.plan import DEFAULT_RESOURCES

CONFIG_HASH = "opsdeck.io/config-hash"
HOOK_ANNOTATION = "opsdeck.io/hook"
CUSTOM_HEADERS = "nginx.ingress.kubernetes.io/custom-headers"
# Kinds the module may prune, as (apiVersion, kind), in the order they are deleted.
PRUNABLE = (
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("networking.k8s.io/v1", "Ingress"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("v1", "ServiceAccount"),
    ("v1", "LimitRange"),
    ("v1", "ResourceQuota"),
)
MONITORING_KINDS = ("ServiceMonitor", "PrometheusRule")
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
HOOK_KINDS = ("Job",)
# Pod Security "restricted" allows no capability but this one to be added.
RESTRICTED_CAPS = {"NET_BIND_SERVICE"}

DEFAULT_OPTIONS: dict[str, Any] = {
    "namespace_prefix": "",
    "ingress_class": "nginx",
    "cluster_issuer": "letsencrypt",
    "ingress_namespace": "ingress-nginx",
    "monitoring_namespace": "monitoring",
    "rate_limit_rps": 20,
    "rate_limit_connections": 20,
    "progress_deadline_s": 600,
    "default_resources": dict(DEFAULT_RESOURCES),  # the plan has filled them: for callers without a plan
    "volume_size": "1Gi",
    "storage_class": None,
    "pdb_min_available": None,
    "egress": [],
    "scrape_interval": "30s",
    "tmpfs_size": "64Mi",
    "release_set": "",
    "edge_headers": True,
    # backups of the managed databases (k8s_backup.DEFAULTS, checked by k8s_backup.options)
    "backup": {},
}


def app_options(options: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """``options`` over DEFAULT_OPTIONS, and the findings of unknown keys and bad values.

    ``backup`` is left as given: k8s_render.options_with_defaults checks it (k8s_backup.options).
    """
    opts = copy.deepcopy(DEFAULT_OPTIONS)
    findings = []
    for key, value in (options or {}).items():
        if key not in DEFAULT_OPTIONS:
            findings.append(f"k8s_app: unknown option {key!r}; allowed: {', '.join(sorted(DEFAULT_OPTIONS))}")
        elif value is not None or key in ("storage_class", "pdb_min_available"):
            opts[key] = value
    for key in ("ingress_namespace", "monitoring_namespace"):
        if not isinstance(opts[key], str) or not DNS_LABEL.match(opts[key]):
            findings.append(f"k8s_app: option {key!r}: {opts[key]!r} is not a namespace name (a DNS-1123 label)")
    prefix = opts["namespace_prefix"]
    if not isinstance(prefix, str) or (prefix and not re.match(r"^[a-z0-9][-a-z0-9]{0,21}$", prefix)):
        findings.append(
            f"k8s_app: option 'namespace_prefix': {prefix!r} is not lowercase letters, digits and '-' (max 22)"
        )
    for key in ("progress_deadline_s", "rate_limit_rps", "rate_limit_connections"):
        if not isinstance(opts[key], int) or isinstance(opts[key], bool) or opts[key] < 1:
            findings.append(f"k8s_app: option {key!r}: {opts[key]!r} is not an integer >= 1")
    pdb = opts["pdb_min_available"]
    if pdb is not None and (not isinstance(pdb, int) or isinstance(pdb, bool) or pdb < 1):
        findings.append(f"k8s_app: option 'pdb_min_available': {pdb!r} is not an integer >= 1 (or null)")
    release_set = opts["release_set"]
    if not isinstance(release_set, str) or (
        release_set and (len(release_set) > 63 or not LABEL_VALUE.match(release_set))
    ):
        findings.append(
            f"k8s_app: option 'release_set': {release_set!r} is not a label value "
            "(letters, digits, '-', '_', '.', at most 63, starting and ending with a letter or digit)"
        )
    if not isinstance(opts["edge_headers"], bool):
        findings.append(f"k8s_app: option 'edge_headers': {opts['edge_headers']!r} is not a boolean")
    if not isinstance(opts["egress"], list):
        findings.append("k8s_app: option 'egress': expected a list of NetworkPolicy egress rules")
    for key in ("volume_size", "tmpfs_size"):
        try:
            parse_memory(opts[key])
        except ModelError as exc:
            findings.append(f"k8s_app: option {key!r}: {exc}")
    return opts, findings


def namespace_of(app: dict[str, Any], opts: dict[str, Any]) -> str:
    return f"{opts['namespace_prefix']}{app['name']}"


def _labels(app: dict[str, Any]) -> dict[str, str]:
    labels = dict(app.get("labels") or {})
    tag = app.get("image_tag")
    if tag and LABEL_VALUE.match(tag) and len(tag) <= 63:
        labels[LABEL_VERSION] = tag
    labels[LABEL_TEAM] = app["team"]
    if app.get("environment"):
        labels[LABEL_ENVIRONMENT] = app["environment"]
    labels[LABEL_PART_OF] = PART_OF
    labels[LABEL_MANAGED_BY] = MANAGED_BY
    labels.update(selector_labels(app))
    return labels


def _millis(m: int) -> str:
    return f"{m}m" if m % 1000 else str(m // 1000)


def pod_resources(app: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
    """Requests and limits of the app's container: the model's, else the option defaults.

    A CPU limit is set only when the model gives one (CPU limits throttle; a request is
    what the scheduler and the HPA need). A request not given follows its limit, as
    Kubernetes does.
    """
    res = app["resources"]
    defaults = opts["default_resources"] or {}
    mem_limit = res.get("memory_bytes")
    if mem_limit is None and defaults.get("memory") is not None:
        mem_limit = parse_memory(defaults["memory"])
    mem_req = res.get("memory_request_bytes") or res.get("memory_bytes")
    if mem_req is None and defaults.get("memory_request") is not None:
        mem_req = parse_memory(defaults["memory_request"])
    if mem_limit is not None and mem_req is not None and mem_req > mem_limit:
        mem_req = mem_limit
    cpu_limit = res.get("cpu_millis")
    cpu_req = res.get("cpu_request_millis") or cpu_limit
    if cpu_req is None and defaults.get("cpu_request") is not None:
        cpu_req = math.ceil(parse_cpu(defaults["cpu_request"]) * 1000)
    out: dict[str, Any] = {"requests": {}, "limits": {}}
    if cpu_req is not None:
        out["requests"]["cpu"] = _millis(cpu_req)
    if mem_req is not None:
        out["requests"]["memory"] = format_memory_k8s(mem_req)
    if cpu_limit is not None:
        out["limits"]["cpu"] = _millis(cpu_limit)
    if mem_limit is not None:
        out["limits"]["memory"] = format_memory_k8s(mem_limit)
    out["_numbers"] = {"cpu_req": cpu_req, "mem_req": mem_req, "cpu_limit": cpu_limit, "mem_limit": mem_limit}
    return out


def replica_bounds(app: dict[str, Any]) -> tuple[int, int]:
    """(fewest, most) pods the app runs outside a rollout: replicas, or the HPA's range."""
    auto = app.get("autoscaling")
    if auto:
        return auto["min_replicas"], auto["max_replicas"]
    return app["replicas"], app["replicas"]


def check(app: dict[str, Any], opts: dict[str, Any]) -> list[str]:
    """What the model allows but a restricted Kubernetes namespace does not, named by app and field."""
    findings = []
    label = f"app {app['name']!r}"
    h = app["hardening"]
    why = "Pod Security 'restricted' (the namespace's enforced level) requires it"
    if not h["cap_drop_all"]:
        findings.append(f"{label}: field 'hardening.cap_drop_all': false is not allowed on Kubernetes; {why}")
    if not h["no_new_privileges"]:
        findings.append(f"{label}: field 'hardening.no_new_privileges': false is not allowed on Kubernetes; {why}")
    extra = sorted(set(h["cap_add"]) - RESTRICTED_CAPS)
    if extra:
        findings.append(
            f"{label}: field 'hardening.cap_add': {', '.join(extra)} cannot be added on Kubernetes; "
            f"only NET_BIND_SERVICE is allowed by Pod Security 'restricted'"
        )
    if h["uid"] == 0:
        findings.append(f"{label}: field 'hardening.user': uid 0 (root) cannot run under Pod Security 'restricted'")
    if h["user"] is not None and h["uid"] is None:
        findings.append(
            f"{label}: field 'hardening.user': {h['user']!r} is a name; Kubernetes needs a numeric uid[:gid]"
        )
    fewest = replica_bounds(app)[0]
    pdb = opts["pdb_min_available"]
    if pdb is not None and app["state"] == "present" and fewest < pdb:
        field = "autoscaling.min_replicas" if app.get("autoscaling") else "replicas"
        findings.append(
            f"{label}: field {field!r}: {fewest} is below the PodDisruptionBudget minimum {pdb} "
            "(k8s_app_pdb_min_available): no pod could ever be evicted"
        )
    return findings


def _probes(app: dict[str, Any]) -> dict[str, Any]:
    health = app.get("health")
    if not health:
        return {}
    if health["type"] == "exec":
        action: dict[str, Any] = {"exec": {"command": list(health["command"])}}
    else:
        names = {p["name"] for p in app["ports"]}
        port: Any = health["port"] if health["port"] in names else health["port_number"]
        action = {"httpGet": {"path": health["path"], "port": port, "scheme": health["scheme"].upper()}}
    period, timeout, retries = health["interval_s"], health["timeout_s"], health["retries"]
    # The startup probe covers start_period_s (plus the retries a running app gets), then
    # hands over to liveness and readiness.
    startup_failures = max(1, math.ceil(health["start_period_s"] / period)) + retries
    common = {"periodSeconds": period, "timeoutSeconds": timeout}
    return {
        "startupProbe": {**copy.deepcopy(action), **common, "failureThreshold": startup_failures},
        "readinessProbe": {**copy.deepcopy(action), **common, "failureThreshold": retries, "successThreshold": 1},
        "livenessProbe": {**copy.deepcopy(action), **common, "failureThreshold": retries},
    }


def _config_hash(app: dict[str, Any]) -> str:
    """Changes when env changes, so pods restart with it (secret values are not hashed here)."""
    text = json.dumps({"env": app["env"], "secrets": sorted(app["secrets"])}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _pod_template(
    app: dict[str, Any], opts: dict[str, Any], labels: dict[str, str], hook: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The pod template of the workload, or of a ``hooks.pre_deploy`` Job (``hook``): the same
    image, env, secrets, resources, tmpfs and securityContext; the hook's command, no ports,
    probes or data volumes (a claim belongs to one StatefulSet pod)."""
    name = app["name"]
    h = app["hardening"]
    resources = pod_resources(app, opts)
    container: dict[str, Any] = {"name": name, "image": app["image_ref"], "imagePullPolicy": "IfNotPresent"}
    if hook is not None:
        container["command"] = list(hook["command"])
    elif app["command"]:
        container["command"] = list(app["command"])
    if app["args"] is not None and hook is None:
        container["args"] = list(app["args"])
    if app["ports"] and hook is None:
        container["ports"] = [
            {"name": p["name"], "containerPort": p["port"], "protocol": p["protocol"].upper()} for p in app["ports"]
        ]
    env_from = []
    if app["env"]:
        env_from.append({"configMapRef": {"name": f"{name}-env"}})
    if app["secrets"]:
        env_from.append({"secretRef": {"name": f"{name}-secrets"}})
    if env_from:
        container["envFrom"] = env_from
    container["resources"] = {k: v for k, v in resources.items() if k != "_numbers" and v}
    if hook is None:
        container.update(_probes(app))
    caps: dict[str, Any] = {"drop": ["ALL"]}
    if h["cap_add"]:
        caps["add"] = list(h["cap_add"])
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": caps,
        "privileged": False,
        "readOnlyRootFilesystem": bool(h["read_only_root"]),
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    mounts = []
    volumes = []
    for i, path in enumerate(app["tmpfs"]):
        vol = f"tmpfs-{i}"
        mounts.append({"name": vol, "mountPath": path})
        volumes.append({"name": vol, "emptyDir": {"medium": "Memory", "sizeLimit": opts["tmpfs_size"]}})
    for v in app["volumes"] if hook is None else []:
        mounts.append({"name": v["name"], "mountPath": v["path"], "readOnly": bool(v["read_only"])})
    if mounts:
        container["volumeMounts"] = mounts
    pod_sc: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if h["uid"] is not None:
        pod_sc["runAsUser"] = h["uid"]
    if h["gid"] is not None:
        pod_sc["runAsGroup"] = h["gid"]
        pod_sc["fsGroup"] = h["gid"]
    if hook is not None:
        hook_spec: dict[str, Any] = {
            "serviceAccountName": name,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "restartPolicy": "Never",
            "securityContext": pod_sc,
            "containers": [container],
        }
        if volumes:
            hook_spec["volumes"] = volumes
        return {"metadata": {"labels": dict(labels)}, "spec": hook_spec}
    select = selector_labels(app)
    spec: dict[str, Any] = {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_sc,
        "containers": [container],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": select},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
        "affinity": apart_by_host(select),
    }
    if volumes:
        spec["volumes"] = volumes
    return {"metadata": {"labels": dict(labels), "annotations": {CONFIG_HASH: _config_hash(app)}}, "spec": spec}


def _workload(app: dict[str, Any], opts: dict[str, Any], ns: str, labels: dict[str, str]) -> dict[str, Any]:
    name = app["name"]
    template = _pod_template(app, opts, labels)
    spec: dict[str, Any] = {}
    if not app.get("autoscaling"):
        # With an HPA the replica count is the HPA's: applying one would undo its scaling.
        spec["replicas"] = app["replicas"]
    spec["selector"] = {"matchLabels": selector_labels(app)}
    spec["revisionHistoryLimit"] = 10
    if app["volumes"]:
        spec["serviceName"] = f"{name}-headless"
        spec["podManagementPolicy"] = "OrderedReady"
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        spec["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain", "whenScaled": "Retain"}
        spec["template"] = template
        claim_spec: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": opts["volume_size"]}},
        }
        if opts["storage_class"]:
            claim_spec["storageClassName"] = opts["storage_class"]
        spec["volumeClaimTemplates"] = [
            # claim templates are immutable: only labels that never change (no version label)
            {
                "metadata": {"name": v["name"], "labels": {**selector_labels(app), LABEL_MANAGED_BY: MANAGED_BY}},
                "spec": copy.deepcopy(claim_spec),
            }
            for v in app["volumes"]
        ]
        kind = "StatefulSet"
    else:
        spec["progressDeadlineSeconds"] = opts["progress_deadline_s"]
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        spec["template"] = template
        kind = "Deployment"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": object_meta(name, ns, labels), "spec": spec}


def hook_job_name(app: dict[str, Any], index: int, hook: dict[str, Any]) -> str:
    """``<app>-pre-deploy<i>-<digest>``: the digest covers the image and the hook, so a new
    revision gets a new Job and the same revision finds its Job done (no second run)."""
    text = json.dumps({"image": app["image_ref"], "hook": hook}, sort_keys=True)
    return f"{app['name']}-pre-deploy{index}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _hook_jobs(app: dict[str, Any], opts: dict[str, Any], ns: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    """One Job per ``hooks.pre_deploy`` entry, in order; the module runs them before the workload.

    Their pods carry the app's instance label (so the app's DNS and egress NetworkPolicies
    let them reach what the app reaches) but not its name label: the Service, the
    PodDisruptionBudget and the workload's selector never count them. With managed databases,
    k8s_databases puts them after the databases, gives them the connection Secret and lets
    them (instance and component labels) reach the databases. No retry
    (``backoffLimit: 0``): a migration that failed is looked at, not run again blindly;
    ``activeDeadlineSeconds`` is the hook's ``timeout_s``.
    """
    pod_labels = {k: v for k, v in labels.items() if k != LABEL_NAME}
    pod_labels[LABEL_OPSDECK_COMPONENT] = "pre-deploy"
    jobs = []
    for i, hook in enumerate(app["hooks"]["pre_deploy"]):
        template = _pod_template(app, opts, pod_labels, hook=hook)
        template["metadata"]["annotations"] = {HOOK_ANNOTATION: hook["name"]}
        jobs.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": object_meta(
                    hook_job_name(app, i, hook),
                    ns,
                    {**labels, LABEL_OPSDECK_COMPONENT: "pre-deploy"},
                    annotations={HOOK_ANNOTATION: hook["name"]},
                ),
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": hook["timeout_s"],
                    "template": template,
                },
            }
        )
    return jobs


def _service_ports(app: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": p["name"], "port": p["port"], "targetPort": p["name"], "protocol": p["protocol"].upper()}
        for p in app["ports"]
    ]


def _quota(app: dict[str, Any], opts: dict[str, Any], ns: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    numbers = pod_resources(app, opts)["_numbers"]
    most = replica_bounds(app)[1]
    pods = max(most, 1) + 1  # one more during a rollout (maxSurge 1)
    if app["hooks"]["pre_deploy"]:
        pods += 1  # a hook's pod runs beside the app's
    hard: dict[str, Any] = {"pods": str(pods)}
    if numbers["cpu_req"] is not None:
        hard["requests.cpu"] = _millis(numbers["cpu_req"] * pods)
    if numbers["mem_req"] is not None:
        hard["requests.memory"] = format_memory_k8s(numbers["mem_req"] * pods)
    if numbers["cpu_limit"] is not None:
        hard["limits.cpu"] = _millis(numbers["cpu_limit"] * pods)
    if numbers["mem_limit"] is not None:
        hard["limits.memory"] = format_memory_k8s(numbers["mem_limit"] * pods)
    if app["volumes"]:
        hard["persistentvolumeclaims"] = str(len(app["volumes"]) * max(most, 1))
        hard["requests.storage"] = format_memory_k8s(
            parse_memory(opts["volume_size"]) * len(app["volumes"]) * max(most, 1)
        )
    limit: dict[str, Any] = {"type": "Container"}
    res = pod_resources(app, opts)
    if res["limits"]:
        limit["default"] = dict(res["limits"])
    if res["requests"]:
        limit["defaultRequest"] = dict(res["requests"])
    return [
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": object_meta(app["name"], ns, labels),
            "spec": {"hard": hard},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": object_meta(app["name"], ns, labels),
            "spec": {"limits": [limit]},
        },
    ]


def _network_policies(
    app: dict[str, Any],
    opts: dict[str, Any],
    ns: str,
    labels: dict[str, str],
    dependents: list[str],
    dependencies: list[tuple[str, list[dict[str, Any]]]],
) -> list[dict[str, Any]]:
    name = app["name"]
    pods = {"matchLabels": selector_labels(app)}
    # egress: the app's pods and its hook Jobs' pods (instance label only, see _hook_jobs)
    egress_pods = {"matchLabels": {LABEL_INSTANCE: name}}

    def in_ns(namespace: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}

    def policy(suffix: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": object_meta(f"{name}-{suffix}", ns, labels),
            "spec": spec,
        }

    out = [
        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy(
            "allow-dns",
            {
                "podSelector": egress_pods,
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [in_ns("kube-system")],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
    ]
    public = [p for p in app["ports"] if p["public"]]
    if public:
        out.append(
            policy(
                "allow-ingress-controller",
                {
                    "podSelector": pods,
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [in_ns(opts["ingress_namespace"])],
                            "ports": [{"protocol": p["protocol"].upper(), "port": p["port"]} for p in public],
                        }
                    ],
                },
            )
        )
    if app.get("metrics"):
        out.append(
            policy(
                "allow-monitoring",
                {
                    "podSelector": pods,
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [in_ns(opts["monitoring_namespace"])],
                            "ports": [{"protocol": "TCP", "port": app["metrics"]["port_number"]}],
                        }
                    ],
                },
            )
        )
    if dependents and app["ports"]:
        out.append(
            policy(
                "allow-dependents",
                {
                    "podSelector": pods,
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [in_ns(d) for d in dependents],
                            "ports": [{"protocol": p["protocol"].upper(), "port": p["port"]} for p in app["ports"]],
                        }
                    ],
                },
            )
        )
    egress = copy.deepcopy(opts["egress"])
    for dep_ns, ports in dependencies:
        rule: dict[str, Any] = {"to": [in_ns(dep_ns)]}
        if ports:
            rule["ports"] = [{"protocol": p["protocol"].upper(), "port": p["port"]} for p in ports]
        egress.append(rule)
    if egress:
        out.append(policy("allow-egress", {"podSelector": egress_pods, "policyTypes": ["Egress"], "egress": egress}))
    return out


def edge_headers_name(app: dict[str, Any]) -> str:
    return f"{app['name']}-edge-headers"


def _ingress(app: dict[str, Any], opts: dict[str, Any], ns: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The Ingress of the public ports and, with ``edge_headers``, the ConfigMap of its response headers.

    The app's edge block (the same one the edge role's nginx reads) wins over the cluster
    defaults: rate limit, body size, timeout, CORS, as ingress-nginx annotations. Its
    response headers (HSTS on TLS, CSP, frame options, nosniff, referrer policy, the app's
    ``headers`` overrides: ``edge.security_headers``, not a copy) go to a ConfigMap named by
    the ``custom-headers`` annotation, which ingress-nginx (1.12 and later) applies with
    ``more_set_headers`` without configuration snippets (disabled by default there); the
    controller refuses names missing from its ``global-allowed-response-headers``.
    """
    public = [p for p in app["ports"] if p["public"]]
    if not public:
        return []
    edge = app.get("edge") or {}
    rate = edge.get("rate_limit")
    annotations = {
        "nginx.ingress.kubernetes.io/limit-rps": str(rate["rps"] if rate else opts["rate_limit_rps"]),
        "nginx.ingress.kubernetes.io/limit-connections": str(opts["rate_limit_connections"]),
    }
    if rate and rate.get("burst"):
        multiplier = max(1, math.ceil(rate["burst"] / rate["rps"]))
        annotations["nginx.ingress.kubernetes.io/limit-burst-multiplier"] = str(multiplier)
    if edge.get("body_size_bytes"):
        annotations["nginx.ingress.kubernetes.io/proxy-body-size"] = str(edge["body_size_bytes"])
    if edge.get("timeout_s"):
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            annotations[f"nginx.ingress.kubernetes.io/{key}"] = str(edge["timeout_s"])
    cors = edge.get("cors")
    if cors:
        annotations.update(
            {
                "nginx.ingress.kubernetes.io/enable-cors": "true",
                "nginx.ingress.kubernetes.io/cors-allow-origin": ", ".join(cors["origins"]),
                "nginx.ingress.kubernetes.io/cors-allow-methods": ", ".join(cors["methods"]),
                "nginx.ingress.kubernetes.io/cors-allow-headers": ", ".join(cors["headers"]),
                "nginx.ingress.kubernetes.io/cors-allow-credentials": str(bool(cors["credentials"])).lower(),
                "nginx.ingress.kubernetes.io/cors-max-age": str(cors["max_age_s"]),
            }
        )
    tls = [p for p in public if p["tls"]]
    if tls:
        annotations["cert-manager.io/cluster-issuer"] = opts["cluster_issuer"]
        annotations["nginx.ingress.kubernetes.io/ssl-redirect"] = "true"
    out: list[dict[str, Any]] = []
    headers = security_headers(edge, bool(tls)) if opts["edge_headers"] and edge else []
    if headers:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": object_meta(edge_headers_name(app), ns, labels),
                "data": dict(headers),
            }
        )
        annotations[CUSTOM_HEADERS] = f"{ns}/{edge_headers_name(app)}"
    spec: dict[str, Any] = {
        "ingressClassName": opts["ingress_class"],
        "rules": [
            {
                "host": p["host"],
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": app["name"], "port": {"name": p["name"]}}},
                        }
                    ]
                },
            }
            for p in public
        ],
    }
    if tls:
        spec["tls"] = [{"hosts": [p["host"]], "secretName": f"{app['name']}-{p['name']}-tls"} for p in tls]
    out.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": object_meta(app["name"], ns, labels, annotations=annotations),
            "spec": spec,
        }
    )
    return out


def _monitoring(app: dict[str, Any], opts: dict[str, Any], ns: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    metrics = app.get("metrics")
    if metrics:
        names = {p["name"] for p in app["ports"]}
        endpoint: dict[str, Any] = (
            {"port": metrics["port"]} if metrics["port"] in names else {"targetPort": metrics["port_number"]}
        )
        # job="apps", like the apps' scrape job on docker hosts: the rule library selects it
        relabel = {"job": "apps", "app": app["name"], "team": app["team"]}
        if app.get("environment"):
            relabel["env"] = app["environment"]
        endpoint.update(
            {
                "path": metrics["path"],
                "interval": opts["scrape_interval"],
                "relabelings": [{"action": "replace", "targetLabel": k, "replacement": v} for k, v in relabel.items()],
            }
        )
        out.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": object_meta(app["name"], ns, labels),
                "spec": {"selector": {"matchLabels": selector_labels(app)}, "endpoints": [endpoint]},
            }
        )
    groups = slo_rules([app])
    if groups:
        out.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": object_meta(app["name"], ns, labels),
                "spec": {"groups": groups},
            }
        )
    return out


def own_manifests(
    app: dict[str, Any],
    opts: dict[str, Any],
    *,
    dependents: list[str] | None = None,
    dependencies: list[tuple[str, list[dict[str, Any]]]] | None = None,
) -> list[dict[str, Any]]:
    """The app's own manifests (one present app, in apply order), without its managed databases,
    their backups and the release-set label: k8s_render.render_app adds those. ``opts`` must be
    k8s_render.options_with_defaults()'s."""
    name = app["name"]
    ns = namespace_of(app, opts)
    labels = _labels(app)
    ns_labels = {
        **labels,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": object_meta(ns, None, ns_labels)}
    ]
    out += _quota(app, opts, ns, labels)
    out.append(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": object_meta(name, ns, labels),
            "automountServiceAccountToken": False,
        }
    )
    rules: list[dict[str, Any]] = []
    if app["env"]:
        rules.append(
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [f"{name}-env"], "verbs": ["get"]}
        )
    out.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": object_meta(name, ns, labels),
            "rules": rules,
        }
    )
    out.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": object_meta(name, ns, labels),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
        }
    )
    if app["env"]:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": object_meta(f"{name}-env", ns, labels),
                "data": dict(app["env"]),
            }
        )
    if app["secrets"]:
        # Values are filled in by the module from its no_log option (see module docstring).
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": object_meta(f"{name}-secrets", ns, labels),
                "type": "Opaque",
                "data": {key: None for key in sorted(app["secrets"])},
            }
        )
    out += _network_policies(app, opts, ns, labels, dependents or [], dependencies or [])
    if app["ports"]:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": object_meta(name, ns, labels),
                "spec": {"type": "ClusterIP", "selector": selector_labels(app), "ports": _service_ports(app)},
            }
        )
    if app["volumes"]:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": object_meta(f"{name}-headless", ns, labels),
                "spec": {
                    "clusterIP": "None",
                    "publishNotReadyAddresses": True,
                    "selector": selector_labels(app),
                    "ports": _service_ports(app) or [{"name": "none", "port": 1, "targetPort": 1}],
                },
            }
        )
    out += _hook_jobs(app, opts, ns, labels)
    workload = _workload(app, opts, ns, labels)
    out.append(workload)
    fewest, most = replica_bounds(app)
    if fewest >= 2:
        out.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": object_meta(name, ns, labels),
                "spec": {
                    **(
                        {"minAvailable": opts["pdb_min_available"]}
                        if opts["pdb_min_available"]
                        else {"maxUnavailable": 1}
                    ),
                    "selector": {"matchLabels": selector_labels(app)},
                    "unhealthyPodEvictionPolicy": "AlwaysAllow",
                },
            }
        )
    auto = app.get("autoscaling")
    if auto:
        metrics = []
        for resource, key in (("cpu", "cpu_percent"), ("memory", "memory_percent")):
            if auto.get(key):
                metrics.append(
                    {
                        "type": "Resource",
                        "resource": {
                            "name": resource,
                            "target": {"type": "Utilization", "averageUtilization": auto[key]},
                        },
                    }
                )
        out.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": object_meta(name, ns, labels),
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": workload["kind"], "name": name},
                    "minReplicas": fewest,
                    "maxReplicas": most,
                    "metrics": metrics,
                },
            }
        )
    out += _ingress(app, opts, ns, labels)
    out += _monitoring(app, opts, ns, labels)
    return out
