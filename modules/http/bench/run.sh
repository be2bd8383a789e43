#!/usr/bin/env bash
# modules/http/bench/run.sh - corio-http against a floor and real servers,
# GET / ("Hello, World!"), in ONE interleaved run: the server pinned to
# CPU 0, wrk to CPU 1.
#
#   bash modules/http/bench/run.sh            R=3 rounds, T=5 s per wrk run
#   R=5 T=10 bash modules/http/bench/run.sh
#   SKIP_WRK=1 / SKIP_COUNTS=1                 only the counts / only wrk
#   ONLY="nginx corio_epoll"                   these servers only
#   LOADS="c100 c1000 l100 l1000"              these loads only (default
#                                              c100 c1000 pipe16)
#
# Servers: the floor (bench/floor.c: epoll, parses nothing, a fixed
# response per "\r\n\r\n"), nginx (return 200, one worker, no access log),
# h2o (one thread, a static file), Node's http, Go's net/http
# (GOMAXPROCS=1), aiohttp.web and Tornado (Debian's python3-aiohttp and
# python3-tornado, installed by this script when missing), corio's
# examples/httpbin on epoll and on io_uring; every server pinned to CPU 0.
# Loads: wrk keep-alive with 100 and 1,000 connections (c100, c1000), wrk
# with 16 requests pipelined per write (pipe16, a Lua script), and the
# lighter client bench/load.c keep-alive with 100 and 1,000 connections
# (l100, l1000: one epoll loop, no latency statistics).
#
# Beside requests/s, every run records the server's CPU per request (user
# and system time of the server process, nginx's worker, over the run,
# divided by the requests the client counted), the server's use of CPU 0,
# CPU 0's idle share and the client's use of CPU 1: when the server's core
# idles, the client is the limit and requests/s cannot rank the servers,
# while CPU per request still can.
#
# Counts that do not move with the machine's load, from a fixed-count
# client (bench/load.c, 100 connections) at two run lengths, differenced:
#   - system calls per request: the server under `strace -f -c`;
#   - user-space instructions per request: under callgrind (epoll: corio
#     does not get io_uring under Valgrind), nginx too (master_process off,
#     so its one process is the worker);
#   - the parser alone: bench/parser_bench.c for corio, llhttp, http_parser;
#   - memory per idle keep-alive connection: VmRSS growth over 2,000
#     connections that did one request each.
# Results go to modules/http/bench/out/ (raw lines) and stdout.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
R=${R:-3}
T=${T:-5}
B=${BUILD:-$ROOT/build-http-bench}
OUT=$ROOT/modules/http/bench/out
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cmake -S "${SRC:-.}" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCORIO_BUILD_TESTS=ON >/dev/null
cmake --build "$B" -j2 --target httpbin http_floor http_load http_parser_bench >/dev/null
HB=$B/examples/httpbin
FLOOR=$B/modules/http/http_floor
LOAD=$B/modules/http/http_load
PB=$B/modules/http/http_parser_bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# ---- the servers: start_<name> PORT runs it pinned to CPU 0 in the background ----
start_floor() { taskset -c 0 "$FLOOR" "$1" >/dev/null & }
start_corio_epoll() { CORIO_BACKEND=epoll taskset -c 0 "$HB" "$1" >/dev/null & }
start_corio_uring() { CORIO_BACKEND=io_uring taskset -c 0 "$HB" "$1" >/dev/null & }
start_nginx() { # PORT [extra main directives] [nostart: only write the config]
  mkdir -p "$TMP/nginx"
  cat >"$TMP/nginx/nginx.conf" <<EOF
${2:-} worker_processes 1; daemon off; pid $TMP/nginx/nginx.pid; error_log $TMP/nginx/error.log;
events { worker_connections 8192; }
http { access_log off; client_body_temp_path $TMP/nginx; proxy_temp_path $TMP/nginx;
  fastcgi_temp_path $TMP/nginx; uwsgi_temp_path $TMP/nginx; scgi_temp_path $TMP/nginx;
  server { listen 127.0.0.1:$1 reuseport backlog=4096; keepalive_requests 1000000;
    location / { default_type text/plain; return 200 "Hello, World!"; } } }
EOF
  [ -n "${3:-}" ] || { taskset -c 0 nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >/dev/null 2>&1 & }
}
start_h2o() {
  mkdir -p "$TMP/h2o/www"
  printf 'Hello, World!' >"$TMP/h2o/www/index.html"
  cat >"$TMP/h2o/h2o.conf" <<EOF
listen: {host: 127.0.0.1, port: $1}
num-threads: 1
access-log: /dev/null
error-log: $TMP/h2o/error.log
user: root
hosts:
  default:
    paths:
      /:
        file.dir: $TMP/h2o/www
EOF
  taskset -c 0 h2o -c "$TMP/h2o/h2o.conf" >/dev/null 2>&1 &
}
start_node() {
  cat >"$TMP/server.js" <<'EOF'
require('http').createServer((q, s) => { s.writeHead(200, {'Content-Type': 'text/plain'}); s.end('Hello, World!'); })
  .listen(+process.argv[2], '127.0.0.1');
EOF
  taskset -c 0 node "$TMP/server.js" "$1" >/dev/null 2>&1 &
}

