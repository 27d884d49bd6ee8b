#!/bin/sh
# The store commands of the rebound binary, as a user runs them:
#  - ingest of a Maildir twice (and again with one more Received header
#    per message, as a retried delivery has, and as an mbox): identical
#    counts and an identical database;
#  - suppression check/list/add/remove/export/import and their exit
#    codes, expiry of the global list with a clock set by REBOUND_NOW,
#    a malformed address refused without a row;
#  - sends add/import, stats and alerts (JSON), review list/show, the raw
#    message of an event, --config and REBOUND_* settings, ./rebound.db.
#
# Usage: test_cli.sh REBOUND_BINARY STORE_DBTOOL
# All files are made in a temporary directory, removed at exit.
set -u

bin=${1:?usage: test_cli.sh REBOUND_BINARY STORE_DBTOOL}
tool=${2:?usage: test_cli.sh REBOUND_BINARY STORE_DBTOOL}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-store-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE
export REBOUND_DATA_DIR="${REBOUND_DATA_DIR:-$root/data}"
# The clock of every command: 2024-06-01T12:00:00Z.
export REBOUND_NOW=1717243200
unset REBOUND_CONFIG

pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "ok   - $1"
}
nok() {
	fail=$((fail + 1))
	echo "FAIL - $1"
	echo "  exit status: $rc"
	sed 's/^/  out: /' "$tmp/out" | head -8
	sed 's/^/  err: /' "$tmp/err" | head -8
}
# run ARG...: sets rc; stdout in $tmp/out, stderr in $tmp/err.
run() {
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}
# json_num KEY: the number after "KEY": in $tmp/out (first match).
json_num() {
	sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" "$tmp/out" | head -1
}
check() { # NAME COMMAND...: one command (use holds for a compound one)
	name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}
# holds SHELL_CONDITION: for check, a condition with && or | in it.
holds() {
	eval "$1"
}

# --- a Maildir of our own messages -------------------------------------

