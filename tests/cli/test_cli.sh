#!/bin/sh
# CLI behaviour of the rebound binary: exit codes and streams of the Unix
# conventions (cli/main.c), and `rebound classify` on every kind of input:
# files, stdin, mbox, Maildir, an unreadable path among good ones, and a
# large mbox whose peak memory must stay far below its size (the reader
# streams it; memory is bounded by the largest message).
#
# Usage: test_cli.sh REBOUND_BINARY [EXPECTED_VERSION]
# Environment: REBOUND_CLI_BIG_MB  size of the large mbox (default 200)
#              REBOUND_SANITIZE=1  sanitizer build: the large mbox is made
#                                  smaller and its memory only reported
# All messages are written here, to a temporary directory removed at exit.
set -u

bin=${1:?usage: test_cli.sh REBOUND_BINARY [EXPECTED_VERSION]}
want_version=${2:-}
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
if [ ! -x "$bin" ]; then
	echo "cli: $bin: no such executable (build it first)"
	echo "cli: 0 passed, 1 failed"
	exit 1
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

pass=0
fail=0

ok() {
	pass=$((pass + 1))
	echo "ok   - $1"
}

# nok NAME WHY: a failure, with the captured streams for context.
nok() {
	fail=$((fail + 1))
	echo "FAIL - $1: $2"
	echo "  exit status: $rc"
	echo "  stdout (head):"
	head -5 "$tmp/out" | sed 's/^/    /'
	echo "  stderr (head):"
	head -5 "$tmp/err" | sed 's/^/    /'
}

