# SPDX-License-Identifier: GPL-3.0-or-later
# Shared settings of the test rig; sourced by up.sh and down.sh.
# shellcheck shell=bash

RIG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Caches that outlive a clone (images, registry storage, Go builds), keyed by what made them.
RIG_CACHE=${OPSDECK_CACHE:-$HOME/.cache/opsdeck}
# Run-time state of this checkout (pids, logs, the resolved image references).
RIG_STATE=${OPSDECK_RIG_STATE:-$RIG_ROOT/tests/rig/.state}
RIG_REGISTRY=${OPSDECK_REGISTRY:-127.0.0.1:5000}
RIG_PYTHON=${OPSDECK_PYTHON:-$RIG_ROOT/.venv/bin/python}
mkdir -p "$RIG_CACHE" "$RIG_STATE"
export RIG_ROOT RIG_CACHE RIG_STATE RIG_REGISTRY RIG_PYTHON

log() { printf 'rig: %s\n' "$*" >&2; }
die() { printf 'rig: ERROR: %s\n' "$*" >&2; exit 1; }

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds or time runs out.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local deadline=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) >= deadline)); then
      die "$what did not answer within ${secs} s"
    fi
    sleep 0.5
  done
}
