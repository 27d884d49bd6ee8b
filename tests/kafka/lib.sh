# Shared by tests/kafka/test_*.sh (sourced); the functions' own
# variables start with _ so that they never clobber a test's.  Each test gets a temp dir
# and a config there ($REBOUND_CONFIG) with the settings that keep the
# librdkafka mock cluster quick (reconnect backoff, session timeout);
# it starts what it needs on loopback (ports chosen by the kernel) and
# kills it at the end.  Usage of a test: test_X.sh REBOUND KAFKATOOL.
set -u

rebound=${1:?usage: $0 REBOUND KAFKATOOL}
tool=${2:?usage: $0 REBOUND KAFKATOOL}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-kafka.XXXXXX") || exit 1
daemon_pids=
failures=0
# A sanitizer build is several times slower: waits scale with it.
slow=1
[ "${REBOUND_SANITIZE:-}" = 1 ] && slow=4
export REBOUND_DATA_DIR="${REBOUND_DATA_DIR:-$root/data}"
export REBOUND_CONFIG=$tmp/rebound.conf
export REBOUND_STORE_DB=$tmp/r.db
unset REBOUND_NOW

cleanup() {
	for p in $daemon_pids; do
		kill -KILL "$p" 2>/dev/null
	done
	exec 3>&- 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

ok() {
	echo "ok: $*"
}

finish() {
	if [ $failures -gt 0 ]; then
		echo "$failures failure(s)" >&2
		exit 1
	fi
	echo "all ok"
	exit 0
}

# The mock cluster's gotchas (TOOLCHAIN.md 3): reconnects back off to
# 10 s and a group waits session.timeout.ms - 1 s after a member left.
cat >"$REBOUND_CONFIG" <<'EOF'
[kafka]
property.reconnect.backoff.max.ms = 500
property.session.timeout.ms = 6000
property.heartbeat.interval.ms = 500
EOF

# need_kcat: install it when we may (root with apt-get), else skip.
need_kcat() {
	command -v kcat >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y kcat \
		    >"$tmp/apt.log" 2>&1
	fi
	if ! command -v kcat >/dev/null 2>&1; then
		echo "SKIP: kcat is not installed and could not be" \
		    "(apt-get install kcat as root)" >&2
		exit 77
	fi
}

# broker_start [N]: an embedded broker of N brokers in a process of its
# own (kafkatool broker) that obeys broker_cmd; sets broker (address).
broker_start() {
	rm -f "$tmp/broker.in"
	mkfifo "$tmp/broker.in"
	"$tool" broker "${1:-1}" <"$tmp/broker.in" >"$tmp/broker.out" \
	    2>"$tmp/broker.err" &
	daemon_pids="$daemon_pids $!"
	exec 3>"$tmp/broker.in"
	_i=0
	while ! grep -q '^broker ' "$tmp/broker.out" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt $((200 * slow)) ]; then
			echo "FAIL: the broker did not start" >&2
			cat "$tmp/broker.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	broker=$(sed -n 's/^broker //p' "$tmp/broker.out")
}

# broker_cmd down|up: and wait for its "ok".
broker_cmd() {
	_n=$(grep -c '^ok' "$tmp/broker.out")
	echo "$1" >&3
	_i=0
	while [ "$(grep -c '^ok' "$tmp/broker.out")" -le "$_n" ]; do
		_i=$((_i + 1))
		[ $_i -gt $((100 * slow)) ] && { fail "broker $1"; return 1; }
		sleep 0.05
	done
}

# serve_start NAME [rebound serve options...]: the daemon on the test's
# database with a Maildir $tmp/NAME.md to feed it, log $tmp/NAME.log;
# waits for "serve: ready"; sets pid, and kafka (the address of the
# embedded broker, when it started one).
serve_start() {
	_name=$1
	shift
	mkdir -p "$tmp/$_name.md/new" "$tmp/$_name.md/cur" "$tmp/$_name.md/tmp"
	: >"$tmp/$_name.log"
	"$rebound" serve --smtp 127.0.0.1:0 --http 127.0.0.1:0 \
	    --spool "$tmp/$_name.spool" --maildir "$tmp/$_name.md" \
	    --log-file "$tmp/$_name.log" "$@" 2>>"$tmp/$_name.stderr" &
	pid=$!
	daemon_pids="$daemon_pids $pid"
	_i=0
	while ! grep -q 'serve: ready' "$tmp/$_name.log"; do
		_i=$((_i + 1))
		if [ $_i -gt $((200 * slow)) ] || ! kill -0 "$pid" 2>/dev/null
		then
			echo "FAIL: rebound serve $_name did not start" >&2
			cat "$tmp/$_name.log" "$tmp/$_name.stderr" >&2
			exit 1
		fi
		sleep 0.05
	done
	kafka=$(sed -n 's/.*kafka: embedded broker at \([^ "]*\).*/\1/p' \
	    "$tmp/$_name.log")
}

# serve_stop PID: SIGTERM and wait; a bad exit status (a sanitizer
# report, a crash) fails the test.
serve_stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
	_st=$?
	[ $_st -eq 0 ] || fail "rebound serve (pid $1) exited with status $_st"
}

# feed NAME FROM TO: generated messages FROM..TO-1 into NAME's Maildir
# (written aside, then moved in whole).
feed() {
	rm -rf "$tmp/gen"
	"$tool" gen "$tmp/gen" "$3" || exit 1
	_j=$2
	while [ "$_j" -lt "$3" ]; do
		mv "$tmp/gen/new/$(printf %08d "$_j").kafkatest" \
		    "$tmp/$1.md/new/"
		_j=$((_j + 1))
	done
}

# wait_sql SQL OP N [SECONDS]: until the database's number is OP N.
wait_sql() {
	"$tool" wait "$1" "$2" "$3" $(( ${4:-20} * 1000 * slow ))
}

# drained N: N messages stored and the outbox empty.
drained() {
	wait_sql "SELECT count(*) FROM messages" ge "$1" &&
	    wait_sql "SELECT count(*) FROM outbox" eq 0
}
