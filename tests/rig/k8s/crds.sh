#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The Prometheus Operator CRDs (ServiceMonitor, PrometheusRule, ...) for the k8s tier.
#
#   tests/rig/k8s/crds.sh      print the directory holding monitoring.coreos.com_*.yaml
#
# No chart or release download can be had here: the CRDs come from the Go module
# github.com/prometheus-operator/prometheus-operator (its zip carries
# example/prometheus-operator-crd/*.yaml), fetched once with `go mod download -json`
# and copied into $RIG_CACHE/k8s/prometheus-operator-crds/<version>. A complete cache
# runs no go command. The version is pinned here (not in versions.env, whose lines
# key the control plane's binaries: bumping it must not rebuild them).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/rig/lib.sh
. "$here/../lib.sh"

PROMETHEUS_OPERATOR_VERSION=${OPSDECK_PROMETHEUS_OPERATOR_VERSION:-v0.85.0}
dir="$RIG_CACHE/k8s/prometheus-operator-crds/$PROMETHEUS_OPERATOR_VERSION"
if [ -f "$dir/.complete" ]; then
  printf '%s\n' "$dir"
  exit 0
fi
command -v go >/dev/null || die "go is not on PATH: it is needed to fetch the Prometheus Operator CRDs"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ ! -f "$dir/.complete" ]; then
  start=$(date +%s)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  module=github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION
  src=$(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  crds="$src/example/prometheus-operator-crd"
  compgen -G "$crds/monitoring.coreos.com_*.yaml" >/dev/null || die "k8s: no CRDs in $module ($crds)"
  cp "$crds"/monitoring.coreos.com_*.yaml "$dir/"
  chmod u+w "$dir"/*.yaml
  touch "$dir/.complete"
  log "k8s: Prometheus Operator CRDs $PROMETHEUS_OPERATOR_VERSION in $(($(date +%s) - start)) s ($dir)"
fi
printf '%s\n' "$dir"
