#!/bin/sh
# A user's rules directory (--rules) overrides the built-in verdict: the
# same notice is a Transient routing failure without it and a Permanent
# hostunknown with it; and a rules file with an error is refused clearly.
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0
check() {
	if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: $1: want '$3', got '$2'"; fi
}
line=$("$bin" classify "$here/parked-domain.eml")
check "built-in reason" "$(echo "$line" | awk '{print $5}')" "securityerror"
check "built-in type" "$(echo "$line" | awk '{print $6}')" "Transient"
line=$("$bin" classify --rules "$here/user" "$here/parked-domain.eml")
check "user reason" "$(echo "$line" | awk '{print $5}')" "hostunknown"
check "user type" "$(echo "$line" | awk '{print $6}')" "Permanent"
why=$("$bin" classify --explain --rules "$here/user" "$here/parked-domain.eml" | grep because)
case $why in *"00-local.rules:5"*) r=ok ;; *) r="$why" ;; esac
check "explain names the user rule" "$r" ok
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[diagnostic]\nnosuchreason /x/\n' > "$tmp/bad.rules"
err=$("$bin" classify --rules "$tmp" "$here/parked-domain.eml" 2>&1 >/dev/null)
rc=$?
check "bad rules exit" "$rc" 1
case $err in *"bad.rules:2"*"unknown reason"*) r=ok ;; *) r="$err" ;; esac
check "bad rules message" "$r" ok
printf '[diagnostic]\nuserunknown /(unclosed/\n' > "$tmp/bad.rules"
err=$("$bin" classify --rules "$tmp" "$here/parked-domain.eml" 2>&1 >/dev/null)
case $err in *"bad.rules:2"*"pattern error"*) r=ok ;; *) r="$err" ;; esac
check "bad pattern message" "$r" ok
echo "user-rules: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
