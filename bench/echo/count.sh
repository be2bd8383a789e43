#!/usr/bin/env bash
# bench/echo/count.sh - the echo counts alone (what run.sh's "counts" pass
# does, without the timed runs): user-space instructions per message
# (callgrind) and system calls per message (strace -f -c) of the corio echo
# servers, each the difference of two run lengths (N1 and N2 1 KiB
# messages on 100 connections, load.c), so start-up and shutdown cancel.
#
#   bash bench/echo/count.sh BUILD                 every server, both counts, both backends
#   KINDS=callgrind SERVERS=echo_server_proto BACKENDS=epoll bash bench/echo/count.sh BUILD
#   N1=20000 N2=60000 (the defaults)
#   KEEP=DIR keeps each run's raw output there (callgrind files for
#   callgrind_annotate, strace tables), named SERVER_BACKEND_N.KIND
#
# BUILD is a Release build directory with the examples (echo_server,
# echo_server_proto).  Callgrind runs on epoll only unless BACKENDS says
# otherwise (Valgrind does not know io_uring's system calls).  One line per
# count: "server backend kind total1 total2 per_msg".
set -u
BUILD=${1:?usage: count.sh BUILD}
N1=${N1:-20000}
N2=${N2:-60000}
KINDS=${KINDS:-callgrind strace}
SERVERS=${SERVERS:-echo_server echo_server_proto}
BACKENDS=${BACKENDS:-epoll io_uring}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -std=c17 -Wall -Wextra -o "$tmp/load" "$root/bench/echo/load.c" || exit 1

# count KIND SERVER BACKEND N: the server's total over a run of N messages.
count() {
    local kind=$1 srv=$2 bk=$3 n=$4 f="$tmp/out" port spid child i c
    port=$((20000 + RANDOM % 20000))
    rm -f "$f"
    if [ "$kind" = strace ]; then
        CORIO_BACKEND=$bk strace -f -c -o "$f" "$BUILD/examples/$srv" "$port" >/dev/null 2>&1 &
    else
        CORIO_BACKEND=$bk valgrind --tool=callgrind --callgrind-out-file="$f" "$BUILD/examples/$srv" "$port" >/dev/null 2>&1 &
    fi
    spid=$!
    for ((i = 0; i < 300; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    "$tmp/load" -p "$port" -c 100 -i "$srv" -n "$n" -T 300 >/dev/null 2>&1 || { echo "load failed: $srv $bk $kind" >&2; }
    child=$spid
    if [ "$kind" = strace ]; then # signal the traced server, strace's child
        for ((i = 0; i < 20; i++)); do
            c=$(cat /proc/"$spid"/task/*/children 2>/dev/null | awk '{print $1; exit}')
            [ -n "$c" ] && { child=$c; break; }
            sleep 0.05
        done
    fi
    kill -TERM "$child" 2>/dev/null
    wait "$spid" 2>/dev/null
    [ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$f" "$KEEP/${srv}_${bk}_$n.$kind"
    if [ "$kind" = strace ]; then
        awk '$NF == "total" {print $4}' "$f"
    else
        awk '/^totals:/{print $2; exit} /^summary:/{s=$2} END{if (s) print s}' "$f" | head -1
    fi
}

for kind in $KINDS; do
    for srv in $SERVERS; do
        for bk in $BACKENDS; do
            [ "$kind" = callgrind ] && [ "$bk" != epoll ] && [ -z "${CALLGRIND_URING:-}" ] && continue
            a=$(count "$kind" "$srv" "$bk" "$N1")
            b=$(count "$kind" "$srv" "$bk" "$N2")
            if [ -z "$a" ] || [ -z "$b" ]; then
                echo "$srv $bk $kind: no count" >&2
                continue
            fi
            echo "$srv $bk $kind $a $b $(awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN{printf "%.4f", (b-a)/(n2-n1)}')"
        done
    done
done
