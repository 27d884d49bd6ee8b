#!/bin/sh
# make demo: install what is missing, build a Release binary in build/,
# then run rebound as in production: `rebound serve` on its embedded
# defaults (SMTP on 127.0.0.1:2525 for the domain localhost, HTTP API and
# dashboard on 127.0.0.1:8025, the embedded Kafka broker, database
# ./rebound.db, spool ./rebound.spool) in a fresh temporary directory,
# deliver the sample feedback of data/samples/ to its SMTP port, print
# what happened (transactions, events, rates, alerts, suppressed
# addresses, the outbox, through the CLI) and how to look further (CLI,
# dashboard URL, kcat), and keep serving until interrupted (Ctrl-C: a
# graceful stop; the directory is removed).
#
# REBOUND_DEMO_EXIT=1: stop after the summary (for scripts).
# REBOUND_DEMO_KEEP=1: keep the temporary directory at the end.
# The samples are dated 1 June 2024: the demo runs rebound's clock at
# that afternoon (REBOUND_NOW) so that they fall in the 24 h window of
# the rates.  Port 2525 or 8025 taken?  REBOUND_SMTP_LISTEN=127.0.0.1:PORT,
# REBOUND_HTTP_LISTEN=127.0.0.1:PORT.
#
# Each step is a function; each part of rebound adds its lines to
# step_more.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$root/build/rebound
send=$root/build/bench/smtp_load
samples=$root/data/samples
REBOUND_NOW=${REBOUND_NOW:-2024-06-01T16:00:00Z}
export REBOUND_NOW
serve_pid=
demo_dir=

step_deps() {
	scripts/deps.sh build
}

step_build() {
	log=build/build.log
	mkdir -p build
	echo "demo: building $bin (Release); log in $log"
	if ! scripts/build.sh build -DCMAKE_BUILD_TYPE=Release >"$log.new" 2>&1
	then
		mv "$log.new" "$log"
		tail -40 "$log" >&2
		echo "demo: the build failed; the whole log is in $log" >&2
		exit 1
	fi
	mv "$log.new" "$log"
	grep -i 'warning' "$log" | head -20 || true
}

banner() {
	printf '\n==== %s\n' "$1"
}

cleanup() {
	if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
		kill -TERM "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	if [ -n "$demo_dir" ] && [ "${REBOUND_DEMO_KEEP:-0}" != 1 ]; then
		rm -rf "$demo_dir"
	elif [ -n "$demo_dir" ]; then
		echo "demo: kept $demo_dir"
	fi
}