start_go() { GOMAXPROCS=1 taskset -c 0 "$TMP/goserver" "$1" >/dev/null 2>&1 & }
start_aiohttp() {
  cat >"$TMP/aiohttp_server.py" <<'EOF'
import sys
from aiohttp import web
async def hello(request):
    return web.Response(text="Hello, World!")
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
EOF
  taskset -c 0 /usr/bin/python3 "$TMP/aiohttp_server.py" "$1" >/dev/null 2>&1 &
}
start_tornado() {
  cat >"$TMP/tornado_server.py" <<'EOF'
import sys, asyncio, logging
import tornado.web
class Hello(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write("Hello, World!")
async def main():
    logging.getLogger("tornado.access").disabled = True
    tornado.web.Application([(r"/", Hello)]).listen(int(sys.argv[1]), address="127.0.0.1")
    await asyncio.Event().wait()
asyncio.run(main())
EOF
  taskset -c 0 /usr/bin/python3 "$TMP/tornado_server.py" "$1" >/dev/null 2>&1 &
}

# The peers from Debian: Go, aiohttp and Tornado are installed here when
# missing (a benchmark, not a test: nothing else needs them).
apt_have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for pkg in golang-go python3-aiohttp python3-tornado; do
  apt_have "$pkg" || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1 || echo "# $pkg did not install"
done

SERVERS=(floor nginx corio_epoll corio_uring)
command -v h2o >/dev/null && SERVERS+=(h2o) || echo "# h2o not installed: left out"
command -v node >/dev/null && SERVERS+=(node) || echo "# node not installed: left out"
if command -v go >/dev/null; then
  cat >"$TMP/goserver.go" <<'EOF'
package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!"))
	})
	http.ListenAndServe("127.0.0.1:"+os.Args[1], nil)
}
EOF
  if (cd "$TMP" && GO111MODULE=off GOCACHE="$TMP/gocache" go build -o goserver goserver.go) >/dev/null 2>&1; then SERVERS+=(go)
  else echo "# Go net/http did not build: left out"; fi
else
  echo "# go not installed: left out"
fi
/usr/bin/python3 -c 'import aiohttp' 2>/dev/null && SERVERS+=(aiohttp) || echo "# aiohttp not installed: left out"
/usr/bin/python3 -c 'import tornado' 2>/dev/null && SERVERS+=(tornado) || echo "# tornado not installed: left out"

cat >"$TMP/pipe.lua" <<'EOF'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
EOF

