#!/bin/sh
# rebound serve --maildir: mail already in new/ at the start, mail
# renamed into new/ (as an MDA does) and mail written in place are
# stored, then moved to cur/NAME:2,; while the database is locked a
# message stays in new/ and is stored and moved once the lock goes.
# Also: two Maildirs at once, and a directory that is not a Maildir
# stops the start with a clear error.
# Usage: serve_maildir.sh REBOUND SMTP_PROBE STORE_DBTOOL
. "$(dirname "$0")/lib.sh"
rebound=$testd
dbtool=${3:?usage: $0 REBOUND SMTP_PROBE STORE_DBTOOL}
# A locked database fails a batch after 1 s (not the default 5 s).
REBOUND_STORE_BUSY_TIMEOUT=1s
export REBOUND_STORE_BUSY_TIMEOUT

mk_maildir() {
	mkdir -p "$1/new" "$1/cur" "$1/tmp"
}

# wait_moved MAILDIR NAME: until cur/NAME:2, exists and new/NAME not.
wait_moved() {
	i=0
	while [ ! -f "$1/cur/$2:2," ] || [ -f "$1/new/$2" ]; do
		i=$((i + 1))
		[ $i -gt $((100 * slow)) ] && return 1
		sleep 0.05
	done
	return 0
}

md=$tmp/fb.maildir
md2=$tmp/other.maildir
mk_maildir "$md"
mk_maildir "$md2"
cp "$samples/postfix-hard-bounce.eml" "$md/new/1000.a.host"

serve_start m1 --maildir "$md" --maildir "$md2"
wait_moved "$md" 1000.a.host && wait_stored "$tmp/m1.db" 1 5 &&
    ok "mail in new/ at start: stored, moved to cur/" ||
    { fail "start scan"; ls -R "$md" >&2; cat "$tmp/m1.log" >&2; }

cp "$samples/arf-abuse.eml" "$md2/tmp/1001.b.host"
mv "$md2/tmp/1001.b.host" "$md2/new/1001.b.host"
wait_moved "$md2" 1001.b.host && wait_stored "$tmp/m1.db" 2 5 &&
    ok "delivered by rename: stored, moved" || fail "rename delivery"

cat "$samples/exim-prose-bounce.eml" >"$md/new/1002.c.host"
wait_moved "$md" 1002.c.host && wait_stored "$tmp/m1.db" 3 5 &&
    ok "written in place: stored, moved" || fail "in-place delivery"

# Locked database: the message waits in new/.
if command -v python3 >/dev/null 2>&1 && python3 -c 'import sqlite3' 2>/dev/null
then
	python3 - "$tmp/m1.db" "$tmp/m1.locked" "$tmp/m1.unlock" <<'EOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
for _ in range(600):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.05)
c.execute("ROLLBACK")
EOF
	locker=$!
	daemon_pids="$daemon_pids $locker"
	i=0
	while [ ! -f "$tmp/m1.locked" ] && [ $i -lt 200 ]; do
		sleep 0.05; i=$((i + 1))
	done
	cp "$samples/delay-notice.eml" "$md/tmp/1003.d.host"
	mv "$md/tmp/1003.d.host" "$md/new/1003.d.host"
	wait_for "$tmp/m1.log" 'storing 1 messages failed' 15 ||
	    fail "no failed store while locked"
	[ -f "$md/new/1003.d.host" ] && [ ! -f "$md/cur/1003.d.host:2," ] ||
	    fail "moved to cur/ although not stored"
	: >"$tmp/m1.unlock"
	wait "$locker"
	wait_moved "$md" 1003.d.host && wait_stored "$tmp/m1.db" 4 5 &&
	    ok "locked store: kept in new/, stored and moved after" ||
	    { fail "after the lock"; cat "$tmp/m1.log" >&2; }
else
	echo "note: no python3 sqlite3; the locked-store case is not run"
fi
stop "$pid"

# Not a Maildir: the start fails and says why.
mkdir -p "$tmp/plain"
serve_refused "a directory that is not a Maildir" 'is not a Maildir' \
    --maildir "$tmp/plain"

finish