# rebound serve with no configuration, in a fresh directory.
step_serve() {
	demo_dir=$(mktemp -d "${TMPDIR:-/tmp}/rebound-demo.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	cd "$demo_dir"
	banner "rebound serve (in $demo_dir)"
	"$bin" serve 2>serve.log &
	serve_pid=$!
	i=0
	while ! grep -q 'serve: ready' serve.log 2>/dev/null; do
		i=$((i + 1))
		if ! kill -0 "$serve_pid" 2>/dev/null || [ $i -gt 200 ]; then
			cat serve.log >&2
			if grep -q 'Address already in use' serve.log; then
				echo "demo: a port is taken; run for example" \
				    "REBOUND_SMTP_LISTEN=127.0.0.1:2526" \
				    "REBOUND_HTTP_LISTEN=127.0.0.1:8026" \
				    "make demo" >&2
			fi
			exit 1
		fi
		sleep 0.05
	done
	smtp=$(sed -n 's/.*smtp: listening on \([^ ]*\).*/\1/p' serve.log |
	    head -n 1)
	http=$(sed -n 's/.*http: API and dashboard on \([^ ]*\).*/\1/p' \
	    serve.log | head -n 1)
	kafka=$(sed -n 's/.*kafka: embedded broker at \([^ ]*\).*/\1/p' \
	    serve.log | head -n 1)
	sed 's/^[^ ]* rebound: [a-z]*: /  /' serve.log
	cat <<EOF

The daemon runs on its embedded defaults: SMTP on $smtp for the
feedback domain localhost (bounces@, fbl@, postmaster@ and signed VERP
addresses; anything else gets 550 5.7.1), database ./rebound.db, spool
./rebound.spool ("250" only once a message is fsync'd there).
EOF
}

# The sample feedback over SMTP; sends so that the rates mean something.
step_deliver() {
	banner "sends, then the sample feedback over SMTP to $smtp"
	cat <<EOF
The samples are dated 1 June 2024, so rebound's clock is set to that
afternoon for the demo (REBOUND_NOW=$REBOUND_NOW): they fall in the 24 h
window of the rates.  First the send counts (the denominators):
EOF
	"$bin" sends add --identity shop.example.com --count 200
	"$bin" sends add --identity news.example.org --count 200
	arf=$(ls "$samples"/arf-*.eml)
	other=$(ls "$samples"/*.eml | grep -v '/arf-')
	# shellcheck disable=SC2086
	echo "Then each sample, from <> to bounces@localhost (complaints to"
	echo "fbl@localhost), with build/bench/smtp_load:"
	"$send" -1 -s 1 -H demo.client -f '<>' -t bounces@localhost "$smtp" \
	    $other
	# shellcheck disable=SC2086
	"$send" -1 -s 1 -H demo.client -f '<>' -t fbl@localhost "$smtp" $arf
	i=0
	while ls rebound.spool | grep -q '^m\.'; do
		i=$((i + 1))
		[ $i -gt 400 ] && { echo "demo: not stored in time" >&2; exit 1; }
		sleep 0.05
	done
	echo
	echo "One log line per SMTP transaction:"
	grep 'smtp: session=' serve.log | sed 's/^[^ ]* rebound: [a-z]*: /  /'
	# The pipeline logs a summary when an ingest ends (within 1 s).
	n=$(ls "$samples"/*.eml | wc -l)
	i=0
	while [ "$(sed -n 's/.*pipeline: \([0-9]*\) messages.*/\1/p' \
	    serve.log | awk '{ s += $1 } END { print s + 0 }')" -lt "$n" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && break
		sleep 0.05
	done
	echo
	echo "What the pipeline stored (events per recipient):"
	grep 'pipeline: [0-9]* messages' serve.log |
	    sed 's/^[^ ]* rebound: [a-z]*: /  /'
}

step_summary() {
	banner "rebound stats   (rates of the last 24 h per sending identity)"
	"$bin" stats
	banner "rebound alerts   (status changes of the rates)"
	"$bin" alerts
	banner "rebound suppression list"
	"$bin" suppression list
	banner "rebound review list   (feedback that is not feedback)"
	"$bin" review list
	banner "rebound status   (the database and the Kafka outbox)"
	# The publisher sends what the store put in the outbox: wait for it.
	i=0
	until "$bin" status 2>/dev/null | grep -q '^outbox  *0 rows'; do
		i=$((i + 1))
		[ $i -gt 100 ] && break
		sleep 0.1
	done
	"$bin" status
}

step_more() {
	cat <<EOF

==== Look further (in another terminal, while this runs)
  cd $demo_dir
  REBOUND_NOW=$REBOUND_NOW $bin stats --json
  REBOUND_NOW=$REBOUND_NOW $bin suppression check anna.schmidt@example.net
  swaks --server $smtp --from '<>' --to bounces@localhost \\
      --data @$samples/postfix-hard-bounce.eml
  $bin classify --jsonl $samples/arf-abuse.eml
      the SES-shaped event of a message, without storing it
  $bin help serve
EOF
	# ---- dashboard (HTTP server)
	if [ -n "${http:-}" ]; then
		cat <<EOF
  dashboard and API: $http  (curl $http/healthz)
      the web console; Grafana: import dashboards/grafana/rebound.json
EOF
	fi
	# ---- kafka (the embedded broker; kafka.brokers replaces it)
	if [ -n "${kafka:-}" ]; then
		cat <<EOF
  kcat -C -b $kafka -t rebound.events
      the events on the embedded Kafka broker (apt-get install kcat;
      it keeps nothing across restarts)
EOF
	fi
}

step_wait() {
	if [ "${REBOUND_DEMO_EXIT:-0}" = 1 ]; then
		echo
		echo "demo: REBOUND_DEMO_EXIT=1: stopping rebound serve"
		kill -TERM "$serve_pid"
		wait "$serve_pid"
		serve_pid=
		tail -n 3 serve.log | sed 's/^[^ ]* rebound: [a-z]*: /  /'
		return
	fi
	echo
	echo "rebound serve keeps running (pid $serve_pid); Ctrl-C stops it."
	wait "$serve_pid" || true
}

step_deps
step_build
step_serve
step_deliver
step_summary
step_more
step_wait
