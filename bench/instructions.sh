#!/usr/bin/env bash
# instructions.sh counts the user-space instructions a server spends per request on one
# bench scenario, with callgrind: deterministic where a shared machine's timings are not,
# so the figure to quote before and after a change to the request path, and beside the
# peers counted the same way.
#
#   bench/instructions.sh SCENARIO [CONNS] [SECONDS]      (defaults: 8 connections, 3 s)
#   SERVER=nginx bench/instructions.sh hello 64           (SERVER: drlee, fasthttp, nginx)
#   make instructions SCENARIO=timer [CONNS=64] [SERVER=nginx]
#
# It runs the server under valgrind on one core's worth of workers: bin/drlee (make build)
# on one worker with GOMAXPROCS=1 and async preemption off (its signals would perturb the
# count); the raw fasthttp peer (bench/peers/fasthttp, built here) the same way; nginx +
# Lua (bench/nginx's configuration, OpenResty's module from make bench-deps) with one
# worker and no master process. On a free port of 127.0.0.1 it warms the server up with wrk
# for 2 s, zeroes the counters, loads it with wrk for SECONDS, dumps, and divides the
# instructions by the requests wrk counted. The dump (callgrind_annotate reads it) stays in
# the printed directory. Needs valgrind and wrk (make bench-deps).
set -euo pipefail

scenario="${1:?usage: bench/instructions.sh SCENARIO [CONNS] [SECONDS]}"
conns="${2:-8}"
secs="${3:-3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
script="$here/scenarios/$scenario.lua"
[ -f "$script" ] || { echo "no scenario $script" >&2; exit 2; }
for tool in valgrind callgrind_control wrk curl; do
	command -v "$tool" >/dev/null || { echo "$tool is missing: make bench-deps" >&2; exit 2; }
done
server="${SERVER:-drlee}"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18777)"
out="$(mktemp -d /tmp/drlee-instructions.XXXXXX)"
vgopts=(--tool=callgrind --callgrind-out-file="$out/callgrind.out.%p")
case "$server" in
drlee)
	[ -x "$root/bin/drlee" ] || { echo "bin/drlee is missing: make build" >&2; exit 2; }
	GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind "${vgopts[@]}" \
		"$root/bin/drlee" run -w 1 "$script" "$port" >"$out/server.log" 2>&1 &
	;;
fasthttp)
	(cd "$root" && "${GO:-go}" build -o "$out/fasthttp" ./bench/peers/fasthttp)
	GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind "${vgopts[@]}" \
		"$out/fasthttp" -addr "127.0.0.1:$port" >"$out/server.log" 2>&1 &
	;;
nginx)
	cache="$here/.cache/nginx-lua"
	command -v nginx >/dev/null && [ -d "$cache/usr/lib/nginx/modules" ] ||
		{ echo "nginx or OpenResty's Lua module is missing: make bench-deps" >&2; exit 2; }
	user=""
	[ "$(id -u)" = 0 ] && user="user root;"
	# bench/cmd/benchrun fills the same template with Go's text/template; these are its fields.
	sed -e "s#{{if .User}}user {{.User}};{{end}}#$user#" -e "s#{{.Dir}}#$out#g" \
		-e "s#{{.Modules}}#$cache/usr/lib/nginx/modules#g" -e "s#{{.LuaPath}}#$cache/usr/share/lua/5.1#g" \
		-e "s#{{.Workers}}#1#" -e "s#{{.Port}}#$port#" -e "s#master_process on#master_process off#" \
		"$here/nginx/nginx.conf.tmpl" >"$out/nginx.conf"
	if grep -q '{{' "$out/nginx.conf"; then echo "unfilled template fields in $out/nginx.conf" >&2; exit 2; fi
	LD_LIBRARY_PATH="$cache/usr/lib/x86_64-linux-gnu" valgrind "${vgopts[@]}" \
		nginx -p "$out" -e "$out/error.log" -c "$out/nginx.conf" >"$out/server.log" 2>&1 &
	;;
*)
	echo "SERVER must be drlee, fasthttp or nginx, not $server" >&2
	exit 2
	;;
esac
vg=$!
trap 'kill $vg 2>/dev/null || true; wait $vg 2>/dev/null || true' EXIT
url="http://127.0.0.1:$port/$scenario"
for _ in $(seq 1 120); do
	curl -s -o /dev/null "$url" && break
	kill -0 $vg 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
	sleep 0.5
done
wrk -t1 -c"$conns" -d2s "$url" >/dev/null
callgrind_control -z $vg >/dev/null 2>&1
wrk -t1 -c"$conns" -d"${secs}s" "$url" >"$out/wrk.txt"
callgrind_control -d $vg >/dev/null 2>&1
requests="$(grep -o '[0-9]* requests in' "$out/wrk.txt" | awk '{print $1}')"
dump="$(ls "$out"/callgrind.out.*.1)"
total="$(awk '/^totals:/ {print $2}' "$dump")"
echo "$server $scenario, $conns connections: $((total / requests)) instructions per request ($total over $requests requests; dump: $dump)"
