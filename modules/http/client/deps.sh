#!/usr/bin/env bash
# corio-http client's needs, installed when missing:
#   zlib1g-dev  gzip/deflate response bodies (client.cmake builds without it,
#               then bodies are left encoded and no Accept-Encoding is sent);
#   python3     odd_server.py, the raw server of the tests;
#   nginx       the test peer with keep-alive, gzip and chunked responses;
#   python3-aiohttp  aiohttp.web, one more test peer, and aiohttp's client in bench/;
#   libcurl4-openssl-dev  libcurl's multi interface, the C baseline of bench/
# Idempotent and quiet when everything is there.  (scripts/deps.sh runs
# modules/*/deps.sh only, so modules/http/deps.sh should call this one.)
set -euo pipefail
need=()
for p in zlib1g-dev python3 python3-aiohttp nginx libcurl4-openssl-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
if [ ${#need[@]} -gt 0 ]; then
    echo "deps(http client): installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
