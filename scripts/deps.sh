#!/usr/bin/env bash
# Install what building and testing corio needs, if it is missing.
# Debian 12: cmake, a C compiler, make, pkg-config, and c-ares (the DNS
# resolver src/dns.c drives from the loop).  Idempotent and quiet when all
# is there.
set -euo pipefail
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg-query -W -f='${Status}' libc-ares-dev 2>/dev/null | grep -q 'install ok installed' || need+=(libc-ares-dev)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "deps: installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
