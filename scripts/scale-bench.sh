#!/usr/bin/env bash
# One node holding N carts: restart time, memory, and the cost of a status,
# a page, a cold read and a cold write; then, unless CATCHUP=0, an empty node
# joining it and catching up (time and bytes). docs/scaling.md records the
# figures.
#
#   scripts/scale-bench.sh 1000000
#
# Environment (optional):
#   DIR      where to build the data directory (default /tmp/crdtd-scale-N;
#            kept and reused: building 5,000,000 carts takes ~10 minutes)
#   CATCHUP  0 skips the catch-up of an empty node (default 1)
#   DROP     1 drops the page cache before the restart (needs root)
#   PORT     first of four local ports (default 17070)
#
# Needs curl, bc and python3. Each figure is the median of several requests.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:?usage: scripts/scale-bench.sh N}
dir=${DIR:-/tmp/crdtd-scale-$n}
port=${PORT:-17070}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT
for tool in curl bc python3; do
  command -v $tool >/dev/null || { echo "scale-bench: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
go build -o "$bin/crdtd" ./cmd/crdtd
go build -o "$bin/buildcarts" ./internal/tools/buildcarts

if [ ! -e "$dir/crdtd.db" ]; then
  "$bin/buildcarts" --dir "$dir" --carts "$n"
  sync
fi
echo "data file: $(du -h "$dir/crdtd.db" | cut -f1)"

api=127.0.0.1:$port
[ "${DROP:-0}" = 1 ] && { sync; echo 3 > /proc/sys/vm/drop_caches; }
log=$bin/node.log
t0=$(date +%s.%N)
"$bin/crdtd" agent --name scale1 --data-dir "$dir" --api-addr "$api" \
  --gossip-addr 127.0.0.1:$((port + 1)) --profile local 2>"$log" &
pid=$!
until curl -sf "http://$api/healthz" >/dev/null; do sleep 0.005; done
t1=$(date +%s.%N)
echo "restart to /healthz: $(echo "$t1 - $t0" | bc) s"
until grep -q 'digest loaded' "$log"; do sleep 0.05; done
echo "digest built in the background: $(grep -o 'took=[^ ]*' "$log" | head -1)"
rss() { grep -E 'RssAnon' "/proc/$1/status" | tr -s ' \t' ' ' | cut -d' ' -f2; }
anon=$(rss $pid)
echo "anonymous RSS: $((anon / 1024)) MB, $((anon * 1024 / n)) bytes per cart"

rnd() { echo $(( (RANDOM * 32768 + RANDOM) % n )); }
t() { curl -s -o /dev/null -w '%{time_total}\n' "$@"; }
med() { sort -n | awk '{a[NR]=$1} END {printf "%.1f ms\n", a[int((NR+1)/2)]*1000}'; }
cart() { printf 'cart-%07d' "$(rnd)"; }
echo "/v1/status: $(for _ in 1 2 3 4 5; do t "http://$api/v1/status"; done | med)"
echo "page of 100: $(for _ in 1 2 3 4 5; do t "http://$api/v1/carts?limit=100&after=$(cart)"; done | med)"
echo "cold read: $(for _ in $(seq 9); do t "http://$api/v1/carts/$(cart)"; done | med)"
echo "cold write: $(for _ in $(seq 9); do t -X POST -H 'Content-Type: application/json' \
  -d '{"item":"sku-9","quantity":1}' "http://$api/v1/carts/$(cart)/items"; done | med)"

if [ "${CATCHUP:-1}" = 1 ]; then
  empty=$bin/empty
  api2=127.0.0.1:$((port + 2))
  t0=$(date +%s.%N)
  "$bin/crdtd" agent --name scale2 --data-dir "$empty" --api-addr "$api2" \
    --gossip-addr 127.0.0.1:$((port + 3)) --join 127.0.0.1:$((port + 1)) --profile local 2>"$bin/node2.log" &
  pid2=$!
  held=$(curl -s "http://$api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["carts"])')
  while :; do
    c=$(curl -s "http://$api2/v1/status" 2>/dev/null |
      python3 -c 'import json,sys
try: print(json.load(sys.stdin)["carts"])
except Exception: print(0)')
    [ "$c" = "$held" ] && break
    sleep 0.2
  done
  t1=$(date +%s.%N)
  sent=$(curl -s "http://$api/metrics" | awk '/^crdtd_gossip_bytes_total\{channel="repair",direction="sent"\}/ {print $2}')
  back=$(curl -s "http://$api2/metrics" | awk '/^crdtd_gossip_bytes_total\{channel="repair",direction="sent"\}/ {print $2}')
  echo "empty node caught up with $held carts in $(echo "$t1 - $t0" | bc) s;" \
    "repair bytes sent: $(printf '%.0f' "$sent") to it, $(printf '%.0f' "$back") back;" \
    "its anonymous RSS $(( $(rss $pid2) / 1024 )) MB"
  kill $pid2
fi
kill $pid
wait 2>/dev/null || true
