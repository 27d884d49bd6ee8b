#!/bin/sh
# bench/smtp: throughput of `rebound serve` as an MX, beside Postfix's
# smtp-sink (accepts and discards: the ceiling of a loopback SMTP
# receiver on this host), the same load against both in the same run.
#
# Two loads, 20 parallel sessions each, one connection per session:
#  1. the dev corpus messages (../shared/corpus/dev), sent by
#     bench/smtp_load (smtp-source cannot send given files), each with a
#     unique X-Bench-Seq header so that the store sees distinct messages;
#  2. Postfix's smtp-source -d with bodies of the corpus's mean size.
# For rebound (fresh database and spool, spool fsync'd before each 250)
# it prints messages/s acknowledged (every 250 received) and messages/s
# fully processed (classified, stored, spool emptied), and for
# smtp-sink messages/s acknowledged; then the ratios and the targets:
# acknowledged >= 0.25 x smtp-sink, processed >= 0.9 x acknowledged.
# When the store falls smtp.max_backlog messages behind, rebound answers
# 451 4.3.1 and smtp_load tries again later, as an MTA would: that count
# is printed too.
#
# Usage: bench/smtp.sh [BUILD_DIR]      (default: build)
# Environment: SMTP_BENCH_MESSAGES (20000), SMTP_BENCH_SESSIONS (20),
# SMTP_BENCH_CORPUS (../shared/corpus/dev), SMTP_BENCH_STRICT=1 (exit 1
# when a target is missed), SMTP_BENCH_KAFKA=1 (also write the Kafka
# outbox and publish to the embedded broker; off by default).  The database and spool go under TMPDIR
# (default /tmp): put it on the disk you mean to measure.  Timings on a
# shared machine vary from run to run: compare figures of one run.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rebound=$build/rebound
load=$build/bench/smtp_load
n=${SMTP_BENCH_MESSAGES:-20000}
sessions=${SMTP_BENCH_SESSIONS:-20}
corpus=${SMTP_BENCH_CORPUS:-$root/../shared/corpus/dev}
# The Kafka side (outbox rows, the embedded broker in the same process)
# is off unless asked: a real deployment's brokers run elsewhere.
kafka_on=false
[ "${SMTP_BENCH_KAFKA:-0}" = 1 ] && kafka_on=true

for f in "$rebound" "$load"; do
	if [ ! -x "$f" ]; then
		echo "bench/smtp.sh: $f not found; build first:" >&2
		echo "  scripts/build.sh build -DCMAKE_BUILD_TYPE=Release" >&2
		exit 1
	fi
done
if ! ls "$corpus"/*.eml >/dev/null 2>&1; then
	echo "SKIP: no corpus at $corpus (SMTP_BENCH_CORPUS)"
	exit 0
fi
PATH=$PATH:/usr/sbin
export PATH
if ! command -v smtp-source >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing postfix (smtp-source, smtp-sink)..." >&2
		echo 'postfix postfix/main_mailer_type select No configuration' |
		    debconf-set-selections
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    --no-install-recommends postfix >/dev/null
	else
		echo "bench/smtp.sh: needs smtp-source and smtp-sink" \
		    "(apt-get install postfix, as root)" >&2
		exit 1
	fi
fi
# smtp-sink refuses to run as root without -u.
sink_user=
[ "$(id -u)" = 0 ] && sink_user="-u nobody"

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

files=$(ls "$corpus"/*.eml | wc -l)
mean=$(cat "$corpus"/*.eml | wc -c)
mean=$((mean / files))

# load_corpus ADDR / load_source ADDR: one load at ADDR, exit 0 when
# every message was acknowledged.
load_corpus() {
	"$load" -s "$sessions" -m "$n" -f '<>' -t bounces@bench.example \
	    "$1" "$corpus" >"$tmp/load.out"
}
load_source() {
	smtp-source -s "$sessions" -d -m "$n" -l "$mean" \
	    -f sender@bench.example -t bounces@bench.example "$1" \
	    >"$tmp/load.out" 2>&1
}

# bench_rebound NAME LOADFN: sets acked, processed, rounds.
bench_rebound() {
	dir=$tmp/$1
	mkdir -p "$dir"
	REBOUND_KAFKA_ENABLED=$kafka_on "$rebound" serve \
	    --db "$dir/rebound.db" --spool "$dir/spool" \
	    --smtp 127.0.0.1:0 --http 127.0.0.1:0 --domain bench.example \
	    --log-file "$dir/serve.log" 2>"$dir/stderr" &
	rpid=$!
	pids="$pids $rpid"
	i=0
	while ! grep -q 'serve: ready' "$dir/serve.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 400 ] || ! kill -0 "$rpid" 2>/dev/null; then
			cat "$dir/serve.log" "$dir/stderr" >&2
			exit 1
		fi
		sleep 0.05
	done
	addr=$(sed -n 's/.*smtp: listening on \([^ ]*\).*/\1/p' \
	    "$dir/serve.log" | head -n 1)
	t0=$(now)
	if ! "$2" "$addr"; then
		echo "bench/smtp.sh: the $1 load failed against rebound:" >&2
		cat "$tmp/load.out" >&2
		exit 1
	fi
	t1=$(now)
	deferred=$(sed -n 's/.* deferred=\([0-9]*\).*/\1/p' "$tmp/load.out")
	# Processed: every segment of the spool stored and deleted.
	i=0
	while ls "$dir/spool" | grep -q '^m\.'; do
		i=$((i + 1))
		[ $i -gt 60000 ] && { echo "not all processed" >&2; exit 1; }
		sleep 0.005
	done
	t2=$(now)
	kill -TERM "$rpid"
	wait "$rpid" || true
	stored=$(sed -n 's/.*serve: stopped; \([0-9]*\) messages stored.*/\1/p' \
	    "$dir/serve.log")
	rounds=$(sed -n 's/.* in \([0-9]*\) group commits.*/\1/p' \
	    "$dir/serve.log")
	if [ "${stored:-0}" -lt "$n" ]; then
		echo "bench/smtp.sh: only ${stored:-0} of $n stored" >&2
		exit 1
	fi
	acked=$(rate "$n" "$t0" "$t1")
	processed=$(rate "$n" "$t0" "$t2")
	rm -rf "$dir"
}

