#!/bin/sh
# Ingest throughput and memory against the classifier alone, one run:
#  1. bench_ingest: the dev corpus replicated to REBOUND_BENCH_COUNT
#     (default 200000) distinct messages, fed from memory through
#     store_ingest_feed() (the path of `rebound ingest` after the file
#     reader) into a fresh database, beside the classify-only rate of the
#     same process; peak RSS from getrusage().
#  2. unless REBOUND_BENCH_CLI=0: the same number of copies written to a
#     temporary Maildir and `rebound ingest` run on it, timed, with its
#     peak RSS from /usr/bin/time (or the shell's time when absent).
# Targets: ingest >= 0.5 x classify-only; peak RSS < 200 MB.
#
# Usage: bench/run-ingest.sh [BUILD_DIR] [CORPUS_DIR]
#   BUILD_DIR   default: build (configured and built there if needed)
#   CORPUS_DIR  default: ../shared/corpus/dev (relative to the project)
# Environment:
#   REBOUND_BENCH_COUNT    distinct messages (default 200000)
#   REBOUND_BENCH_SECONDS  classify-only run time (default 5)
#   REBOUND_BENCH_CLI      0: skip step 2
#   REBOUND_BENCH_STRICT   1: exit 1 when a target is missed
#   TMPDIR                 where the database and the Maildir go (they
#                          are removed at the end; ~2 GB for 200000)
# Exit: 0 measured (or skipped: no corpus), 1 error or strict miss.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
corpus=${2:-$root/../shared/corpus/dev}
count=${REBOUND_BENCH_COUNT:-200000}
seconds=${REBOUND_BENCH_SECONDS:-5}

if [ ! -d "$corpus" ] || ! ls "$corpus"/*.eml >/dev/null 2>&1; then
	echo "run-ingest: SKIP: no *.eml corpus at $corpus" \
	    "(pass CORPUS_DIR as the second argument)"
	exit 0
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    >/dev/null
fi
cmake --build "$build" --target bench_ingest rebound -j2 >/dev/null
bench=$build/bench/bench_ingest
rebound=$build/rebound
[ -x "$bench" ] || bench=$build/bench_ingest

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-run-ingest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== $bench --count $count --seconds $seconds $corpus"
"$bench" --count "$count" --seconds "$seconds" --db "$tmp/bench.db" \
    "$corpus" | tee "$tmp/bench.out"
rm -f "$tmp"/bench.db*

ingest=$(sed -n 's/^ingest_msgs_per_s=//p' "$tmp/bench.out")
classify=$(sed -n 's/^classify_msgs_per_s=//p' "$tmp/bench.out")
rss=$(sed -n 's/^peak_rss_mb=//p' "$tmp/bench.out")
if [ -z "$ingest" ] || [ -z "$classify" ] || [ -z "$rss" ]; then
	echo "run-ingest: bench_ingest printed no figure" >&2
	exit 1
fi

cli_rate= cli_rss=
if [ "${REBOUND_BENCH_CLI:-1}" != 0 ]; then
	echo "== rebound ingest on a Maildir of $count copies"
	"$bench" --count "$count" --maildir "$tmp/Maildir" "$corpus"
	start=$(date +%s.%N)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f 'maxrss_kb=%M' -o "$tmp/time.out" \
		    "$rebound" ingest --json --db "$tmp/cli.db" \
		    "$tmp/Maildir" >"$tmp/cli.out"
		cli_rss=$(awk -F= '/maxrss_kb/ { printf "%.1f", $2 / 1024 }' \
		    "$tmp/time.out")
	else
		"$rebound" ingest --json --db "$tmp/cli.db" "$tmp/Maildir" \
		    >"$tmp/cli.out"
	fi
	end=$(date +%s.%N)
	stored=$(sed -n 's/.*"stored": *\([0-9]*\).*/\1/p' "$tmp/cli.out")
	cli_rate=$(awk -v n="$stored" -v a="$start" -v b="$end" \
	    'BEGIN { printf "%.0f", n / (b - a) }')
	echo "rebound ingest: $stored messages stored, ${cli_rate} messages/s" \
	    "(process start, reading files, final commit and prune included)," \
	    "peak RSS ${cli_rss:-?} MB"
fi

echo "== result"
awk -v i="$ingest" -v c="$classify" -v r="$rss" -v cr="$cli_rate" \
    -v cm="$cli_rss" 'BEGIN {
	ratio = c > 0 ? i / c : 0
	printf("classify-only: %.0f messages/s (1 thread)\n", c)
	printf("ingest:        %.0f messages/s (%.2fx classify-only, target >= 0.5x): %s\n",
	    i, ratio, ratio >= 0.5 ? "MET" : "NOT MET")
	printf("peak RSS:      %.1f MB (target < 200 MB): %s\n", r,
	    r < 200 ? "MET" : "NOT MET")
	if (cr != "")
		printf("rebound ingest on a Maildir: %s messages/s, peak RSS %s MB\n",
		    cr, cm != "" ? cm : "?")
	exit (ratio >= 0.5 && r < 200) ? 0 : 3
}' && exit 0
rc=$?
if [ "$rc" = 3 ] && [ "${REBOUND_BENCH_STRICT:-0}" != 1 ]; then
	exit 0
fi
exit 1
