#!/usr/bin/env bash
# modules/tls/bench/cache.sh - per echoed 1 KiB message over TLS, under
# callgrind's cache simulation: instructions, data references, D1 misses
# and misses of a 2 MiB last-level cache, for corio's tls_echo_server
# (epoll: valgrind has no io_uring) and the floor (tls_floor: epoll +
# OpenSSL, no runtime), at 100 connections; differences of two run lengths
# (N1 and N2 messages), so the handshakes and start-up cancel out.  Split
# by object: OpenSSL (libssl + libcrypto), libc, the kernel's side is not
# seen, and the program's own code (corio or the floor's main).
#
#   bash modules/tls/bench/cache.sh     (builds build-tls-bench if needed)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
B=${BUILD:-$ROOT/build-tls-bench}
N1=${N1:-3000}
N2=${N2:-9000}
C=${C:-100}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DCORIO_BUILD_TESTS=OFF >/dev/null
cmake --build "$B" -j2 --target tls_echo_server tls_load tls_floor >/dev/null
D=$(mktemp -d /tmp/corio-tls-cache-XXXXXX)
trap 'rm -rf "$D"' EXIT
bash scripts/make-test-certs.sh "$D" >/dev/null 2>&1
for srv in floor corio; do
    for n in "$N1" "$N2"; do
        bin="$B/examples/tls_echo_server"
        [ "$srv" = floor ] && bin="$B/modules/tls/bench/tls_floor"
        CORIO_BACKEND=epoll valgrind --tool=callgrind --cache-sim=yes --LL=2097152,16,64 \
            --callgrind-out-file="$D/cc.$srv.$n" "$bin" 0 "$D/server.pem" "$D/server.key" >"$D/log" 2>&1 &
        vp=$!
        for _ in $(seq 600); do grep -q "listening on" "$D/log" && break; sleep 0.1; done
        port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$D/log")
        # The client runs under valgrind too, so that it is as slow as the
        # server: a client at full speed answers before the floor has
        # finished a message, and the floor, which reads a connection until
        # it would block, then serves one connection only (0 misses).
        valgrind --tool=none -q "$B/modules/tls/bench/tls_load" -p "$port" -i "$srv" -c "$C" -n "$n" >/dev/null
        kill -TERM "$vp"
        wait "$vp" || true
    done
    python3 - "$srv" "$D/cc.$srv.$N1" "$D/cc.$srv.$N2" "$((N2 - N1))" <<'PY'
import re, subprocess, sys
# Events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw, summed by object.
def by_obj(f):
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", f],
                         capture_output=True, text=True).stdout
    objs = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,.][\d,.()%\s]*?)\s+(\S+:\S+) \[(.*)\]\s*$", line)
        if not m: continue
        toks = re.sub(r"\([^)]*\)", "", m.group(1)).split()
        if len(toks) != 9: continue
        nums = [0 if x == "." else int(x.replace(",", "")) for x in toks]
        o = m.group(3)
        k = ("OpenSSL" if "libssl" in o or "libcrypto" in o else "libc" if "libc.so" in o
             else "own" if "tls_echo_server" in o or "tls_floor" in o else "other")
        objs[k] = [a + b for a, b in zip(objs.get(k, [0] * 9), nums)]
    return objs
a, b, n = by_obj(sys.argv[2]), by_obj(sys.argv[3]), float(sys.argv[4])
for d_ in (a, b):
    d_["total"] = [sum(v) for v in zip(*d_.values())] if d_ else [0] * 9
for k in ("own", "OpenSSL", "libc", "other", "total"):
    x, y = a.get(k, [0] * 9), b.get(k, [0] * 9)
    d = [(q - p) / n for p, q in zip(x, y)]
    print("%-5s %-7s: instr %7.0f  data refs %6.0f  D1 misses %6.1f  I1 misses %5.1f  LL (2 MiB) misses %5.1f"
          % (sys.argv[1], k, d[0], d[1] + d[2], d[4] + d[5], d[3], d[6] + d[7] + d[8]))
PY
done
