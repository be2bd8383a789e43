#!/usr/bin/env bash
# modules/http/bench/cache.sh - per request, under callgrind's cache
# simulation: instructions, data references, D1 and I1 misses and misses of
# a 2 MiB last-level cache, for corio's httpbin (epoll) and nginx
# (return 200, master_process off), at 100 and 1,000 keep-alive
# connections; differences of two run lengths (5,000 and 15,000 requests,
# bench/load.c), so start-up and connection set-up cancel out.
#
#   bash modules/http/bench/cache.sh        (after bench/run.sh built build-http-bench)
set -euo pipefail
cd "$(dirname "$0")/../../.."
B=${BUILD:-$PWD/build-http-bench}
LOAD=$B/modules/http/http_load
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for srv in corio nginx; do
  for conns in 100 1000; do
    declare -A t=()
    for n in 5000 15000; do
      port=$(free_port)
      if [ "$srv" = nginx ]; then
        cat >"$D/nginx.conf" <<EOC
master_process off; daemon off; worker_processes 1; pid $D/nginx.pid; error_log $D/error.log;
events { worker_connections 8192; }
worker_rlimit_nofile 8192;
http { access_log off; client_body_temp_path $D; proxy_temp_path $D;
  fastcgi_temp_path $D; uwsgi_temp_path $D; scgi_temp_path $D;
  server { listen 127.0.0.1:$port reuseport backlog=4096; keepalive_requests 1000000;
    location / { default_type text/plain; return 200 "Hello, World!"; } } }
EOC
        valgrind --tool=callgrind --cache-sim=yes --LL=2097152,16,64 --callgrind-out-file="$D/cc.$n" \
          nginx -c "$D/nginx.conf" -p "$D" >/dev/null 2>&1 &
      else
        CORIO_BACKEND=epoll valgrind --tool=callgrind --cache-sim=yes --LL=2097152,16,64 \
          --callgrind-out-file="$D/cc.$n" "$B/examples/httpbin" "$port" >/dev/null 2>&1 &
      fi
      vp=$!
      for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
      "$LOAD" "$port" "$conns" "$n" 1
      kill -TERM "$vp"
      wait "$vp" || true
      # Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
      t[$n]=$(callgrind_annotate "$D/cc.$n" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(/\([^)]*\)/, ""); gsub(",", ""); print $1, $2, $3, $4, $5, $6, $7, $8, $9}')
    done
    python3 - "$srv" "$conns" "${t[5000]}" "${t[15000]}" <<'PY'
import sys
a = [int(x) for x in sys.argv[3].split()]
b = [int(x) for x in sys.argv[4].split()]
d = [(y - x) / 10000 for x, y in zip(a, b)]
print("%-5s %5s conns: instructions %.0f, data refs %.0f, D1 misses %.1f, I1 misses %.1f, LL (2 MiB) misses %.1f"
      % (sys.argv[1], sys.argv[2], d[0], d[1] + d[2], d[4] + d[5], d[3], d[6] + d[7] + d[8]))
PY
  done
done
