#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# versitygw (posix backend) as an S3 server on port 9000: buckets in /data/buckets,
# object versions in /data/versions, Object Lock and retention kept in xattrs.
# The root credentials come from S3_ACCESS_KEY and S3_SECRET_KEY (or *_FILE), and reach
# the server through its environment, never its command line.
set -euo pipefail
secret() { local f="${1}_FILE"; if [ -n "${!f:-}" ]; then cat "${!f}"; else printf '%s' "${!1:-}"; fi; }
if [ "${1:-}" = "versitygw" ]; then
  ROOT_ACCESS_KEY=$(secret S3_ACCESS_KEY)
  ROOT_SECRET_KEY=$(secret S3_SECRET_KEY)
  if [ -z "$ROOT_ACCESS_KEY" ] || [ -z "$ROOT_SECRET_KEY" ]; then
    echo "entrypoint: set S3_ACCESS_KEY and S3_SECRET_KEY (or S3_ACCESS_KEY_FILE and S3_SECRET_KEY_FILE)" >&2
    exit 1
  fi
  export ROOT_ACCESS_KEY ROOT_SECRET_KEY
  unset S3_ACCESS_KEY S3_SECRET_KEY
  mkdir -p /data/buckets /data/versions
  shift
  set -- versitygw --port ":${S3_PORT:-9000}" --region "${S3_REGION:-us-east-1}" --health /health --quiet "$@" \
    posix --versioning-dir /data/versions /data/buckets
fi
exec "$@"
