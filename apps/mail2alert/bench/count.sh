#!/usr/bin/env bash
# Instructions (callgrind) and system calls (strace -c) per mail of
# mail2alert, as the difference of two run lengths (so that start-up and
# shutdown cancel out): N1 and N2 GoCD alerts, SESSIONS senders, each
# caught by the test configuration's rule and forwarded to smtp_sink.
#
#   apps/mail2alert/bench/count.sh [BUILD_DIR]     (N1=200 N2=1200 SESSIONS=10)
#
# BACKEND=io_uring counts mail2alert's system calls on io_uring (callgrind
# always sees epoll: valgrind cannot follow the ring); TOOLS=strace or
# TOOLS=callgrind runs one of the two.  TOOLS=perf counts system calls and
# io_uring_enter calls with perf's syscall tracepoints instead of strace,
# which slows each call enough to change how many waits find their reply
# already there (so on io_uring its count is higher than an unobserved
# run's); run it a few times, the count moves with the machine's load.
set -euo pipefail
BUILD=${1:-build}
N1=${N1:-200}
N2=${N2:-1200}
SESSIONS=${SESSIONS:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
M2A=$BUILD/examples/mail2alert
SINK=$BUILD/examples/smtp_sink
LOAD=$BUILD/apps/mail2alert/bench/m2a_load
WORK=$(mktemp -d /tmp/m2a-count.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 400); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
G=$(free_port); R=$(free_port)
/usr/bin/python3 "$HERE/../tests/gocd_stub.py" "$G" >/dev/null & SG=$!
"$SINK" "$R" >/dev/null & SR=$!
trap 'kill $SG $SR 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
wait_port "$G"; wait_port "$R"

run() { # TOOL N -> prints the total
  local tool=$1 n=$2 P
  P=$(free_port)
  cat > "$WORK/conf.yml" <<YML
local-smtp: 127.0.0.1:$P
remote-smtp: 127.0.0.1:$R
managers:
  - name: gocd
    url: http://127.0.0.1:$G/go
    user: olle
    passwd: pelle
    messages-we-want: {to: mail2alert@example.com}
    rules:
      - actions: [mailto:cat@example.com]
        filter: {events: [BREAKS], function: pipelines.in_group, args: [my-group]}
YML
  export MAIL2ALERT_CONFIGURATION=$WORK/conf.yml LOGLEVEL=ERROR CORIO_BACKEND=${BACKEND:-epoll}
  if [ "$tool" = callgrind ]; then
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$M2A" --serve 2>/dev/null & PID=$!
  elif [ "$tool" = perf ]; then
    perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter -o "$WORK/st.out" \
      "$M2A" --serve 2>/dev/null & PID=$!
  else
    strace -f -c -o "$WORK/st.out" "$M2A" --serve 2>/dev/null & PID=$!
  fi
  wait_port "$P"
  "$LOAD" 127.0.0.1 "$P" "$SESSIONS" "$n" >/dev/null
  # strace's child is the program; SIGINT goes to it (strace would detach).
  local target=$PID
  [ "$tool" != callgrind ] && target=$(pgrep -P $PID)
  kill -INT "$target"; wait $PID || true
  if [ "$tool" = callgrind ]; then
    awk '/^totals:/ {print $2}' "$WORK/cg.out"
  elif [ "$tool" = perf ]; then
    awk -F, '/raw_syscalls/ {a=$1} /io_uring_enter/ {b=$1} END {print a "," b}' "$WORK/st.out"
  else
    awk '/total$/ {print $4}' "$WORK/st.out"
  fi
}
TOOLS=${TOOLS:-callgrind strace}
if [[ " $TOOLS " == *" callgrind "* ]]; then
  i1=$(run callgrind "$N1"); i2=$(run callgrind "$N2")
  awk -v a="$i1" -v b="$i2" -v n=$((N2 - N1)) 'BEGIN{printf "instructions per mail: %.0f\n", (b - a) / n}'
fi
if [[ " $TOOLS " == *" strace "* ]]; then
  s1=$(run strace "$N1"); s2=$(run strace "$N2")
  awk -v a="$s1" -v b="$s2" -v n=$((N2 - N1)) -v be="${BACKEND:-epoll}" 'BEGIN{printf "system calls per mail (%s): %.1f\n", be, (b - a) / n}'
fi
if [[ " $TOOLS " == *" perf "* ]]; then
  p1=$(run perf "$N1"); p2=$(run perf "$N2")
  awk -v a="$p1" -v b="$p2" -v n=$((N2 - N1)) -v be="${BACKEND:-epoll}" 'BEGIN{split(a, x, ","); split(b, y, ",");
    printf "system calls per mail (%s, perf): %.2f, of which io_uring_enter %.2f\n", be, (y[1] - x[1]) / n, (y[2] - x[2]) / n}'
fi
