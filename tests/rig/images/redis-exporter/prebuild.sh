#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# redis_exporter (MIT) from the Go module proxy at the version in VERSION, stamped as upstream's
# release stamps it (main.BuildVersion is the release tag, with its commit and build date: here
# the module's go.sum hash and its publication time), cached once per machine by
# tests/rig/gobin.sh.
set -euo pipefail
cd "$CONTEXT"
version=$(cat VERSION)
bash "${RIG_ROOT:?run through tests/rig/up.sh}/tests/rig/gobin.sh" \
  --ldflags "-X main.BuildVersion=$version -X main.BuildCommitSha={{sum}} -X main.BuildDate={{released}}" \
  "github.com/oliver006/redis_exporter@$version" . | xargs cp -t .
