#!/bin/sh
# Kafka benchmarks, side by side in one run, each pair in a fresh
# database, Kafka off (kafka.enabled = false: no outbox rows, nothing
# published) against Kafka on (an outbox row per event, suppression
# change and alert, and bench_kafka publish -- the embedded broker and
# the publisher, as rebound serve runs them -- draining it meanwhile;
# the time runs until the outbox is delivered and removed):
#  1. bench_ingest: the dev corpus replicated to REBOUND_BENCH_COUNT
#     distinct copies (default 100000) fed from memory through
#     store_ingest_feed(), the path of `rebound ingest` after its file
#     reader (CPU-bound: the fair comparison);
#  2. `rebound ingest` itself on the same copies written as a Maildir
#     (reads 100000 files: the disk of a shared machine weighs in);
#     unless REBOUND_BENCH_CLI=0.
#     Ratios on / off (messages/s); target >= 0.8.
#  3. bench_kafka drain on the database of the last "on" run: its outbox
#     refilled with every event REBOUND_BENCH_REPEAT times (default 3)
#     and drained to the embedded broker; target >= 100,000 events/s.
# The embedded broker is in-process and in memory: the figures are the
# cost of rebound's side, not of a real cluster.  The machine's other
# load counts in both figures of a round alike.
#
# Usage: bench/run-kafka.sh [BUILD_DIR] [CORPUS_DIR]
#   BUILD_DIR   default: build (configured and built there if needed)
#   CORPUS_DIR  default: ../shared/corpus/dev (relative to the project)
# Environment:
#   REBOUND_BENCH_COUNT    distinct messages (default 100000)
#   REBOUND_BENCH_ROUNDS   off/on rounds, alternating (default 1)
#   REBOUND_BENCH_CLI      0: skip step 2
#   REBOUND_BENCH_REPEAT   refills of the outbox for the drain (default 3)
#   REBOUND_BENCH_STRICT   1: exit 1 when a target is missed
#   TMPDIR                 where the Maildir and databases go (removed
#                          at the end; ~0.7 GB for 100000)
# Exit: 0 measured (or skipped: no corpus), 1 error or strict miss.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
corpus=${2:-$root/../shared/corpus/dev}
count=${REBOUND_BENCH_COUNT:-100000}
rounds=${REBOUND_BENCH_ROUNDS:-1}
repeat=${REBOUND_BENCH_REPEAT:-3}

if [ ! -d "$corpus" ] || ! ls "$corpus"/*.eml >/dev/null 2>&1; then
	echo "run-kafka: SKIP: no *.eml corpus at $corpus" \
	    "(pass CORPUS_DIR as the second argument)"
	exit 0
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    >/dev/null
fi
cmake --build "$build" --target bench_ingest bench_kafka rebound -j2 \
    >/dev/null
rebound=$build/rebound
bingest=$build/bench/bench_ingest
bkafka=$build/bench/bench_kafka

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-run-kafka.XXXXXX")
pub_pid=
cleanup() {
	[ -n "$pub_pid" ] && kill "$pub_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# The clock of the corpus copies (as bench_ingest), for the publisher's
# expiry sweep as well.
export REBOUND_NOW=2024-06-01T12:00:00Z
unset REBOUND_CONFIG REBOUND_KAFKA_BROKERS

now() {
	date +%s.%N
}

if [ "${REBOUND_BENCH_CLI:-1}" != 0 ]; then
	echo "== $count copies of $corpus as a Maildir"
	"$bingest" --count "$count" --maildir "$tmp/Maildir" "$corpus"
fi

printf '[kafka]\nenabled = false\n' >"$tmp/off.conf"
printf '[kafka]\nenabled = true\n' >"$tmp/on.conf"

# publisher_start DB: bench_kafka publish on DB, obeying fd 3.
publisher_start() {
	rm -f "$tmp/pub.in" "$tmp/pub.out"
	mkfifo "$tmp/pub.in"
	"$bkafka" publish --db "$1" <"$tmp/pub.in" >"$tmp/pub.out" \
	    2>"$tmp/pub.err" &
	pub_pid=$!
	exec 3>"$tmp/pub.in"
	i=0
	until grep -q '^ready' "$tmp/pub.out"; do
		i=$((i + 1))
		[ $i -gt 200 ] && { cat "$tmp/pub.err" >&2; exit 1; }
		sleep 0.05
	done
}

# publisher_drain: until the outbox is delivered; stops the publisher.
publisher_drain() {
	echo drain >&3
	until grep -q '^drained' "$tmp/pub.out"; do
		sleep 0.01
	done
	exec 3>&-
	wait "$pub_pid"
	pub_pid=
	if grep -q '(timed out)' "$tmp/pub.out"; then
		echo "run-kafka: the outbox was not drained" >&2
		exit 1
	fi
}

# mem_off / mem_on: bench_ingest's ingest figure (messages/s).
mem_off() {
	rm -f "$tmp"/moff.db*
	"$bingest" --count "$count" --seconds 1 --config "$tmp/off.conf" \
	    --db "$tmp/moff.db" "$corpus" >"$tmp/moff.out"
	sed -n 's/^ingest_msgs_per_s=//p' "$tmp/moff.out"
}

mem_on() {
	rm -f "$tmp"/mon.db*
	publisher_start "$tmp/mon.db"
	"$bingest" --count "$count" --seconds 1 --config "$tmp/on.conf" \
	    --db "$tmp/mon.db" "$corpus" >"$tmp/mon.out"
	t0=$(now)
	publisher_drain
	t1=$(now)
	# The ingest's own time, and what the drain took after it.
	sed -n 's/^ingest: .* in \([0-9.]*\) s: .*/\1/p' "$tmp/mon.out" |
	    awk -v n="$(sed -n 's/^ingest_messages=//p' "$tmp/mon.out")" \
	    -v a="$t0" -v b="$t1" '{ printf "%.0f", n / ($1 + b - a) }'
}

