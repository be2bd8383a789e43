#!/usr/bin/env bash
# mail2alert's build dependencies (YAML config, JSON pipeline groups, the
# cctray XML, Python-compatible regular expressions) and its test peers
# (aiosmtpd as the real mail server, aiohttp/yaml to run the original in
# the bench).  Idempotent and quiet: installs only what dpkg lacks.
set -euo pipefail
need=()
for p in libyaml-dev libjansson-dev libexpat1-dev libpcre2-dev python3-aiosmtpd python3-aiohttp python3-yaml; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
