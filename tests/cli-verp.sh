#!/bin/sh
# `rebound verp encode|decode` as a user runs it: exit codes, streams,
# where the secret comes from (--secret-file, REBOUND_VERP_SECRET,
# [verp] secret of --config), case changes, a forged token, addresses
# that are not VERP, and the 64-octet local part for long fields.
#
# Usage: cli-verp.sh REBOUND_BINARY
set -u

bin=${1:?usage: cli-verp.sh REBOUND_BINARY}
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
if [ ! -x "$bin" ]; then
	echo "cli-verp: $bin: no such executable (build it first)"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-verp.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

pass=0
fail=0
rc=0

ok() {
	pass=$((pass + 1))
	echo "ok   - $1"
}

nok() {
	fail=$((fail + 1))
	echo "FAIL - $1: $2"
	echo "  exit status: $rc"
	sed 's/^/  stdout: /' "$tmp/out" | head -5
	sed 's/^/  stderr: /' "$tmp/err" | head -5
}

# run ARG...: sets rc; stdout in $tmp/out, stderr in $tmp/err.
run() {
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

has() {
	grep -q -e "$2" "$1"
}

# check NAME WANT_RC [STDOUT_PATTERN]: rc is WANT_RC, stdout matches.
check() {
	if [ "$rc" -ne "$2" ]; then
		nok "$1" "want exit $2"
	elif [ $# -ge 3 ] && ! has "$tmp/out" "$3"; then
		nok "$1" "want stdout matching '$3'"
	else
		ok "$1"
	fi
}

# No secret from a config file of this machine, a fixed clock.
unset REBOUND_CONFIG REBOUND_VERP_SECRET
REBOUND_NOW=2024-05-01T10:00:00Z
export REBOUND_NOW
printf 'cli-test-secret-0123456789\n' >"$tmp/secret"
printf 'another-secret-0123456789' >"$tmp/other"
printf 'short\n' >"$tmp/short"
printf '[verp]\nsecret = cli-test-secret-0123456789\n' >"$tmp/rebound.conf"

# --- help and usage -----------------------------------------------------

run help verp
check "help verp: usage on stdout" 0 '^usage: rebound verp encode'
run verp --help
check "verp --help" 0 '^usage: rebound verp'
run verp encode --help
check "verp encode --help" 0 '^usage: rebound verp'
run verp
check "verp without a subcommand: exit 2" 2
run verp frobnicate
check "verp frobnicate: exit 2" 2
run verp encode --identity example.com --domain fb.example.org \
    --secret-file "$tmp/secret"
check "encode without --recipient: exit 2" 2
run verp encode --identity example.com --recipient u@example.net \
    --domain fb.example.org --bogus --secret-file "$tmp/secret"
check "encode --bogus: exit 2" 2
run verp decode --secret-file "$tmp/secret"
check "decode without ADDRESS: exit 2" 2
run verp encode --identity example.com --recipient u@example.net \
    --domain fb.example.org --time yesterday --secret-file "$tmp/secret"
check "encode --time yesterday: exit 2" 2

# --- encode -------------------------------------------------------------

run verp encode --identity Example.COM --recipient User@Example.NET \
    --message-id 42 --domain fb.example.org --secret-file "$tmp/secret"
check "encode prints the return path" 0 \
    '^b+[a-z2-7]\{31\}example\.com_42@fb\.example\.org$'
addr=$(cat "$tmp/out")

run verp encode --identity example.com --recipient user@example.net \
    --message-id 42 --domain fb.example.org
if [ $rc -eq 1 ] && [ ! -s "$tmp/out" ] && has "$tmp/err" 'no secret'; then
	ok "encode without a secret: exit 1, says so"
else
	nok "encode without a secret" "want exit 1 and 'no secret'"
fi
run verp encode --identity example.com --recipient u@example.net \
    --domain fb.example.org --secret-file "$tmp/short"
if [ $rc -eq 1 ] && has "$tmp/err" '16'; then
	ok "encode with a 5-byte secret: exit 1"
else
	nok "encode with a short secret" "want exit 1 and the minimum"
fi
run verp encode --identity example.com --recipient u@example.net \
    --domain fb.example.org --secret-file "$tmp/nonexistent"
check "encode with a missing secret file: exit 1" 1
run verp encode --identity example.com --recipient u@example.net \
    --domain 'fb example.org' --secret-file "$tmp/secret"
check "encode to a bad domain: exit 1" 1

# The same secret from the environment and from a config file.
REBOUND_VERP_SECRET=cli-test-secret-0123456789
export REBOUND_VERP_SECRET
run verp encode --identity example.com --recipient user@example.net \
    --message-id 42 --domain fb.example.org
unset REBOUND_VERP_SECRET
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "$addr" ]; then
	ok "REBOUND_VERP_SECRET gives the same token"
else
	nok "REBOUND_VERP_SECRET" "want '$addr'"
fi
run verp encode --config "$tmp/rebound.conf" --identity example.com \
    --recipient user@example.net --message-id 42 --domain fb.example.org
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "$addr" ]; then
	ok "[verp] secret of --config gives the same token"
