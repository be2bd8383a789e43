#!/bin/sh
# corio-tls needs OpenSSL 3's headers and libraries, and the openssl command
# line (tests: certificates, s_server / s_client peers).  Python's ssl is
# in Debian's python3.  Idempotent and quiet.
set -eu
need=""
for p in libssl-dev openssl python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
