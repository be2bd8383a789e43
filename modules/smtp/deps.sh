#!/usr/bin/env bash
# corio-smtp's test peers: aiosmtpd (the server our client is tested
# against, and the speed reference), aiosmtplib and swaks (more real
# clients of our server), openssl(1) for the STARTTLS tests' certificate.
# Idempotent and quiet: installs only what dpkg does not have yet.
set -euo pipefail
need=()
for p in python3-aiosmtpd python3-aiosmtplib swaks openssl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
