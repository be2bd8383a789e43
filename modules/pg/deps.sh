#!/usr/bin/env bash
# corio-pg needs libpq 15 and OpenSSL's headers to build, a PostgreSQL 15 server for its tests
# (started by the tests themselves, as the postgres user) and, for its
# benchmark, asyncpg, psycopg 3 and Go's pgx v4 to compare against.
# Idempotent, quiet.
set -euo pipefail
need=()
for p in libpq-dev libssl-dev postgresql-15 python3-asyncpg python3-psycopg golang-go golang-github-jackc-pgx-v4-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
if [ ${#need[@]} -gt 0 ]; then
    echo "deps(pg): installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
