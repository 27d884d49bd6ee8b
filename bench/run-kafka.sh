#!/bin/sh
# Kafka benchmarks, side by side in one run:
#  1. `rebound ingest` of the replicated dev corpus (REBOUND_BENCH_COUNT
#     distinct copies, default 100000, written as a Maildir by
#     bench_ingest --maildir) into a fresh database, twice per round:
#       off: kafka.enabled = false (no outbox rows, nothing published);
#       on:  kafka.enabled = true (an outbox row per event, suppression
#            change and alert), with bench_kafka publish (the embedded
#            broker and the publisher, as rebound serve runs them)
#            draining the outbox meanwhile; the time runs until the
#            outbox is delivered and removed.
#     Ratio on / off (messages/s); target >= 0.8.
#  2. bench_kafka drain on the database of the last "on" run: its outbox
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

echo "== $count copies of $corpus as a Maildir"
"$bingest" --count "$count" --maildir "$tmp/Maildir" "$corpus"

# ingest_off N: rebound ingest with Kafka off; prints messages/s.
ingest_off() {
	rm -f "$tmp"/off.db*
	t0=$(now)
	REBOUND_KAFKA_ENABLED=false "$rebound" ingest --json \
	    --db "$tmp/off.db" "$tmp/Maildir" >"$tmp/off.out"
	t1=$(now)
	stored=$(sed -n 's/.*"stored": *\([0-9]*\).*/\1/p' "$tmp/off.out")
	awk -v n="$stored" -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.0f", n / (b - a) }'
}

# ingest_on: rebound ingest with Kafka on and the publisher beside it,
# until delivered; prints messages/s.
ingest_on() {
	rm -f "$tmp"/on.db* "$tmp/pub.in" "$tmp/pub.out"
	mkfifo "$tmp/pub.in"
	"$bkafka" publish --db "$tmp/on.db" <"$tmp/pub.in" \
	    >"$tmp/pub.out" 2>"$tmp/pub.err" &
	pub_pid=$!
	exec 3>"$tmp/pub.in"
	i=0
	until grep -q '^ready' "$tmp/pub.out"; do
		i=$((i + 1))
		[ $i -gt 200 ] && { cat "$tmp/pub.err" >&2; exit 1; }
		sleep 0.05
	done
	t0=$(now)
	REBOUND_KAFKA_ENABLED=true "$rebound" ingest --json \
	    --db "$tmp/on.db" "$tmp/Maildir" >"$tmp/on.out"
	echo drain >&3
	until grep -q '^drained' "$tmp/pub.out"; do
		sleep 0.01
	done
	t1=$(now)
	exec 3>&-
	wait "$pub_pid"
	pub_pid=
	grep -q '(timed out)' "$tmp/pub.out" && {
		echo "run-kafka: the outbox was not drained" >&2
		exit 1
	}
	stored=$(sed -n 's/.*"stored": *\([0-9]*\).*/\1/p' "$tmp/on.out")
	awk -v n="$stored" -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.0f", n / (b - a) }'
}

sum_off=0 sum_on=0 r=1
while [ "$r" -le "$rounds" ]; do
	off=$(ingest_off)
	echo "round $r: rebound ingest, Kafka off: $off messages/s"
	on=$(ingest_on)
	echo "round $r: rebound ingest, Kafka on (published):" \
	    "$on messages/s ($(sed -n 's/^drained //p' "$tmp/pub.out"))"
	sum_off=$((sum_off + off))
	sum_on=$((sum_on + on))
	r=$((r + 1))
done

echo "== bench_kafka drain --repeat $repeat"
"$bkafka" drain --db "$tmp/on.db" --repeat "$repeat" | tee "$tmp/drain.out"
drain=$(sed -n 's/^drain_events_per_s=//p' "$tmp/drain.out")

echo "== result"
awk -v on="$sum_on" -v off="$sum_off" -v d="$drain" -v r="$rounds" 'BEGIN {
	ratio = off > 0 ? on / off : 0
	printf("rebound ingest, Kafka off: %.0f messages/s (mean of %d)\n", off / r, r)
	printf("rebound ingest, Kafka on:  %.0f messages/s (%.2fx off, target >= 0.8x): %s\n",
	    on / r, ratio, ratio >= 0.8 ? "MET" : "NOT MET")
	printf("outbox drain:              %.0f events/s (target >= 100000): %s\n",
	    d, d >= 100000 ? "MET" : "NOT MET")
	printf("kafka_on_off_ratio=%.3f\nkafka_drain_events_per_s=%.0f\n", ratio, d)
	exit (ratio >= 0.8 && d >= 100000) ? 0 : 3
}' && exit 0
rc=$?
if [ "$rc" = 3 ] && [ "${REBOUND_BENCH_STRICT:-0}" != 1 ]; then
	exit 0
fi
exit 1
