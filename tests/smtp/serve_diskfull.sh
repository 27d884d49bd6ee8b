#!/bin/sh
# A full spool disk under the real `rebound serve`: nothing acknowledged
# is lost and nothing is acknowledged that is not on disk.  The spool is
# a 256 KB tmpfs and the database is locked (as in serve_faults.sh), so
# the spool cannot drain: messages get 250 until the disk is full, then
# 451 4.3.0 with "No space left on device" in the log.  Once the lock
# goes, every acknowledged message is stored (and no other), the spool
# empties, and a new message gets its 250 again.
# Needs root and a tmpfs mount (a container that allows it); else skips.
# Usage: serve_diskfull.sh REBOUND SMTP_PROBE STORE_DBTOOL
. "$(dirname "$0")/lib.sh"
rebound=$testd
dbtool=${3:?usage: $0 REBOUND SMTP_PROBE STORE_DBTOOL}
REBOUND_STORE_BUSY_TIMEOUT=1s
export REBOUND_STORE_BUSY_TIMEOUT

need_swaks
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3" >&2; exit 77; }
python3 -c 'import sqlite3' 2>/dev/null ||
    { echo "SKIP: python3 has no sqlite3 module" >&2; exit 77; }
small=$tmp/small
mkdir -p "$small"
if [ "$(id -u)" != 0 ] ||
    ! mount -t tmpfs -o size=256k tmpfs "$small" 2>/dev/null; then
	echo "SKIP: cannot mount a small tmpfs (needs root)" >&2
	exit 77
fi
# lib.sh's cleanup removes $tmp: unmount first.
trap 'for p in $daemon_pids; do kill -KILL "$p" 2>/dev/null; done;
    umount "$small" 2>/dev/null || umount -l "$small"; rm -rf "$tmp"' EXIT

serve_start d1 --spool "$small/spool"
python3 - "$tmp/d1.db" "$tmp/d1.locked" "$tmp/d1.unlock" <<'EOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
for _ in range(1200):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.05)
EOF
locker=$!
daemon_pids="$daemon_pids $locker"
i=0
while [ ! -f "$tmp/d1.locked" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done

# send N: one message, the reply to its data in $tmp/d1.last; 0 when
# 250.
send() {
	swaks --server "$addr" --from '<>' --to bounces@fb.example \
	    --header "X-Seq: $1" --data @"$samples/postfix-hard-bounce.eml" \
	    >"$tmp/d1.swaks" 2>&1
	# The reply to the end of DATA: a queue id, or an error (<**).
	grep -E ' 250 2.0.0 Ok: queued|^<\*\* ' "$tmp/d1.swaks" | head -n 1 \
	    >"$tmp/d1.last"
	grep -q ' 250 2.0.0 Ok: queued' "$tmp/d1.last"
}

acked=0 refused=0 n=0
# 256 KB hold some 60 of these messages: at most 200 tries, and a few
# more after the first refusal (the disk stays full).
while [ $n -lt 200 ] && [ $refused -lt 3 ]; do
	n=$((n + 1))
	if send "$n"; then
		acked=$((acked + 1))
	elif grep -q '451 4.3.0' "$tmp/d1.last"; then
		refused=$((refused + 1))
	else
		fail "message $n: neither 250 nor 451: $(cat "$tmp/d1.last")"
		break
	fi
done
if [ $refused -gt 0 ] && [ $acked -gt 10 ]; then
	ok "full spool disk: $acked acknowledged, then 451 4.3.0"
else
	fail "full spool disk: $acked acknowledged, $refused refused of $n"
fi
grep -q 'No space left on device' "$tmp/d1.log" ||
    fail "no 'No space left on device' in the log"
[ "$("$dbtool" count "$tmp/d1.db" messages)" = 0 ] ||
    fail "stored although the database was locked"

# Room again: the lock goes, the spool drains into the store.
: >"$tmp/d1.unlock"
wait "$locker" 2>/dev/null
if wait_stored "$tmp/d1.db" "$acked" 30; then
	ok "every acknowledged message stored once the spool drains"
else
	fail "$("$dbtool" count "$tmp/d1.db" messages) of $acked stored"
fi
spool_empty "$small/spool" || fail "spool not emptied"
sleep 1
got=$("$dbtool" count "$tmp/d1.db" messages)
[ "$got" = "$acked" ] ||
    fail "$got stored for $acked acknowledged (a refused one stored?)"
if send after; then
	wait_stored "$tmp/d1.db" $((acked + 1)) 10 &&
	    ok "after the disk has room again: 250 and stored" ||
	    fail "the message after the full disk was not stored"
else
	fail "still refused once the disk has room: $(cat "$tmp/d1.last")"
fi
stop "$pid"
finish
