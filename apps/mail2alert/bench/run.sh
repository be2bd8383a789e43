#!/usr/bin/env bash
# mail2alert end to end: mails in, rules, forwarded mails out, per second,
# for our mail2alert and the original (0.2.9 on Debian's Python 3.11 with
# python3-aiosmtpd/aiohttp/yaml, through run_original.py's shims), in one
# interleaved run (round after round, each program in turn, so that the
# machine's background load falls on both alike).
#
#   apps/mail2alert/bench/run.sh [BUILD_DIR]          (default: build)
#   ROUNDS=3 N=10000 N_PY=1000 SESSIONS="1 10" ORIGINAL=/path/to/mail2alert/src apps/mail2alert/bench/run.sh
#
# Each message is a 1.1 KiB GoCD "is broken" alert to
# mail2alert@example.com that the original's test configuration rewrites
# to cat@example.com (the gocd manager, its pipeline-groups rule, the
# header surgery); the next hop is examples/smtp_sink, the GoCD API
# tests/gocd_stub.py.  Both programs log at WARNING.  "corio" replies 250
# after the first forwarding attempt (the default, as the original);
# "corio-rf" runs with reply-first: true (250 first, forwarding after).  Besides mails per
# second the table gives each program's CPU time per 1000 mails (user +
# system from /proc/PID/stat), which a loaded machine disturbs much less.
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
N=${N:-10000}
N_PY=${N_PY:-1000}
SESSIONS=${SESSIONS:-"1 10"}
# corio-rf: ours with "reply-first: true" (250 before forwarding);
# base: another build of ours (BASE=path/to/examples/mail2alert), to
# compare two commits in the same interleaved run.
IMPLS=${IMPLS:-"corio corio-rf original"}
BASE=${BASE:-}
HERE=$(cd "$(dirname "$0")" && pwd)
M2A=$BUILD/examples/mail2alert
SINK=$BUILD/examples/smtp_sink
LOAD=$BUILD/apps/mail2alert/bench/m2a_load
[ -x "$M2A" ] && [ -x "$SINK" ] && [ -x "$LOAD" ] || { echo "build mail2alert, smtp_sink and m2a_load first"; exit 1; }
ORIGINAL=${ORIGINAL:-}
WORK=$(mktemp -d /tmp/m2a-bench.XXXXXX)
if [ -z "$ORIGINAL" ]; then
  # The fetched original (github:magnus-lycka/mail2alert, c1d510a4).
  MIRROR=${MIRROR:-/work/.mirror/magnus-lycka+mail2alert/repo}
  git -C "$MIRROR" archive HEAD src | tar -x -C "$WORK"
  ORIGINAL=$WORK/src
fi

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }

G=$(free_port); R=$(free_port)
/usr/bin/python3 "$HERE/../tests/gocd_stub.py" "$G" >/dev/null & SG=$!
"$SINK" "$R" >/dev/null & SR=$!
trap 'kill $SG $SR 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
wait_port "$G"; wait_port "$R"
HZ=$(getconf CLK_TCK)

config() { # PORT [extra line] -> configuration file
  cat > "$WORK/conf-$1.yml" <<YML
${2:-}
local-smtp: 127.0.0.1:$1
remote-smtp: 127.0.0.1:$R
managers:
  - name: gocd
    url: http://127.0.0.1:$G/go
    user: olle
    passwd: pelle
    messages-we-want:
      to: mail2alert@example.com
    rules:
      - actions:
          - mailto:cat@example.com
        filter:
          events:
            - BREAKS
          function: pipelines.in_group
          args:
            - my-group
  - name: mail
    messages-we-want:
      from: go@example.com
    rules:
      - actions:
          - mailto:sys@example.com
        filter:
          function: mail.in_subject
          args:
            - server
YML
  echo "$WORK/conf-$1.yml"
}

declare -A RATE CPU
for r in $(seq "$ROUNDS"); do
  for s in $SESSIONS; do
    for impl in $IMPLS; do
      P=$(free_port)
      extra=""; [ $impl = corio-rf ] && extra="reply-first: true"
      export MAIL2ALERT_CONFIGURATION=$(config "$P" "$extra") LOGLEVEL=WARNING
      if [ $impl = base ]; then
        "$BASE" --serve 2>"$WORK/$impl.log" & PID=$!; n=$N
      elif [ $impl != original ]; then
        "$M2A" --serve 2>"$WORK/$impl.log" & PID=$!; n=$N
      else
        /usr/bin/python3 "$HERE/run_original.py" "$ORIGINAL" >/dev/null 2>"$WORK/$impl.log" & PID=$!; n=$N_PY
      fi
      wait_port "$P" || { echo "$impl did not start"; cat "$WORK/$impl.log"; exit 1; }
      # One mail first: the groups are fetched and the history set before timing.
      "$LOAD" 127.0.0.1 "$P" 1 1 >/dev/null
      c0=$(cpu_ticks $PID)
      out=$("$LOAD" 127.0.0.1 "$P" "$s" "$n")
      c1=$(cpu_ticks $PID)
      # The original does not exit on SIGINT (aiosmtpd's controller thread
      # lives on): it is killed.
      if [ $impl != original ]; then kill -INT $PID; else kill -KILL $PID; fi
      wait $PID 2>/dev/null || true
      rate=$(echo "$out" | sed -n 's/.*: \([0-9]*\) msg\/s/\1/p')
      cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$n" 'BEGIN{printf "%.1f", t / hz * 1000 / n * 1000}')
      echo "round $r sessions $s $impl: $rate mails/s, $cpu ms CPU per 1000 mails"
      RATE[$impl,$s]="${RATE[$impl,$s]:-} $rate"
      CPU[$impl,$s]="${CPU[$impl,$s]:-} $cpu"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
echo
echo "| senders | program | mails/s | vs original | CPU ms/1000 mails | vs original |"
echo "|---|---|---|---|---|---|"
for s in $SESSIONS; do
  b=$(echo "${RATE[original,$s]:-0}" | median); cb=$(echo "${CPU[original,$s]:-0}" | median)
  for impl in $IMPLS; do
    a=$(echo "${RATE[$impl,$s]}" | median); ca=$(echo "${CPU[$impl,$s]}" | median)
    echo "| $s | $impl | $a | $(awk -v a="$a" -v b="$b" 'BEGIN{if (b > 0) printf "%.1fx", a/b; else print "-"}') | $ca | $(awk -v a="$ca" -v b="$cb" 'BEGIN{if (a > 0) printf "%.1fx", b/a; else print "-"}') |"
  done
done
