#!/bin/sh
# bench/http.sh: requests/s and p99 latency of the two hot calls of the
# HTTP API, GET /v1/suppression/{address} and GET
# /v1/identities/{identity}/reputation, on a database of 1,000,000
# suppressed addresses, 10,000 identities and 1,000,000 events; in the
# same run nginx serving a small static JSON file on loopback, this
# machine's ceiling for an HTTP server, and the ratios.
#
# Targets: the suppression look-up at least 1/2 of nginx's requests/s,
# the reputation at least 1/3, p99 under 5 ms for both.  The reputation
# is measured as served (answers kept while the database is unchanged,
# which it is during the run) and with that cache off.
#
# Usage: bench/http.sh [BUILD_DIR]   (default: build, configured and
# built here if needed).  Environment: BENCH_SECONDS (10 per run),
# BENCH_CONNECTIONS (16), BENCH_THREADS (wrk threads, 2),
# BENCH_KEEP=1 keeps the temporary directory (database, logs),
# BENCH_STRICT=1 exits 1 when a target is missed.
# wrk and nginx come from Debian; installed with apt-get -y when missing
# (as root).  Everything runs on 127.0.0.1; the load generator shares
# the machine's cores with the server, for nginx and rebound alike.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
seconds=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-16}
threads=${BENCH_THREADS:-2}

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	[ -x "/usr/sbin/$1" ] && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing $2 (apt-get)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    --no-install-recommends "$2" >/dev/null
	fi
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || {
		echo "bench: $1 missing: apt-get install $2" >&2
		exit 1
	}
}
need wrk wrk
need nginx nginx
need curl curl
nginx=$(command -v nginx || echo /usr/sbin/nginx)

if [ ! -f "$build/CMakeCache.txt" ]; then
	"$root/scripts/build.sh" "$(basename "$build")"
fi
cmake --build "$build" --target bench_http_gen http_testd -j2 >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rebound-bench-http.XXXXXX")
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now=$(date +%s)
echo "bench: generating the database (1M addresses, 10k identities," \
    "1M events)"
"$build/bench/bench_http_gen" "$tmp/bench.db" --now "$now" >"$tmp/gen.out"

# start_rebound NAME [http_testd options]: the HTTP server of rebound
# serve over that database; its URL in $tmp/NAME.url.  (Not in a
# $(...) subshell: $pids must keep its pid for the cleanup.)
start_rebound() {
	n=$1
	shift
	REBOUND_NOW=$now "$build/tests/http_testd" --db "$tmp/bench.db" \
	    --no-submit --ready "$tmp/$n.url" "$@" >"$tmp/$n.log" 2>&1 &
	pids="$pids $!"
	i=0
	while [ ! -s "$tmp/$n.url" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && { cat "$tmp/$n.log" >&2; exit 1; }
		sleep 0.05
	done
}
start_rebound rebound
url=$(cat "$tmp/rebound.url")
# The same without the cache of computed reputations (http.cache_entries
# = 0): what each answer costs when the database changes all the time.
start_rebound nocache --set http.cache_entries=0
url_nc=$(cat "$tmp/nocache.url")

# nginx: a small static JSON file, the size of a look-up's answer.
nport=$(free_port)
mkdir -p "$tmp/nginx/html" "$tmp/nginx/logs"
curl -s "$url/v1/suppression/u0000001@d001.example" \
    >"$tmp/nginx/html/lookup.json"
# Its workers run as an unprivileged user: let them read the file.
chmod 755 "$tmp" "$tmp/nginx" "$tmp/nginx/html"
chmod 644 "$tmp/nginx/html/lookup.json"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	keepalive_timeout 60s;
	default_type application/json;
	server {
		listen 127.0.0.1:$nport;
		root $tmp/nginx/html;
	}
}
EOF
"$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
pids="$pids $!"
i=0
while ! curl -sf "http://127.0.0.1:$nport/lookup.json" >/dev/null; do
	i=$((i + 1))
	[ $i -gt 200 ] && { cat "$tmp/nginx/logs/error.log" >&2; exit 1; }
	sleep 0.05
done

# The request paths, random over the data set (the same Lua cost per
# request for nginx, whose query string it ignores).
cat >"$tmp/suppression.lua" <<'EOF'
math.randomseed(42)
request = function()
	local i = math.random(0, 999999)
	return wrk.format("GET", string.format(
	    "/v1/suppression/u%07d@d%03d.example", i, i % 1000))
