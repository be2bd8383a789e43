#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests and the benchmark.
#   pg-server.sh start DIR [PID]
#                            initdb into DIR/data, start postgres on
#                            127.0.0.1 on a free port with its socket in DIR;
#                            prints the port on stdout (exit 0), or the
#                            reason it cannot on stderr (exit 77).  With PID,
#                            a watchdog stops the server once that process
#                            is gone (a test killed by its time limit).
#   pg-server.sh restart DIR restart it (fast shutdown: sessions are cut),
#                            same port and settings.
#   pg-server.sh stop DIR    stop it (fast shutdown) and remove DIR.
# As root the server runs as the `postgres` user (postgres refuses root),
# so DIR is handed to that user.  Extra server settings: PG_SERVER_OPTS.
set -uo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|restart|stop DIR" >&2; exit 2; }
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "SKIP: running as root and there is no postgres user to run the server" >&2; exit 77; }
    as_user=(runuser -u postgres --)
fi
case $cmd in
start)
    [ -x "$bindir/initdb" ] || { echo "SKIP: no PostgreSQL server binaries in $bindir (install postgresql-15)" >&2; exit 77; }
    mkdir -p "$dir" || exit 77
    [ ${#as_user[@]} -eq 0 ] || chown postgres: "$dir"
    chmod 700 "$dir"
    if ! "${as_user[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
        echo "SKIP: initdb failed: $(tail -1 "$dir/initdb.log")" >&2; exit 77
    fi
    # TLS as well, when openssl can make a throwaway certificate: clients
    # choose with sslmode (the server takes both plain and TLS connections).
    ssl_opts=""
    if command -v openssl >/dev/null 2>&1 &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
            -keyout "$dir/server.key" -out "$dir/server.crt" >/dev/null 2>&1; then
        chmod 600 "$dir/server.key"
        [ ${#as_user[@]} -eq 0 ] || chown postgres: "$dir/server.key" "$dir/server.crt"
        ssl_opts="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
    fi
    # A free port: the kernel picks one for a socket bound to port 0; a few
    # attempts in case another process takes it before postgres binds.
    for attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        if "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o \
            "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 $ssl_opts ${PG_SERVER_OPTS:-}" \
            start >"$dir/pg_ctl.log" 2>&1; then
            if [ -n "${3:-}" ]; then
                watched=$3 self=$0
                setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" stop "$3"' \
                    watchdog "$watched" "$self" "$dir" </dev/null >/dev/null 2>&1 &
            fi
            echo "$port"; exit 0
        fi
    done
    echo "SKIP: postgres did not start: $(tail -2 "$dir/server.log" 2>/dev/null | tr '\n' ' ')" >&2
    exit 77 ;;
restart)
    "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 30 restart >"$dir/pg_ctl.log" 2>&1
    exit $? ;;
stop)
    if [ -d "$dir/data" ]; then
        "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    exit 0 ;;
*) echo "usage: $0 start|restart|stop DIR" >&2; exit 2 ;;
esac
