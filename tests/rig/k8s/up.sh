#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A real Kubernetes control plane for the tests, with simulated nodes.
#
#   tests/rig/k8s/up.sh      build what is missing (build.sh), start the cluster, print the kubeconfig path
#
# kwokctl's binary runtime runs etcd, kube-apiserver (RBAC and admission on, so Pod
# Security Admission is enforced), kube-controller-manager, kube-scheduler and the kwok
# controller from $RIG_CACHE/k8s/<key>/bin, bound to 127.0.0.1; nothing is downloaded.
# OPSDECK_K8S_NODES simulated nodes (default 3) join and become Ready. The stages
# (kwok_config.py) make every pod Ready at once, except pods labelled
# opsdeck.test/unready=true, which run but never become Ready.
#
# The admin kubeconfig goes to $RIG_STATE/kubeconfig, the bin directory (kubectl, helm,
# kubeconform, ...) to $RIG_STATE/k8s.env as OPSDECK_K8S_BIN. Idempotent: a cluster
# that answers is left as it is (nodes scaled to the wanted count). down.sh deletes it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/rig/lib.sh
. "$here/../lib.sh"
# shellcheck source=tests/rig/k8s/versions.env
. "$here/versions.env"

start=$(date +%s)
bin=$(bash "$here/build.sh")
cache=$(dirname "$bin")
export PATH="$bin:$PATH"
# kwokctl keeps its clusters (pki, logs, pids) under this checkout's state.
export KWOK_WORKDIR="$RIG_STATE/kwok"
name=${OPSDECK_K8S_CLUSTER:-opsdeck}
nodes=${OPSDECK_K8S_NODES:-3}
kubeconfig="$RIG_STATE/kubeconfig"
mkdir -p "$KWOK_WORKDIR"

answers() {
  [ -s "$kubeconfig" ] && kubectl --kubeconfig "$kubeconfig" --request-timeout=5s get --raw /readyz >/dev/null 2>&1
}

if answers; then
  log "k8s: cluster $name answers"
else
  if kwokctl get clusters 2>/dev/null | grep -qx "$name"; then
    log "k8s: cluster $name exists but does not answer: deleting it"
    kwokctl delete cluster --name "$name" >"$RIG_STATE/k8s-delete.log" 2>&1 || true
  fi
  "$RIG_PYTHON" "$here/kwok_config.py" "$cache/kwok-stages" "$RIG_STATE/kwok-config.yaml"
  log "k8s: creating cluster $name (Kubernetes $K8S_VERSION, log: $RIG_STATE/k8s-create.log)"
  if ! kwokctl create cluster --name "$name" --runtime binary \
    --config "$RIG_STATE/kwok-config.yaml" \
    --kube-apiserver-binary "$bin/kube-apiserver" \
    --kube-controller-manager-binary "$bin/kube-controller-manager" \
    --kube-scheduler-binary "$bin/kube-scheduler" \
    --kwok-controller-binary "$bin/kwok" \
    --etcd-binary "$bin/etcd" \
    --secure-port=true --kube-authorization=true --kube-admission=true \
    --kubeconfig "" --wait 120s >"$RIG_STATE/k8s-create.log" 2>&1; then
    tail -30 "$RIG_STATE/k8s-create.log" >&2
    die "k8s: kwokctl create cluster failed"
  fi
  kwokctl get kubeconfig --name "$name" >"$kubeconfig.new"
  chmod 600 "$kubeconfig.new"
  mv "$kubeconfig.new" "$kubeconfig"
  wait_for "kube-apiserver /readyz" 120 answers
fi

have=$(kubectl --kubeconfig "$kubeconfig" get nodes -o name 2>/dev/null | grep -c . || true)
if [ "$have" != "$nodes" ]; then
  log "k8s: scaling simulated nodes $have -> $nodes"
  kwokctl scale node --name "$name" --replicas "$nodes" >"$RIG_STATE/k8s-scale.log" 2>&1 \
    || { tail -20 "$RIG_STATE/k8s-scale.log" >&2; die "k8s: kwokctl scale node failed"; }
fi
kubectl --kubeconfig "$kubeconfig" wait --for=condition=Ready node --all --timeout=120s >/dev/null \
  || die "k8s: the simulated nodes did not become Ready"
# The default ServiceAccount is made by the controller manager: wait for it, so a test
# creating pods in "default" right away does not race it.
wait_for "the default ServiceAccount" 60 kubectl --kubeconfig "$kubeconfig" get serviceaccount default -n default

printf 'OPSDECK_K8S_BIN=%s\nKUBECONFIG=%s\n' "$bin" "$kubeconfig" >"$RIG_STATE/k8s.env.new"
mv "$RIG_STATE/k8s.env.new" "$RIG_STATE/k8s.env"
server=$(kubectl --kubeconfig "$kubeconfig" config view --minify -o jsonpath='{.clusters[0].cluster.server}')
log "k8s: cluster $name ready in $(($(date +%s) - start)) s ($server, $nodes nodes, kubeconfig $kubeconfig)"
printf '%s\n' "$kubeconfig"
