#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Alertmanager and amtool (Apache-2.0) from the Go module proxy at the version in VERSION, built
# like upstream's promu does (packages, tag netgo and version stamp of its .promu.yml) and cached
# once per machine by tests/rig/gobin.sh; the configuration is the release's example.
# The web UI embeds ui/app/dist, an npm build that the module zip lacks (the build fails without
# it): ui-not-built.html, gzipped as the UI's handlers serve it, stands in for both UIs' pages.
set -euo pipefail
cd "$CONTEXT"
gobin="${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh"
module="github.com/prometheus/alertmanager@$(cat VERSION)"
gzip -9nc ui-not-built.html >index.html.gz
bash "$gobin" --promu --tags netgo \
  --add-file ui/app/dist/elm/index.html.gz=index.html.gz --add-file ui/app/dist/mantine/index.html.gz=index.html.gz \
  "$module" ./cmd/alertmanager ./cmd/amtool | xargs cp -t .
cp "$(bash "$gobin" --source "$module")/examples/ha/alertmanager.yml" alertmanager.yml
