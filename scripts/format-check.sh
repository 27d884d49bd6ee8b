#!/bin/sh
# clang-format --dry-run --Werror over the C sources (STYLE.md: the house
# look is .clang-format; `make format` applies it).  Exit 77 (skipped)
# when clang-format is not installed.
#
# Usage: scripts/format-check.sh [ROOT]
set -eu
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
if ! command -v clang-format >/dev/null 2>&1; then
	echo "SKIP: clang-format is not installed (apt-get install -y clang-format)"
	exit 77
fi
files=$(find core classify ingest store publish http cli tests bench \
    -name '*.[ch]' 2>/dev/null | sort)
# shellcheck disable=SC2086
if clang-format --dry-run --Werror $files; then
	echo "format: $(echo "$files" | wc -l) files clean"
else
	echo "format: run 'make format' and commit the result" >&2
	exit 1
fi
