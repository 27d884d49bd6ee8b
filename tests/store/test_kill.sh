#!/bin/sh
# kill -9 at random points of a large ingest, then ingest again: the
# database ends exactly as after one clean run (every row of every table,
# ids included), and passes PRAGMA integrity_check.  Batches are small
# (store.batch_size=40) so that kills land inside transactions, between
# them, in checkpoints and in the final prune.  Each kill waits for a
# random number of committed messages (polled from a second process, as
# WAL allows), so it lands inside the run whatever the load of the
# machine and on a slow (sanitizer) build alike.
#
# Usage: test_kill.sh REBOUND_BINARY STORE_DBTOOL
# Environment: REBOUND_KILL_MESSAGES (default 4000, 2000 under the
# sanitizers), REBOUND_KILL_ROUNDS (default 5, 3 under the sanitizers).
set -u

bin=${1:?usage: test_kill.sh REBOUND_BINARY STORE_DBTOOL}
tool=${2:?usage: test_kill.sh REBOUND_BINARY STORE_DBTOOL}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-store-kill.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE
export REBOUND_DATA_DIR="${REBOUND_DATA_DIR:-$root/data}"
export REBOUND_NOW=2024-06-01T12:00:00Z
export REBOUND_STORE_BATCH_SIZE=40
unset REBOUND_CONFIG
# Under the sanitizers (REBOUND_SANITIZE=1) everything is ~5x slower:
# fewer messages and rounds keep the test within its ctest timeout.
if [ "${REBOUND_SANITIZE:-0}" = 1 ]; then
	total=${REBOUND_KILL_MESSAGES:-2000}
	rounds=${REBOUND_KILL_ROUNDS:-3}
else
	total=${REBOUND_KILL_MESSAGES:-4000}
	rounds=${REBOUND_KILL_ROUNDS:-5}
fi

