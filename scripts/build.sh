#!/bin/sh
# Configure (if needed) and build one build directory with -j2.
#
# Usage: scripts/build.sh DIR [--fresh] [CMAKE_ARG...]
#   DIR      build directory, relative to the project root
#   --fresh  remove DIR first and configure from scratch
# A DIR configured from another source tree (a copied or moved checkout)
# is removed and configured again, since CMake refuses to reuse it.
set -eu
# Run from make: a clean make environment for CMake's own make (no
# "Entering directory" noise, no jobserver of the outer make).
unset MAKEFLAGS MFLAGS MAKELEVEL

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir=${1:?usage: scripts/build.sh DIR [--fresh] [CMAKE_ARG...]}
shift
if [ "${1:-}" = --fresh ]; then
	shift
	rm -rf "$dir"
fi
if [ -f "$dir/CMakeCache.txt" ]; then
	home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' \
	    "$dir/CMakeCache.txt")
	if [ "$home" != "$root" ]; then
		echo "build: $dir was configured for $home; starting over"
		rm -rf "$dir"
	fi
fi
cmake -S . -B "$dir" "$@"
cmake --build "$dir" -j2
