#!/usr/bin/env bash
# Install what building and testing corio needs, if it is missing.
# Debian 12: cmake, a C compiler, make, pkg-config, c-ares (the DNS
# resolver src/io/dns.c drives from the loop), liburing (the io_uring backend), and nginx (a real web server
# for tests/test_survey.c).  Idempotent and quiet when all is there.
set -euo pipefail
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg-query -W -f='${Status}' libc-ares-dev 2>/dev/null | grep -q 'install ok installed' || need+=(libc-ares-dev)
dpkg-query -W -f='${Status}' liburing-dev 2>/dev/null | grep -q 'install ok installed' || need+=(liburing-dev)
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
if [ ${#need[@]} -gt 0 ]; then
    echo "deps: installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# nginx: tests/test_survey.c surveys a real nginx; that part is skipped
# without it, so a failed install (e.g. its service cannot start here) is
# reported, not fatal.
if ! [ -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null 2>&1; then
    echo "deps: installing nginx-light (for the survey test)"
    [ ${#need[@]} -gt 0 ] || $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null ||
        echo "deps: nginx-light did not install; tests/test_survey.c will skip its nginx part"
fi
# Each module and application installs what it needs (modules/<name>/deps.sh, apps/<name>/deps.sh).
for m in "$(dirname "$0")"/../modules/*/deps.sh "$(dirname "$0")"/../modules/*/*/deps.sh "$(dirname "$0")"/../apps/*/deps.sh; do
    if [ -f "$m" ]; then bash "$m"; fi
done
