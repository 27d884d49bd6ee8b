#!/bin/sh
# The corpus_accuracy ctest: score `rebound classify --jsonl` on the shared
# labelled corpus with ../shared/tools/accuracy.sh (relative to the project
# root) and print its report.  The figures are reported, not asserted.
# Fails only when the classifier crashed (signal, sanitizer report), was
# misused (exit 2 and up) or printed no event, or the scorer did not run.
# Exits 77 (ctest SKIP_RETURN_CODE) when the corpus, the tool or python3
# is not there.
#
# Usage: scripts/corpus-accuracy.sh REBOUND_BINARY
set -u

bin=${1:?usage: scripts/corpus-accuracy.sh REBOUND_BINARY}
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
tool=$shared/tools/accuracy.sh

skip() {
	echo "corpus_accuracy: SKIPPED: $1"
	exit 77
}
[ -d "$shared/corpus" ] || skip "no corpus at ../shared/corpus"
[ -f "$tool" ] || skip "no ../shared/tools/accuracy.sh"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
if [ ! -x "$bin" ]; then
	echo "corpus_accuracy: $bin is not an executable" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-accuracy.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

# accuracy.sh goes on whatever rebound does; this stand-in for the binary
# keeps its exit status, stderr and output for the checks below.
{
	echo '#!/bin/sh'
	echo "\"$bin\" \"\$@\" >\"$tmp/events\" 2>\"$tmp/stderr\""
	echo 'rc=$?'
	echo "echo \$rc >\"$tmp/rc\""
	echo "cat \"$tmp/events\""
	echo "cat \"$tmp/stderr\" >&2"
	echo 'exit $rc'
} >"$tmp/rebound"
chmod +x "$tmp/rebound"

sh "$tool" "$tmp/rebound" >"$tmp/report" 2>"$tmp/report.err"
tool_rc=$?
cat "$tmp/report"

fail() {
	echo "corpus_accuracy: FAILED: $1" >&2
	if [ -s "$tmp/stderr" ]; then
		echo "rebound's stderr (head):" >&2
		head -40 "$tmp/stderr" >&2
	fi
	if [ -s "$tmp/report.err" ]; then
		echo "accuracy.sh's stderr (head):" >&2
		head -20 "$tmp/report.err" >&2
	fi
	exit 1
}

[ -f "$tmp/rc" ] || fail "accuracy.sh did not run rebound"
rc=$(cat "$tmp/rc")
events=$(wc -l <"$tmp/events" | tr -d ' ')
[ "$rc" -lt 128 ] || fail "rebound died of signal $((rc - 128))"
if grep -q -e 'Sanitizer' -e 'runtime error:' "$tmp/stderr"; then
	fail "sanitizer report"
fi
[ "$rc" -le 1 ] || fail "rebound classify exited $rc"
[ "$events" -gt 0 ] || fail "rebound classify printed no event"
[ "$tool_rc" -eq 0 ] || fail "accuracy.sh exited $tool_rc"
grep -q '^SUMMARY ' "$tmp/report" || fail "the scorer printed no SUMMARY"
if [ "$rc" -ne 0 ]; then
	echo "corpus_accuracy: note: rebound exited $rc (a file unreadable):"
	head -5 "$tmp/stderr"
fi
echo "corpus_accuracy: $events events; figures reported, not asserted"
