#!/bin/sh
# The "Reasons" table of README.md, made from classify/reason.c
# (reason_names and reason_descriptions), so the two stay identical.
#
# Usage: scripts/readme-reasons.sh          print the Markdown table
#        scripts/readme-reasons.sh --check  exit 1 unless README.md has
#                                           exactly these rows
# The bounceType column follows reason_bounce_type() in the same file;
# keep the case list below in step with it.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/classify/reason.c

table() {
	awk '
	# Collect the string literals of the two arrays, in order.
	/^static const char \*const reason_names\[/ { arr = "n"; next }
	/^static const char \*const reason_descriptions\[/ { arr = "d"; next }
	arr != "" && /^};/ { arr = ""; next }
	arr != "" {
		line = $0
		while (match(line, /"[^"]*"/)) {
			s = substr(line, RSTART + 1, RLENGTH - 2)
			line = substr(line, RSTART + RLENGTH)
			if (arr == "n")
				name[nn++] = s
			else
				desc[nd++] = s
		}
	}
	END {
		if (nn == 0 || nn != nd) {
			printf "readme-reasons: %d names, %d descriptions\n", \
			    nn, nd > "/dev/stderr"
			exit 1
		}
		for (i = 0; i < nn; i++)
			printf "| `%s` | %s | %s |\n", name[i], desc[i], \
			    type(name[i])
	}
	function type(n) {
		if (n ~ /^(userunknown|hostunknown|hasmoved|suppressed)$/)
			return "Permanent"
		if (n == "notaccept")
			return "Permanent with a 5xx status or reply, else Transient"
		if (n ~ /^(undefined|onhold)$/)
			return "Undetermined"
		if (n == "delivered")
			return "not a bounce (Delivery event)"
		if (n == "feedback")
			return "not a bounce (Complaint event)"
		if (n == "vacation")
			return "not a bounce (AutoReply event)"
		return "Transient"
	}' "$src"
}

if [ "${1:-}" = --check ]; then
	readme=$root/README.md
	want=$(table)
	got=$(grep '^| `[a-z]*` |' "$readme" || true)
	if [ "$want" != "$got" ]; then
		echo "readme-reasons: README.md's Reasons table differs from" \
		    "classify/reason.c; regenerate it with scripts/readme-reasons.sh:"
		printf '%s\n' "$want" >"${TMPDIR:-/tmp}/readme-reasons.$$"
		printf '%s\n' "$got" | diff -u "${TMPDIR:-/tmp}/readme-reasons.$$" - || true
		rm -f "${TMPDIR:-/tmp}/readme-reasons.$$"
		exit 1
	fi
	echo "readme-reasons: README.md lists the $(printf '%s\n' "$want" | wc -l | tr -d ' ') reasons of classify/reason.c"
	exit 0
fi
table
