#!/bin/sh
# Limits and the reply of each: 1,000 idle connections from one address
# hold no other client out (per-IP limit, 421 4.7.0); a full house
# (total limit) refuses with 421 4.7.0 only until the command timeout
# frees it; recipients (452 4.5.3); errors (421 4.7.0); the DATA
# timeout (421 4.4.2); back-pressure when the pipeline is behind or
# memory is short (451 4.3.1).
. "$(dirname "$0")/lib.sh"

need_swaks
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 1200 ]; then
	echo "SKIP: ulimit -n is $(ulimit -n); 1,000 connections need more" >&2
	exit 77
fi

# 1. 1,000 idle connections from 127.0.0.1 (defaults: 50 per IP).
start l1 --command-timeout 60
"$probe" idle "$addr" 1000 >"$tmp/idle1" &
idle=$!
wait_for "$tmp/idle1" accepted= 20 || fail "idle connections not opened"
grep -q 'accepted=50 refused=950 failed=0' "$tmp/idle1" &&
    ok "1,000 idle connections: 50 kept, 950 refused" ||
    { fail "per-IP limit: $(cat "$tmp/idle1")"; }
if swaks --server "$addr" --local-interface 127.0.0.2 --from '<>' \
    --to bounces@fb.example --data @"$samples/postfix-hard-bounce.eml" \
    >"$tmp/l1" 2>&1 && grep -q '250 2.0.0 Ok: queued' "$tmp/l1"; then
	ok "another client is served meanwhile"
else
	fail "legitimate client held out"; tail -5 "$tmp/l1" >&2
fi
printf 'QUIT\r\n' | "$probe" chat "$addr" --wait 500 >"$tmp/l1b"
grep -q '^421 4.7.0' "$tmp/l1b" || fail "51st connection of 127.0.0.1 not 421"
kill "$idle"
wait "$idle" 2>/dev/null
stop "$pid"

# 2. Total limit 100, idle connections from four addresses: the next
# client gets 421 4.7.0; after the command timeout (2 s) the idle ones
# are cut (421 4.4.2) and it is served.
start l2 --max-connections 100 --command-timeout 2
for ip in 3 4 5; do
	"$probe" idle "$addr" 40 --src "127.0.0.$ip" >"$tmp/idle2.$ip" &
	eval "idle$ip=\$!"
done
for ip in 3 4 5; do
	wait_for "$tmp/idle2.$ip" accepted= 10 || fail "idle2 $ip"
done
acc=$(cat "$tmp/idle2".* | sed 's/accepted=\([0-9]*\).*/\1/' |
    awk '{ s += $1 } END { print s }')
[ "$acc" = 100 ] || fail "total limit: $acc accepted, want 100"
printf 'QUIT\r\n' | "$probe" chat "$addr" --src 127.0.0.6 --wait 500 \
    >"$tmp/l2a"
grep -q '^421 4.7.0' "$tmp/l2a" && ok "full house: 421 4.7.0" ||
    { fail "no 421 at the total limit"; cat "$tmp/l2a" >&2; }
sleep 3.2
printf 'EHLO c\r\nQUIT\r\n' | "$probe" chat "$addr" --src 127.0.0.6 \
    --wait 1000 >"$tmp/l2b"
grep -q '^221' "$tmp/l2b" && ok "idle connections time out, client served" ||
    { fail "still held out after the timeout"; cat "$tmp/l2b" >&2; }
grep -q 'timeouts=' "$tmp/l2.log" || true
kill "$idle3" "$idle4" "$idle5"
wait "$idle3" "$idle4" "$idle5" 2>/dev/null
stop "$pid"
grep -q 'timeouts=100 ' "$tmp/l2.log" ||
    fail "idle timeouts: $(grep timeouts= "$tmp/l2.log")"

# 3. Recipients (3), errors (default 20), DATA timeout (1 s).
start l3 --max-recipients 3 --data-timeout 1
printf 'EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nRCPT TO:<fbl@fb.example>\r\nRCPT TO:<postmaster@fb.example>\r\nRCPT TO:<bounces@fb.example>\r\nQUIT\r\n' |
    "$probe" chat "$addr" >"$tmp/l3a"
grep -q '^452 4.5.3' "$tmp/l3a" && ok "recipient limit 452 4.5.3" ||
    { fail "recipient limit"; cat "$tmp/l3a" >&2; }
i=0
: >"$tmp/in3b"
while [ $i -lt 25 ]; do
	printf 'BOGUS %d\r\n' $i >>"$tmp/in3b"
	i=$((i + 1))
done
"$probe" chat "$addr" <"$tmp/in3b" >"$tmp/l3b"
[ "$(grep -c '^500 5.5.2' "$tmp/l3b")" = 20 ] &&
    grep -q '^421 4.7.0' "$tmp/l3b" && ok "error limit 421 4.7.0" ||
    { fail "error limit"; cat "$tmp/l3b" >&2; }
{
	printf 'EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nDATA\r\nSubject: stalled\r\n'
	sleep 2.5
} | "$probe" chat "$addr" >"$tmp/l3c"
grep -q '^421 4.4.2' "$tmp/l3c" && ok "DATA timeout 421 4.4.2" ||
    { fail "DATA timeout"; cat "$tmp/l3c" >&2; }
wait_for "$tmp/l3.log" 'result="aborted: timeout"' 2 ||
    fail "timeout not logged"
stop "$pid"

# 4. Back-pressure: the callback never succeeds, max_backlog 2: two
# messages are acknowledged, the third MAIL gets 451 4.3.1.
start l4 --max-backlog 2 --fail-deliver 1000000 --stop-timeout 0
txn='MAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nDATA\r\nSubject: q\r\n\r\nx\r\n.\r\n'
printf "EHLO c\r\n$txn$txn${txn}QUIT\r\n" | "$probe" chat "$addr" >"$tmp/l4"
[ "$(grep -c '^250 2.0.0 Ok: queued' "$tmp/l4")" = 2 ] &&
    grep -q '^451 4.3.1' "$tmp/l4" && ok "back-pressure 451 4.3.1" ||
    { fail "back-pressure"; cat "$tmp/l4" >&2; }
stop "$pid"

# 5. Memory: max_memory 4 MB leaves 3 MB for messages in flight; a
# 5 MB message (under max_message) is read, dropped and refused with
# 451 4.3.1; a small one afterwards is accepted.
start l5 --max-memory 4000000
{
	printf 'EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nDATA\r\n'
	awk 'BEGIN { printf "Subject: big\r\n\r\n"
	    for (i = 0; i < 75000; i++) printf "%070d\r\n", i
	    printf ".\r\n" }'
	printf "$txn"'QUIT\r\n'
} | "$probe" chat "$addr" >"$tmp/l5"
grep -q '^451 4.3.1' "$tmp/l5" &&
    [ "$(grep -c '^250 2.0.0 Ok: queued' "$tmp/l5")" = 1 ] &&
    ok "memory budget: 451 4.3.1 for a message that does not fit" ||
    { fail "memory budget"; cat "$tmp/l5" >&2; }
grep -q 'result="451 4.3.1 dropped: memory short"' "$tmp/l5.log" ||
    fail "memory drop not logged"
stop "$pid"

finish