else
	nok "--config" "want '$addr'"
fi

# Long fields: the local part stays within 64 octets.
long_id=$(printf '%0200d' 0 | tr 0 a).example.com
long_rcpt=$(printf '%064d' 0 | tr 0 u)@$(printf '%0150d' 0 | tr 0 d).example
long_msgid="<$(printf '%0300d' 7)@mta.example>"
run verp encode --identity "$long_id" --recipient "$long_rcpt" \
    --message-id "$long_msgid" --domain fb.example.org \
    --secret-file "$tmp/secret"
local_part=$(sed 's/@[^@]*$//' "$tmp/out")
if [ $rc -eq 0 ] && [ ${#local_part} -le 64 ]; then
	ok "long fields: local part of ${#local_part} octets"
else
	nok "long fields" "want exit 0 and a local part <= 64 octets"
fi
long_addr=$(cat "$tmp/out")

# --- decode -------------------------------------------------------------

run verp decode --secret-file "$tmp/secret" --recipient USER@example.net \
    "$addr"
check "decode: fields as JSON, trusted" 0 \
    '"identity":"example.com".*"recipientMatch":true.*"messageId":"42".*"sent":"2024-05-01T00:00:00.000Z","trusted":true}$'
run verp decode --secret-file "$tmp/secret" --recipient other@example.net \
    "$addr"
check "decode: another recipient does not match" 0 \
    '"recipientMatch":false'

upper=$(printf '%s' "$addr" | tr a-z A-Z)
lower=$(printf '%s' "$upper" | tr A-Z a-z)
run verp decode --secret-file "$tmp/secret" "$upper"
check "decode: upper-cased address still verifies" 0 '"trusted":true'
run verp decode --secret-file "$tmp/secret" "$lower"
check "decode: lower-cased address still verifies" 0 '"trusted":true'
run verp decode --secret-file "$tmp/secret" "<$addr>"
check "decode: <address>" 0 '"trusted":true'

run verp decode --secret-file "$tmp/other" "$addr"
if [ $rc -eq 3 ] && has "$tmp/out" '"trusted":false' &&
    has "$tmp/err" 'signature'; then
	ok "decode with another secret: trusted false, warning, exit 3"
else
	nok "decode with another secret" "want trusted false and exit 3"
fi
# One changed character of the signature (offset 8: its first).
forged=$(printf '%s' "$addr" | awk '{
	c = substr($0, 8, 1); r = (c == "q") ? "r" : "q"
	print substr($0, 1, 7) r substr($0, 9) }')
run verp decode --secret-file "$tmp/secret" "$forged"
check "decode: a flipped character is untrusted" 3 '"trusted":false'

run verp decode --secret-file "$tmp/secret" user@example.com
if [ $rc -eq 1 ] && [ ! -s "$tmp/out" ] && has "$tmp/err" 'not a VERP'; then
	ok "decode of a plain address: exit 1, says so"
else
	nok "decode of a plain address" "want exit 1 and 'not a VERP'"
fi
truncated=$(printf '%s' "$addr" | cut -c1-20)@fb.example.org
run verp decode --secret-file "$tmp/secret" "$truncated"
if [ $rc -eq 1 ] && [ ! -s "$tmp/out" ] && has "$tmp/err" 'malformed'; then
	ok "decode of a truncated token: exit 1, malformed"
else
	nok "decode of a truncated token" "want exit 1 and 'malformed'"
fi
run verp decode --secret-file "$tmp/secret" "$addr" user@example.com \
    "$long_addr"
if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/out" | tr -d ' ')" = 2 ]; then
	ok "decode of three addresses, one bad: two lines, exit 1"
else
	nok "decode of three addresses" "want two JSON lines and exit 1"
fi
run verp decode --secret-file "$tmp/secret" "$long_addr"
check "decode: long identity as a hash" 0 \
    '"identity":null,"identityHash":"[a-z2-7]\{13\}".*"trusted":true'
run verp decode "$addr"
check "decode without a secret: exit 1" 1

echo "cli-verp: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
