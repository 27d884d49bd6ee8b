#!/bin/sh
# The brokers go down in the middle of an ingest (every broker of a
# 3-broker embedded cluster in its own process, taken down with
# rd_kafka_mock_broker_set_down): rebound serve keeps storing, the
# outbox grows (rebound status shows it), and once the brokers are back
# everything is delivered: every event of the database on
# rebound.events, once, and the suppression topic equal to the lists.
# Usage: test_outage.sh REBOUND KAFKATOOL
. "$(dirname "$0")/lib.sh"
n=${REBOUND_KAFKA_MESSAGES:-1000}
half=$((n / 2))

broker_start 3
REBOUND_KAFKA_BROKERS=$broker
export REBOUND_KAFKA_BROKERS
serve_start s1
grep -q "kafka: publishing to $broker" "$tmp/s1.log" &&
    ok "serve publishes to the test's brokers" || fail "brokers not used"
[ -z "$kafka" ] && ok "no embedded broker when brokers are given" ||
    fail "an embedded broker was started"

feed s1 0 "$half"
drained "$half" && ok "first half delivered" || fail "first half"
broker_cmd down && ok "brokers down"
feed s1 "$half" "$n"
wait_sql "SELECT count(*) FROM messages" ge "$n" &&
    ok "second half stored while the brokers are down" ||
    fail "not stored while down"
depth=$("$rebound" status --json | sed -n 's/^    "depth": \([0-9]*\).*/\1/p')
[ "${depth:-0}" -gt 0 ] && ok "outbox holds $depth rows meanwhile" ||
    fail "outbox depth ${depth:-?} while down"
sleep 1
broker_cmd up && ok "brokers up"
wait_sql "SELECT count(*) FROM outbox" eq 0 30 &&
    ok "outbox drained after recovery" || fail "not drained after recovery"
"$tool" events "$broker" >"$tmp/events.out" 2>&1 &&
    ok "events: $(cat "$tmp/events.out")" ||
    { fail "events"; cat "$tmp/events.out" >&2; }
"$tool" suppression "$broker" >"$tmp/supp.out" 2>&1 &&
    ok "suppression: $(cat "$tmp/supp.out")" ||
    { fail "suppression"; cat "$tmp/supp.out" >&2; }
serve_stop "$pid"
finish
