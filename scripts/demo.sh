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

step_dashboard() {
	banner "Dashboard"
	cat <<EOF
  $bin serve
      runs the feedback server (SMTP on 127.0.0.1:2525) and the HTTP API;
      the web console is then at http://${REBOUND_HTTP_LISTEN:-127.0.0.1:8025}/
      (Grafana: import dashboards/grafana/rebound.json)
EOF
}

step_deps
step_build
step_classify
step_dashboard
