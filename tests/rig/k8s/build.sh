#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build the Kubernetes test control plane from the Go module proxy, once per machine.
#
#   tests/rig/k8s/build.sh          build what is missing, print the bin directory
#   tests/rig/k8s/build.sh --key    print the cache key only
#
# Into $RIG_CACHE/k8s/<key>/bin: kube-apiserver, kube-controller-manager, kube-scheduler
# and kubectl (the wrapper module kube/, one `go build` so they share the compile),
# etcd (the wrapper module etcd/), kwok and kwokctl, helm, kubeconform; and the kwok
# module's own stage files into $RIG_CACHE/k8s/<key>/kwok-stages (up.sh derives the
# cluster's stages from them). The key is made of versions.env and the wrapper modules.
# Idempotent: a binary that is there is not built again, and a complete cache means no
# go command runs at all. Builds are static (CGO_ENABLED=0), -trimpath, under a lock so
# two runs at once build once. Build logs: $RIG_STATE/k8s-build-<step>.log.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/rig/lib.sh
. "$here/../lib.sh"
# shellcheck source=tests/rig/k8s/versions.env
. "$here/versions.env"

key() {
  local sum
  sum=$(cat "$here/versions.env" "$here/kube/go.mod" "$here/kube/go.sum" "$here/kube/tools.go" \
    "$here/etcd/go.mod" "$here/etcd/go.sum" "$here/etcd/main.go" | sha256sum | cut -c1-12)
  printf '%s-%s\n' "$K8S_VERSION" "$sum"
}

if [ "${1:-}" = "--key" ]; then
  key
  exit 0
fi

dir="$RIG_CACHE/k8s/$(key)"
bin="$dir/bin"
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
ALL_BINS=("${KUBE_BINS[@]}" etcd kwok kwokctl helm kubeconform)

complete() {
  local b
  for b in "${ALL_BINS[@]}"; do [ -x "$bin/$b" ] || return 1; done
  [ -f "$dir/kwok-stages/.complete" ]
}

if complete; then
  printf '%s\n' "$bin"
  exit 0
fi

mkdir -p "$bin"
exec 9>"$dir/.lock"
flock 9
if complete; then
  printf '%s\n' "$bin"
  exit 0
fi
command -v go >/dev/null || die "go is not on PATH: it is needed to build the Kubernetes control plane"

# The wrapper module must match versions.env: the k8s.io/kubernetes requirement and
# every staging replacement (v1.X.Y -> v0.X.Y).
staging=v0.${K8S_VERSION#v1.}
grep -qE "^require k8s.io/kubernetes $K8S_VERSION\$" "$here/kube/go.mod" \
  || die "kube/go.mod does not require k8s.io/kubernetes $K8S_VERSION"
if grep -E '^\s+k8s\.io/[^ ]+ => k8s\.io/[^ ]+ v' "$here/kube/go.mod" | grep -vqE " $staging\$"; then
  die "kube/go.mod replaces a staging module with a version other than $staging"
fi

export GOWORK=off GOFLAGS=-buildvcs=false GO111MODULE=on CGO_ENABLED=0
tmp=$(mktemp -d "$dir/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run STEP CMD...: run a build step with its output in a log, say how long it took.
run() {
  local step=$1 start rc=0
  shift
  local logfile="$RIG_STATE/k8s-build-$step.log"
  log "k8s: building $step (log: $logfile)"
  start=$(date +%s)
  "$@" >"$logfile" 2>&1 || rc=$?
  if ((rc)); then
    tail -30 "$logfile" >&2
    die "k8s: building $step failed (exit $rc)"
  fi
  log "k8s: built $step in $(($(date +%s) - start)) s"
}

missing() {
  local b
  for b in "$@"; do [ -x "$bin/$b" ] || return 0; done
  return 1
}

# install NAME...: move the freshly built binaries from $tmp/out into the cache.
install_bins() {
  local b
  for b in "$@"; do
    [ -x "$tmp/out/$b" ] || die "k8s: the build left no $b"
    mv "$tmp/out/$b" "$bin/$b.new"
    mv "$bin/$b.new" "$bin/$b"
  done
}

total=$(date +%s)
if missing "${KUBE_BINS[@]}"; then
  v=k8s.io/component-base/version
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  ldflags="-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor"
  ldflags+=" -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
  pkgs=()
  for b in "${KUBE_BINS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  build_kube() (cd "$here/kube" && go build -trimpath -ldflags "$ldflags" -o "$tmp/out/" "${pkgs[@]}")
  run kube build_kube
  install_bins "${KUBE_BINS[@]}"
fi
if missing etcd; then
  build_etcd() (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/out/etcd" .)
  run etcd build_etcd
  install_bins etcd
fi
if missing kwok kwokctl; then
  run kwok env GOBIN="$tmp/out" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  install_bins kwok kwokctl
fi
if missing helm; then
  run helm env GOBIN="$tmp/out" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  install_bins helm
fi
if missing kubeconform; then
  run kubeconform env GOBIN="$tmp/out" go install -trimpath -ldflags "-s -w -X main.version=$KUBECONFORM_VERSION" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  install_bins kubeconform
fi
if [ ! -f "$dir/kwok-stages/.complete" ]; then
  # The kwok module's stage files (node and pod), from the module cache.
  src=$(cd "$tmp" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/kustomize/stage" ] || die "k8s: no kustomize/stage in sigs.k8s.io/kwok@$KWOK_VERSION ($src)"
  rm -rf "$dir/kwok-stages"
  mkdir -p "$dir/kwok-stages"
  (cd "$src/kustomize/stage" && find . -name '*.yaml' ! -path '*/testdata/*' ! -name kustomization.yaml \
    -exec cp --parents {} "$dir/kwok-stages/" \;)
  chmod -R u+w "$dir/kwok-stages"
  touch "$dir/kwok-stages/.complete"
fi
complete || die "k8s: the cache $dir is still incomplete"
log "k8s: control plane binaries ready in $(($(date +%s) - total)) s ($bin)"
printf '%s\n' "$bin"
