#!/bin/sh
# The SMTP server as an MX sees it, with swaks and smtp_probe: feedback
# from the null sender is accepted and classified, over IPv4 and IPv6,
# pipelined or not; relaying is refused; the size limit; VERP tokens
# (signed, forged); EHLO extensions; BDAT, SMTPUTF8, bare LF, VRFY,
# HELP; long lines and NULs; one log line per transaction.
. "$(dirname "$0")/lib.sh"

need_swaks
secret=0123456789abcdef0123456789abcdef
start p --listen 127.0.0.1:0 --listen '[::1]:0' --max-message 30000 \
    --verp-secret "$secret"

# 1. A DSN from <> to bounces@: 250, then a Bounce event.
if swaks --server "$addr" --from '<>' --to bounces@fb.example \
    --data @"$samples/postfix-hard-bounce.eml" >"$tmp/s1" 2>&1 &&
    grep -q '250 2.0.0 Ok: queued as' "$tmp/s1" &&
    wait_for "$tmp/p.out" '"eventType":"Bounce"'; then
	ok "DSN from <> accepted and classified"
else
	fail "DSN from <>"; cat "$tmp/s1" >&2
fi
grep '"eventType":"Bounce"' "$tmp/p.out" | grep -q '"reason":"userunknown"' ||
    fail "bounce reason"
grep -q '"mailFrom":""' "$tmp/p.out" || fail "null sender in the envelope"

# 2. IPv6, pipelined, a complaint to fbl@.
if [ -n "$addr6" ]; then
	if swaks --server "$addr6" --pipeline --from '<>' \
	    --to fbl@FB.example --data @"$samples/arf-abuse.eml" \
	    >"$tmp/s2" 2>&1 &&
	    wait_for "$tmp/p.out" '"eventType":"Complaint"'; then
		ok "IPv6 and PIPELINING"
	else
		fail "IPv6 / pipelining"; cat "$tmp/s2" >&2
	fi
	grep -q '"client":"::1"' "$tmp/p.out" || fail "IPv6 client address"
else
	echo "note: no IPv6 loopback here; IPv6 not tested"
fi

# 3. Not an open relay: another domain, an unknown local part.
swaks --server "$addr" --from a@b.example --to victim@other.example \
    --quit-after RCPT >"$tmp/s3" 2>&1
grep -q '550 5.7.1' "$tmp/s3" && ok "relay denied" ||
    { fail "relay not denied"; cat "$tmp/s3" >&2; }
swaks --server "$addr" --from a@b.example --to nobody@fb.example \
    --quit-after RCPT >"$tmp/s3b" 2>&1
grep -q '550 5.7.1' "$tmp/s3b" || fail "unknown local part accepted"

# 4. Too large: 552 5.3.4, nothing queued.
n0=$(count_lines "$tmp/p.out")
awk 'BEGIN { printf "Subject: big\r\n\r\n"; for (i = 0; i < 800; i++)
    printf "%070d\r\n", i }' >"$tmp/big.eml"
swaks --server "$addr" --from '<>' --to bounces@fb.example \
    --data @"$tmp/big.eml" >"$tmp/s4" 2>&1
grep -q '552 5.3.4' "$tmp/s4" && ok "size limit" ||
    { fail "size limit"; tail -5 "$tmp/s4" >&2; }
printf 'EHLO c\r\nMAIL FROM:<> SIZE=999999\r\nQUIT\r\n' |
    "$probe" chat "$addr" >"$tmp/s4b"
grep -q '^552 5.3.4' "$tmp/s4b" || fail "SIZE= over the limit"

# 5. VERP: a signed token is trusted, a forged one accepted but flagged.
forged="b+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@fb.example"
swaks --server "$addr" --from '<>' --to "$forged" \
    --data @"$samples/postfix-hard-bounce.eml" >"$tmp/s5" 2>&1
if grep -q '250 2.0.0 Ok: queued' "$tmp/s5" &&
    wait_for "$tmp/p.out" '"verp":"untrusted"'; then
	grep '"verp":"untrusted"' "$tmp/p.out" | grep -q '"untrusted":true' &&
	    ok "forged VERP token accepted, untrusted" ||
	    fail "untrusted flag of the envelope"
