#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The OpenTelemetry Collector distribution of main.go (Apache-2.0 modules from the Go module
# proxy: contrib at VERSION, core at the matching release, pinned by go.mod and go.sum), built
# once per machine and cached in $RIG_CACHE/bin/otelcol-contrib-<VERSION>-<hash>/, the hash being
# that of go.mod, go.sum and main.go, under a lock like tests/rig/gobin.sh. Cold: about 3.5 min
# on two cores (45 MB binary).
#
# go.sum comes from `GOWORK=off GOFLAGS=-mod=mod go mod tidy -e`: plain tidy fails because it
# also resolves the tests of the dependencies, and the proxy refuses (403) one module that only a
# test of pkg/stanza's journald input imports (pkg/semconvtest v0.165.1). The build never needs it.
set -euo pipefail
# shellcheck source=tests/rig/lib.sh
. "${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/lib.sh"
cd "$CONTEXT"

version=$(cat VERSION)
# The contrib modules in go.mod must be the release that VERSION names (it is the --version).
if grep -E '^\s*github.com/open-telemetry/opentelemetry-collector-contrib/' go.mod | grep -v '// indirect' \
  | grep -vq " $version\$"; then
  die "otelcol: go.mod requires contrib modules at another release than VERSION ($version)"
fi
hash=$(cat go.mod go.sum main.go | sha256sum | cut -c1-12)
name=otelcol-contrib
dir="$RIG_CACHE/bin/$name-$version-$hash"
bin="$dir/$name"

if [ ! -x "$bin" ]; then
  mkdir -p "$RIG_CACHE/bin"
  exec 9>"$RIG_CACHE/bin/.$name-$version-$hash.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || die "go is not on PATH: it is needed to build $name"
    buildlog="$RIG_STATE/build-$name.log"
    log "building $name $version from the Go module proxy (first time on this machine; log: $buildlog)"
    start=$(date +%s)
    tmp=$(mktemp -d "$RIG_CACHE/bin/.$name-XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    cp go.mod go.sum main.go "$tmp/"
    mkdir -p "$RIG_STATE"
    if ! (cd "$tmp" && export GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off GO111MODULE=on CGO_ENABLED=0 \
      && go build -trimpath -ldflags="-s -w -X main.version=${version#v}" -o "$tmp/$name" .) >"$buildlog" 2>&1; then
      tail -20 "$buildlog" >&2
      die "go build of $name $version failed"
    fi
    mkdir -p "$dir"
    mv "$tmp/$name" "$bin.new"
    mv "$bin.new" "$bin"
    log "built $name $version in $(($(date +%s) - start)) s ($bin)"
  fi
fi
"$bin" --version >/dev/null || die "$bin does not run"
cp "$bin" "$name"