md=$tmp/Maildir
mkdir -p "$md/new" "$md/cur" "$md/tmp"
n=0
for f in "$root"/data/samples/*.eml "$root"/tests/corpus/classify/*.eml; do
	n=$((n + 1))
	cp "$f" "$md/cur/$n.host:2,S"
done
# Hard bounces of our own, to known addresses.
dsn() { # ID RCPT STATUS SENDER
	cat <<EOF
From: MAILER-DAEMON@mx.example.net
To: bounces@shop.example.com
Subject: Undelivered Mail Returned to Sender
Date: Sat, 01 Jun 2024 11:00:00 +0000
Message-ID: <dsn-$1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B$1"

--B$1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; $2
Action: failed
Status: $3
Diagnostic-Code: smtp; 550 $3 user unknown

--B$1
Content-Type: text/rfc822-headers

From: Shop <$4>
To: $2
Subject: order $1

--B$1--
EOF
}
for i in 1 2 3 4 5 6 7 8 9 10; do
	dsn "cli$i" "user$i@Example.NET" 5.1.1 orders@shop.example.com \
	    >"$md/new/dsn$i"
	n=$((n + 1))
done
db=$tmp/a.db

run ingest --db "$db" --json "$md"
# (data/samples and the fixtures share two messages: duplicates.)
stored=$(json_num stored)
check "ingest of a Maildir: $n messages, each stored once" \
    test "$rc" = 0 -a "$(json_num messages)" = "$n" \
    -a $((stored + $(json_num duplicates))) = "$n" -a "$stored" -gt 60
check "ingest summary: JSON with events, duplicates, unclassified" \
    grep -q '"unclassified"' "$tmp/out"
"$tool" dump "$db" >"$tmp/dump1"

run ingest --db "$db" --json "$md"
check "the same Maildir again: every message a duplicate" \
    test "$rc" = 0 -a "$(json_num duplicates)" = "$n" \
    -a "$(json_num stored)" = 0
"$tool" dump "$db" >"$tmp/dump2"
check "the same Maildir again: the database is unchanged" \
    cmp -s "$tmp/dump1" "$tmp/dump2"

# A retried delivery: one more Received (and Delivered-To) on top.
md2=$tmp/Maildir2
mkdir -p "$md2/new" "$md2/cur" "$md2/tmp"
for f in "$md"/cur/* "$md"/new/*; do
	{
		printf 'Delivered-To: bounces@shop.example.com\n'
		printf 'Received: from mx9.example.net by mx.example.com;'
		printf ' Sat, 1 Jun 2024 11:05:00 +0000\n'
		cat "$f"
	} >"$md2/${f#"$md"/}"
done
run ingest --db "$db" --json "$md2"
"$tool" dump "$db" >"$tmp/dump3"
check "retried copies (extra trace headers): duplicates, no change" \
    test "$(json_num duplicates)" = "$n" -a "$(json_num stored)" = 0
check "retried copies: the database is unchanged" \
    cmp -s "$tmp/dump1" "$tmp/dump3"
# The same messages in an mbox (a "From " line each, a blank line after,
# mboxrd quoting): duplicates too.
for f in "$md"/cur/* "$md"/new/*; do
	printf 'From MAILER-DAEMON Sat Jun  1 11:00:00 2024\n'
	sed 's/^\(>*From \)/>\1/' "$f"
	printf '\n'
done >"$tmp/mbox"
run ingest --db "$db" --json "$tmp/mbox"
"$tool" dump "$db" >"$tmp/dump4"
check "the same messages in an mbox: duplicates, no change" \
    holds 'test "$(json_num duplicates)" = "$n" -a "$(json_num stored)" = 0 &&
        cmp -s "$tmp/dump1" "$tmp/dump4"'
run review list --db "$db"
check "review list shows the unclassified" \
    test "$rc" = 0 -a "$(grep -c not-feedback "$tmp/out")" -ge 1
"$tool" check "$db" >/dev/null 2>&1
rc=$?
check "integrity_check after ingests" test "$rc" = 0

# --- suppression ---------------------------------------------------------

run suppression check --db "$db" user3@example.net
check "check: a hard-bounced address is suppressed (exit 1)" \
    test "$rc" = 1
check "check: says which list, why and until when" \
    grep -q 'global.*BOUNCE.*userunknown.*until 2024-06-15' "$tmp/out"
run suppression check --db "$db" USER3@EXAMPLE.NET
check "check: case-insensitive" test "$rc" = 1
run suppression check --db "$db" --json ' <User3@Example.NET>'
check "check --json: one object, normalised address, its entries" \
    holds 'test "$rc" = 1 && test "$(wc -l <"$tmp/out")" = 1 &&
        grep -q "^{\"address\":\"user3@example.net\",\"suppressed\":true,\"entries\":\[{\"list\":\"global\"" "$tmp/out"'
run suppression check --db "$db" --json nobody@example.net
check "check --json: not suppressed, no entries" \
    holds 'test "$rc" = 0 && grep -q "\"suppressed\":false,\"entries\":\[\]" "$tmp/out"'
run suppression check --db "$db" nobody@example.net
check "check: another address is not (exit 0)" test "$rc" = 0
run suppression check --db "$db" 'not an address'
check "check: a malformed address is an error (exit 2)" \
    test "$rc" = 2 -a -s "$tmp/err"
run suppression add --db "$db" broken@ --reason BOUNCE
check "add: a malformed address is refused" test "$rc" = 2
run suppression add --db "$db" carl@example.org --reason COMPLAINT \
    --account tenant2
check "add: to an account" test "$rc" = 0
run suppression list --db "$db" --json
check "list --json: no row for the malformed address" \
    test "$(grep -c 'broken' "$tmp/out")" = 0
check "list --json: the added entry" \
    grep -q '"account":"tenant2","address":"carl@example.org"' "$tmp/out"
run suppression list --db "$db" --reason COMPLAINT
check "list --reason COMPLAINT: only complaints" \
    test "$(grep -c BOUNCE "$tmp/out")" = 0
run suppression export --db "$db" --format csv
cp "$tmp/out" "$tmp/export.csv"
entries=$(($(wc -l <"$tmp/export.csv") - 1))
run suppression import --db "$tmp/copy.db" "$tmp/export.csv"
check "export CSV, import into a new database: $entries entries" \
    holds 'test "$rc" = 0 && grep -q "imported $entries entries" "$tmp/out"'
run suppression remove --db "$db" carl@example.org
check "remove" test "$rc" = 0
run suppression check --db "$db" carl@example.org
check "removed: not suppressed" test "$rc" = 0
run suppression remove --db "$db" carl@example.org
check "remove of an address not suppressed: exit 1, says so" \
    holds 'test "$rc" = 1 && grep -q "not suppressed" "$tmp/err"'
# What Amazon SES exports and imports: CSV lines without a header, and
# JSON lines of ListSuppressedDestinations' summaries.
printf 'ses1@example.com,BOUNCE\nses2@example.com,COMPLAINT\n' >"$tmp/ses.csv"
printf '{"EmailAddress":"ses3@example.com","Reason":"BOUNCE",%s}\n' \
    '"LastUpdateTime":"2024-05-18T15:53:41.456000+02:00"' >"$tmp/ses.jsonl"
run suppression import --db "$tmp/ses.db" --format csv "$tmp/ses.csv"
check "import of SES CSV (no header)" \
    holds 'test "$rc" = 0 && grep -q "imported 2 entries" "$tmp/out"'
run suppression import --db "$tmp/ses.db" "$tmp/ses.jsonl"
check "import of SES JSON (EmailAddress, Reason, LastUpdateTime)" \
    holds 'test "$rc" = 0 && grep -q "imported 1 entry" "$tmp/out"'
run suppression check --db "$tmp/ses.db" ses3@example.com
check "imported from SES: on the account-level list since then" \
    holds 'test "$rc" = 1 && grep -q "COMPLAINT\|BOUNCE.*since 2024-05-18T13:53:41" "$tmp/out"'

# Expiry: only the global list (account_auto none), a clock 15 days on.
edb=$tmp/expiry.db
REBOUND_SUPPRESSION_ACCOUNT_AUTO=none "$bin" ingest --db "$edb" \
    "$md/new" >/dev/null 2>&1
run suppression check --db "$edb" user1@example.net
check "expiry: suppressed on day 0" test "$rc" = 1
REBOUND_NOW=2024-06-15T11:59:59Z run suppression check --db "$edb" \
    user1@example.net
check "expiry: suppressed a second before 14 days" test "$rc" = 1
REBOUND_NOW=2024-06-15T12:00:00Z run suppression check --db "$edb" \
    user1@example.net
check "expiry: not suppressed after 14 days" test "$rc" = 0
# A new hard bounce after expiry: 28 days (escalation).
dsn cli-again user1@example.net 5.1.1 orders@shop.example.com \
    >"$tmp/again.eml"
REBOUND_NOW=2024-06-20T12:00:00Z "$bin" ingest --db "$edb" \
    "$tmp/again.eml" >/dev/null 2>&1
REBOUND_NOW=2024-06-20T12:00:00Z run suppression check --db "$edb" \
    user1@example.net
check "escalation: suppressed again until 28 days later" \
    grep -q 'until 2024-07-18T12:00:00.000Z (strike 2)' "$tmp/out"
# Export and import keep the strikes, so escalation goes on.
REBOUND_NOW=2024-06-20T12:00:00Z "$bin" suppression export --db "$edb" \
    >"$tmp/strikes.jsonl"
REBOUND_NOW=2024-06-20T12:00:00Z run suppression import \
    --db "$tmp/strikes.db" "$tmp/strikes.jsonl"
REBOUND_NOW=2024-06-20T12:00:00Z run suppression check \
    --db "$tmp/strikes.db" user1@example.net
check "export, import: the same period and strikes" \
    grep -q 'until 2024-07-18T12:00:00.000Z (strike 2)' "$tmp/out"

# --- sends, stats, alerts ------------------------------------------------

# Only our ten hard bounces of shop.example.com; 62 sends: 16 %.
rdb=$tmp/rates.db
export REBOUND_RATES_MIN_SENDS=50
"$bin" ingest --db "$rdb" "$md/new" >/dev/null 2>&1
run sends add --db "$rdb" --identity shop.example.com --count 60 \
    --at 2024-06-01T11:30:00Z
check "sends add" test "$rc" = 0
cat >"$tmp/sends.jsonl" <<'EOF'
{"eventType":"Send","mail":{"timestamp":"2024-06-01T11:00:00.000Z","source":"Shop <orders@shop.example.com>","destination":["a@x.example","b@y.example"]}}
{"eventType":"Delivery","mail":{"source":"orders@shop.example.com"}}
EOF
run sends import --db "$rdb" "$tmp/sends.jsonl"
check "sends import: 2 sends, 1 other event skipped" \
    grep -q 'imported 2 sends from 2 lines (1 other' "$tmp/out"
run sends add --db "$rdb" --identity 'no such thing' --count 1
check "sends add: a bad identity is a usage error" test "$rc" = 2
run stats --db "$rdb" --identity shop.example.com --json
check "stats --json: sends and hard bounces" \
    test "$rc" = 0 -a "$(json_num sends)" = 62 -a "$(json_num Permanent)" = 10
check "stats --json: bounceRate 10/62, status critical" \
    grep -q '"status": "critical"' "$tmp/out"
check "stats --json: breakdown by reason" \
    grep -q '"reason": "userunknown"' "$tmp/out"
run stats --db "$rdb"
check "stats: text table" grep -q '^shop.example.com' "$tmp/out"
run alerts --db "$rdb" --json
check "alerts --json: ok -> critical for the bounce rate" \
    grep -q '"to": "critical"' "$tmp/out"
REBOUND_NOW=2024-06-03T12:00:00Z run alerts --db "$rdb"
check "alerts: two days later the window is empty: back to ok" \
    grep -q 'critical -> ok' "$tmp/out"
unset REBOUND_RATES_MIN_SENDS

# --- review and raw messages ---------------------------------------------

run review show --db "$db" 1
check "review show: the entry and its raw message" \
    holds 'test "$rc" = 0 && grep -q -- "--- raw message" "$tmp/out"'
run review show --db "$db" 99999
check "review show: an unknown id (exit 1)" test "$rc" = 1
# The event of dsn1 (its JSON names its feedback message).
id=$("$tool" dump "$db" | sed -n \
    '/^== events/,/^==/s/^\([0-9]*\)|.*dsn-cli1@.*/\1/p' | head -1)
