#!/bin/sh
# rebound serve with no brokers configured starts the embedded broker
# and logs its address; N feedback messages fed to it end up on
# rebound.events, read over TCP by kcat and by a librdkafka consumer:
# every stored event once, key = identity, the stored SES-shaped JSON
# with rebound.eventId (and notificationType); rebound.suppression read
# from the start and applied as a mirror gives exactly the lists of the
# database, also after a removal through the CLI; rebound status shows
# the outbox empty.
# Usage: test_events.sh REBOUND KAFKATOOL
. "$(dirname "$0")/lib.sh"
need_kcat
n=${REBOUND_KAFKA_MESSAGES:-1000}

serve_start s1
[ -n "$kafka" ] && ok "embedded broker at $kafka" ||
    { fail "no 'kafka: embedded broker at' line"; cat "$tmp/s1.log" >&2; }
feed s1 0 "$n"
drained "$n" && ok "$n messages stored, outbox drained" ||
    fail "not drained"

"$tool" events "$kafka" >"$tmp/events.out" 2>&1 &&
    ok "events: $(cat "$tmp/events.out")" ||
    { fail "events"; cat "$tmp/events.out" >&2; }
stored=$(sed -n 's/^stored \([0-9]*\).*/\1/p' "$tmp/events.out")
got=$(kcat -C -b "$kafka" -t rebound.events -e -q | wc -l)
[ -n "$stored" ] && [ "$got" = "$stored" ] &&
    ok "kcat reads $got events" || fail "kcat read $got of ${stored:-?}"
# Keys are identities; every value carries its id.
kcat -C -b "$kafka" -t rebound.events -e -q -f '%k\t%s\n' >"$tmp/kcat.out"
bad=$(grep -cv '^shop[0-3]\.example\.com	{"eventType":".*"eventId":"[0-9a-f]\{32\}-[0-9]*"' \
    "$tmp/kcat.out")
[ "$bad" = 0 ] && ok "kcat: keys and ids" || fail "$bad records without"

"$tool" suppression "$kafka" >"$tmp/supp.out" 2>&1 &&
    ok "suppression: $(cat "$tmp/supp.out")" ||
    { fail "suppression"; cat "$tmp/supp.out" >&2; }

# A removal through the CLI while serving: the topic follows.
"$rebound" suppression remove user0@example.org >/dev/null ||
    fail "suppression remove"
wait_sql "SELECT count(*) FROM outbox" eq 0 || fail "removal not published"
"$tool" suppression "$kafka" >"$tmp/supp2.out" 2>&1 &&
    ok "after a removal: $(cat "$tmp/supp2.out")" ||
    { fail "suppression after removal"; cat "$tmp/supp2.out" >&2; }
kcat -C -b "$kafka" -t rebound.suppression -e -q -Z -f '%k %s\n' |
    grep -q '^user0@example.org NULL$' && ok "tombstone of user0" ||
    fail "no tombstone of user0"

"$rebound" status >"$tmp/status.out" || fail "rebound status"
grep -q '^outbox        0 rows not yet delivered' "$tmp/status.out" &&
    ok "rebound status: outbox empty" ||
    { fail "status"; cat "$tmp/status.out" >&2; }
serve_stop "$pid"
grep -q 'kafka: stopped' "$tmp/s1.log" && ok "stopped" || fail "stop line"
finish
