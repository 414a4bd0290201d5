#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# postgres_exporter (Apache-2.0) from the Go module proxy at the version in VERSION, with promu's
# version stamp (its .promu.yml: ./cmd/postgres_exporter, no build tags), cached once per machine
# by tests/rig/gobin.sh.
set -euo pipefail
cd "$CONTEXT"
bash "${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh" --promu \
  "github.com/prometheus-community/postgres_exporter@$(cat VERSION)" ./cmd/postgres_exporter | xargs cp -t .
