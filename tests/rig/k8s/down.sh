#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Delete the test cluster that up.sh made (its processes and its kwokctl state) and
# its kubeconfig. The built binaries stay cached. A cluster that is not there is fine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/rig/lib.sh
. "$here/../lib.sh"

export KWOK_WORKDIR="$RIG_STATE/kwok"
name=${OPSDECK_K8S_CLUSTER:-opsdeck}
bin=$(bash "$here/build.sh" --key)
bin="$RIG_CACHE/k8s/$bin/bin"
kwokctl="$bin/kwokctl"
[ -x "$kwokctl" ] || kwokctl=$(command -v kwokctl || true)

if [ -n "$kwokctl" ] && [ -d "$KWOK_WORKDIR/clusters/$name" ]; then
  log "k8s: deleting cluster $name"
  "$kwokctl" delete cluster --name "$name" >"$RIG_STATE/k8s-delete.log" 2>&1 \
    || { tail -20 "$RIG_STATE/k8s-delete.log" >&2; die "k8s: kwokctl delete cluster failed"; }
else
  log "k8s: no cluster $name here"
fi
rm -f "$RIG_STATE/kubeconfig" "$RIG_STATE/k8s.env"
