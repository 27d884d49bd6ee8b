#!/bin/sh
# STARTTLS (RFC 3207) of `rebound serve` with a certificate and key:
# EHLO offers it; swaks delivers a bounce over TLS (stored, logged with
# tls=yes), and the EHLO on TLS no longer offers it; commands pipelined
# in the clear after STARTTLS are never answered; a client that stalls
# in the handshake is cut at the command timeout; a key that does not
# load stops the start with a clear error.
# Usage: serve_tls.sh REBOUND SMTP_PROBE STORE_DBTOOL
. "$(dirname "$0")/lib.sh"
rebound=$testd
dbtool=${3:?usage: $0 REBOUND SMTP_PROBE STORE_DBTOOL}

need_swaks
command -v openssl >/dev/null 2>&1 ||
    { echo "SKIP: no openssl to make a test certificate" >&2; exit 77; }
perl -MNet::SSLeay -e 1 2>/dev/null ||
    { echo "SKIP: swaks needs Net::SSLeay for TLS" >&2; exit 77; }

# A throw-away self-signed certificate (P-256: made in milliseconds).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
    -subj /CN=mx.test >"$tmp/openssl.log" 2>&1 ||
    { cat "$tmp/openssl.log" >&2; fail "openssl"; finish; }

REBOUND_SMTP_TLS_CERT=$tmp/cert.pem
REBOUND_SMTP_TLS_KEY=$tmp/key.pem
export REBOUND_SMTP_TLS_CERT REBOUND_SMTP_TLS_KEY
# The default command timeout here: on a loaded machine a client (swaks
# is Perl) may well take a second between two commands.
serve_start t1

printf 'EHLO c\r\nQUIT\r\n' | "$probe" chat "$addr" >"$tmp/t1.ehlo"
grep -q '^250-STARTTLS' "$tmp/t1.ehlo" && ok "EHLO offers STARTTLS" ||
    { fail "no STARTTLS"; cat "$tmp/t1.ehlo" >&2; }

if swaks --server "$addr" --tls --from '<>' --to bounces@fb.example \
    --data @"$samples/postfix-hard-bounce.eml" >"$tmp/t1.swaks" 2>&1 &&
    grep -q '250 2.0.0 Ok: queued' "$tmp/t1.swaks" &&
    grep -q '=== TLS started' "$tmp/t1.swaks"; then
	ok "a bounce over TLS"
else
	fail "swaks --tls"; cat "$tmp/t1.swaks" >&2
fi
# swaks marks the lines read over TLS with "<~".
grep -q '^<~ *250-STARTTLS' "$tmp/t1.swaks" &&
    fail "STARTTLS offered again on TLS"
wait_stored "$tmp/t1.db" 1 5 || fail "not stored"
grep -q 'result="250 2.0.0 Ok: queued as [0-9a-f]*" tls=yes' "$tmp/t1.log" &&
    ok "logged with tls=yes" || { fail "log line"; cat "$tmp/t1.log" >&2; }

# Command injection (CVE-2011-0411): NOOP and MAIL right behind
# STARTTLS in the same packet get no reply; the handshake then fails
# on them (they are no TLS record) and the server hangs up.
printf 'EHLO c\r\nSTARTTLS\r\nNOOP\r\nMAIL FROM:<>\r\n' |
    "$probe" chat "$addr" --wait 3000 >"$tmp/t1.inject"
grep -q '^220 2.0.0 Ready to start TLS' "$tmp/t1.inject" &&
    ! grep -q '^250 2.[01].0' "$tmp/t1.inject" &&
    ok "clear text after STARTTLS is not executed" ||
    { fail "STARTTLS injection"; cat "$tmp/t1.inject" >&2; }

stop "$pid"
grep -q 'over TLS' "$tmp/t1.log" || fail "no TLS count at the stop"

# A stalled handshake: cut after the command timeout (1 s).  The probe
# keeps the connection after its input until the server closes it or
# is silent for 10 s.
REBOUND_SMTP_COMMAND_TIMEOUT=1s
export REBOUND_SMTP_COMMAND_TIMEOUT
serve_start t2
t0=$(date +%s)
printf 'EHLO c\r\nSTARTTLS\r\n' |
    "$probe" chat "$addr" --wait 10000 >"$tmp/t2.stall"
t1=$(date +%s)
[ $((t1 - t0)) -le $((4 * slow)) ] &&
    ok "stalled handshake cut after $((t1 - t0))s" ||
    fail "stalled handshake held $((t1 - t0))s"
stop "$pid"

# A key that does not load: no start, and why.
: >"$tmp/empty.pem"
REBOUND_SMTP_TLS_KEY=$tmp/empty.pem
serve_refused "a key that does not load" 'TLS certificate .* key .*empty.pem'
REBOUND_SMTP_TLS_KEY=
serve_refused "a certificate without a key" \
    'needs both a certificate and a key'

finish
