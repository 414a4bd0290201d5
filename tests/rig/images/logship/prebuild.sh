#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Compile logship on the build machine (standard library only, seconds).
set -euo pipefail
cd "$CONTEXT"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o logship .