# bench_sink LOADFN: sets sink.
bench_sink() {
	sport=25250
	while :; do
		# shellcheck disable=SC2086
		smtp-sink $sink_user "127.0.0.1:$sport" 256 2>/dev/null &
		spid=$!
		sleep 0.3
		kill -0 "$spid" 2>/dev/null && break
		sport=$((sport + 1))
		[ $sport -gt 25350 ] && { echo "no port for smtp-sink" >&2; exit 1; }
	done
	pids="$pids $spid"
	t0=$(now)
	if ! "$1" "127.0.0.1:$sport"; then
		echo "bench/smtp.sh: the load failed against smtp-sink:" >&2
		cat "$tmp/load.out" >&2
		exit 1
	fi
	t1=$(now)
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	sink=$(rate "$n" "$t0" "$t1")
}

echo "bench/smtp: $n messages, $sessions sessions, loopback, $(nproc) CPUs;" \
    "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "corpus: $files files, mean $mean bytes; Kafka: $kafka_on"

bench_rebound corpus load_corpus
c_acked=$acked c_processed=$processed c_rounds=$rounds c_deferred=${deferred:-0}
bench_sink load_corpus
c_sink=$sink
bench_rebound source load_source
s_acked=$acked s_processed=$processed s_rounds=$rounds
bench_sink load_source
s_sink=$sink

printf '\n%-34s %10s %10s %10s\n' "msgs/s" "corpus" "smtp-source" ""
printf '%-34s %10s %10s\n' "rebound acknowledged (fsync'd)" "$c_acked" "$s_acked"
printf '%-34s %10s %10s\n' "rebound processed (stored)" "$c_processed" \
    "$s_processed"
printf '%-34s %10s %10s\n' "smtp-sink acknowledged (ceiling)" "$c_sink" \
    "$s_sink"
printf '%-34s %10s %10s\n' "rebound 451 back-pressure, retried" \
    "$c_deferred" "-"
awk -v ca="$c_acked" -v cp="$c_processed" -v cs="$c_sink" -v cr="$c_rounds" \
    -v sa="$s_acked" -v sp="$s_processed" -v ss="$s_sink" -v sr="$s_rounds" \
    -v n="$n" -v strict="${SMTP_BENCH_STRICT:-0}" 'BEGIN {
	printf "%-34s %10.2f %10.2f   target >= 0.25\n",
	    "acknowledged / smtp-sink", ca / cs, sa / ss
	printf "%-34s %10.2f %10.2f   target >= 0.90\n",
	    "processed / acknowledged", cp / ca, sp / sa
	if (cr > 0 && sr > 0)
		printf "%-34s %10.1f %10.1f\n",
		    "messages per group commit (fsync)", n / cr, n / sr
	met = ca / cs >= 0.25 && sa / ss >= 0.25 && cp / ca >= 0.9 &&
	    sp / sa >= 0.9
	printf "targets: %s\n", met ? "MET" : "MISSED"
	printf "smtp_ack_ratio=%.2f smtp_processed_ratio=%.2f\n", ca / cs, cp / ca
	exit (strict == 1 && !met) ? 1 : 0
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
