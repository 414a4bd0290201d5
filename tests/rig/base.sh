#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The base image of every test image: a minimal Debian from debootstrap, imported into
# the engine with `docker import` (no registry to pull a base from). Called by images.py
# with SUITE, VARIANT, INCLUDE, MIRROR and REF in the environment.
set -euo pipefail
: "${SUITE:?}" "${VARIANT:?}" "${MIRROR:?}" "${REF:?}"
root=$(mktemp -d /var/tmp/opsdeck-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant="$VARIANT" ${INCLUDE:+--include="$INCLUDE"} "$SUITE" "$root" "$MIRROR"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
SOURCES
# Images install packages whose maintainer scripts would start services: there is no
# init in a container, so tell invoke-rc.d not to try.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
# Keep images small: no docs, man pages or apt caches.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
DPKG
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/01-norecommends"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'ENV DEBIAN_FRONTEND=noninteractive' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' - "$REF"
