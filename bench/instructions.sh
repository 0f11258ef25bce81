#!/usr/bin/env bash
# instructions.sh counts the user-space instructions Dr.LEE spends per request on one
# bench scenario, with callgrind: deterministic where a shared machine's timings are not,
# so the figure to quote before and after a change to the request path.
#
#   bench/instructions.sh SCENARIO [CONNS] [SECONDS]      (defaults: 8 connections, 3 s)
#   make instructions SCENARIO=timer
#
# It runs bin/drlee (make build) under valgrind on one worker with GOMAXPROCS=1 and async
# preemption off (its signals would perturb the count), on a free port of 127.0.0.1, warms
# it up with wrk for 2 s, zeroes the counters, loads it with wrk for SECONDS, dumps, and
# divides the instructions by the requests wrk counted. The dump (callgrind_annotate reads
# it) stays in the printed directory. Needs valgrind and wrk (make bench-deps).
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
[ -x "$root/bin/drlee" ] || { echo "bin/drlee is missing: make build" >&2; exit 2; }

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18777)"
out="$(mktemp -d /tmp/drlee-instructions.XXXXXX)"
GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
	--callgrind-out-file="$out/callgrind.out.%p" \
	"$root/bin/drlee" run -w 1 "$script" "$port" >"$out/server.log" 2>&1 &
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
echo "$scenario, $conns connections: $((total / requests)) instructions per request ($total over $requests requests; dump: $dump)"
