#!/bin/sh
# The real `rebound serve` end to end: the sample feedback delivered
# with swaks lands in the store (events, suppressions, read back with
# the CLI); one JSON log line per transaction; SIGHUP reopens the log
# file and reloads the rules; SIGTERM while a message is being sent
# lets it finish, stores it and exits 0; the spool is empty after.
# Usage: serve_daemon.sh REBOUND SMTP_PROBE STORE_DBTOOL
. "$(dirname "$0")/lib.sh"
rebound=$testd
dbtool=${3:?usage: $0 REBOUND SMTP_PROBE STORE_DBTOOL}

need_swaks
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3" >&2; exit 77; }

# 1. The samples, one swaks session each, to the feedback addresses;
# two listen addresses (IPv6 too, when the host has it): the complaints
# go over [::1].
v6=
grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null && v6='[::1]:0'
serve_start d1 --log-format json --log-file "$tmp/d1.jsonl" \
    --smtp 127.0.0.1:0 ${v6:+--smtp "$v6"}
[ -z "$v6" ] || [ -n "$addr6" ] || fail "no IPv6 listener"
sent=0
for f in "$samples"/*.eml; do
	server=$addr
	case $(basename "$f") in
	arf-*) to=fbl@fb.example; server=${addr6:-$addr} ;;
	*) to=bounces@fb.example ;;
	esac
	if swaks --server "$server" --from '<>' --to "$to" --data @"$f" \
	    >"$tmp/d1.swaks" 2>&1 && grep -q '250 2.0.0 Ok: queued' \
	    "$tmp/d1.swaks"; then
		sent=$((sent + 1))
	else
		fail "swaks $(basename "$f")"; tail -3 "$tmp/d1.swaks" >&2
	fi
done
n=$(ls "$samples"/*.eml | wc -l)
[ "$sent" = "$n" ] && ok "$n samples acknowledged" || fail "$sent of $n"
wait_stored "$tmp/d1.db" "$n" 10 && ok "all $n stored" ||
    fail "stored: $("$dbtool" count "$tmp/d1.db" messages)"
"$rebound" suppression check --db "$tmp/d1.db" anna.schmidt@example.net \
    >"$tmp/d1.check" && fail "hard bounce did not suppress"
grep -q BOUNCE "$tmp/d1.check" && ok "hard bounce suppressed (CLI)" ||
    { fail "suppression check"; cat "$tmp/d1.check" >&2; }
ev=$("$dbtool" count "$tmp/d1.db" events)
[ "$ev" -ge "$n" ] && ok "$ev events" || fail "only $ev events"

# One JSON line per transaction, with the fields of the issue.
python3 - "$tmp/d1.jsonl" "$n" <<'EOF' && ok "JSON log lines" || fail "JSON log"
import json, sys
txn = 0
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert "time" in o and "level" in o and "msg" in o, o
    if o["msg"] == "smtp transaction":
        for k in ("session", "client", "helo", "from", "rcpts", "size",
                  "result", "queue", "rejected"):
            assert k in o, (k, o)
        assert o["result"].startswith("250 2.0.0"), o
        assert o["from"] == "" and o["client"] in ("127.0.0.1", "::1"), o
        txn += 1
assert txn == int(sys.argv[2]), txn
EOF

[ -z "$v6" ] || grep -q '"client":"::1"' "$tmp/d1.jsonl" ||
    fail "no transaction over IPv6"

# 10,000 random command lines (garbage, NULs, long lines): the daemon
# stays up and answers (under ASan: no report, no leak at the stop).
if "$probe" random "$addr" 10000 4243 >"$tmp/d1.random"; then
	ok "10,000 random lines: $(cat "$tmp/d1.random")"
else
	fail "random lines: $(cat "$tmp/d1.random")"
fi

# 2. SIGHUP: the log file moved away is made again; rules reloaded.
mv "$tmp/d1.jsonl" "$tmp/d1.jsonl.1"
kill -HUP "$pid"
wait_for "$tmp/d1.jsonl" 'rules reloaded' 5 && ok "SIGHUP reopens and reloads" ||
    fail "SIGHUP"

# 3. SIGTERM mid-DATA: the message finishes (250), is stored; exit 0.
{
	printf 'EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nDATA\r\n'
	sed -n '1,5p' "$samples/postfix-hard-bounce.eml" | sed 's/$/\r/'
	sleep 0.5
	kill -TERM "$pid"
	sleep 0.5
	sed '1,5d' "$samples/postfix-hard-bounce.eml" |
	    sed 's/$/\r/; s/^\./../'
	printf 'Subject-Tail: stop test\r\n.\r\nQUIT\r\n'
} | "$probe" chat "$addr" --wait 3000 >"$tmp/d1.term"
wait "$pid"
st=$?
grep -q '^250 2.0.0 Ok: queued as' "$tmp/d1.term" && [ "$st" = 0 ] &&
    ok "SIGTERM lets a session finish, exit 0" ||
    { fail "SIGTERM (status $st)"; cat "$tmp/d1.term" >&2; }
grep -q "\"msg\":\"serve: stopped; $((n + 1)) messages stored\"" \
    "$tmp/d1.jsonl" ||
    fail "the last message was not stored before the exit"
ls "$tmp/d1.spool" | grep -q '^m\.' && fail "spool not empty after stop"

finish
