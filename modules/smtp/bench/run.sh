#!/usr/bin/env bash
# SMTP server speed: examples/smtp_sink (corio-smtp) against aiosmtpd's
# Sink handler (Python 3.11, Debian's python3-aiosmtpd) and Postfix's
# smtp-sink, all driven by one load generator, Postfix's smtp-source, in
# one interleaved run (round after round, each server in turn, so that
# the machine's background load falls on all of them alike).
#
#   modules/smtp/bench/run.sh [BUILD_DIR]        (default: build)
#   ROUNDS=3 N=20000 N_PY=4000 SIZE=1024 CONCURRENCY="10 100" modules/smtp/bench/run.sh build
#
# Two drivers, each over every server: Postfix's smtp-source (one
# command at a time: it does not pipeline) and our bench/smtp_load
# (corio-smtp's client: MAIL, RCPT and DATA in one write to a server that
# offers PIPELINING - ours and Postfix's do, aiosmtpd does not).
#
# smtp-source runs with -d (each session sends its messages over one
# connection, as a relay does), -s C sessions, -m messages of -l SIZE
# bytes.  Postfix is not installed: its .deb is downloaded with
# `apt-get download` and unpacked under BUILD_DIR/bench-postfix, so no
# mail system is configured or started.  Besides messages per second, the
# table gives each server's CPU time per 1000 messages (user + system,
# from /proc/PID/stat), which a loaded machine disturbs much less than
# wall-clock rates.
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
N=${N:-20000}
N_PY=${N_PY:-4000}
SIZE=${SIZE:-1024}
CONCURRENCY=${CONCURRENCY:-"10 100"}
SINK=$BUILD/examples/smtp_sink
LOAD=$BUILD/modules/smtp/bench/smtp_load
[ -x "$SINK" ] && [ -x "$LOAD" ] || { echo "build smtp_sink and smtp_load first"; exit 1; }

PF=$BUILD/bench-postfix
if [ ! -x "$PF/usr/sbin/smtp-source" ]; then
  mkdir -p "$PF"
  (cd "$PF" && apt-get download postfix >/dev/null 2>&1 && dpkg-deb -x postfix_*.deb .) ||
    { echo "could not fetch postfix's smtp-source"; exit 1; }
fi
export LD_LIBRARY_PATH=$PF/usr/lib/postfix
SOURCE=$PF/usr/sbin/smtp-source
PFSINK=$PF/usr/sbin/smtp-sink

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }

P1=$(free_port); P2=$(free_port); P3=$(free_port)
"$SINK" "$P1" >/dev/null & S1=$!
/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:$P2 -c aiosmtpd.handlers.Sink & S2=$!
# smtp-sink refuses to run as root without a user to drop privileges to.
PFUSER=(); [ "$(id -u)" = 0 ] && PFUSER=(-u nobody)
"$PFSINK" "${PFUSER[@]}" 127.0.0.1:$P3 1024 >/dev/null & S3=$!
trap 'kill $S1 $S2 $S3 2>/dev/null; wait 2>/dev/null' EXIT
wait_port "$P1"; wait_port "$P2"; wait_port "$P3"
HZ=$(getconf CLK_TCK)

declare -A RATE CPU
for r in $(seq "$ROUNDS"); do
 for d in smtp-source smtp_load; do
  for c in $CONCURRENCY; do
    for s in corio aiosmtpd postfix; do
      case $s in
        corio) port=$P1 pid=$S1 n=$N ;;
        aiosmtpd) port=$P2 pid=$S2 n=$N_PY ;;
        postfix) port=$P3 pid=$S3 n=$N ;;
      esac
      t0=$(date +%s.%N); c0=$(cpu_ticks "$pid")
      if [ "$d" = smtp-source ]; then
        "$SOURCE" -d -s "$c" -m "$n" -l "$SIZE" -f a@example.com -t b@example.com 127.0.0.1:"$port"
      else
        "$LOAD" 127.0.0.1 "$port" "$c" "$n" "$SIZE" >/dev/null
      fi
      t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
      rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/(b-a)}')
      cpu=$(awk -v n="$n" -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN{printf "%.1f", (b-a)/hz*1000*1000/n}')
      RATE[$d,$s,$c]="${RATE[$d,$s,$c]:-} $rate"
      CPU[$d,$s,$c]="${CPU[$d,$s,$c]:-} $cpu"
      echo "round $r  $d  c=$c  $s: $rate msg/s, $cpu ms CPU per 1000 msgs"
    done
  done
 done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
echo
echo "| driver | senders | server | msg/s (median of $ROUNDS) | server CPU ms / 1000 msgs |"
echo "|---|---|---|---|---|"
for d in smtp-source smtp_load; do
  for c in $CONCURRENCY; do
    for s in corio aiosmtpd postfix; do
      echo "| $d | $c | $s | $(echo "${RATE[$d,$s,$c]}" | median) | $(echo "${CPU[$d,$s,$c]}" | median) |"
    done
  done
done
