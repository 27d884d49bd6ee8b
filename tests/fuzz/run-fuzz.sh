#!/bin/sh
# Build the libFuzzer targets in their own clang build dir and fuzz each for
# a bounded time through ctest (tests/fuzz.cmake).  For a Makefile target:
#   fuzz: ; tests/fuzz/run-fuzz.sh
#
# Usage: tests/fuzz/run-fuzz.sh [BUILD_DIR [SECONDS [CTEST_REGEX]]]
#   BUILD_DIR    default: build-fuzz (relative to the project root)
#   SECONDS      fuzzing time per target, default 60 (REBOUND_FUZZ_SECONDS)
#   CTEST_REGEX  which targets, default all ("_run$"); e.g. fuzz_classify
# Needs clang and libclang-rt-14-dev (Debian 12).  Exit status is ctest's:
# non-zero on any crash, leak, timeout or sanitizer report; the reproducer
# is then in BUILD_DIR/fuzz/<target>/artifacts/ and the stack in the log
# printed below (and in BUILD_DIR/Testing/Temporary/LastTest.log).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-fuzz}
seconds=${2:-60}
regex=${3:-_run\$}
cc=${CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run-fuzz: $cc not found; apt-get install -y clang" \
	    "libclang-rt-14-dev" >&2
	exit 1
fi

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREBOUND_FUZZ=ON \
    -DREBOUND_FUZZ_SECONDS="$seconds" >/dev/null
# Only the fuzz targets (the rest of the tree is not needed to fuzz).
for src in "$root"/tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	cmake --build "$build" --target "$t" -j2
done
cd "$build"
ctest -L fuzz -R "$regex" --output-on-failure -j2
