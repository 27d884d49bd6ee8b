#!/bin/sh
# Install the Debian packages rebound needs, and only those missing.
#
# Usage: scripts/deps.sh build|check [EXTRA_PACKAGE...]
#   build  compiler, CMake and the library -dev packages (TOOLCHAIN.md 1)
#   check  build + clang and libFuzzer runtime, python3 (corpus accuracy
#          score, JSON log and locked-database checks of the SMTP tests),
#          time (/usr/bin/time, peak memory in the CLI test), kcat (a
#          Kafka client of its own for the Kafka tests), swaks with
#          libnet-ssleay-perl (its TLS) and openssl (a test certificate)
#          for the SMTP tests, chromium, nodejs and npm (the dashboard's
#          browser test), clang-format (the format test)
#
# Checks each package with dpkg-query; when some are missing, runs
# `apt-get update` once and installs them without recommends.  As root it
# runs apt-get directly, otherwise through sudo; without sudo it stops and
# prints the command to run.  Not on Debian (no dpkg-query): says what to
# install and goes on, the build then tells what is really missing.
set -eu

BUILD_PKGS="gcc make cmake pkg-config libgmime-3.0-dev libpcre2-dev
libsqlite3-dev libmicrohttpd-dev libjansson-dev libmaxminddb-dev
librdkafka-dev libgnutls28-dev zlib1g-dev liblz4-dev nettle-dev"
CHECK_PKGS="clang libclang-rt-14-dev python3 time kcat swaks libnet-ssleay-perl
openssl chromium nodejs npm clang-format"

case ${1:-} in
build) want=$BUILD_PKGS ;;
check) want="$BUILD_PKGS $CHECK_PKGS" ;;
*)
	echo "usage: scripts/deps.sh build|check [EXTRA_PACKAGE...]" >&2
	exit 2
	;;
esac
shift
want="$want $*"

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system (no dpkg-query); make sure these" \
	    "(or their equivalents) are installed:" $want >&2
	exit 0
fi

# Node.js from elsewhere (NodeSource's nodejs bundles npm and conflicts
# with Debian's npm package): the command is enough.
have_cmd() {
	case $1 in
	nodejs) command -v node >/dev/null 2>&1 ;;
	npm) command -v npm >/dev/null 2>&1 ;;
	*) return 1 ;;
	esac
}

missing=
for p in $want; do
	have_cmd "$p" && continue
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all $(echo $want | wc -w) packages present"
	exit 0
fi

if [ "$(id -u)" = 0 ]; then
	sudo=
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps: these packages are missing:$missing" >&2
	echo "deps: not root and no sudo; as root run:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "deps: installing:$missing"
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends $missing
echo "deps: done"
