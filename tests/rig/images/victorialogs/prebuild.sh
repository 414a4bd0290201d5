#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# VictoriaLogs (Apache-2.0) from the Go module proxy at the version in VERSION, built and
# cached once per machine by tests/rig/gobin.sh (its go.mod has no replace directives).
set -euo pipefail
cd "$CONTEXT"
version="$(cat VERSION)"
bin=$(bash "${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh" \
  --ldflags "-X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-logs-${version}" \
  "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@${version}")
cp "$bin" victoria-logs
