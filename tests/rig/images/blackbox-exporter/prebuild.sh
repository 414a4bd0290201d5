#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# blackbox_exporter (Apache-2.0) from the Go module proxy at the version in VERSION, with promu's
# version stamp (its .promu.yml: the module's root package, no build tags), cached once per
# machine by tests/rig/gobin.sh; the configuration is the release's blackbox.yml.
set -euo pipefail
cd "$CONTEXT"
gobin="${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh"
module="github.com/prometheus/blackbox_exporter@$(cat VERSION)"
bash "$gobin" --promu "$module" . | xargs cp -t .
cp "$(bash "$gobin" --source "$module")/blackbox.yml" config.yml