end
EOF
cat >"$tmp/reputation.lua" <<'EOF'
math.randomseed(43)
request = function()
	return wrk.format("GET", string.format(
	    "/v1/identities/id%05d.example/reputation",
	    math.random(0, 9999)))
end
EOF
cat >"$tmp/nginx.lua" <<'EOF'
math.randomseed(44)
request = function()
	local i = math.random(0, 999999)
	return wrk.format("GET", string.format(
	    "/lookup.json?a=u%07d@d%03d.example", i, i % 1000))
end
EOF

# run NAME URL SCRIPT: a short warm-up, then the measured run; prints
# "NAME RPS P99_MS NON2XX".
run() {
	wrk -t"$threads" -c"$conns" -d2s -s "$3" "$2" >/dev/null 2>&1 || true
	wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -s "$3" "$2" \
	    >"$tmp/$1.wrk" 2>&1
	awk -v name="$1" '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v
	}
	/^ +99%/ { p99 = ms($2) }
	/^Requests\/sec:/ { rps = $2 }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	END { printf "%s %.0f %.3f %d\n", name, rps, p99, bad + 0 }
	' "$tmp/$1.wrk"
}

echo "bench: wrk -t$threads -c$conns -d${seconds}s, 2 CPUs shared by" \
    "wrk and the server ($(nproc) online; load $(cut -d' ' -f1 /proc/loadavg))"
run nginx "http://127.0.0.1:$nport" "$tmp/nginx.lua" >"$tmp/r.nginx"
run suppression "$url" "$tmp/suppression.lua" >"$tmp/r.supp"
run reputation "$url" "$tmp/reputation.lua" >"$tmp/r.rep"
run uncached "$url_nc" "$tmp/reputation.lua" >"$tmp/r.nc"
cat "$tmp/r.nginx" "$tmp/r.supp" "$tmp/r.rep" "$tmp/r.nc" | awk '
{ rps[$1] = $2; p99[$1] = $3; bad[$1] = $4 }
END {
	n = rps["nginx"]
	printf "%-40s %10s %10s\n", "", "req/s", "p99 ms"
	printf "%-40s %10d %10.2f\n", "nginx, static JSON file", n, p99["nginx"]
	printf "%-40s %10d %10.2f\n", "GET /v1/suppression/{address}",
	    rps["suppression"], p99["suppression"]
	printf "%-40s %10d %10.2f\n", "GET /v1/identities/{id}/reputation",
	    rps["reputation"], p99["reputation"]
	printf "%-40s %10d %10.2f\n", "  the same, cache off",
	    rps["uncached"], p99["uncached"]
	rs = n > 0 ? rps["suppression"] / n : 0
	rr = n > 0 ? rps["reputation"] / n : 0
	ok_s = rs >= 0.5 && p99["suppression"] < 5 && bad["suppression"] == 0
	ok_r = rr >= 1 / 3 && p99["reputation"] < 5 && bad["reputation"] == 0
	printf "suppression/nginx: %.2f (target >= 0.50, p99 < 5 ms): %s\n",
	    rs, ok_s ? "MET" : "MISSED"
	printf "reputation/nginx:  %.2f (target >= 0.33, p99 < 5 ms): %s\n",
	    rr, ok_r ? "MET" : "MISSED"
	if (bad["suppression"] + bad["reputation"] > 0)
		printf "non-2xx answers: %d suppression, %d reputation\n",
		    bad["suppression"], bad["reputation"]
	printf "http_nginx_rps=%d\nhttp_suppression_rps=%d\n", n,
	    rps["suppression"]
	printf "http_reputation_rps=%d\nhttp_suppression_p99_ms=%.3f\n",
	    rps["reputation"], p99["suppression"]
	printf "http_reputation_p99_ms=%.3f\n", p99["reputation"]
	printf "http_reputation_uncached_rps=%d\n", rps["uncached"]
	printf "http_reputation_uncached_p99_ms=%.3f\n", p99["uncached"]
	exit !(ok_s && ok_r)
}' || {
	[ "${BENCH_STRICT:-0}" = 1 ] && exit 1
	true
}