run review show --db "$db" --event "$id" --raw
check "the raw message of an event, byte for byte" \
    cmp -s "$tmp/out" "$md/new/dsn1"

# --- settings ------------------------------------------------------------

cat >"$tmp/rebound.conf" <<EOF
[store]
db = $tmp/from-config.db
[rates]
min_sends = 7
EOF
run ingest --config "$tmp/rebound.conf" "$md/new"
check "--config: store.db from the file" test -f "$tmp/from-config.db"
REBOUND_STORE_DB=$tmp/from-env.db run ingest --config "$tmp/rebound.conf" \
    "$md/new"
check "REBOUND_STORE_DB overrides the file" test -f "$tmp/from-env.db"
printf '[store]\ndbfile = x\n' >"$tmp/bad.conf"
run stats --config "$tmp/bad.conf"
check "an unknown key is an error" \
    holds 'test "$rc" = 1 && grep -q dbfile "$tmp/err"'
(cd "$tmp" && "$bin" ingest "$md/new" >/dev/null 2>&1)
check "no --db: ./rebound.db" test -f "$tmp/rebound.db"
REBOUND_NOW=tomorrow run stats --db "$db"
check "a malformed REBOUND_NOW is an error, not the real clock" \
    holds 'test "$rc" = 1 && grep -q "REBOUND_NOW" "$tmp/err"'
