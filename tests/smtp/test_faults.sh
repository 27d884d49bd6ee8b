#!/bin/sh
# Faults: a client that vanishes mid-DATA leaves nothing in the spool;
# kill -9 of the daemon right after a 250 loses nothing (the restarted
# daemon delivers the message from the spool); a graceful stop lets a
# session in a transaction finish and turns idle ones away with 421.
. "$(dirname "$0")/lib.sh"

need_swaks

# 1. Mid-DATA disconnect (RST): no m.* nor t.* file, no delivery, and
# the transaction is logged as aborted.
start f1
printf 'EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nDATA\r\nSubject: half\r\n\r\nsome of the' |
    "$probe" chat "$addr" --wait 300 --close >"$tmp/c1"
grep -q '^354' "$tmp/c1" || fail "no 354 before the disconnect"
wait_for "$tmp/f1.log" 'result="aborted: lost connection"' 5 ||
    fail "aborted transaction not logged"
left=$(ls "$tmp/f1.spool" "$tmp/f1.spool/tmp" | grep -c '^[mt]\.')
[ "$left" = 0 ] && [ "$(count_lines "$tmp/f1.out")" = 0 ] &&
    ok "mid-DATA disconnect leaves nothing behind" ||
    { fail "spool after a mid-DATA disconnect:"; ls -l "$tmp/f1.spool" >&2; }
stop "$pid"

# 2. kill -9 right after the 250.  The callback of the first daemon
# always fails, so the message can only have been on disk; the second
# daemon (same spool) must deliver it.
start k1 --fail-deliver 1000000
swaks --server "$addr" --from '<>' --to bounces@fb.example \
    --data @"$samples/postfix-hard-bounce.eml" >"$tmp/c2" 2>&1
kill -KILL "$pid"
wait "$pid" 2>/dev/null
qid=$(sed -n 's/.*250 2.0.0 Ok: queued as \([0-9a-f]*\).*/\1/p' "$tmp/c2")
if [ -z "$qid" ]; then
	fail "no 250 before the kill"; cat "$tmp/c2" >&2
elif ! grep -q -a "^id $qid\$" "$tmp/k1.spool"/m.* 2>/dev/null; then
	fail "acknowledged message $qid is not in the spool"
	ls -l "$tmp/k1.spool" >&2
else
	cp "$tmp/k1.log" "$tmp/k1.log.first"
	start k1
	if wait_for "$tmp/k1.out" "\"queueId\":\"$qid\"" 10 &&
	    grep "\"queueId\":\"$qid\"" "$tmp/k1.out" |
	    grep -q '"eventType":"Bounce"'; then
		ok "kill -9 after 250: delivered after the restart"
	else
		fail "message $qid not delivered after the restart"
		cat "$tmp/k1.log" >&2
	fi
	wait_for "$tmp/k1.log" 'messages of a previous run queued' 2 ||
	    fail "replay not logged"
	spool_empty "$tmp/k1.spool" || fail "spool kept after delivery"
	stop "$pid"
fi

# 3. Graceful stop: a session mid-DATA finishes (250, then 421 4.3.2),
# an idle session gets 421 4.3.2 at once, new connections are refused.
start g1
printf 'EHLO idle\r\n' | "$probe" chat "$addr" --wait 3000 >"$tmp/c3idle" &
idle=$!
{
	printf 'EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nDATA\r\nSubject: slow\r\n\r\n'
	sleep 0.5
	kill -TERM "$pid"
	sleep 0.5
	printf 'the rest\r\n.\r\nQUIT\r\n'
} | "$probe" chat "$addr" --wait 3000 >"$tmp/c3"
wait "$idle"
wait "$pid"
st=$?
grep -q '^250 2.0.0 Ok: queued as' "$tmp/c3" &&
    grep -q '^421 4.3.2' "$tmp/c3" && grep -q '^421 4.3.2' "$tmp/c3idle" &&
    [ $st = 0 ] && grep -q '"eventType"' "$tmp/g1.out" &&
    ok "graceful stop finishes the transaction, then 421" ||
    { fail "graceful stop (status $st)"; cat "$tmp/c3" "$tmp/c3idle" >&2; }
printf 'QUIT\r\n' | "$probe" chat "$addr" --wait 200 >"$tmp/c3after" 2>&1
grep -q '^220' "$tmp/c3after" && fail "a stopped server still accepts"

finish
