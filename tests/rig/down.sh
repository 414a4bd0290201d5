#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Stop what up.sh started, and nothing else: a daemon is stopped only when this rig
# recorded its pid (a dockerd or registry that was already running is left alone).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/rig/lib.sh
. "$here/lib.sh"

stop() {
  local name=$1 pidfile="$RIG_STATE/$1.pid"
  [ -f "$pidfile" ] || { log "$name: not started by the rig, left alone"; return; }
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$pidfile"
}

stop registry
[ "${1:-}" = "--engine" ] && stop dockerd
exit 0
