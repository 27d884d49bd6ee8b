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
# built here if needed).  Environment: BENCH_ROUNDS (3: the four runs
# nginx, suppression, reputation, reputation without cache, interleaved,
# this many times; the median is reported, so that another load on a
# shared machine weighs on all alike), BENCH_SECONDS (5 per run),
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
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
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
	echo $! >"$tmp/$n.pid"
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
nginx_pid=$!
pids="$pids $nginx_pid"
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

# cpu_ticks PID...: user + system clock ticks of these processes.
cpu_ticks() {
	t=0
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}

# run NAME URL SCRIPT PID...: one measured run; appends "NAME RPS
# P99_MS NON2XX CPU_US_PER_REQUEST" to $tmp/results.  The CPU is the
# server's own (PIDs), whatever else runs on the machine.
run() {
	name=$1 u=$2 lua=$3
	shift 3
	c0=$(cpu_ticks "$@")
	wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -s "$lua" "$u" \
	    >"$tmp/$name.wrk" 2>&1
	c1=$(cpu_ticks "$@")
	awk -v name="$name" -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v
	}
	/^ +99%/ { p99 = ms($2) }
	/^Requests\/sec:/ { rps = $2 }
	/requests in/ { n = $1 }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	END {
		printf "%s %.0f %.3f %d %.2f\n", name, rps, p99, bad + 0,
		    (n > 0 ? ticks * 1e6 / hz / n : 0)
	}' "$tmp/$name.wrk" >>"$tmp/results"
}

rebound_pid=$(sed -n 1p "$tmp/rebound.pid")
nocache_pid=$(sed -n 1p "$tmp/nocache.pid")
nginx_pids=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
echo "bench: wrk -t$threads -c$conns, $rounds rounds of ${seconds}s each," \
    "interleaved; $(nproc) CPUs shared by wrk, the servers and whatever else" \
    "runs (load $(cut -d' ' -f1 /proc/loadavg))"
# Warm-up: page caches, the reputation cache, connections.
for l in nginx suppression reputation; do
	case $l in
	nginx) u="http://127.0.0.1:$nport" ;;
	*) u=$url ;;
	esac
	wrk -t"$threads" -c"$conns" -d2s -s "$tmp/$l.lua" "$u" >/dev/null 2>&1
done
: >"$tmp/results"
r=0
while [ $r -lt "$rounds" ]; do
	r=$((r + 1))
	# shellcheck disable=SC2086
	run nginx "http://127.0.0.1:$nport" "$tmp/nginx.lua" $nginx_pids
	run suppression "$url" "$tmp/suppression.lua" "$rebound_pid"
	run reputation "$url" "$tmp/reputation.lua" "$rebound_pid"
	run uncached "$url_nc" "$tmp/reputation.lua" "$nocache_pid"
done
sort -k1,1 -k2,2n "$tmp/results" | awk -v rounds="$rounds" '
# The median run of each (by requests/s), its p99 and CPU beside it.
{ k = $1; c[k]++; row[k, c[k]] = $0 }
END {
	split("nginx suppression reputation uncached", names, " ")
	for (i = 1; i <= 4; i++) {
		k = names[i]
		split(row[k, int((c[k] + 1) / 2)], f, " ")
		rps[k] = f[2]; p99[k] = f[3]; bad[k] = f[4]; cpu[k] = f[5]
		all = ""
		for (j = 1; j <= c[k]; j++) {
			split(row[k, j], g, " ")
			all = all (j > 1 ? " " : "") g[2]
		}
		runs[k] = all
	}
	printf "%-38s %8s %8s %9s   %s\n", "(median of " rounds " runs)",
	    "req/s", "p99 ms", "CPU us/req", "req/s of each run"
	line("nginx, static JSON file", "nginx")
	line("GET /v1/suppression/{address}", "suppression")
	line("GET /v1/identities/{id}/reputation", "reputation")
	line("  the same, cache off", "uncached")
	n = rps["nginx"]
	rs = n > 0 ? rps["suppression"] / n : 0
	rr = n > 0 ? rps["reputation"] / n : 0
	ru = n > 0 ? rps["uncached"] / n : 0
	ok_s = rs >= 0.5 && p99["suppression"] < 5 && bad["suppression"] == 0
	ok_r = rr >= 1 / 3 && p99["reputation"] < 5 && bad["reputation"] == 0
	printf "suppression/nginx: %.2f (target >= 0.50), p99 %.2f ms (target < 5): %s\n",
	    rs, p99["suppression"], ok_s ? "MET" : "MISSED"
	printf "reputation/nginx:  %.2f (target >= 0.33), p99 %.2f ms (target < 5): %s\n",
	    rr, p99["reputation"], ok_r ? "MET" : "MISSED"
	printf "reputation with the cache off / nginx: %.2f\n", ru
	printf "server CPU per request, rebound/nginx: suppression %.1fx, reputation %.1fx (cache off %.1fx)\n",
	    cpu["suppression"] / cpu["nginx"], cpu["reputation"] / cpu["nginx"],
	    cpu["uncached"] / cpu["nginx"]
	if (bad["suppression"] + bad["reputation"] + bad["uncached"] > 0)
		printf "non-2xx answers: %d suppression, %d reputation, %d uncached\n",
		    bad["suppression"], bad["reputation"], bad["uncached"]
	printf "http_nginx_rps=%d\nhttp_suppression_rps=%d\n", n,
	    rps["suppression"]
	printf "http_reputation_rps=%d\nhttp_reputation_uncached_rps=%d\n",
	    rps["reputation"], rps["uncached"]
	printf "http_suppression_p99_ms=%.3f\nhttp_reputation_p99_ms=%.3f\n",
	    p99["suppression"], p99["reputation"]
	printf "http_suppression_ratio=%.3f\nhttp_reputation_ratio=%.3f\n",
	    rs, rr
	exit !(ok_s && ok_r)
}
function line(label, k) {
	printf "%-38s %8d %8.2f %9.2f   %s\n", label, rps[k], p99[k], cpu[k],
	    runs[k]
}' || {
	[ "${BENCH_STRICT:-0}" = 1 ] && exit 1
	true
}
