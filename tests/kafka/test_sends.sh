#!/bin/sh
# SES Send events produced to rebound.sends with kcat are counted by
# rebound serve's consumer (group rebound) into the hourly sends: the
# rates of `rebound stats` are the feedback over those sends.  Malformed
# records are counted and skipped with one log line (rate-limited), the
# partition goes on.  Restarted in another consumer group (no offsets
# committed in Kafka for it), rebound starts at the offsets kept in its
# database: nothing is counted twice; new records are.  A property
# librdkafka refuses stops serve with a clear error.
# Usage: test_sends.sh REBOUND KAFKATOOL
. "$(dirname "$0")/lib.sh"
need_kcat
export REBOUND_NOW=2024-06-01T12:00:00Z

# send ID DESTINATIONS MINUTE: an SES Send event.
send() {
	dest=
	k=0
	while [ $k -lt "$2" ]; do
		dest="$dest${dest:+,}\"r$k@example.net\""
		k=$((k + 1))
	done
	printf '{"eventType":"Send","mail":{"timestamp":"2024-06-01T11:%02d:00.000Z","source":"orders@%s","messageId":"m-%s-%s","destination":[%s]},"send":{}}\n' \
	    "$3" "$1" "$1" "$3" "$dest"
}

broker_start 1
REBOUND_KAFKA_BROKERS=$broker
export REBOUND_KAFKA_BROKERS
serve_start s1
feed s1 0 20
drained 20 && ok "20 feedback messages stored" || fail "feedback"
{
	m=0
	while [ $m -lt 30 ]; do
		send shop0.example.com 2 $((m % 60))
		send shop1.example.com 1 $((m % 60))
		m=$((m + 1))
	done
	echo 'this is not JSON'
	echo '{"eventType":"Send","mail":{}}'
	echo '[1, 2]'
	echo '{"eventType":"Delivery","mail":{"source":"a@shop0.example.com"}}'
	send shop2.example.com 3 5
} >"$tmp/sends.jsonl"
kcat -P -b "$broker" -t rebound.sends <"$tmp/sends.jsonl" ||
    fail "kcat -P"
records=$(wc -l <"$tmp/sends.jsonl" | tr -d ' ')
wait_sql "SELECT coalesce(sum(value), 0) FROM kafka_state WHERE name = 'sends_records'" \
    ge "$records" 30 && ok "$records records consumed" ||
    fail "records not consumed"

sends_of() {
	"$rebound" stats --identity "$1" --json |
	    sed -n 's/^      "sends": \([0-9]*\).*/\1/p'
}
[ "$(sends_of shop0.example.com)" = 60 ] && [ "$(sends_of shop1.example.com)" = 30 ] &&
    [ "$(sends_of shop2.example.com)" = 3 ] && ok "sends 60, 30, 3" ||
    fail "sends $(sends_of shop0.example.com) $(sends_of shop1.example.com) $(sends_of shop2.example.com)"
# shop0 of the 20 messages: 3 hard bounces, 1 soft, 1 complaint.
"$rebound" stats --identity shop0.example.com --json >"$tmp/stats.json"
grep -q '"bounceRate": 0.05' "$tmp/stats.json" &&
    grep -q '"complaintRate": 0.01666' "$tmp/stats.json" &&
    ok "rates of shop0: 3/60 and 1/60" ||
    { fail "rates"; cat "$tmp/stats.json" >&2; }
"$rebound" status >"$tmp/status.out"
grep -q "sends topic   $records records consumed, 3 malformed" \
    "$tmp/status.out" && ok "status: 3 malformed" ||
    { fail "status"; cat "$tmp/status.out" >&2; }
lines=$(grep -c 'malformed send record skipped' "$tmp/s1.log")
[ "$lines" -ge 1 ] && [ "$lines" -le 2 ] &&
    ok "$lines log line(s) for 3 malformed records" ||
    fail "$lines log lines for the malformed records"
serve_stop "$pid"

# Another group: Kafka would replay from the start; the database's
# offsets keep every record counted once.
REBOUND_KAFKA_GROUP=other
export REBOUND_KAFKA_GROUP
serve_start s2
send shop1.example.com 4 30 | kcat -P -b "$broker" -t rebound.sends
wait_sql "SELECT coalesce(sum(value), 0) FROM kafka_state WHERE name = 'sends_records'" \
    ge $((records + 1)) 30 && ok "the new record consumed" ||
    fail "new record not consumed"
sleep 0.5
[ "$(sends_of shop0.example.com)" = 60 ] && [ "$(sends_of shop1.example.com)" = 34 ] &&
    ok "nothing counted twice, the new one counted" ||
    fail "after restart: $(sends_of shop0.example.com) $(sends_of shop1.example.com)"
serve_stop "$pid"

# A property librdkafka does not know: serve says which and stops.
REBOUND_KAFKA_PROPERTY_NO_SUCH_THING=1 "$rebound" serve --smtp 127.0.0.1:0 \
    --spool "$tmp/s3.spool" >"$tmp/s3.out" 2>&1
st=$?
[ $st = 1 ] && grep -q 'kafka.property.no.such.thing' "$tmp/s3.out" &&
    ok "a bad property stops serve" ||
    { fail "bad property (status $st)"; cat "$tmp/s3.out" >&2; }
finish
