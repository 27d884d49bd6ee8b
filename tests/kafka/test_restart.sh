#!/bin/sh
# rebound killed (kill -9) with undelivered outbox rows: the brokers (a
# process of their own) are down while rebound serve stores a batch, so
# its rows wait in the outbox and in librdkafka's memory; rebound dies;
# the brokers come back; a new rebound serve delivers every row: each
# event of the database is on rebound.events (at least once: what was
# in flight when it died may be there twice, with the same eventId),
# the outbox is empty, the suppression topic equals the lists.  Then
# rebound ingest (another process) adds messages while serve runs:
# published too.
# Usage: test_restart.sh REBOUND KAFKATOOL
. "$(dirname "$0")/lib.sh"
n=${REBOUND_KAFKA_MESSAGES:-600}

broker_start 1
REBOUND_KAFKA_BROKERS=$broker
export REBOUND_KAFKA_BROKERS
serve_start s1
feed s1 0 100
drained 100 && ok "100 delivered" || fail "first 100"
broker_cmd down && ok "brokers down"
feed s1 100 "$n"
wait_sql "SELECT count(*) FROM messages" ge "$n" &&
    ok "$n stored while the brokers are down" || fail "not stored"
depth=$("$rebound" status --json | sed -n 's/^    "depth": \([0-9]*\).*/\1/p')
[ "${depth:-0}" -gt 0 ] && ok "outbox holds $depth rows" ||
    fail "outbox depth ${depth:-?}"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
ok "rebound killed"
broker_cmd up && ok "brokers up"
serve_start s2
wait_sql "SELECT count(*) FROM outbox" eq 0 30 &&
    ok "outbox drained after the restart" || fail "not drained"
"$tool" events "$broker" dups >"$tmp/events.out" 2>&1 &&
    ok "events: $(cat "$tmp/events.out")" ||
    { fail "events"; cat "$tmp/events.out" >&2; }
"$tool" suppression "$broker" >"$tmp/supp.out" 2>&1 &&
    ok "suppression: $(cat "$tmp/supp.out")" ||
    { fail "suppression"; cat "$tmp/supp.out" >&2; }

# rebound ingest beside the daemon: its rows are published as well.
rm -rf "$tmp/gen"
"$tool" gen "$tmp/gen" $((n + 50)) || exit 1
for f in "$tmp/gen/new/"*; do
	i=${f##*/}
	i=${i%%.*}
	[ "$(expr "$i" + 0)" -ge "$n" ] || rm -f "$f"
done
"$rebound" ingest "$tmp/gen/new" >"$tmp/ingest.out" || fail "rebound ingest"
grep -q '^stored        50$' "$tmp/ingest.out" && ok "50 more ingested" ||
    { fail "ingest"; cat "$tmp/ingest.out" >&2; }
drained $((n + 50)) && ok "published by the daemon" || fail "not published"
"$tool" events "$broker" dups >"$tmp/events2.out" 2>&1 &&
    ok "events: $(cat "$tmp/events2.out")" ||
    { fail "events"; cat "$tmp/events2.out" >&2; }
serve_stop "$pid"
finish
