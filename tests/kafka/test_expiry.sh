#!/bin/sh
# Global suppressions end by time (suppression.ttl): the publisher's
# sweep notices and rebound.suppression gets a tombstone for each
# address that left the lists, so a mirror read from the start is
# exactly the lists again, 15 days later (the clock of the test is
# REBOUND_NOW).  An address that hard-bounces after that is suppressed
# again, and published again.  Account-level entries are off here
# (suppression.account_auto = none) so that expiry empties the lists.
# Usage: test_expiry.sh REBOUND KAFKATOOL
. "$(dirname "$0")/lib.sh"
need_kcat
cat >>"$REBOUND_CONFIG" <<'EOF'
[suppression]
account_auto = none
EOF

broker_start 1
"$tool" gen "$tmp/md" 100 || exit 1
REBOUND_NOW=2024-06-01T12:00:00Z "$rebound" ingest "$tmp/md/new" >/dev/null ||
    fail "ingest"
REBOUND_NOW=2024-06-01T12:00:00Z "$tool" publish "$broker" 20000 \
    >"$tmp/p1.out" && ok "published: $(cat "$tmp/p1.out")" || fail "publish"
REBOUND_NOW=2024-06-01T12:00:00Z "$tool" suppression "$broker" \
    >"$tmp/s1.out" 2>&1 && ok "day 0: $(cat "$tmp/s1.out")" ||
    { fail "day 0"; cat "$tmp/s1.out" >&2; }
live=$(kcat -C -b "$broker" -t rebound.suppression -e -q -Z -f '%s\n' |
    grep -vc '^NULL$')
[ "$live" = 30 ] && ok "30 addresses suppressed" || fail "$live suppressed"

# 15 days on: every global entry expired.
export REBOUND_NOW=2024-06-16T12:00:00Z
"$tool" publish "$broker" 20000 >"$tmp/p2.out" &&
    ok "published: $(cat "$tmp/p2.out")" || fail "publish after expiry"
"$tool" suppression "$broker" >"$tmp/s2.out" 2>&1 &&
    ok "day 15: $(cat "$tmp/s2.out")" ||
    { fail "day 15"; cat "$tmp/s2.out" >&2; }
grep -q '^entries in the store 0, in the mirror 0' "$tmp/s2.out" &&
    ok "the mirror is empty" || fail "mirror not empty"
tomb=$(kcat -C -b "$broker" -t rebound.suppression -e -q -Z -f '%s\n' |
    grep -c '^NULL$')
[ "$tomb" = 30 ] && ok "30 tombstones" || fail "$tomb tombstones"

# One of them hard-bounces again: suppressed (and published) again.
mkdir -p "$tmp/md2/new" "$tmp/md2/cur" "$tmp/md2/tmp"
sed 's/^Message-ID: <dsn-0@/Message-ID: <dsn-again-0@/' \
    "$tmp/md/new/00000000.kafkatest" >"$tmp/md2/new/again"
"$rebound" ingest "$tmp/md2/new" >/dev/null || fail "ingest again"
"$tool" publish "$broker" 20000 >/dev/null || fail "publish again"
"$tool" suppression "$broker" >"$tmp/s3.out" 2>&1 &&
    grep -q '^entries in the store 1, in the mirror 1' "$tmp/s3.out" &&
    ok "re-suppressed: $(cat "$tmp/s3.out")" ||
    { fail "re-suppressed"; cat "$tmp/s3.out" >&2; }
"$rebound" status | grep -q '^expiry sweep  2024-06-16T12:00:00.000Z' &&
    ok "status shows the sweep" || fail "status sweep"
finish