# run ARG...: run the binary with no stdin; sets rc, out in $tmp/out,
# err in $tmp/err.
run() {
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

has() {
	grep -q -e "$2" "$1"
}

lines() {
	wc -l <"$1" | tr -d ' '
}

# --- messages of our own ------------------------------------------------

# dsn ID RCPT: a small RFC 3464 report for one unknown recipient.
dsn() {
	cat <<EOF
From: MAILER-DAEMON@mx.example.net
To: bounces@shop.example.com
Subject: Undelivered Mail Returned to Sender
Date: Mon, 03 Jun 2024 10:00:00 +0000
Message-ID: <dsn-$1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B$1"

--B$1
Content-Type: text/plain

The mail could not be delivered.

--B$1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; $2
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <$2>: User unknown

--B$1
Content-Type: text/rfc822-headers

From: orders@shop.example.com
To: $2
Subject: Your order
Message-ID: <order-$1@shop.example.com>

--B$1--
EOF
}

dsn 1 nobody@example.net >"$tmp/dsn.eml"

sample=data/samples/postfix-hard-bounce.eml
if [ ! -f "$sample" ]; then
	sample=$(ls data/samples/*.eml 2>/dev/null | head -1)
	[ -n "$sample" ] || sample=$tmp/dsn.eml
fi

# --- conventions of cli/main.c ---------------------------------------------

run --version
if [ $rc -eq 0 ] && has "$tmp/out" '^rebound [0-9][0-9.]*$' &&
    { [ -z "$want_version" ] || has "$tmp/out" "^rebound $want_version\$"; }
then
	ok "--version prints 'rebound $(cut -d' ' -f2 "$tmp/out")'"
else
	nok "--version" "want 'rebound ${want_version:-X.Y.Z}' and exit 0"
fi

run --help
if [ $rc -eq 0 ] && has "$tmp/out" '^usage: rebound' && [ ! -s "$tmp/err" ]
then
	ok "--help: usage on stdout, exit 0"
else
	nok "--help" "want usage on stdout, nothing on stderr, exit 0"
fi

run --bogus
if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && has "$tmp/err" 'usage:'; then
	ok "--bogus: usage on stderr, nothing on stdout, exit 2"
else
	nok "--bogus" "want usage on stderr only and exit 2"
fi

run help classify
if [ $rc -eq 0 ] && has "$tmp/out" '^usage: rebound classify'; then
	ok "help classify: classify usage, exit 0"
else
	nok "help classify" "want the classify usage on stdout and exit 0"
fi

run help nosuch
if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ]; then
	ok "help nosuch: exit 2"
else
	nok "help nosuch" "want exit 2 and nothing on stdout"
fi

run
if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && has "$tmp/err" 'usage:'; then
	ok "no arguments: usage on stderr, exit 2"
else
	nok "no arguments" "want usage on stderr and exit 2"
fi

run classify
if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && has "$tmp/err" 'usage:'; then
	ok "classify without PATH: exit 2"
else
	nok "classify without PATH" "want usage on stderr and exit 2"
fi

run classify --nope x
if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ]; then
	ok "classify --nope: exit 2"
else
	nok "classify --nope" "want exit 2 and nothing on stdout"
fi

# --- classify on files, stdin, mbox, Maildir ------------------------------

run classify /nonexistent/file "$sample"
if [ $rc -eq 1 ] && has "$tmp/err" '/nonexistent/file' &&
    has "$tmp/out" "$(basename "$sample")"; then
	ok "unreadable path: error on stderr, other file classified, exit 1"
else
	nok "unreadable path among good ones" \
	    "want an error naming /nonexistent/file, $(basename "$sample") on stdout, exit 1"
fi

run classify --explain "$tmp/dsn.eml"
if [ $rc -eq 0 ] && has "$tmp/out" 'userunknown' &&
    has "$tmp/out" 'because:'; then
	ok "classify --explain: reason and its evidence"
else
	nok "classify --explain" "want a userunknown line and a 'because:' line"
fi

"$bin" classify --jsonl - <"$tmp/dsn.eml" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(lines "$tmp/out")" = 1 ] &&
    has "$tmp/out" '"eventType":"Bounce"' &&
    has "$tmp/out" '"source":{[^}]*"file":"-"'; then
	ok "classify --jsonl -: one Bounce event from stdin, source file \"-\""
else
	nok "classify --jsonl - (stdin)" \
	    "want one JSON line, eventType Bounce, rebound.source.file \"-\""
fi

# An mbox of three messages; the middle one quotes a "From " line in its
# body (">From ", mboxrd), which must not start a fourth message.
{
	echo "From MAILER-DAEMON Mon Jun  3 10:00:00 2024"
	dsn 1 one@example.net
	echo
	echo "From alice@example.com Mon Jun  3 10:01:00 2024"
	cat <<'EOF'
From: Alice <alice@example.com>
To: support@shop.example.com
Subject: A question
Message-ID: <q-1@example.com>

Hello,
>From what I read on your site, the order ships today?
Alice

EOF
	echo "From MAILER-DAEMON Mon Jun  3 10:02:00 2024"
	dsn 3 three@example.net
} >"$tmp/three.mbox"
run classify --jsonl "$tmp/three.mbox"
idx=$(grep -o '"index":[0-9]*' "$tmp/out" | cut -d: -f2 | tr '\n' ' ')
if [ $rc -eq 0 ] && [ "$idx" = "0 1 2 " ] &&
    [ "$(grep -c '"eventType":"Bounce"' "$tmp/out")" = 2 ]; then
	ok "mbox of 3 messages: source indexes 0,1,2"
else
	nok "mbox" "want indexes '0 1 2 ', got '$idx'"
fi

# A Maildir: one message in new/, one in cur/; tmp/ holds a message still
# being delivered, which a Maildir reader must not take.
mkdir -p "$tmp/Maildir/tmp" "$tmp/Maildir/new" "$tmp/Maildir/cur"
dsn 4 four@example.net >"$tmp/Maildir/new/1717408800.M1P1.host"
dsn 5 five@example.net >"$tmp/Maildir/cur/1717408801.M2P1.host:2,S"
dsn 6 six@example.net >"$tmp/Maildir/tmp/1717408802.M3P1.host"
run classify --jsonl "$tmp/Maildir"
if [ $rc -eq 0 ] && [ "$(lines "$tmp/out")" = 2 ] &&
    has "$tmp/out" 'four@example.net' && has "$tmp/out" 'five@example.net'
then
	ok "Maildir: new/ and cur/ give two events"
else
	nok "Maildir" "want two events (four@ and five@), got $(lines "$tmp/out")"
fi

# --- a large mbox in bounded memory ---------------------------------------

# Small DSNs of ~3.5 KB each, and one 4 MB message (a returned message
# with a big attachment) in the middle: peak memory should follow the
# largest message, not the mailbox.
big_mb=${REBOUND_CLI_BIG_MB:-200}
rss_limit_kb=102400
if [ "${REBOUND_SANITIZE:-0}" = 1 ]; then
	big_mb=${REBOUND_CLI_BIG_MB:-40}
fi
t0=$(date +%s)
awk -v target=$((big_mb * 1024 * 1024)) 'BEGIN {
	pad = "This line pads the returned message to a few kilobytes, as real ones are."
	b64 = "QmlnIGF0dGFjaG1lbnQgb2YgYSByZXR1cm5lZCBtZXNzYWdlLCBiYXNlNjQgZW5jb2RlZC4u"
	size = 0
	for (n = 0; size < target; n++) {
		m = sprintf("From MAILER-DAEMON Mon Jun  3 10:00:00 2024\n" \
		    "From: MAILER-DAEMON@mx.example.net\n" \
		    "To: bounces@shop.example.com\n" \
		    "Subject: Undelivered Mail Returned to Sender\n" \
		    "Message-ID: <big-%d@mx.example.net>\n" \
		    "MIME-Version: 1.0\n" \
		    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n" \
		    "\n--B\nContent-Type: message/delivery-status\n\n" \
		    "Reporting-MTA: dns; mx.example.net\n\n" \
		    "Final-Recipient: rfc822; user%d@example.net\n" \
		    "Action: failed\nStatus: 5.1.1\n" \
		    "Diagnostic-Code: smtp; 550 5.1.1 User unknown\n" \
		    "\n--B\nContent-Type: message/rfc822\n\n" \
		    "From: orders@shop.example.com\nTo: user%d@example.net\n" \
		    "Subject: Order %d\nMessage-ID: <order-%d@shop.example.com>\n\n",
		    n, n, n, n, n)
		for (i = 0; i < 40; i++)
			m = m pad "\n"
		printf "%s", m
		size += length(m)
		if (n == 1000) {
			# Line by line: appending to m would be quadratic.
			for (i = 0; i < 4 * 1024 * 1024 / 73; i++)
				print b64
			size += i * 73
		}
		printf "--B--\n\n"
		size += 7
	}
	print n > "/dev/stderr"
}' >"$tmp/big.mbox" 2>"$tmp/big.count"
count=$(cat "$tmp/big.count")
size_mb=$(($(wc -c <"$tmp/big.mbox") / 1024 / 1024))
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f %M -o "$tmp/rss" "$bin" classify --jsonl \
	    "$tmp/big.mbox" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	rss_kb=$(tail -1 "$tmp/rss")
else
	"$bin" classify --jsonl "$tmp/big.mbox" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	rss_kb=
fi
events=$(lines "$tmp/out")
secs=$(($(date +%s) - t0))
rm -f "$tmp/big.mbox"
what="${size_mb} MB mbox of $count messages: $events events in ${secs}s"
if [ -n "$rss_kb" ]; then
	what="$what, peak RSS $((rss_kb / 1024)) MB"
else
	what="$what, peak RSS not measured (no /usr/bin/time; apt-get install time)"
fi
if [ $rc -ne 0 ] || [ "$events" != "$count" ]; then
	nok "large mbox" "$what; want exit 0 and one event per message"
elif [ "${REBOUND_SANITIZE:-0}" = 1 ]; then
	ok "$what (sanitizer build: memory not asserted)"
elif [ -n "$rss_kb" ] && [ "$rss_kb" -ge $rss_limit_kb ]; then
	nok "large mbox" "$what; want peak RSS under $((rss_limit_kb / 1024)) MB"
else
	ok "$what (limit $((rss_limit_kb / 1024)) MB)"
fi

# --- an mbox with one line of 120 MB ---------------------------------------

# A broken attachment without line ends: the reader takes such a line in
# pieces, so memory stays bounded by the message cap, not by the line.
long_mb=120
[ "${REBOUND_SANITIZE:-0}" = 1 ] && long_mb=40
{
	printf 'From MAILER-DAEMON Mon Jun  3 10:00:00 2024\n'
	printf 'From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail\n'
	printf 'Content-Type: text/plain\n\n<user1@example.net>: 550 5.1.1 User unknown\n\n'
	head -c $((long_mb * 1024 * 1024)) /dev/zero | tr '\0' 'A'
	printf '\nFrom MAILER-DAEMON Mon Jun  3 10:01:00 2024\n'
	printf 'From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail\n'
	printf 'Content-Type: text/plain\n\n<user2@example.net>: 550 5.1.1 User unknown\n'
} >"$tmp/long.mbox"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f %M -o "$tmp/rss" "$bin" classify --jsonl \
	    "$tmp/long.mbox" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	rss_kb=$(tail -1 "$tmp/rss")
else
	"$bin" classify --jsonl "$tmp/long.mbox" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	rss_kb=
fi
rm -f "$tmp/long.mbox"
idx=$(sed -n 's/.*"index":\([0-9]*\).*/\1/p' "$tmp/out" | tr '\n' ' ')
what="mbox with a ${long_mb} MB line: messages '$idx'"
[ -n "$rss_kb" ] && what="$what, peak RSS $((rss_kb / 1024)) MB"
if [ $rc -ne 0 ] || [ "$idx" != "0 1 " ]; then
	nok "long mbox line" "$what; want exit 0 and messages 0 and 1"
elif [ "${REBOUND_SANITIZE:-0}" != 1 ] && [ -n "$rss_kb" ] &&
    [ "$rss_kb" -ge $rss_limit_kb ]; then
	nok "long mbox line" "$what; want peak RSS under $((rss_limit_kb / 1024)) MB"
else
	ok "$what"
fi

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
