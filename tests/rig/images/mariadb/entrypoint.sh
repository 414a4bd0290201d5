#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# First start: install the system tables, set the root password, create the database
# and user from the environment (or files). Then exec the server.
set -euo pipefail
secret() { local f="${1}_FILE"; if [ -n "${!f:-}" ]; then cat "${!f}"; else printf '%s' "${!1:-}"; fi; }
sqlstr() { printf "%s" "$1" | sed "s/'/''/g"; }
if [ "${1:-}" = "mariadbd" ] && [ ! -d /var/lib/mysql/mysql ]; then
  root=$(secret MARIADB_ROOT_PASSWORD)
  [ -n "$root" ] || { echo "entrypoint: set MARIADB_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD_FILE" >&2; exit 1; }
  mariadb-install-db --datadir=/var/lib/mysql --auth-root-authentication-method=normal --skip-test-db >/dev/null
  {
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(sqlstr "$root")';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '$(sqlstr "$root")';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "${MARIADB_DATABASE:-}" ]; then echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"; fi
    if [ -n "${MARIADB_USER:-}" ]; then
      echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$(sqlstr "$(secret MARIADB_PASSWORD)")';"
      [ -n "${MARIADB_DATABASE:-}" ] && echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
    fi
  } | mariadbd --bootstrap --datadir=/var/lib/mysql --skip-networking
fi
if [ "${1:-}" = "mariadbd" ]; then shift; set -- mariadbd --bind-address=0.0.0.0 "$@"; fi
exec "$@"
