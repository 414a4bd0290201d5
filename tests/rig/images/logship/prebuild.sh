#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Test and compile logship on the build machine (standard library only, seconds): the tests
# run a real HTTP server on loopback and check labels, split lines, restarts, rotation and a
# store that refuses a push, and the Kubernetes mode (CRI lines, P+F, kubelet rotation).
set -euo pipefail
cd "$CONTEXT"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
go test ./...
go build -trimpath -ldflags='-s -w' -o logship .
