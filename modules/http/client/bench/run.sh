#!/bin/sh
# run.sh [BUILD_DIR] [N] - the client benchmark: N (default 10000) small
# GETs at 1, 10 and 100 in flight against one local nginx, corio's client
# interleaved with aiohttp's, Node's fetch, Go's net/http and libcurl's multi interface
# (each skipped when missing), R=3 rounds.  Then, for corio at 1 and 100 in
# flight: system calls per request (strace -c, the difference of an N and
# a 2N run, so setup cancels out) and user-space instructions per request
# (callgrind, the same difference), beside libcurl's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
build=${1:-$root/build}
n=${2:-10000}
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cmake --build "$build" --target bench_http_client >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/nginx.conf" <<NGX
error_log $tmp/error.log;
pid $tmp/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off; keepalive_requests 1000000;
    client_body_temp_path $tmp/b; proxy_temp_path $tmp/p; fastcgi_temp_path $tmp/f;
    uwsgi_temp_path $tmp/u; scgi_temp_path $tmp/s;
    server { listen 127.0.0.1:$port; location / { return 200 "Hello, World!"; } }
}
NGX
/usr/sbin/nginx -p "$tmp" -c "$tmp/nginx.conf" -g "daemon on; master_process off;"
sleep 0.5
url=http://127.0.0.1:$port/
curl_bin=
if [ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ]; then
    cc -O2 -o "$tmp/curl_multi" "$here/curl_multi.c" -lcurl && curl_bin=$tmp/curl_multi
fi
go_bin=
if command -v go >/dev/null; then
    (cd "$tmp" && HOME=${HOME:-$tmp} GOCACHE=$tmp/gocache go build -o "$tmp/go_client" "$here/go_client.go") && go_bin=$tmp/go_client
fi
aio=
/usr/bin/python3 -c 'import aiohttp' 2>/dev/null && aio=/usr/bin/python3
echo "# $(date -u +%Y-%m-%d) commit $(git -C "$root" rev-parse --short HEAD), nproc $(nproc), load $(cut -d' ' -f1 /proc/loadavg)"
for round in 1 2 3; do
    for c in 1 10 100; do
        "$build/bench/bench_http_client" "$url" "$n" "$c"
        if [ -n "$curl_bin" ]; then "$curl_bin" "$url" "$n" "$c"; fi
        if [ -n "$go_bin" ]; then "$go_bin" "$url" "$n" "$c"; fi
        if [ -n "$aio" ]; then $aio "$here/aiohttp_client.py" "$url" "$n" "$c"; fi
        if command -v node >/dev/null; then node "$here/node_client.mjs" "$url" "$n" "$c"; fi
    done
done
# Per request: (count at 2N - count at N) / N.
per() { python3 -c "import sys; a,b,n=map(float,sys.argv[1:]); print('%.2f' % ((b-a)/n))" "$@"; }
sys_count() { strace -f -c -o "$tmp/st" "$@" >/dev/null; awk '/^[ ]*[0-9].*total$/ {print $(NF-2)}' "$tmp/st"; }
ir_count() { valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$@" >/dev/null 2>&1; callgrind_annotate "$tmp/cg" | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}'; }
m=$((n / 10))
for c in 1 100; do
    a=$(CORIO_BACKEND=epoll sys_count "$build/bench/bench_http_client" "$url" "$m" "$c")
    b=$(CORIO_BACKEND=epoll sys_count "$build/bench/bench_http_client" "$url" $((2 * m)) "$c")
    echo "corio c=$c epoll: system calls per request $(per "$a" "$b" "$m")"
    a=$(CORIO_BACKEND=epoll ir_count "$build/bench/bench_http_client" "$url" "$m" "$c")
    b=$(CORIO_BACKEND=epoll ir_count "$build/bench/bench_http_client" "$url" $((2 * m)) "$c")
    echo "corio c=$c epoll: instructions per request $(per "$a" "$b" "$m")"
    if [ -n "$curl_bin" ]; then
        a=$(sys_count "$curl_bin" "$url" "$m" "$c"); b=$(sys_count "$curl_bin" "$url" $((2 * m)) "$c")
        echo "libcurl c=$c: system calls per request $(per "$a" "$b" "$m")"
        a=$(ir_count "$curl_bin" "$url" "$m" "$c"); b=$(ir_count "$curl_bin" "$url" $((2 * m)) "$c")
        echo "libcurl c=$c: instructions per request $(per "$a" "$b" "$m")"
    fi
done
