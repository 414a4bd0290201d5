#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Compile the sample app on the build machine (no golang image to build in).
set -euo pipefail
cd "$CONTEXT"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o sampleapp .
