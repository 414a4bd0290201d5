#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build Jaeger all-in-one (Apache-2.0; module v1.76.0 is Jaeger 2.13.0, an OpenTelemetry
# Collector distribution) from the Go module proxy, once per version. jaeger's go.mod has a
# replace directive (github.com/Shopify/sarama), so `go install pkg@version` refuses it: the
# program is added as a tool of a throwaway wrapper module (`go get -tool`), where that replace
# does not apply and is not needed (the build resolves without it), then built. The binary is
# cached under ~/.cache/opsdeck/go/jaeger/<version>/ (RIG_CACHE): a second build, or a recipe
# change that keeps the version, copies it. Cold: about 6 min on two cores, downloads included.
# No UI assets (upstream builds them with npm): the query API is what Grafana uses.
set -euo pipefail
cd "$CONTEXT"
version="$(cat VERSION)"
cache="${RIG_CACHE:-$HOME/.cache/opsdeck}/go/jaeger/${version}"
if [[ ! -x "$cache/jaeger" ]]; then
  start=$SECONDS
  mkdir -p "${cache%/*}"
  tmp="$(mktemp -d "${cache%/*}/.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (
    cd "$tmp"
    go mod init opsdeck.local/jaeger-build >/dev/null 2>&1
    GOFLAGS=-mod=mod go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@${version}"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/jaeger" \
      github.com/jaegertracing/jaeger/cmd/jaeger
  )
  mkdir -p "$cache"
  mv "$tmp/jaeger" "$cache/jaeger"
  echo "jaeger ${version}: compiled in $((SECONDS - start)) s"
else
  echo "jaeger ${version}: cached in $cache"
fi
cp "$cache/jaeger" jaeger
