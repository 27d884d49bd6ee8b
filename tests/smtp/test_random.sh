#!/bin/sh
# 10,000 random command lines (random verbs, arguments, octets, NULs,
# over-long lines, bare LF) over as many connections as it takes: the
# daemon does not crash, still answers a new client, and stops cleanly
# (under REBOUND_SANITIZE=ON: no sanitizer report, no leak).
. "$(dirname "$0")/lib.sh"

# A high error limit keeps each connection alive long enough for its
# lines to be read (the limit itself is tested in test_limits.sh).
start r1 --max-errors 1000000 --max-message 20000
if "$probe" random "$addr" 10000 "${REBOUND_SMTP_SEED:-4242}" >"$tmp/r1"; then
	ok "$(cat "$tmp/r1")"
else
	fail "server broken by random lines: $(cat "$tmp/r1")"
fi
stop "$pid"
grep -q 'smtp_testd: connections=' "$tmp/r1.log" || fail "no clean stop"
finish
