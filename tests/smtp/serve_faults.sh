#!/bin/sh
# Faults of the real `rebound serve`: nothing acknowledged is lost.
#  1. The database is locked by another process, so the pipeline cannot
#     store: a message still gets its 250 (it is on disk in the spool),
#     kill -9, the lock goes, a restart replays the spool: the message's
#     events are in the store and the spool is empty.
#  2. kill -9 right after a 250 (no lock): after a restart the events
#     are in the store, whether stored before the kill or replayed.
#  3. A client that disconnects mid-DATA leaves nothing: no spool file,
#     no message in the store, an "aborted" log line.
#  4. 1,000 idle connections from one address hold no other client out.
# Usage: serve_faults.sh REBOUND SMTP_PROBE STORE_DBTOOL
. "$(dirname "$0")/lib.sh"
rebound=$testd
dbtool=${3:?usage: $0 REBOUND SMTP_PROBE STORE_DBTOOL}
# A locked database fails a batch after 1 s (not the default 5 s).
REBOUND_STORE_BUSY_TIMEOUT=1s
export REBOUND_STORE_BUSY_TIMEOUT

need_swaks
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3" >&2; exit 77; }
python3 -c 'import sqlite3' 2>/dev/null ||
    { echo "SKIP: python3 has no sqlite3 module" >&2; exit 77; }

# 1. Locked database.  The store waits 1 s for a lock, then fails; the
# spool retries the batch after a back-off.
serve_start k1
"$dbtool" count "$tmp/k1.db" messages >/dev/null ||
    fail "no database after the start"
python3 - "$tmp/k1.db" "$tmp/k1.locked" <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(60)
EOF
locker=$!
daemon_pids="$daemon_pids $locker"
i=0
while [ ! -f "$tmp/k1.locked" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
swaks --server "$addr" --from '<>' --to bounces@fb.example \
    --data @"$samples/postfix-hard-bounce.eml" >"$tmp/k1.swaks" 2>&1
qid=$(sed -n 's/.*250 2.0.0 Ok: queued as \([0-9a-f]*\).*/\1/p' "$tmp/k1.swaks")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
if [ -z "$qid" ]; then
	fail "no 250 while the database was locked"; cat "$tmp/k1.swaks" >&2
elif ! grep -q -a "^id $qid\$" "$tmp/k1.spool"/m.* 2>/dev/null; then
	fail "acknowledged message $qid is not in the spool"
fi
[ "$("$dbtool" count "$tmp/k1.db" messages)" = 0 ] ||
    fail "stored although the database was locked"
kill "$locker" 2>/dev/null
wait "$locker" 2>/dev/null
serve_start k1
if wait_stored "$tmp/k1.db" 1 10; then
	ok "locked store, kill -9 after 250: stored after the restart"
else
	fail "message $qid lost"; cat "$tmp/k1.log" >&2
fi
grep -q 'messages of a previous run queued' "$tmp/k1.log" ||
    fail "replay not logged"
"$rebound" suppression check --db "$tmp/k1.db" anna.schmidt@example.net \
    >/dev/null && fail "its bounce did not suppress"
spool_empty "$tmp/k1.spool" || fail "spool kept after the store"
stop "$pid"

# 2. kill -9 at once after the 250 (three times: any moment will do).
serve_start k2
for r in 1 2 3; do
	swaks --server "$addr" --from '<>' --to fbl@fb.example \
	    --header "X-Round: $r" --data @"$samples/arf-abuse.eml" \
	    >"$tmp/k2.swaks" 2>&1
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	grep -q '250 2.0.0 Ok: queued' "$tmp/k2.swaks" ||
	    fail "no 250 in round $r"
	serve_start k2
done
wait_stored "$tmp/k2.db" 3 10 &&
    ok "kill -9 right after 250, three times: all 3 stored" ||
    fail "kill -9: $("$dbtool" count "$tmp/k2.db" messages) of 3 stored"
stop "$pid"

# 3. Mid-DATA disconnect.
serve_start f1
printf 'EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nDATA\r\nSubject: half\r\n\r\nsome of the' |
    "$probe" chat "$addr" --wait 300 --close >"$tmp/f1.c"
grep -q '^354' "$tmp/f1.c" || fail "no 354 before the disconnect"
wait_for "$tmp/f1.log" 'result="aborted: lost connection"' 5 ||
    fail "aborted transaction not logged"
left=$(ls "$tmp/f1.spool" "$tmp/f1.spool/tmp" | grep -c '^[mt]\.')
[ "$left" = 0 ] && [ "$("$dbtool" count "$tmp/f1.db" messages)" = 0 ] &&
    ok "mid-DATA disconnect leaves nothing behind" ||
    { fail "left after a mid-DATA disconnect:"; ls -l "$tmp/f1.spool" >&2; }
stop "$pid"

# 4. 1,000 idle connections from one address (default: 50 per IP) hold
# no other client out: the 51st and later get 421 4.7.0, a client from
# another address is served and its message stored.
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 1200 ]; then
	echo "note: ulimit -n is $(ulimit -n); 1,000 idle connections not tested"
else
	serve_start i1
	"$probe" idle "$addr" 1000 >"$tmp/i1.idle" &
	idle=$!
	daemon_pids="$daemon_pids $idle"
	wait_for "$tmp/i1.idle" accepted= 20 || fail "idle connections not opened"
	grep -q 'accepted=50 refused=950 failed=0' "$tmp/i1.idle" ||
	    fail "per-IP limit of serve: $(cat "$tmp/i1.idle")"
	if swaks --server "$addr" --local-interface 127.0.0.2 --from '<>' \
	    --to bounces@fb.example --data @"$samples/postfix-hard-bounce.eml" \
	    >"$tmp/i1.swaks" 2>&1 && grep -q '250 2.0.0 Ok: queued' "$tmp/i1.swaks" &&
	    wait_stored "$tmp/i1.db" 1 10; then
		ok "1,000 idle connections: 50 kept, 950 refused, another client served and stored"
	else
		fail "legitimate client held out by idle ones"; tail -5 "$tmp/i1.swaks" >&2
	fi
	kill "$idle" 2>/dev/null
	wait "$idle" 2>/dev/null
	stop "$pid"
fi

finish