else
	fail "forged VERP"; cat "$tmp/s5" >&2
fi

# 6. EHLO: the extensions, and no STARTTLS without a certificate.
printf 'EHLO client.test\r\nQUIT\r\n' | "$probe" chat "$addr" >"$tmp/s6"
for ext in PIPELINING '8BITMIME' 'SIZE 30000' ENHANCEDSTATUSCODES \
    SMTPUTF8 CHUNKING; do
	grep -q "^250[- ]$ext" "$tmp/s6" || fail "EHLO lacks $ext"
done
grep -q STARTTLS "$tmp/s6" && fail "STARTTLS offered without a key"
ok "EHLO extensions"

# 7. BDAT, SMTPUTF8 + 8BITMIME, bare LF, VRFY, HELP, NOOP, RSET in one
# pipelined session; each message is queued.
n0=$(count_lines "$tmp/p.out")
printf 'EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bounces@fb.example>\r\nBDAT 12\r\nSubject: x\r\nBDAT 7 LAST\r\n\r\nbody\r\n' >"$tmp/in7"
printf 'MAIL FROM:<j\303\266rg@example.de> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<postmaster@fb.example>\r\nDATA\r\n\303\244\r\n..dot\r\n.\r\n' >>"$tmp/in7"
printf 'MAIL FROM:<>\nRCPT TO:<bounces@fb.example>\nDATA\nbare LF\n.\n' >>"$tmp/in7"
printf 'VRFY bounces\r\nHELP\r\nNOOP\r\nRSET\r\nQUIT\r\n' >>"$tmp/in7"
"$probe" chat "$addr" <"$tmp/in7" >"$tmp/s7"
[ "$(grep -c '^250 2.0.0 Ok: queued as' "$tmp/s7")" = 3 ] ||
    { fail "BDAT/UTF8/bare LF session"; cat "$tmp/s7" >&2; }
grep -q '^250 2.0.0 Ok: 12 octets received' "$tmp/s7" || fail "BDAT chunk"
grep -q '^252 2.0.0' "$tmp/s7" || fail "VRFY 252"
grep -q '^214 2.0.0' "$tmp/s7" || fail "HELP 214"
grep -q '^221 2.0.0' "$tmp/s7" || fail "QUIT 221"
i=0
while [ "$(count_lines "$tmp/p.out")" -lt $((n0 + 3)) ] && [ $i -lt 100 ]; do
	sleep 0.05; i=$((i + 1))
done
grep -q '"mailFrom":"j\\u00f6rg@example.de"\|"mailFrom":"jörg@example.de"' \
    "$tmp/p.out" && grep -q '"smtputf8":true' "$tmp/p.out" &&
    ok "BDAT, SMTPUTF8, bare LF, VRFY, HELP" || fail "SMTPUTF8 envelope"

# 8. A 100 KB line, a 513-octet line, a NUL: 500 5.5.2 and the session
# goes on.
{
	printf 'EHLO c\r\nNOOP '
	head -c 102400 /dev/zero | tr '\0' x
	printf '\r\nNOOP '
	head -c 506 /dev/zero | tr '\0' y
	printf '\r\nNO\000OP\r\nNOOP\r\nQUIT\r\n'
} | "$probe" chat "$addr" >"$tmp/s8"
[ "$(grep -c '^500 5.5.2' "$tmp/s8")" = 3 ] &&
    [ "$(grep -c '^250 2.0.0 Ok' "$tmp/s8")" = 1 ] &&
    grep -q '^221' "$tmp/s8" && ok "long lines and NULs" ||
    { fail "long lines / NUL"; cat "$tmp/s8" >&2; }

# 9. One log line per transaction, with what the issue asks for.
grep -q 'smtp: session=[^ ]* client=127.0.0.1 helo=[^ ]* from=<> rcpts=<bounces@fb.example> rejected=0 size=[0-9]* queue=[0-9a-f]* result="250 2.0.0 Ok: queued as' \
    "$tmp/p.log" && ok "transaction log line" ||
    { fail "transaction log line"; cat "$tmp/p.log" >&2; }

stop "$pid"
finish