# Server CPU per request: the server's utime and stime (/proc/PID/stat,
# every thread; nginx: its one worker) over a wrk run, divided by the
# requests wrk counted, and the idle share of CPU 0 (the server's core) in
# that time.  Requests/s alone cannot rank servers when the load generator
# is the limit (an idle share above zero says it was); CPU per request can.
# Clock ticks (CLK_TCK, 100/s): a 5 s run at 70,000 requests/s resolves
# about 0.03 us/request.
server_pid() { # the process whose CPU is the server's: nginx's worker
  if [ "$1" = nginx ]; then
    for _ in $(seq 50); do [ -s "$TMP/nginx/nginx.pid" ] && break; sleep 0.1; done
    for _ in $(seq 50); do w=$(pgrep -P "$(cat "$TMP/nginx/nginx.pid")" | head -1) && [ -n "$w" ] && { echo "$w"; return; }; sleep 0.1; done
  fi
  echo "$2"
}
ticks() { local f; read -r -a f < <(sed 's/.*) //' "/proc/$1/stat"); echo "${f[11]} ${f[12]}"; } # utime stime
cpu0() { awk '$1 == "cpu0" {print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat; }           # all, idle+iowait
RAW=$OUT/wrk_raw.txt
read -r -a LOADS <<<"${LOADS:-c100 c1000 pipe16}"
[ -n "${ONLY:-}" ] && read -r -a SERVERS <<<"$ONLY"
if [ -z "${SKIP_WRK:-}" ] && command -v wrk >/dev/null; then
  : >"$RAW"
  ulimit -n 65536 || true
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RAW"
  for rep in $(seq "$R"); do
    n=${#SERVERS[@]}
    for k in $(seq 0 $((n - 1))); do
      s=${SERVERS[$(((k + rep) % n))]}
      for load in "${LOADS[@]}"; do
        port=$(free_port)
        "start_$s" "$port"
        pid=$!
        if ! wait_port "$port"; then echo "$s did not start"; kill "$pid" 2>/dev/null || true; continue; fi
        spid=$(server_pid "$s" "$pid")
        # c100, c1000, pipe16: wrk; l100, l1000: bench/load.c, the lighter client.
        case $load in
          c100) args=(-c100) ;;
          c1000) args=(-c1000) ;;
          pipe16) args=(-c100 -s "$TMP/pipe.lua") ;;
          l100) args=(100) ;;
          l1000) args=(1000) ;;
        esac
        read -r u0 s0 < <(ticks "$spid")
        read -r a0 i0 < <(cpu0)
        if [ "${load:0:1}" = l ]; then
          out=$(taskset -c 1 /usr/bin/time -f "CLIENT-CPU %U %S" "$LOAD" -d "$T" "$port" "${args[@]}" 2>&1 || true)
        else
          out=$(taskset -c 1 /usr/bin/time -f "CLIENT-CPU %U %S" wrk -t1 "${args[@]}" -d"${T}s" "http://127.0.0.1:$port/" 2>&1)
        fi
        read -r u1 s1 < <(ticks "$spid")
        read -r a1 i1 < <(cpu0)
        rps=$(awk '/Requests\/sec/ {print $2} /^requests / {print $6}' <<<"$out")
        nreq=$(awk '/requests in/ {print $1} /^requests / {print $2}' <<<"$out")
        ccpu=$(awk '/^CLIENT-CPU/ {printf "%d", ($2 + $3) * 100 / '"$T"'}' <<<"$out")
        # rep server load req/s requests server-user-ticks server-sys-ticks cpu0-idle-% wrk-cpu-%
        echo "$rep $s $load ${rps:-0} ${nreq:-0} $((u1 - u0)) $((s1 - s0)) $(( (i1 - i0) * 100 / ((a1 - a0) > 0 ? (a1 - a0) : 1) )) ${ccpu:-0}" | tee -a "$RAW"
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        [ "$s" = nginx ] && { [ -f "$TMP/nginx/nginx.pid" ] && kill "$(cat "$TMP/nginx/nginx.pid")" 2>/dev/null || true; }
        sleep 0.3
      done
    done
  done
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RAW"
  python3 - "$RAW" "$(getconf CLK_TCK)" "$T" <<'EOF'
import sys, statistics, collections
hz, secs = float(sys.argv[2]), float(sys.argv[3])
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith("#"): continue
    f = line.split()
    rows[(f[1], f[2])].append([float(x) for x in f[3:]] + [0.0] * (9 - len(f)))
