#!/bin/sh
# Compare single-thread classification throughput: rebound (bench_classify)
# against Sisimai (bench/sisimai-bench.pl), one after the other, on the same
# files in the same run, and check the target: rebound >= 10x Sisimai in
# messages per CPU second (wall-clock rates are printed too).
#
# Usage: bench/run-classify.sh [BUILD_DIR] [CORPUS_DIR]
#   BUILD_DIR   default: build (relative to the project root); configured
#               and bench_classify built there if needed
#   CORPUS_DIR  default: ../shared/corpus/dev (relative to the project root)
# Environment:
#   REBOUND_BENCH_SECONDS  seconds per tool and round (default 3)
#   REBOUND_BENCH_ROUNDS   rounds, alternating the tools (default 3); the
#                          best rate of each tool is compared
#   REBOUND_BENCH_STRICT   1: exit 1 when the target is missed
# Exit: 0 measured (or skipped: no corpus), 1 error.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
corpus=${2:-$root/../shared/corpus/dev}
seconds=${REBOUND_BENCH_SECONDS:-3}
rounds=${REBOUND_BENCH_ROUNDS:-3}
target=10

if [ ! -d "$corpus" ] || ! ls "$corpus"/*.eml >/dev/null 2>&1; then
	echo "run-classify: SKIP: no *.eml corpus at $corpus" \
	    "(pass CORPUS_DIR as the second argument)"
	exit 0
fi

if ! perl -MSisimai -e 1 2>/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "run-classify: installing libsisimai-perl"
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
		    libsisimai-perl >/dev/null ||
		    { apt-get update >/dev/null &&
		    DEBIAN_FRONTEND=noninteractive apt-get install -y \
			libsisimai-perl >/dev/null; }
	else
		echo "run-classify: the Perl module Sisimai is missing;" \
		    "install it as root: apt-get install -y libsisimai-perl" >&2
		exit 1
	fi
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target bench_classify -j2 >/dev/null
bin=$build/bench/bench_classify
[ -x "$bin" ] || bin=$build/bench_classify
if [ ! -x "$bin" ]; then
	echo "run-classify: bench_classify not found in $build" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Rounds alternate the two tools, each timed for $seconds; the best rate
# of each tool over the rounds is kept.  On a shared machine a round can
# lose half its speed to other programs; the best round is the closest to
# what each tool does on its own, and both get the same chances.
best() { # best KEY FILE...: the largest KEY=value over the files
	key=$1
	shift
	sed -n "s/^$key=//p" "$@" | sort -g | tail -1
}
i=1
while [ "$i" -le "$rounds" ]; do
	echo "== round $i/$rounds: rebound: $bin --seconds $seconds $corpus"
	"$bin" --seconds "$seconds" "$corpus" | tee "$tmp/rebound.$i"
	echo "== round $i/$rounds: sisimai:" \
	    "$root/bench/sisimai-bench.pl --seconds $seconds $corpus"
	perl "$root/bench/sisimai-bench.pl" --seconds "$seconds" "$corpus" |
	    tee "$tmp/sisimai.$i"
	i=$((i + 1))
done

# Both are single-threaded; the target is judged on messages per CPU
# second, which a busy shared machine does not skew the way it skews two
# wall-clock rates taken one after the other.  Wall-clock rates are shown
# too.
r=$(best rebound_msgs_per_s "$tmp"/rebound.*)
s=$(best sisimai_msgs_per_s "$tmp"/sisimai.*)
rc=$(best rebound_msgs_per_cpu_s "$tmp"/rebound.*)
sc=$(best sisimai_msgs_per_cpu_s "$tmp"/sisimai.*)
if [ -z "$r" ] || [ -z "$s" ] || [ -z "$rc" ] || [ -z "$sc" ]; then
	echo "run-classify: a benchmark printed no figure" >&2
	exit 1
fi
echo "== result"
awk -v r="$r" -v s="$s" -v rc="$rc" -v sc="$sc" -v t="$target" 'BEGIN {
	wall = s > 0 ? r / s : 0
	ratio = sc > 0 ? rc / sc : 0
	printf("rebound:  %.0f messages/s (%.0f per CPU second), best round\n",
	    r, rc)
	printf("sisimai:  %.0f messages/s (%.0f per CPU second), best round\n",
	    s, sc)
	printf("ratio:    %.1fx per CPU second, %.1fx wall clock " \
	    "(target >= %dx): %s\n", ratio, wall, t,
	    ratio >= t ? "MET" : "NOT MET")
	printf("classify_speedup=%.2f\n", ratio)
	printf("classify_speedup_wall=%.2f\n", wall)
	exit ratio >= t ? 0 : 3
}' && exit 0
rc=$?
if [ "$rc" = 3 ] && [ "${REBOUND_BENCH_STRICT:-0}" != 1 ]; then
	exit 0
fi
exit 1
