#!/bin/sh
# make demo: install what is missing, build a Release binary in build/ and
# classify the sample feedback messages in data/samples/, first as one
# line per recipient, then as the SES-shaped JSON events.
#
# Each step is a function so later demos (the daemon, HTTP, Kafka) can be
# added as further steps after these.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=build/rebound

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

step_classify() {
	banner "rebound classify data/samples"
	cat <<'EOF'
Each sample feedback message, one line per recipient:
file, event type, recipient, status code, reason, bounce type.

EOF
	"$bin" classify data/samples
	banner "rebound classify --jsonl data/samples"
	cat <<'EOF'
The same messages as Amazon-SES-shaped JSON events, one per line
(extensions such as the fine reason and the source are under "rebound").

EOF
	"$bin" classify --jsonl data/samples
	cat <<EOF

==== Try more
  $bin classify --explain data/samples/postfix-mixed-report.eml
      shows which status code or rule decided each recipient's reason
  $bin classify --jsonl data/samples/arf-abuse.eml | python3 -m json.tool
      one event, pretty-printed
  $bin classify PATH...
      your own .eml files, Maildirs, mbox files, or - for stdin
  $bin help classify
EOF
}

# ---- Kafka (the embedded broker) --------------------------------------
# rebound serve with no kafka.brokers starts an embedded broker on
# loopback; the samples go in through a watched Maildir and come out on
# rebound.events.  The daemon is left running so the kcat line works;
# the next demo (or the printed kill) stops it.
step_kafka() {
	banner "rebound serve: events on Kafka (embedded broker)"
	dir=build/demo
	if [ -f "$dir/serve.pid" ]; then
		kill "$(cat "$dir/serve.pid")" 2>/dev/null || true
		sleep 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir/Maildir/new" "$dir/Maildir/cur" "$dir/Maildir/tmp"
	"$bin" serve --db "$dir/demo.db" --smtp 127.0.0.1:0 \
	    --http 127.0.0.1:0 --maildir "$dir/Maildir" \
	    --log-file "$dir/serve.log" </dev/null >/dev/null 2>&1 &
	echo $! >"$dir/serve.pid"
	i=0
	until grep -q 'serve: ready' "$dir/serve.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "demo: rebound serve did not start; see" \
			    "$dir/serve.log" >&2
			return 0
		fi
		sleep 0.1
	done
	kafka=$(sed -n 's/.*kafka: embedded broker at \([^ ]*\).*/\1/p' \
	    "$dir/serve.log")
	cp data/samples/*.eml "$dir/Maildir/new/"
	i=0
	until "$bin" status --db "$dir/demo.db" 2>/dev/null |
	    grep -q '^outbox        0 rows' &&
	    [ -z "$(ls "$dir/Maildir/new")" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && break
		sleep 0.1
	done
	grep 'kafka: embedded broker at' "$dir/serve.log"
	"$bin" status --db "$dir/demo.db"
	cat <<EOF

rebound serve runs in the background (pid $(cat "$dir/serve.pid"), log
$dir/serve.log) with the samples stored and published.  The embedded
broker is for trying rebound out: it keeps nothing across restarts.
Read the events (kcat: apt-get install kcat):

  kcat -C -b $kafka -t rebound.events

Stop it with: kill $(cat "$dir/serve.pid")
EOF
}

# ---- the web console ----------------------------------------------------
# The URL of the daemon step_kafka left running, else how to start one.
step_dashboard() {
	banner "Dashboard"
	url=$(sed -n 's/.*http: API and dashboard on \([^ "]*\).*/\1/p' \
	    build/demo/serve.log 2>/dev/null | tail -n 1)
	if [ -n "$url" ] && kill -0 "$(cat build/demo/serve.pid 2>/dev/null)" 2>/dev/null
	then
		echo "The web console of that rebound serve: $url/"
		echo "(the samples are dated 2024, outside the Overview's window;"
		echo "the Suppression page lists the addresses they suppressed)"
	else
		echo "Run $bin serve, then open" \
		    "http://${REBOUND_HTTP_LISTEN:-127.0.0.1:8025}/"
	fi
	echo "Grafana: import dashboards/grafana/rebound.json"
}

step_deps
step_build
step_classify
step_kafka
step_dashboard