order = ["floor", "nginx", "corio_epoll", "corio_uring", "h2o", "node", "go", "aiohttp", "tornado"]
loads = [l for l in ["c100", "c1000", "pipe16", "l100", "l1000"] if any(k[1] == l for k in rows)]
servers = sorted({s for s, _ in rows}, key=order.index)
med = {k: statistics.median(r[0] for r in v) for k, v in rows.items()}
def us(r, i):  # microseconds of server CPU per request in one run
    return r[i] / hz * 1e6 / r[1] if r[1] else 0.0
print("| server | " + " | ".join("req/s, %s" % l for l in loads) + " |")
print("|---" * (len(loads) + 1) + "|")
for s in servers:
    cells = []
    for l in loads:
        v = med.get((s, l), 0)
        f = med.get(("floor", l), 0)
        ng = med.get(("nginx", l), 0)
        rel = ["%.2fx %s" % (v / x, name) for x, name in ((f, "floor"), (ng, "nginx")) if x and name != s]
        cells.append(format(int(v), ",") + (" (%s)" % ", ".join(rel) if rel else ""))
    print("| %s | %s |" % (s, " | ".join(cells)))
print()
print("server CPU us/request, user+sys, medians of the runs [the server's use of CPU 0 %, CPU 0 idle %, the client's use of CPU 1 %, the client's CPU us/request]")
print("| server | " + " | ".join(loads) + " |")
print("|---" * (len(loads) + 1) + "|")
for s in servers:
    cells = []
    for l in loads:
        v = rows.get((s, l))
        if not v:
            cells.append("-")
            continue
        u = statistics.median(us(r, 2) for r in v)
        y = statistics.median(us(r, 3) for r in v)
        t = statistics.median(us(r, 2) + us(r, 3) for r in v)
        idle = statistics.median(r[4] for r in v)
        busy = statistics.median((us(r, 2) + us(r, 3)) * r[0] / 1e4 for r in v)
        wrk = statistics.median(r[5] for r in v)
        cus = statistics.median(r[5] / 100 * secs * 1e6 / r[1] if r[1] else 0 for r in v)
        cells.append("%.2f + %.2f = %.2f [%d%%, %d%%, %d%%, %.1f]" % (u, y, t, busy, idle, wrk, cus))
    print("| %s | %s |" % (s, " | ".join(cells)))
EOF
fi

