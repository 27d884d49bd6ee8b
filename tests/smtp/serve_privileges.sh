#!/bin/sh
# Privileged ports and serve.user (as root only; skipped otherwise):
# rebound serve binds a port below 1024 and [::1] as root, then runs
# as nobody (every uid and gid of the process), and still takes mail:
# the spool and the database it makes belong to nobody.  An unknown
# user stops the start.
# Usage: serve_privileges.sh REBOUND SMTP_PROBE STORE_DBTOOL
. "$(dirname "$0")/lib.sh"
rebound=$testd
dbtool=${3:?usage: $0 REBOUND SMTP_PROBE STORE_DBTOOL}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: binding a port below 1024 needs root" >&2
	exit 77
fi
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody" >&2; exit 77; }
need_swaks
nobody_uid=$(id -u nobody)

# nobody must reach its directory inside our private temp dir.
chmod 711 "$tmp"
mkdir "$tmp/run"
chown nobody "$tmp/run"

# IPv6 loopback, if this host has it.
v6=
grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null && v6='[::1]:0'

# A free privileged port: try a few (tests run in parallel, and other
# daemons may hold some).
p=0
for try in 1 2 3 4 5 6 7 8; do
	p=$((600 + $$ % 300 + try))
	log=$tmp/run/u$try.log
	"$rebound" serve --db "$tmp/run/u.db" --spool "$tmp/run/u.spool" \
	    --smtp "127.0.0.1:$p" ${v6:+--smtp "$v6"} --http 127.0.0.1:0 \
	    --domain fb.example --user nobody --log-file "$log" \
	    2>>"$tmp/u.stderr" &
	pid=$!
	daemon_pids="$daemon_pids $pid"
	i=0
	while kill -0 "$pid" 2>/dev/null &&
	    ! grep -q 'serve: ready' "$log" 2>/dev/null &&
	    [ $i -lt $((200 * slow)) ]; do
		sleep 0.05; i=$((i + 1))
	done
	grep -q 'serve: ready' "$log" 2>/dev/null && break
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
if ! grep -q 'serve: ready' "$log" 2>/dev/null; then
	fail "no privileged port could be bound"
	cat "$log" "$tmp/u.stderr" >&2
	finish
fi
grep -q "smtp: listening on 127.0.0.1:$p" "$log" || fail "not on port $p"
grep -q 'serve: running as nobody' "$log" || fail "no privilege drop logged"
[ -z "$v6" ] || grep -q 'smtp: listening on \[::1\]:' "$log" ||
    fail "not on [::1]"

# Every uid (real, effective, saved, fs) and gid is nobody's now.
uids=$(sed -n 's/^Uid:[[:space:]]*//p' "/proc/$pid/status" | tr -s ' \t' ' ')
[ "$uids" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] &&
    ok "bound port $p as root, now runs as nobody" ||
    fail "uids after the drop: $uids"
groups=$(sed -n 's/^Groups:[[:space:]]*//p' "/proc/$pid/status")
case " $groups " in
*" 0 "*) fail "still in group root: $groups" ;;
esac

if swaks --server "127.0.0.1:$p" --from '<>' --to bounces@fb.example \
    --data @"$samples/postfix-hard-bounce.eml" >"$tmp/u.swaks" 2>&1 &&
    grep -q '250 2.0.0 Ok: queued' "$tmp/u.swaks" &&
    wait_stored "$tmp/run/u.db" 1 5; then
	ok "mail taken and stored after the drop"
else
	fail "mail after the drop"; cat "$tmp/u.swaks" "$log" >&2
fi
[ "$(stat -c %U "$tmp/run/u.spool")" = nobody ] &&
    [ "$(stat -c %U "$tmp/run/u.db")" = nobody ] &&
    ok "spool and database belong to nobody" ||
    fail "owners: $(stat -c '%n %U' "$tmp/run/u.spool" "$tmp/run/u.db")"
stop "$pid"

serve_refused "an unknown user" "no user 'no-such-user-here'" \
    --user no-such-user-here

finish
