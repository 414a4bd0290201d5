#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Jaeger all-in-one (Apache-2.0; module v1.76.0 is Jaeger 2.13.0, an OpenTelemetry Collector
# distribution) from the Go module proxy, built and cached once per machine by
# tests/rig/gobin.sh. jaeger's go.mod has a replace directive (github.com/Shopify/sarama), which
# `go install pkg@version` refuses: --as-tool builds it as a tool of a throwaway wrapper module,
# where that replace does not apply and is not needed. Cold: about 6 min on two cores.
# No UI assets (upstream builds them with npm): the query API is what Grafana uses.
# The version stamp is upstream's (scripts/makefiles/BuildInfo.mk: latestVersion is the v2 tag,
# RELEASE here), so `jaeger version` reports the image's version.
set -euo pipefail
cd "$CONTEXT"
bin=$(bash "${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh" --as-tool \
  --ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$(cat RELEASE)" \
  "github.com/jaegertracing/jaeger/cmd/jaeger@$(cat VERSION)")
cp "$bin" jaeger
