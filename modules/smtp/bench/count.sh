#!/usr/bin/env bash
# Instructions (callgrind) and system calls (strace -c) per message of
# each SMTP server, from the difference of two run lengths (N and 2N
# messages of 1 KiB; start-up and shutdown cancel out), driven by
# Postfix's smtp-source over 10 connections (fetched as bench/run.sh
# does).  Counts, unlike rates, do not move with the machine's load.
#
#   modules/smtp/bench/count.sh [BUILD_DIR]     N=500 SERVERS="corio aiosmtpd postfix"
set -euo pipefail
BUILD=${1:-build}
N=${N:-500}
SERVERS=${SERVERS:-"corio aiosmtpd postfix"}
DRIVERS=${DRIVERS:-"smtp-source smtp_load"}
SINK=$BUILD/examples/smtp_sink
LOAD=$BUILD/modules/smtp/bench/smtp_load
PF=$BUILD/bench-postfix
[ -x "$PF/usr/sbin/smtp-source" ] || { echo "run bench/run.sh once first (fetches smtp-source)"; exit 1; }
export LD_LIBRARY_PATH=$PF/usr/lib/postfix
OUT=$(mktemp -d)
chmod 1777 "$OUT" # smtp-sink drops to nobody before callgrind writes its file
trap 'rm -rf "$OUT"' EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# run TOOL SERVER DRIVER N -> prints the count
run() {
  local tool=$1 srv=$2 drv=$3 n=$4 port pid f
  port=$(free_port)
  f=$OUT/$tool.$srv.$drv.$n
  local cmd prefix=(env)
  case $srv in
    corio) cmd=("$SINK" "$port") ;;
    aiosmtpd) cmd=(/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:$port -c aiosmtpd.handlers.Sink) ;;
    # As nobody from the start: smtp-sink run as root must drop to a user
    # (-u), after which callgrind could no longer write its file.
    postfix) cmd=("$PF/usr/sbin/smtp-sink" 127.0.0.1:$port 1024)
             [ "$(id -u)" = 0 ] && prefix=(setpriv --reuid=nobody --regid=nogroup --clear-groups) ;;
  esac
  if [ "$tool" = callgrind ]; then
    CORIO_BACKEND=epoll "${prefix[@]}" valgrind -q --tool=callgrind --callgrind-out-file="$f.%p" --trace-children=no "${cmd[@]}" >/dev/null 2>&1 &
  else
    CORIO_BACKEND=epoll strace -f -c -o "$f" "${prefix[@]}" "${cmd[@]}" >/dev/null 2>&1 &
  fi
  pid=$!
  wait_port "$port"
  if [ "$drv" = smtp-source ]; then
    "$PF/usr/sbin/smtp-source" -d -s 10 -m "$n" -l 1024 -f a@example.com -t b@example.com 127.0.0.1:"$port"
  else
    "$LOAD" 127.0.0.1 "$port" 10 "$n" >/dev/null
  fi
  sleep 0.5
  # SIGINT: smtp_sink and aiosmtpd end normally (callgrind writes its
  # file at exit); smtp-sink ends on SIGTERM.
  # Under strace the server is strace's child: signal it, not strace.
  local target=$pid
  if [ "$tool" = strace ]; then target=$(pgrep -P "$pid" | head -1); fi
  pkill_one() { kill -"$1" "$target" 2>/dev/null || true; }
  if [ "$srv" = postfix ]; then pkill_one TERM; else pkill_one INT; fi
  wait "$pid" 2>/dev/null || true
  if [ "$tool" = callgrind ]; then
    awk '/^totals:/ {t = $2} END {print t}' "$f".*
  else
    awk '$NF == "total" {print $(NF-2) + 0}' "$f"
  fi
}

echo "| driver | server | instructions / message | system calls / message |"
echo "|---|---|---|---|"
for drv in $DRIVERS; do
  for srv in $SERVERS; do
    i1=$(run callgrind "$srv" "$drv" "$N"); i2=$(run callgrind "$srv" "$drv" $((2 * N)))
    s1=$(run strace "$srv" "$drv" "$N"); s2=$(run strace "$srv" "$drv" $((2 * N)))
    echo "| $drv | $srv | $(( (i2 - i1) / N )) | $(awk -v a="$s1" -v b="$s2" -v n="$N" 'BEGIN{printf "%.2f", (b-a)/n}') |"
  done
done
