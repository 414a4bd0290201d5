#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Prometheus and promtool (Apache-2.0) from the Go module proxy at the module version in VERSION
# (v0.316.0 is Prometheus 3.16.0: the module's VERSION file), built like upstream's promu does
# (packages, tags netgo and builtinassets, version stamp of its .promu.yml) and cached once per
# machine by tests/rig/gobin.sh; the example configuration is the release's own.
# builtinassets compiles in web/ui/static, an npm build that the module zip lacks, through a file
# that build_ui.sh generates: ui-embed.go stands in for that file and ui-not-built.html for the
# pages of both UIs (the new one and --enable-feature=old-ui's).
set -euo pipefail
cd "$CONTEXT"
gobin="${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh"
module="github.com/prometheus/prometheus@$(cat VERSION)"
bash "$gobin" --promu --tags netgo,builtinassets --add-file web/ui/embed.go=ui-embed.go \
  --add-file web/ui/static/mantine-ui/index.html=ui-not-built.html \
  --add-file web/ui/static/react-app/index.html=ui-not-built.html \
  "$module" ./cmd/prometheus ./cmd/promtool | xargs cp -t .
cp "$(bash "$gobin" --source "$module")/documentation/examples/prometheus.yml" prometheus.yml
