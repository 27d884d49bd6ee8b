#!/bin/sh
# SMTP ingest throughput: Postfix's smtp-source sends the same load to
# rebound's SMTP server (tests/smtp/smtp_testd: spool with fsync'd
# group commits, then a deliver callback that classifies every message
# and appends its events to a file) and to Postfix's smtp-sink (accepts
# and discards: the ceiling of a loopback SMTP receiver on this host).
#
# Prints messages/s acknowledged by rebound (each 250 after the fsync),
# messages/s fully processed (delivered to the callback; must keep up),
# smtp-sink's messages/s and the ratio (target: at least 0.25).
#
# Usage: bench/smtp.sh [BUILD_DIR]      (default: build)
# Environment: SMTP_BENCH_MESSAGES (20000), SMTP_BENCH_SESSIONS (20),
# SMTP_BENCH_SIZE (body bytes, 5000).  The spool is made under TMPDIR
# (default /tmp): put it on the disk you mean to measure.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
testd=$build/tests/smtp_testd
n=${SMTP_BENCH_MESSAGES:-20000}
sessions=${SMTP_BENCH_SESSIONS:-20}
size=${SMTP_BENCH_SIZE:-5000}

if [ ! -x "$testd" ]; then
	echo "bench/smtp.sh: $testd not found; build first:" >&2
	echo "  cmake -S $root -B $build && cmake --build $build -j2" >&2
	exit 1
fi
if ! command -v smtp-source >/dev/null 2>&1 &&
    [ ! -x /usr/sbin/smtp-source ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing postfix (smtp-source, smtp-sink)..." >&2
		echo 'postfix postfix/main_mailer_type select No configuration' |
		    debconf-set-selections
		DEBIAN_FRONTEND=noninteractive apt-get install -y postfix \
		    >/dev/null
	else
		echo "bench/smtp.sh: needs smtp-source and smtp-sink" \
		    "(apt-get install postfix, as root)" >&2
		exit 1
	fi
fi
PATH=$PATH:/usr/sbin
export PATH

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-bench-smtp.XXXXXX")
pids=
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() {
	date +%s.%N
}

rate() { # COUNT START END
	awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.0f", n / (e - s) }'
}

source_run() { # PORT
	smtp-source -s "$sessions" -d -m "$n" -l "$size" \
	    -f sender@bench.example -t bounces@bench.example "127.0.0.1:$1"
}

# rebound
"$testd" --spool "$tmp/spool" --out "$tmp/events.jsonl" \
    --ready "$tmp/ready" --listen 127.0.0.1:0 --domain bench.example \
    2>"$tmp/testd.log" &
testd_pid=$!
pids="$pids $testd_pid"
i=0
while [ ! -s "$tmp/ready" ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && { cat "$tmp/testd.log" >&2; exit 1; }
	sleep 0.05
done
port=$(sed 's/.*://' "$tmp/ready")
t0=$(now)
source_run "$port"
t1=$(now)
i=0
while [ "$(wc -l <"$tmp/events.jsonl")" -lt "$n" ]; do
	i=$((i + 1))
	[ $i -gt 6000 ] && { echo "not all messages delivered" >&2; exit 1; }
	sleep 0.01
done
t2=$(now)
kill -TERM "$testd_pid"
wait "$testd_pid" || true
acked=$(rate "$n" "$t0" "$t1")
processed=$(rate "$n" "$t0" "$t2")
rounds=$(sed -n 's/.* rounds=\([0-9]*\).*/\1/p' "$tmp/testd.log")

# smtp-sink on a free port (it exits at once when the port is taken)
sport=25250
while :; do
	smtp-sink -u nobody "127.0.0.1:$sport" 256 2>/dev/null &
	sink_pid=$!
	sleep 0.3
	kill -0 "$sink_pid" 2>/dev/null && break
	sport=$((sport + 1))
	[ $sport -gt 25350 ] && { echo "no port for smtp-sink" >&2; exit 1; }
done
pids="$pids $sink_pid"
t0=$(now)
source_run "$sport"
t1=$(now)
kill "$sink_pid"
wait "$sink_pid" 2>/dev/null || true
sink=$(rate "$n" "$t0" "$t1")

echo "smtp-source -s $sessions -d -m $n -l $size, loopback, $(nproc) CPUs"
printf '%-44s %8s msgs/s\n' "rebound acknowledged (250 after fsync)" \
    "$acked"
printf '%-44s %8s msgs/s\n' "rebound processed (classified, delivered)" \
    "$processed"
printf '%-44s %8s msgs/s\n' "smtp-sink (Postfix, no disk, ceiling)" "$sink"
awk -v a="$acked" -v s="$sink" -v r="${rounds:-0}" -v n="$n" 'BEGIN {
	printf "%-44s %8.2f (target >= 0.25)\n", "acknowledged / smtp-sink", a / s
	if (r > 0)
		printf "%-44s %8.1f\n", "messages per group commit (fsync)", n / r
}'