if [ -z "${SKIP_COUNTS:-}" ]; then
  N1=${N1:-20000}
  N2=${N2:-60000}
  echo "# counts: ($N2 - $N1) requests, 100 connections, differenced"
  count_syscalls() { # name depth start-fn
    local name=$1 depth=$2 fn=$3 tot=()
    for n in "$N1" "$N2"; do
      port=$(free_port)
      if [ "$fn" = nginx ]; then
        start_nginx "$port"; pid=$!; wait_port "$port"
        for _ in $(seq 50); do [ -s "$TMP/nginx/nginx.pid" ] && break; sleep 0.1; done
        npid=$(cat "$TMP/nginx/nginx.pid")
        wpid=$(pgrep -P "$npid" | head -1)
        strace -c -f -p "$wpid" -o "$TMP/st" & spid=$!
        sleep 0.5
        "$LOAD" "$port" 100 "$n" "$depth"
        kill -INT "$spid"; wait "$spid" 2>/dev/null || true
        kill "$npid"; wait "$pid" 2>/dev/null || true
      else
        case $fn in
          floor) strace -c -f -o "$TMP/st" "$FLOOR" "$port" >/dev/null & ;;
          corio) CORIO_BACKEND=${BACKEND:-epoll} strace -c -f -o "$TMP/st" "$HB" "$port" >/dev/null & ;;
        esac
        pid=$!
        wait_port "$port"
        "$LOAD" "$port" 100 "$n" "$depth"
        # Signal the server, not strace: strace writes its table when its tracee exits.
        kill -TERM "$(pgrep -P "$pid" | head -1)"; wait "$pid" 2>/dev/null || true
      fi
      tot+=("$(awk '$NF=="total" {print $4}' "$TMP/st" | tail -1)") # % time, seconds, usecs/call, CALLS
      cp "$TMP/st" "$OUT/strace_${name}_d${depth}_$n.txt"
    done
    python3 -c "print('syscalls/request %-22s depth %2s: %.3f' % ('$name', $depth, (${tot[1]} - ${tot[0]}) / ($N2 - $N1)))" | tee -a "$OUT/counts.txt"
  }
  count_instr() { # name depth exe...
    local name=$1 depth=$2; shift 2
    local tot=()
    for n in "$N1" "$N2"; do
      port=$(free_port)
      if [ "$1" = nginx ]; then # its one process in the foreground, so callgrind sees the worker
        start_nginx "$port" 'master_process off;' nostart
        set -- nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx"
      else
        set -- "$@" "$port"
      fi
      valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$n" "$@" >/dev/null 2>"$TMP/vg.err" &
      [ "$1" = nginx ] || set -- "${@:1:$#-1}"
      pid=$!
      wait_port "$port"
      "$LOAD" "$port" 100 "$n" "$depth"
      kill -TERM "$(pgrep -P "$pid" | head -1 || echo "$pid")" 2>/dev/null || kill -TERM "$pid"
      wait "$pid" 2>/dev/null || true
      tot+=("$(callgrind_annotate "$TMP/cg.$n" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')")
    done
    python3 -c "print('instructions/request %-19s depth %2s: %.0f' % ('$name', $depth, (${tot[1]} - ${tot[0]}) / ($N2 - $N1)))" | tee -a "$OUT/counts.txt"
  }
  : >"$OUT/counts.txt"
  for d in 1 16; do
    count_syscalls floor "$d" floor
    BACKEND=epoll count_syscalls corio_epoll "$d" corio
    BACKEND=io_uring count_syscalls corio_uring "$d" corio
    count_syscalls nginx "$d" nginx
    count_instr floor "$d" "$FLOOR"
    CORIO_BACKEND=epoll count_instr corio_epoll "$d" "$HB"
    count_instr nginx "$d" nginx
  done
  for p in corio llhttp http_parser; do
    a=$(valgrind --tool=callgrind --callgrind-out-file="$TMP/p1" "$PB" "$p" 10000 2>/dev/null >/dev/null; callgrind_annotate "$TMP/p1" | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
    b=$(valgrind --tool=callgrind --callgrind-out-file="$TMP/p2" "$PB" "$p" 110000 2>/dev/null >/dev/null; callgrind_annotate "$TMP/p2" | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
    echo "parser alone, instructions/request (170-byte TechEmpower-style GET) $p: $(( (b - a) / 100000 ))" | tee -a "$OUT/counts.txt"
  done
  # memory per idle keep-alive connection
  for s in corio_epoll corio_uring nginx floor; do
    port=$(free_port)
    "start_$s" "$port"; pid=$!
    wait_port "$port"; sleep 0.2
    [ "$s" = nginx ] && for _ in $(seq 50); do [ -s "$TMP/nginx/nginx.pid" ] && break; sleep 0.1; done
    target=$pid
    [ "$s" = nginx ] && target=$(pgrep -P "$(cat "$TMP/nginx/nginx.pid")" | head -1)
    python3 - "$port" "$target" "$s" <<'EOF' | tee -a "$OUT/counts.txt"
import socket, sys, resource
port, pid, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"): return int(l.split()[1])
N = 2000
socks = []
def one():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    d = b""
    while not d.endswith(b"Hello, World!"): d += s.recv(4096)
    return s
for _ in range(100): socks.append(one())
before = rss()
for _ in range(N): socks.append(one())
after = rss()
print("idle keep-alive connection, KiB %-12s: %.2f" % (name, (after - before) / N))
EOF
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    [ "$s" = nginx ] && { kill "$(cat "$TMP/nginx/nginx.pid")" 2>/dev/null || true; }
    sleep 0.3
  done
fi
echo "# $(date -u +%FT%TZ) corio $(git -C "$ROOT" rev-parse --short HEAD)"
