#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Put the S3 server binary into the build context: built once per machine from the Go
# module proxy at the version pinned in server.pin (tests/rig/gobin.sh caches it).
set -euo pipefail
cd "$CONTEXT"
bin=$(bash "${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh" "$(cat server.pin)")
cp "$bin" versitygw
