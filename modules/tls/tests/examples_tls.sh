#!/bin/sh
# The TLS examples from outside, with the documented command lines:
#   examples/tls_echo_server PORT CERT KEY
#   examples/echo_client --tls --cafile ca.pem HOST PORT   (and --insecure, --tls)
# usage: examples_tls.sh EXAMPLES_DIR MAKE_TEST_CERTS_SH
set -u
ex=$1
command -v openssl >/dev/null 2>&1 || { echo "SKIP: no openssl command"; exit 77; }
[ -x "$ex/tls_echo_server" ] || { echo "SKIP: no tls_echo_server"; exit 77; }
tmp=$(mktemp -d /tmp/corio-tls-ex-XXXXXX)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
sh "$2" "$tmp" || exit 1
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

"$ex/tls_echo_server" 0 "$tmp/server.pem" "$tmp/server.key" >"$tmp/log" 2>&1 &
srv=$!
i=0
while ! grep -q "listening on" "$tmp/log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/log")
check "server listens" '[ -n "$port" ]'

out=$(printf 'hello\nworld\n' | "$ex/echo_client" --tls --cafile "$tmp/ca.pem" localhost "$port" 2>"$tmp/err")
check "echo over TLS, verified against --cafile" '[ "$out" = "$(printf "hello\nworld")" ] && [ ! -s "$tmp/err" ]'

printf 'x\n' | "$ex/echo_client" --tls localhost "$port" >/dev/null 2>"$tmp/err"; rc=$?
check "--tls alone: the system store does not know our CA, exit 1" '[ $rc -eq 1 ]'
check "  one line naming the reason" '[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "certificate verify failed: unable to get local issuer certificate" "$tmp/err"'

printf 'x\n' | "$ex/echo_client" --tls --cafile "$tmp/ca.pem" 127.0.0.1 "$port" >/dev/null 2>"$tmp/err"; rc=$?
check "an IP address is checked against the IP SAN" '[ $rc -eq 0 ]'

out=$(printf 'x\n' | "$ex/echo_client" --insecure localhost "$port" 2>"$tmp/err"); rc=$?
check "--insecure works and says so" '[ $rc -eq 0 ] && [ "$out" = x ] && grep -q "not verified" "$tmp/err"'

"$ex/echo_client" --cafile "$tmp/self.pem" localhost "$port" </dev/null >/dev/null 2>"$tmp/err"; rc=$?
check "wrong CA: exit 1" '[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]'

out=$(echo ping | timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$tmp/ca.pem" -verify_return_error -quiet 2>/dev/null | head -1)
check "openssl s_client is echoed" '[ "$out" = ping ]'

"$ex/echo_client" --tls --cafile "$tmp/ca.pem" 2>/dev/null; rc=$?
check "usage: exit 2" '[ $rc -eq 2 ]'

kill -TERM "$srv"
i=0
while kill -0 "$srv" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
wait "$srv"; rc=$?
srv=""
check "SIGTERM: exit 0, closed" '[ $rc -eq 0 ] && grep -q "^SIGTERM: closing" "$tmp/log" && grep -q "^closed" "$tmp/log"'
check "the failed handshakes were logged" 'grep -q "handshake failed" "$tmp/log"'
[ $fail -eq 0 ] || cat "$tmp/log"
exit $fail
