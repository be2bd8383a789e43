#!/usr/bin/env bash
# corio-http's test and benchmark peers, installed when missing:
#   node-llhttp, libhttp-parser-dev  the two parsers the differential test
#                                    compiles in as oracles (never linked
#                                    into the library);
#   curl, python3                    real clients for the server tests;
#   wrk                              the load generator of bench/;
#   h2o                              one more server for bench/ (optional).
# Idempotent and quiet when everything is there.
set -euo pipefail
need=()
for p in node-llhttp libhttp-parser-dev curl python3 wrk; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
if [ ${#need[@]} -gt 0 ]; then
    echo "deps(http): installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# h2o only takes part in the benchmark; a failed install is not fatal.
if ! dpkg-query -W -f='${Status}' h2o 2>/dev/null | grep -q 'install ok installed'; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends h2o >/dev/null 2>&1 ||
        echo "deps(http): h2o did not install; bench/ runs without it"
fi