# Identities as addresses.
REBOUND_IDENTITY_MODE=address "$bin" ingest --db "$tmp/addr.db" \
    "$md/new" >/dev/null 2>&1
REBOUND_IDENTITY_MODE=address run stats --db "$tmp/addr.db" --json
check "identity.mode = address: the sender address is the identity" \
    grep -q '"identity": "orders@shop.example.com"' "$tmp/out"
# Not on a terminal: no progress line, only the summary on stdout.
run ingest --db "$tmp/quiet.db" "$md"
check "not on a terminal: nothing on stderr" \
    holds 'test "$rc" = 0 && test ! -s "$tmp/err"'
check "summary: messages, events by type, duplicates, unattributed," \
    holds 'grep -q "^messages " "$tmp/out" && grep -q "^events .*Bounce" "$tmp/out" &&
        grep -q "^duplicates " "$tmp/out" && grep -q "^unattributed " "$tmp/out" &&
        grep -q "^untrusted " "$tmp/out" && grep -q "^unclassified " "$tmp/out" &&
        grep -q "^errors " "$tmp/out" &&
        grep -q "^suppressed .*global.*account-level" "$tmp/out"'
run help ingest
check "help ingest" holds 'test "$rc" = 0 && grep -q -- "--db FILE" "$tmp/out"'

# On a terminal: the progress line (messages, rate, ETA), then the
# summary.  script(1) gives rebound a pseudo-terminal.
if command -v script >/dev/null 2>&1; then
	script -qec "'$bin' ingest --db '$tmp/tty.db' '$md'" /dev/null \
	    </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "on a terminal: a progress line with the total and an ETA" \
	    holds 'test "$rc" = 0 && tr "\\r" "\\n" <"$tmp/out" |
	        grep -q "/$n messages .*/s .*ETA"'
	check "on a terminal: then the summary" grep -q '^errors' "$tmp/out"
else
	echo "skip - no script(1): the progress line is not tested"
fi

echo "store cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
