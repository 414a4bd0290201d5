#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build a Go command from the Go module proxy once per machine and print its path.
#
#   tests/rig/gobin.sh [--ldflags FLAGS] [--as-tool] PACKAGE@VERSION [NAME]
#
# The binary lands in $RIG_CACHE/bin/<name>-<version>/<name> (the cache outlives the
# clone), so a second clone on the same machine, or a second run, does not rebuild.
# The version must be exact (no @latest): the cache key is name + version. Builds are
# static (CGO_ENABLED=0) and run outside any module (no go.work, no GOFLAGS from the
# caller's shell), under a lock so two rigs starting at once build it once.
#
#   --ldflags FLAGS  added to '-s -w' (e.g. -X pkg.Version=... to stamp a version)
#   --as-tool        for a module whose go.mod has replace directives, which `go install
#                    pkg@version` refuses: the package is added as a tool of a throwaway
#                    wrapper module (`go get -tool`), where those replaces do not apply, and built
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/rig/lib.sh
. "$here/lib.sh"

ldflags='-s -w'
as_tool=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ldflags) ldflags="$ldflags ${2:?--ldflags needs a value}"; shift 2 ;;
    --as-tool) as_tool=1; shift ;;
    --) shift; break ;;
    -*) die "gobin.sh: unknown option $1" ;;
    *) break ;;
  esac
done
spec=${1:?usage: gobin.sh [--ldflags FLAGS] [--as-tool] PACKAGE@VERSION [NAME]}
pkg=${spec%@*}
version=${spec##*@}
if [ "$pkg" = "$spec" ] || [ -z "$version" ]; then die "gobin.sh: '$spec' is not PACKAGE@VERSION"; fi
case "$version" in latest | upgrade | patch) die "gobin.sh: pin an exact version, not @$version" ;; esac
name=${2:-${pkg##*/}}
dir="$RIG_CACHE/bin/$name-$version"
bin="$dir/$name"

if [ ! -x "$bin" ]; then
  mkdir -p "$RIG_CACHE/bin"
  exec 9>"$RIG_CACHE/bin/.$name-$version.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || die "go is not on PATH: it is needed to build $name"
    log "building $name $version from the Go module proxy (first time on this machine; log: $RIG_STATE/build-$name.log)"
    start=$(date +%s)
    tmp=$(mktemp -d "$RIG_CACHE/bin/.$name-XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    if [ "$as_tool" = 1 ]; then
      build() {
        go mod init opsdeck.local/build-"$name" && GOFLAGS=-mod=mod go get -tool "$pkg@$version" \
          && go build -trimpath -ldflags="$ldflags" -o "$tmp/out/$name" "$pkg"
      }
    else
      build() { go install -trimpath -ldflags="$ldflags" "$pkg@$version"; }
    fi
    mkdir -p "$RIG_STATE"
    if ! (cd "$tmp" && export GOFLAGS=-buildvcs=false GOWORK=off GO111MODULE=on CGO_ENABLED=0 GOBIN="$tmp/out" \
      && build) >"$RIG_STATE/build-$name.log" 2>&1; then
      tail -20 "$RIG_STATE/build-$name.log" >&2
      die "go build of $pkg@$version failed"
    fi
    mkdir -p "$dir"
    mv "$tmp/out/$name" "$bin.new"
    mv "$bin.new" "$bin"
    log "built $name $version in $(($(date +%s) - start)) s ($bin)"
  fi
fi
printf '%s\n' "$bin"