# cli_off / cli_on: rebound ingest on the Maildir (messages/s).
cli_off() {
	rm -f "$tmp"/off.db*
	t0=$(now)
	"$rebound" ingest --json --config "$tmp/off.conf" \
	    --db "$tmp/off.db" "$tmp/Maildir" >"$tmp/off.out"
	t1=$(now)
	stored=$(sed -n 's/.*"stored": *\([0-9]*\).*/\1/p' "$tmp/off.out")
	awk -v n="$stored" -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.0f", n / (b - a) }'
}

cli_on() {
	rm -f "$tmp"/on.db*
	publisher_start "$tmp/on.db"
	t0=$(now)
	"$rebound" ingest --json --config "$tmp/on.conf" \
	    --db "$tmp/on.db" "$tmp/Maildir" >"$tmp/on.out"
	publisher_drain
	t1=$(now)
	stored=$(sed -n 's/.*"stored": *\([0-9]*\).*/\1/p' "$tmp/on.out")
	awk -v n="$stored" -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.0f", n / (b - a) }'
}

m_off=0 m_on=0 c_off=0 c_on=0 r=1
while [ "$r" -le "$rounds" ]; do
	v=$(mem_off)
	echo "round $r: store_ingest_feed, Kafka off: $v messages/s"
	m_off=$((m_off + v))
	v=$(mem_on)
	echo "round $r: store_ingest_feed, Kafka on:  $v messages/s" \
	    "($(sed -n 's/^drained //p' "$tmp/pub.out"))"
	m_on=$((m_on + v))
	if [ "${REBOUND_BENCH_CLI:-1}" != 0 ]; then
		v=$(cli_off)
		echo "round $r: rebound ingest, Kafka off: $v messages/s"
		c_off=$((c_off + v))
		v=$(cli_on)
		echo "round $r: rebound ingest, Kafka on:  $v messages/s" \
		    "($(sed -n 's/^drained //p' "$tmp/pub.out"))"
		c_on=$((c_on + v))
	fi
	r=$((r + 1))
done
db=$tmp/mon.db
[ "${REBOUND_BENCH_CLI:-1}" != 0 ] && db=$tmp/on.db

echo "== bench_kafka drain --repeat $repeat"
"$bkafka" drain --db "$db" --repeat "$repeat" | tee "$tmp/drain.out"
drain=$(sed -n 's/^drain_events_per_s=//p' "$tmp/drain.out")

echo "== result"
awk -v mon="$m_on" -v moff="$m_off" -v con="$c_on" -v coff="$c_off" \
    -v d="$drain" -v r="$rounds" 'BEGIN {
	mr = moff > 0 ? mon / moff : 0
	printf("store_ingest_feed, Kafka off: %.0f messages/s (mean of %d)\n", moff / r, r)
	printf("store_ingest_feed, Kafka on:  %.0f messages/s (%.2fx off, target >= 0.8x): %s\n",
	    mon / r, mr, mr >= 0.8 ? "MET" : "NOT MET")
	met = mr >= 0.8
	if (coff > 0) {
		cr = con / coff
		printf("rebound ingest, Kafka off:    %.0f messages/s (mean of %d)\n", coff / r, r)
		printf("rebound ingest, Kafka on:     %.0f messages/s (%.2fx off, target >= 0.8x): %s\n",
		    con / r, cr, cr >= 0.8 ? "MET" : "NOT MET")
		met = met && cr >= 0.8
		printf("kafka_cli_on_off_ratio=%.3f\n", cr)
	}
	printf("outbox drain:                 %.0f events/s (target >= 100000): %s\n",
	    d, d >= 100000 ? "MET" : "NOT MET")
	printf("kafka_on_off_ratio=%.3f\nkafka_drain_events_per_s=%.0f\n", mr, d)
	exit (met && d >= 100000) ? 0 : 3
}' && exit 0
rc=$?
if [ "$rc" = 3 ] && [ "${REBOUND_BENCH_STRICT:-0}" != 1 ]; then
	exit 0
fi
exit 1
