#!/bin/sh
# make check: install what is missing, then from scratch
#   1. build-check/: warnings as errors, every ctest (unit, golden, CLI,
#      checksrc, fuzz seed replay, corpus accuracy when ../shared/corpus
#      exists)
#   2. build-asan/: the same tests under AddressSanitizer + UBSan
#   3. build-fuzz/: tests/fuzz/run-fuzz.sh, libFuzzer for FUZZ_SECONDS
#      (default 60) per target
# Stops at the first failing stage (KEEP_GOING=1: runs the others too and
# fails at the end).  The last line is a summary in the form
# "check: N passed, M failed" (plus ", K skipped").
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
KEEP_GOING=${KEEP_GOING:-0}

passed=0
failed=0
failed_names=
skipped=0
start=$(date +%s)

summary() {
	line="check: $passed passed, $1 failed"
	[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
	echo "$line"
}

# stage NAME COMMAND...: run one stage, stop everything when it fails.
stage() {
	name=$1
	shift
	t0=$(date +%s)
	printf '\n==== check: %s\n' "$name"
	if "$@"; then
		passed=$((passed + 1))
		printf '==== check: %s passed (%ss)\n' "$name" \
		    $(($(date +%s) - t0))
	else
		rc=$?
		failed=$((failed + 1))
		failed_names="$failed_names
  - $name"
		printf '\n==== check: FAILED: %s (exit %s, after %ss); see the' \
		    "$name" "$rc" $(($(date +%s) - start))
		printf ' output above\n'
		if [ "$KEEP_GOING" != 1 ]; then
			summary "$failed"
			exit 1
		fi
		return 1
	fi
}

# ctest, then the lines worth seeing in a CI log even when all passed:
# the corpus accuracy summary, the large-mbox memory, each group's count.
run_ctest() {
	rc=0
	(cd "$1" && ctest --output-on-failure -j2) || rc=$?
	log=$1/Testing/Temporary/LastTest.log
	if [ -f "$log" ]; then
		echo "---- highlights ($log)"
		grep -E '^(SUMMARY |[a-z_]+: [0-9]+ passed, [0-9]+ failed)|peak RSS|SKIPPED' \
		    "$log" | sed 's/^/  /' || true
	fi
	return $rc
}

stage "dependencies" scripts/deps.sh check || true
# With KEEP_GOING=1, the tests of a build that failed are skipped.
stage "build (warnings as errors) in build-check/" \
    scripts/build.sh build-check --fresh -DREBOUND_WERROR=ON &&
    stage "tests in build-check/" run_ctest build-check ||
    true
stage "build (ASan+UBSan) in build-asan/" \
    scripts/build.sh build-asan --fresh -DREBOUND_SANITIZE=ON \
    -DREBOUND_WERROR=ON &&
    stage "tests under ASan+UBSan in build-asan/" run_ctest build-asan ||
    true
if [ -f tests/fuzz/run-fuzz.sh ]; then
	rm -rf build-fuzz
	stage "fuzzing ${FUZZ_SECONDS}s per target in build-fuzz/" \
	    sh tests/fuzz/run-fuzz.sh "$root/build-fuzz" "$FUZZ_SECONDS" ||
	    true
else
	echo "check: tests/fuzz/run-fuzz.sh not there; fuzzing skipped"
	skipped=$((skipped + 1))
fi

elapsed=$(($(date +%s) - start))
if [ "$failed" -gt 0 ]; then
	printf '\ncheck: %s stage(s) failed in %ss:%s\n' "$failed" "$elapsed" \
	    "$failed_names"
	summary "$failed"
	exit 1
fi
printf '\ncheck: all stages passed in %ss\n' "$elapsed"
summary 0
