#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build VictoriaLogs (Apache-2.0) and vlagent from the Go module proxy, once per version.
# VictoriaLogs' go.mod has no replace directives, so `go install pkg@version` works with no
# wrapper module. The binaries are cached under ~/.cache/opsdeck/go/victorialogs/<version>/
# (RIG_CACHE): a second build of the image, or a recipe change that keeps the version, copies
# them instead of compiling again.
set -euo pipefail
cd "$CONTEXT"
version="$(cat VERSION)"
cache="${RIG_CACHE:-$HOME/.cache/opsdeck}/go/victorialogs/${version}"
if [[ ! -x "$cache/victoria-logs" ]]; then
  start=$SECONDS
  mkdir -p "${cache%/*}"
  tmp="$(mktemp -d "${cache%/*}/.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath \
    -ldflags "-s -w -X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-${version}" \
    "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@${version}"
  mkdir -p "$cache"
  mv "$tmp/victoria-logs" "$cache/victoria-logs"
  echo "victorialogs ${version}: compiled in $((SECONDS - start)) s"
else
  echo "victorialogs ${version}: cached in $cache"
fi
cp "$cache/victoria-logs" victoria-logs
