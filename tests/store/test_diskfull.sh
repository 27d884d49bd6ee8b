#!/bin/sh
# A full disk during an ingest: rebound stops with a clear error (exit 1,
# "database or disk is full" or an I/O error naming the database), the
# database passes PRAGMA integrity_check and keeps the batches committed
# before, the other commands still work on it, and once there is room
# again the same ingest completes it to the state of one clean run.
#
# The small disk is a 3 MB tmpfs when mount works (root in a container
# that allows it), else a file size limit (ulimit -f, with SIGXFSZ
# ignored so that write() fails with EFBIG instead of killing rebound).
#
# Usage: test_diskfull.sh REBOUND_BINARY STORE_DBTOOL
# Environment: REBOUND_DISKFULL_ULIMIT=1 uses the file size limit even
# where mount works.
set -u

bin=${1:?usage: test_diskfull.sh REBOUND_BINARY STORE_DBTOOL}
tool=${2:?usage: test_diskfull.sh REBOUND_BINARY STORE_DBTOOL}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-store-full.XXXXXX") || exit 1
small=$tmp/small
mkdir -p "$small"
mounted=0
cleanup() {
	if [ "$mounted" = 1 ]; then
		umount "$small" 2>/dev/null || umount -l "$small" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
export REBOUND_DATA_DIR="${REBOUND_DATA_DIR:-$root/data}"
export REBOUND_NOW=2024-06-01T12:00:00Z
export REBOUND_STORE_BATCH_SIZE=50
unset REBOUND_CONFIG
total=2000
limit_kb=3072

# Distinct messages of our own: about 8 MB, far more than the disk.
md=$tmp/Maildir
mkdir -p "$md/new" "$md/cur" "$md/tmp"
i=0
while [ "$i" -lt "$total" ]; do
	for f in "$root"/data/samples/*.eml "$root"/tests/corpus/classify/*.eml
	do
		[ "$i" -lt "$total" ] || break
		{
			printf 'X-Full-Copy: %d\n' "$i"
			cat "$f"
		} >"$md/$([ $((i % 2)) = 0 ] && echo cur ||
		    echo new)/$(printf '%06d' "$i")"
		i=$((i + 1))
	done
done

if [ "${REBOUND_DISKFULL_ULIMIT:-0}" != 1 ] && [ "$(id -u)" = 0 ] &&
    mount -t tmpfs -o "size=${limit_kb}k" tmpfs "$small" 2>/dev/null; then
	mounted=1
	how="a ${limit_kb} KB tmpfs"
else
	how="ulimit -f ${limit_kb} KB"
fi
db=$small/full.db

fail=0
if [ "$mounted" = 1 ]; then
	"$bin" ingest --db "$db" "$md" >"$tmp/out" 2>"$tmp/err"
	rc=$?
else
	(trap '' XFSZ; ulimit -f "$limit_kb"; exec "$bin" ingest --db "$db" \
	    "$md") >"$tmp/out" 2>"$tmp/err"
	rc=$?
fi
echo "full disk ($how): exit $rc"
sed 's/^/  stderr: /' "$tmp/err" | head -3
if [ "$rc" = 1 ] && grep -q -e 'disk is full' -e 'I/O error' "$tmp/err" &&
    grep -q "$db" "$tmp/err"; then
	echo "ok   - a clear error naming the database, exit 1"
else
	echo "FAIL - expected exit 1 and 'database or disk is full'"
	fail=1
fi
if "$tool" check "$db" >"$tmp/check" 2>&1; then
	echo "ok   - integrity_check and foreign_key_check pass"
else
	echo "FAIL - integrity check: $(cat "$tmp/check")"
	fail=1
fi
n=$("$tool" count "$db" messages)
echo "     $n of $total messages in committed batches"
if [ "$n" -gt 0 ] && [ "$n" -lt "$total" ] && [ $((n % 50)) = 0 ]; then
	echo "ok   - whole batches kept, the failed one rolled back"
else
	echo "FAIL - $n messages: not a multiple of the batch size (50)"
	fail=1
fi
if "$bin" stats --db "$db" >/dev/null 2>&1 &&
    "$bin" suppression list --db "$db" >/dev/null 2>&1; then
	echo "ok   - the database still answers (stats, suppression list)"
else
	echo "FAIL - the database does not answer"
	fail=1
fi

# Room again: the same ingest completes it as one clean run would.
mv "$db" "$tmp/full.db"
for x in -wal -shm; do
	if [ -f "$db$x" ]; then
		mv "$db$x" "$tmp/full.db$x"
	fi
done
if "$bin" ingest --db "$tmp/full.db" "$md" >/dev/null 2>&1 &&
    "$bin" ingest --db "$tmp/clean.db" "$md" >/dev/null 2>&1; then
	"$tool" dump "$tmp/full.db" >"$tmp/a"
	"$tool" dump "$tmp/clean.db" >"$tmp/b"
	if cmp -s "$tmp/a" "$tmp/b"; then
		echo "ok   - with room again, the same ingest completes it"
	else
		echo "FAIL - completed database differs from a clean run"
		diff "$tmp/a" "$tmp/b" | head -10
		fail=1
	fi
else
	echo "FAIL - ingest with room again failed"
	fail=1
fi
exit "$fail"
