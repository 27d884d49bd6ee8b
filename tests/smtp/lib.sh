# Shared by tests/smtp/test_*.sh (sourced).  Each test gets a temp dir,
# starts smtp_testd on loopback port 0 and reads the bound addresses
# from its ready file.  Usage of a test: test_X.sh SMTP_TESTD SMTP_PROBE.
set -u

testd=${1:?usage: $0 SMTP_TESTD SMTP_PROBE}
probe=${2:?usage: $0 SMTP_TESTD SMTP_PROBE}
root=$(cd "$(dirname "$0")/../.." && pwd)
samples=$root/data/samples
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-smtp.XXXXXX") || exit 1
daemon_pids=
failures=0
# A sanitizer build is several times slower: waits scale with it.
slow=1
[ "${REBOUND_SANITIZE:-}" = 1 ] && slow=4

cleanup() {
	for p in $daemon_pids; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmp"
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

# need_swaks: install it when we may (root with apt-get), else skip.
need_swaks() {
	command -v swaks >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y swaks \
		    >"$tmp/apt.log" 2>&1
	fi
	if ! command -v swaks >/dev/null 2>&1; then
		echo "SKIP: swaks is not installed and could not be" \
		    "(apt-get install swaks as root)" >&2
		exit 77
	fi
}

# start NAME [smtp_testd options...]: spool $tmp/NAME.spool, events
# $tmp/NAME.out, log $tmp/NAME.log; sets pid, addr (first address),
# port and addr6 (an IPv6 address, if one was bound).
start() {
	name=$1
	shift
	rm -f "$tmp/$name.ready"
	# Port 0 unless the test gives its addresses: tests run in parallel.
	case " $* " in
	*" --listen "*) ;;
	*) set -- --listen 127.0.0.1:0 "$@" ;;
	esac
	"$testd" --spool "$tmp/$name.spool" --out "$tmp/$name.out" \
	    --ready "$tmp/$name.ready" --hostname mx.test \
	    --domain fb.example --stop-timeout 5 "$@" \
	    2>>"$tmp/$name.log" &
	pid=$!
	daemon_pids="$daemon_pids $pid"
	i=0
	while [ ! -s "$tmp/$name.ready" ]; do
		i=$((i + 1))
		if [ $i -gt $((200 * slow)) ] || ! kill -0 "$pid" 2>/dev/null
		then
			echo "FAIL: smtp_testd $name did not start" >&2
			cat "$tmp/$name.log" >&2
			exit 1
		fi
		sleep 0.05
	done
	addr=$(head -n 1 "$tmp/$name.ready")
	port=${addr##*:}
	addr6=$(grep '^\[' "$tmp/$name.ready" | head -n 1)
}

# serve_start NAME [rebound serve options...]: the real daemon with
# database $tmp/NAME.db, spool $tmp/NAME.spool, log $tmp/NAME.log (or
# the --log-file given), SMTP and HTTP on 127.0.0.1 port 0 unless
# --smtp or --http is given, feedback domain fb.example; sets pid, addr,
# port, addr6 and http_url from the "listening on" lines.  $rebound is
# the binary.
serve_start() {
	name=$1
	shift
	log=$tmp/$name.log
	prev=
	for a in "$@"; do
		[ "$prev" = --log-file ] && log=$a
		prev=$a
	done
	case " $* " in
	*" --smtp "*) ;;
	*) set -- --smtp 127.0.0.1:0 "$@" ;;
	esac
	case " $* " in
	*" --log-file "*) ;;
	*) set -- --log-file "$log" "$@" ;;
	esac
	# The HTTP server too: on a free port, never the default 8025.
	case " $* " in
	*" --http "*) ;;
	*) set -- --http 127.0.0.1:0 "$@" ;;
	esac
	lines0=$(count_lines "$log")
	"$rebound" serve --db "$tmp/$name.db" --spool "$tmp/$name.spool" \
	    --domain fb.example "$@" 2>>"$tmp/$name.stderr" &
	pid=$!
	daemon_pids="$daemon_pids $pid"
	i=0
	while ! tail -n +$((lines0 + 1)) "$log" 2>/dev/null |
	    grep -q 'serve: ready'; do
		i=$((i + 1))
		if [ $i -gt $((200 * slow)) ] || ! kill -0 "$pid" 2>/dev/null
		then
			echo "FAIL: rebound serve $name did not start" >&2
			cat "$log" "$tmp/$name.stderr" >&2
			exit 1
		fi
		sleep 0.05
	done
	listening=$(tail -n +$((lines0 + 1)) "$log" |
	    sed -n 's/.*smtp: listening on \([^ "]*\).*/\1/p')
	addr=$(echo "$listening" | head -n 1)
	port=${addr##*:}
	addr6=$(echo "$listening" | grep '^\[' | head -n 1)
	http_url=$(tail -n +$((lines0 + 1)) "$log" |
	    sed -n 's/.*http: API and dashboard on \([^ "]*\).*/\1/p' |
	    head -n 1)
}

# serve_refused WHAT PATTERN [rebound serve options...]: the start must
# fail (within 20 s) with an error matching PATTERN.
serve_refused() {
	what=$1
	pattern=$2
	shift 2
	timeout 20 "$rebound" serve --db "$tmp/refused.db" \
	    --spool "$tmp/refused.spool" --smtp 127.0.0.1:0 \
	    --http 127.0.0.1:0 "$@" >"$tmp/refused.out" 2>&1
	st=$?
	if [ $st = 0 ] || [ $st = 124 ]; then
		fail "$what: started anyway"
	elif grep -q -- "$pattern" "$tmp/refused.out"; then
		ok "$what: refused"
	else
		fail "$what: no '$pattern' in:"; cat "$tmp/refused.out" >&2
	fi
}

# wait_stored DB N [SECONDS]: until the store holds N messages.
wait_stored() {
	i=0
	limit=$(( ${3:-10} * 20 * slow ))
	while [ "$("$dbtool" count "$1" messages 2>/dev/null || echo 0)" -lt "$2" ]
	do
		i=$((i + 1))
		[ $i -gt $limit ] && return 1
		sleep 0.05
	done
	return 0
}

# stop PID: SIGTERM and wait; fails the test on a bad exit status
# (a sanitizer report, a crash).
stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
	st=$?
	[ $st -eq 0 ] || fail "smtp_testd (pid $1) exited with status $st"
}

# wait_for FILE PATTERN [SECONDS]: until grep finds PATTERN in FILE.
wait_for() {
	i=0
	limit=$(( ${3:-10} * 20 * slow ))
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $limit ] && return 1
		sleep 0.05
	done
	return 0
}

# spool_empty DIR: until DIR holds no segment (m.*) for 5 s; 1 if it
# still does.
spool_empty() {
	i=0
	while ls "$1" | grep -q '^m\.' && [ $i -lt $((100 * slow)) ]; do
		sleep 0.05; i=$((i + 1))
	done
	! ls "$1" | grep -q '^m\.'
}

# count_lines FILE: lines in FILE (0 when missing).
count_lines() {
	if [ -f "$1" ]; then
		wc -l <"$1" | tr -d ' '
	else
		echo 0
	fi
}

finish() {
	if [ $failures -gt 0 ]; then
		echo "$failures failure(s)" >&2
		exit 1
	fi
	echo "all ok"
	exit 0
}
