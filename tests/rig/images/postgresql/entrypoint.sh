#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# First start: initdb with the superuser and password from the environment (or a file),
# create POSTGRES_DB, allow password logins from the network. Then exec the server.
set -euo pipefail
if [ "${1:-}" = "postgres" ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then pass=$(cat "$POSTGRES_PASSWORD_FILE"); else pass=${POSTGRES_PASSWORD:-}; fi
  [ -n "$pass" ] || { echo "entrypoint: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2; exit 1; }
  pwfile=$(mktemp)
  printf '%s\n' "$pass" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  printf 'host all all all scram-sha-256\nhost replication all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  db=${POSTGRES_DB:-$user}
  if [ "$db" != "postgres" ]; then
    postgres --single -D "$PGDATA" postgres <<<"CREATE DATABASE \"$db\" OWNER \"$user\";" >/dev/null
  fi
fi
exec "$@"
