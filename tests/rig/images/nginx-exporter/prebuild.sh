#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The NGINX Prometheus exporter (Apache-2.0) from the Go module proxy at the version in VERSION
# (github.com/nginxinc/nginx-prometheus-exporter, the path under which the proxy serves v1.4.0;
# upstream moved to github.com/nginx/), cached once per machine by tests/rig/gobin.sh. Its
# release (goreleaser) stamps github.com/prometheus/common/version like promu does.
set -euo pipefail
cd "$CONTEXT"
bash "${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh" --promu \
  "github.com/nginxinc/nginx-prometheus-exporter@$(cat VERSION)" . | xargs cp -t .
