#!/bin/sh
# Build the examples and run them with the real clock, showing how long
# each takes: say_after (awaited one after the other) takes about 3 s,
# say_after_tasks (the same calls as two tasks) about 2 s.
#
#   scripts/demo.sh [BUILD_DIR] [NAME...]
#
# BUILD_DIR (default: $BUILD_DIR, else build) is configured if needed and
# built; NAME... are examples to run (default: all, about 20 s: the ones
# that only wait on the clock run side by side, see start_plain).  The
# programs that serve or wait for a signal run as small scenes: a server on
# a free port of 127.0.0.1 driven by a client and stopped with SIGINT, the
# graceful shutdown stopped by SIGINT after a second.  Exits 1 if any
# example failed.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
if [ $# -gt 0 ] && [ -d "$1" ]; then
    build=$(cd "$1" && pwd)
    shift
fi
if [ $# -gt 0 ]; then
    all="$*"
else
    # The tutorial's order, then any example it does not know yet.
    all="hello countdown say_after say_after_tasks taskgroup gather gather_errors"
    all="$all wait_for shield wait as_completed timeout cpu_yield tasks_in_loop"
    for src in "$root"/examples/*.c; do
        name=$(basename "$src" .c)
        case " $all " in *" $name "*) ;; *) all="$all $name" ;; esac
    done
    # The modules' examples, as scenes (each only if its module is built).
    all="$all tls_echo_server httpbin smtp_sink mail2alert"
fi

# The echo scenes drive the servers with echo_client; the module scenes
# have their own clients.  A module that is switched off (its dependency
# missing) has no target: its scene says so and is skipped.
targets=
for n in $all; do
    case $n in
    tls_echo_server) targets="$targets $n echo_client" ;;
    httpbin) targets="$targets $n fetch_ab http_get" ;;
    smtp_sink) targets="$targets $n smtp_send" ;;
    mail2alert) targets="$targets $n smtp_sink smtp_send" ;;
    *) targets="$targets $n" ;;
    esac
done
if [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCORIO_BUILD_EXAMPLES=ON >/dev/null 2>&1; then
    # a target cmake does not know (a module switched off) is left out
    known=$(cmake --build "$build" --target help 2>/dev/null)
    have=
    for n in $targets; do
        if printf '%s\n' "$known" | grep -q "\.\.\. $n\$"; then have="$have $n"; fi
    done
    targets=$have
fi
case " $all " in *" echo_server"* | *" echo_client "*) targets="$targets echo_client" ;; esac

# Build quietly; show the build's output only if it fails.
log=$(mktemp)
# shellcheck disable=SC2086
if ! { [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCORIO_BUILD_EXAMPLES=ON; } >"$log" 2>&1 ||
   ! cmake --build "$build" -j2 --target $targets >>"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi

# The examples print through stdio; keep it line-buffered even when this
# script's output goes to a pipe, so that each line shows up when printed.
linebuf=
command -v stdbuf >/dev/null 2>&1 && linebuf="stdbuf -oL"

# ---- scenes for the programs that need a peer or a signal ------------------------
# Every scene starts its server on a free port of 127.0.0.1 (port 0; the
# port is read from the server's first line), drives it, stops it with
# SIGINT and shows what it printed.  Every wait is bounded, so the demo
# always ends.
tmp=$(mktemp -d)
trap 'rm -f "$log"; kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# start_server NAME [ARG...]: run examples/NAME ARG... (default: port 0) in
# the background; sets srv_pid and srv_port (empty if it did not start
# within 10 s) from its "listening on 127.0.0.1:PORT" line.
start_server() {
    srv_name=$1
    shift
    [ $# -gt 0 ] || set -- 0
    : >"$tmp/$srv_name.out"
    $linebuf "$build/examples/$srv_name" "$@" >"$tmp/$srv_name.out" 2>&1 &
    srv_pid=$!
    srv_port=
    for _ in $(seq 100); do
        srv_port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*$/\1/p' "$tmp/$srv_name.out" | head -n 1)
        [ -n "$srv_port" ] && return 0
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "demo: $srv_name did not start" >&2
    return 1
}

# stop_server NAME: SIGINT, wait (SIGKILL after 10 s), then show its output.
stop_server() {
    kill -INT "$srv_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$srv_pid" 2>/dev/null || true
    st=0
    wait "$srv_pid" 2>/dev/null || st=$?
    printf -- '-- what %s printed:\n' "$1"
    sed 's/^/   | /' "$tmp/$1.out"
    return $st
}

# An echo server driven by examples/echo_client.
scene_echo() {
    start_server "$1" || return 1
    printf '$ printf "hello\\nworld\\n" | echo_client 127.0.0.1 %s\n' "$srv_port"
    printf 'hello\nworld\n' | timeout 10 "$build/examples/echo_client" 127.0.0.1 "$srv_port" || true
    stop_server "$1"
}

# The chat: two clients (small Python scripts) join; one speaks, the other hears.
scene_chat() {
    start_server chat_server || return 1
    timeout 10 python3 - "$srv_port" <<'PY' || true
import socket, sys, time
port = int(sys.argv[1])
alice = socket.create_connection(("127.0.0.1", port))
bob = socket.create_connection(("127.0.0.1", port))
time.sleep(0.2)  # both have joined
alice.sendall(b"hello, is anyone here?\n")
print("bob hears:", bob.makefile().readline(), end="")
bob.sendall(b"hi alice\n")
print("alice hears:", alice.makefile().readline(), end="")
alice.close(); bob.close()
time.sleep(0.2)
PY
    stop_server chat_server
}

# survey against a Python web server, plus a port where nothing listens.
scene_survey() {
    python3 -u -m http.server --bind 127.0.0.1 0 >"$tmp/http.out" 2>&1 &
    http_pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$tmp/http.out" | head -n 1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    printf '127.0.0.1:%s\n127.0.0.1:%s\n127.0.0.1:1\n' "$port" "$port" >"$tmp/hosts"
    printf '$ cat hosts\n'
    cat "$tmp/hosts"
    printf '$ survey hosts\n'
    st=0
    timeout 20 "$build/examples/survey" "$tmp/hosts" || st=$?
    kill "$http_pid" 2>/dev/null
    wait "$http_pid" 2>/dev/null || true
    return $st
}

# TLS: certificates made for the scene, the echo server over TLS, the
# echo client verifying it against the scene's CA.
scene_tls() {
    sh "$root/scripts/make-test-certs.sh" "$tmp/certs" >/dev/null 2>&1 || { echo "demo: openssl could not make certificates"; return 1; }
    start_server tls_echo_server 0 "$tmp/certs/server.pem" "$tmp/certs/server.key" || return 1
    printf '$ printf "hello over TLS\\n" | echo_client --tls --cafile ca.pem localhost %s\n' "$srv_port"
    printf 'hello over TLS\n' | timeout 10 "$build/examples/echo_client" --tls --cafile "$tmp/certs/ca.pem" localhost "$srv_port" || true
    stop_server tls_echo_server
}

# HTTP: the httpbin server, one GET with http_get, and the seed's A/B test
# (three requests to /delay/0.5 one after another, then all at once).
scene_http() {
    start_server httpbin || return 1
    printf '$ http_get http://127.0.0.1:%s/\n' "$srv_port"
    timeout 10 "$build/examples/http_get" "http://127.0.0.1:$srv_port/" || true
    echo
    printf '$ fetch_ab -n 3 http://127.0.0.1:%s/delay/0.5\n' "$srv_port"
    timeout 20 "$build/examples/fetch_ab" -n 3 "http://127.0.0.1:$srv_port/delay/0.5" || true
    stop_server httpbin
}

# SMTP: the sink keeps what smtp_send sends; the stored message is shown.
scene_smtp() {
    mkdir -p "$tmp/mail"
    start_server smtp_sink -d "$tmp/mail" 0 || return 1
    printf '$ printf "Subject: build 42 failed\\n\\nsee the log\\n" | smtp_send 127.0.0.1 %s ci@example.com team@example.com\n' "$srv_port"
    printf 'Subject: build 42 failed\n\nsee the log\n' |
        timeout 10 "$build/examples/smtp_send" 127.0.0.1 "$srv_port" ci@example.com team@example.com || true
    for f in "$tmp"/mail/*; do
        [ -f "$f" ] || continue
        printf -- '-- %s:\n' "$(basename "$f")"
        sed 's/^/   | /' "$f"
    done
    stop_server smtp_sink
}

# mail2alert between smtp_send and smtp_sink: a mail from go@example.com
# about a backup goes to the two addresses of the rule (To: rewritten), a
# mail nobody wants goes on unchanged (only X-Peer added).
scene_mail2alert() {
    mkdir -p "$tmp/m2a"
    start_server smtp_sink -d "$tmp/m2a" 0 || return 1
    m2a_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$tmp/configuration.yml" <<EOF
local-smtp: 127.0.0.1:$m2a_port
remote-smtp: 127.0.0.1:$srv_port
managers:
  - name: mail
    messages-we-want: {from: go@example.com}
    rules:
      - actions: [mailto:sys@example.com, mailto:op@example.com]
        filter: {function: mail.in_subject, args: [server, backup]}
EOF
    printf -- '-- configuration.yml:\n'
    sed 's/^/   | /' "$tmp/configuration.yml"
    LOGLEVEL=INFO MAIL2ALERT_CONFIGURATION="$tmp/configuration.yml" \
        $linebuf "$build/examples/mail2alert" --serve >"$tmp/mail2alert.out" 2>&1 &
    m2a_pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$m2a_port") 2>/dev/null && break
        sleep 0.1
    done
    printf '$ printf "Subject: Server backup done\\n\\nall well\\n" | smtp_send 127.0.0.1 %s go@example.com alerts@example.com\n' "$m2a_port"
    printf 'Subject: Server backup done\n\nall well\n' |
        timeout 10 "$build/examples/smtp_send" 127.0.0.1 "$m2a_port" go@example.com alerts@example.com || true
    printf '$ printf "Subject: lunch\\n\\nat noon\\n" | smtp_send 127.0.0.1 %s bob@example.com team@example.com\n' "$m2a_port"
    printf 'Subject: lunch\n\nat noon\n' |
        timeout 10 "$build/examples/smtp_send" 127.0.0.1 "$m2a_port" bob@example.com team@example.com || true
    kill -INT "$m2a_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$m2a_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$m2a_pid" 2>/dev/null || true
    st=0
    wait "$m2a_pid" 2>/dev/null || st=$?
    for f in "$tmp"/m2a/*; do
        [ -f "$f" ] || continue
        printf -- '-- what arrived at the sink, %s:\n' "$(basename "$f")"
        sed 's/^/   | /' "$f"
    done
    printf -- '-- what mail2alert logged:\n'
    sed 's/^/   | /' "$tmp/mail2alert.out"
    stop_server smtp_sink
    return $st
}

# A service that runs until a signal: SIGINT after a moment.
scene_graceful() {
    $linebuf "$build/examples/graceful_shutdown" &
    pid=$!
    sleep 1
    printf '$ kill -INT %s\n' "$pid"
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    st=0
    wait "$pid" || st=$?
    return $st
}

# The examples that only wait on the clock (say_after, gather, ...) run all
# at once in the background, each into its own file: their times are
# their own (each runs on the real clock; they sleep, they do not compete
# for the CPU), and the demo prints them in the tutorial's order as they
# finish, so it takes about as long as the longest of them instead of
# their sum.
is_scene() {
    case $1 in
    echo_server | echo_server_proto | echo_client | chat_server | survey | graceful_shutdown) return 0 ;;
    tls_echo_server | httpbin | smtp_sink | mail2alert) return 0 ;;
    *) return 1 ;;
    esac
}

start_plain() {
    (
        t0=$(date +%s%N)
        st=0
        $linebuf "$build/examples/$1" >"$tmp/$1.run" 2>&1 </dev/null || st=$?
        t1=$(date +%s%N)
        echo "$st $(((t1 - t0) / 1000000))" >"$tmp/$1.tmp" && mv "$tmp/$1.tmp" "$tmp/$1.done"
    ) &
}

# finish_plain NAME: wait for it (at most 60 s), show what it printed; sets ms.
finish_plain() {
    for _ in $(seq 1200); do [ -f "$tmp/$1.done" ] && break; sleep 0.05; done
    if [ ! -f "$tmp/$1.done" ]; then
        cat "$tmp/$1.run"
        echo "demo: $1 did not end within 60 s" >&2
        ms=60000
        return 1
    fi
    cat "$tmp/$1.run"
    read -r st ms <"$tmp/$1.done"
    return "$st"
}

run_example() {
    case $1 in
    echo_server | echo_server_proto) scene_echo "$1" ;;
    echo_client) scene_echo echo_server ;;
    chat_server) scene_chat ;;
    survey) scene_survey ;;
    graceful_shutdown) scene_graceful ;;
    tls_echo_server) scene_tls ;;
    httpbin) scene_http ;;
    smtp_sink) scene_smtp ;;
    mail2alert) scene_mail2alert ;;
    esac
}

unset CORIO_VIRTUAL_CLOCK
for name in $all; do
    case " $targets " in *" $name "*) is_scene "$name" || start_plain "$name" ;; esac
done
summary=
failed=0
for name in $all; do
    case " $targets " in
    *" $name "*) ;;
    *) printf '\n== %s: not built here (its module is switched off), skipped\n' "$name"; continue ;;
    esac
    # where its source is: examples/, a module's examples/, or apps/
    src=$(cd "$root" && ls examples/"$name".c modules/*/examples/"$name".c modules/*/*/examples/"$name".c 2>/dev/null | head -n 1)
    case $name in
    mail2alert) printf '\n== %s  (apps/mail2alert, its README)\n' "$name" ;;
    *) printf '\n== %s  (%s, docs/tutorial.md)\n' "$name" "${src:-examples/$name.c}" ;;
    esac
    status=0
    if is_scene "$name"; then
        t0=$(date +%s%N)
        run_example "$name" || status=$?
        t1=$(date +%s%N)
        ms=$(((t1 - t0) / 1000000))
    else
        finish_plain "$name" || status=$?
    fi
    took=$(printf '%d.%03d s' $((ms / 1000)) $((ms % 1000)))
    [ $status -eq 0 ] || { took="$took, exit status $status"; failed=1; }
    printf -- '-- %s took %s\n' "$name" "$took"
    summary="$summary$(printf '  %-16s %s' "$name" "$took")
"
done

printf '\nWall-clock time of each example (real clock):\n%s' "$summary"
exit $failed