# A Maildir of distinct messages: our samples and fixtures, each copy
# with a header of its own, and hard bounces of shop.example.com.
md=$tmp/Maildir
mkdir -p "$md/new" "$md/cur" "$md/tmp"
# One awk: a shell loop with a fork per file took most of the test.
# Both new/ and cur/ hold messages (an empty one trips UBSan in
# ingest/mailbox.c's qsort).
ls "$root"/data/samples/*.eml "$root"/tests/corpus/classify/*.eml |
    awk -v total="$total" -v md="$md" '
	{ files[n++] = $0 }
	END {
		for (i = 0; i < total; ) {
			for (k = 0; k < n + 10 && i < total; k++) {
				out = sprintf("%s/%s/%06d", md,
				    i % 2 == 0 ? "cur" : "new", i)
				if (k < n) {
					# A copy with a header of its own.
					printf "X-Kill-Copy: %d\n", i > out
					while ((getline line < files[k]) > 0)
						print line > out
					close(files[k])
				} else {
					# A hard bounce of shop.example.com.
					printf "%s", dsn(i) > out
				}
				close(out)
				i++
			}
		}
	}
	function dsn(i) {
		return "From: MAILER-DAEMON@mx.example.net\n" \
		    "Subject: Undelivered Mail Returned to Sender\n" \
		    "Date: Sat, 01 Jun 2024 11:00:00 +0000\n" \
		    "Message-ID: <kill-" i "@mx.example.net>\n" \
		    "MIME-Version: 1.0\n" \
		    "Content-Type: multipart/report;" \
		    " report-type=delivery-status; boundary=\"K\"\n\n" \
		    "--K\nContent-Type: message/delivery-status\n\n" \
		    "Reporting-MTA: dns; mx.example.net\n\n" \
		    "Final-Recipient: rfc822; user" i "@example.net\n" \
		    "Action: failed\nStatus: 5.1.1\n\n" \
		    "--K\nContent-Type: text/rfc822-headers\n\n" \
		    "From: Shop <orders@shop.example.com>\n" \
		    "Subject: order " i "\n\n--K--\n"
	}'
if [ "$(ls "$md/new" "$md/cur" | grep -c '^[0-9]')" != "$total" ]; then
	echo "FAIL - could not make the Maildir"
	exit 1
fi

setup() { # DB: the same sends in both databases (alerts need them)
	"$bin" sends add --db "$1" --identity shop.example.com --count 300 \
	    --at 2024-06-01T11:00:00Z >/dev/null
}

fail=0
clean=$tmp/clean.db
setup "$clean"
t0=$(date +%s.%N)
"$bin" ingest --db "$clean" "$md" >"$tmp/clean.out" 2>&1 || {
	echo "FAIL - the clean run failed"
	cat "$tmp/clean.out"
	exit 1
}
t1=$(date +%s.%N)
if ! "$tool" dump "$clean" >"$tmp/clean.dump" ||
    [ "$(grep -c . "$tmp/clean.dump")" -lt "$total" ]; then
	echo "FAIL - cannot dump the clean database"
	exit 1
fi
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
echo "clean run: $total messages in ${secs}s"

# kill_at DB TARGET: an ingest into DB, killed with SIGKILL as soon as
# TARGET messages are committed (TARGET 0: at once), so the kill lands
# at a point of the run's own progress: inside a batch, in a commit or a
# checkpoint, after the last batch (the final prune).  A kill timed from
# the clean run's length instead missed every ingest when the clean run
# happened to share the CPU with other tests and the later runs did not
# (ctest -j2).  Sets $killed_it: 1 when the signal ended the ingest.
kill_at() {
	"$bin" ingest --db "$1" "$md" >/dev/null 2>&1 &
	pid=$!
	polls=0
	# Bounded: 3000 polls of 10 ms, far beyond any ingest here.
	while [ "$polls" -lt 3000 ] && kill -0 "$pid" 2>/dev/null; do
		n=$("$tool" count "$1" messages 2>/dev/null || echo 0)
		[ "$n" -ge "$2" ] && break
		sleep 0.01
		polls=$((polls + 1))
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# 128 + SIGKILL: the ingest was running when the signal came.
	if [ $? = 137 ]; then killed_it=1; else killed_it=0; fi
}

# rnd SEED LO HI: a number in [LO, HI].
rnd() {
	awk -v seed="$1" -v lo="$2" -v hi="$3" \
	    'BEGIN { srand(seed); printf "%d", lo + (hi - lo + 1) * rand() }'
}

# Each round: a fresh database, an ingest killed at a random point of
# its progress, a second one killed at a random later point, then an
# ingest to the end, compared with the clean run.
seed=$$
r=1
interrupted=0
while [ "$r" -le "$rounds" ]; do
	killed=$tmp/killed$r.db
	setup "$killed"
	line="round $r:"
	lo=0
	for part in 1 2; do
		target=$(rnd "$seed$r$part" "$lo" "$total")
		kill_at "$killed" "$target"
		n=$("$tool" count "$killed" messages 2>/dev/null || echo 0)
		if [ "$killed_it" = 1 ]; then
			interrupted=$((interrupted + 1))
			line="$line kill -9 at >= $target: $n stored;"
		else
			line="$line (ingest ended before the kill: $n stored);"
		fi
		lo=$n
	done
	if ! "$bin" ingest --db "$killed" "$md" >"$tmp/final.out" 2>&1; then
		echo "FAIL - round $r: the run after the kills failed"
		cat "$tmp/final.out"
		fail=1
	fi
	if ! "$tool" dump "$killed" >"$tmp/killed.dump"; then
		echo "FAIL - round $r: cannot dump the database"
		fail=1
	elif cmp -s "$tmp/clean.dump" "$tmp/killed.dump"; then
		echo "ok   - $line then the state of one clean run"
	else
		echo "FAIL - $line the databases differ:"
		diff "$tmp/clean.dump" "$tmp/killed.dump" | head -20
		fail=1
	fi
	if ! "$tool" check "$killed" >/dev/null; then
		echo "FAIL - round $r: integrity check"
		fail=1
	fi
	rm -f "$killed" "$killed-wal" "$killed-shm"
	r=$((r + 1))
done
echo "$interrupted of $((rounds * 2)) kills interrupted an ingest" \
    "($(wc -l <"$tmp/clean.dump") rows compared per round)"
# A test that interrupted nothing tested nothing.  Kills follow the
# progress, so all but those that land after the last commit interrupt.
if [ "$interrupted" -lt "$rounds" ]; then
	echo "FAIL - fewer than $rounds kills landed inside an ingest"
	fail=1
fi
exit "$fail"
