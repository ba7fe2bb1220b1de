#!/usr/bin/env bash
# Durable writes of one crdtd node against Redis with appendfsync always,
# side by side in one run on this machine (rates move by a quarter from one
# hour to the next here, so only a ratio measured in the same minute means
# anything).
#
#   crdtd:  wrk, POST an add of one item to a random cart among 1,000
#   Redis:  redis-benchmark, HINCRBY on a random key among 1,000
#
# Installs nothing. Needs wrk, redis-server and redis-benchmark on PATH
# (Debian: apt-get install wrk redis-server redis-tools) and builds crdtd.
#
# Besides the rates, each row gives, for the crdtd run (the minimal one not
# included): the node's CPU time (user + system, from /proc/PID/stat) per
# write, and writes per fdatasync of its log (crdtd_store_log_appends_total).
#
# Environment (all optional):
#   CONNS="1 16 64"   connection counts to run (one row each per round)
#   DURATION=10       seconds per crdtd run; Redis then runs as many requests
#                     as the node acknowledged in it (at least 1,000), so that
#                     both rates are averages over comparable stretches
#   PREFER_MINIMAL=1  also run crdtd with Prefer: return=minimal (204)
#   ROUNDS=1          rounds per connection count, crdtd and Redis taking
#                     turns; with more than one, a last line per count gives
#                     the median of its rounds' ratios (one round's ratio
#                     moves with the minute on a shared machine)
#   CRDTD_BIN=path    run this crdtd binary instead of building one (A/B runs)
#   CRDTD_PORT=7370 REDIS_PORT=7379
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in wrk redis-server redis-benchmark; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench-vs-redis: $tool not found; on Debian: apt-get install wrk redis-server redis-tools" >&2
    exit 2
  fi
done

CONNS=${CONNS:-"1 16 64"}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]?$ ]]; then
  echo "bench-vs-redis: ROUNDS must be a whole number from 1 to 99, not \"$ROUNDS\"" >&2
  exit 2
fi
CRDTD_PORT=${CRDTD_PORT:-7370}
REDIS_PORT=${REDIS_PORT:-7379}
DIR="$(mktemp -d -t crdtd-vs-redis.XXXXXX)"
BIN="$DIR/bin"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

if [[ -n "${CRDTD_BIN:-}" ]]; then
  mkdir -p "$BIN" && cp "$CRDTD_BIN" "$BIN/crdtd"
else
  go build -o "$BIN/" ./cmd/crdtd
fi

"$BIN/crdtd" agent --name bench --data-dir "$DIR/data" --api-addr "127.0.0.1:$CRDTD_PORT" \
  --gossip-addr 127.0.0.1:0 --log-level warn >"$DIR/crdtd.log" 2>&1 &
CRDTD_PID=$!
PIDS+=($CRDTD_PID)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always \
  --dir "$DIR" --daemonize no >"$DIR/redis.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$CRDTD_PORT/healthz" >/dev/null 2>&1 && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$CRDTD_PORT/healthz" >/dev/null || { echo "crdtd did not start; log:" >&2; cat "$DIR/crdtd.log" >&2; exit 1; }
redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "redis did not start; log:" >&2; cat "$DIR/redis.log" >&2; exit 1; }

# One add of item "x" to a random cart among 1,000 per request.
cat >"$DIR/add.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local minimal = os.getenv("PREFER_MINIMAL_RUN")
if minimal == "1" then wrk.headers["Prefer"] = "return=minimal" end
request = function()
  return wrk.format(nil, "/v1/carts/c" .. math.random(0, 999) .. "/items", nil, '{"item":"x","quantity":1}')
end
LUA

cpu_ticks() { awk '{print $14 + $15}' "/proc/$CRDTD_PID/stat"; }
log_counts() { # -> "records syncs" of the node's write-ahead log
  curl -fs "http://127.0.0.1:$CRDTD_PORT/metrics" | awk '
    /^crdtd_store_log_appends_total\{kind="records"\}/ {r = $2}
    /^crdtd_store_log_appends_total\{kind="syncs"\}/ {s = $2}
    END {printf "%d %d\n", r, s}'
}
TICK=$(getconf CLK_TCK)

wrk_rate() { # conns minimal -> "rate p50 p99" (requests/s, ms)
  local c=$1 t=$(( $1 < 2 ? 1 : 2 ))
  PREFER_MINIMAL_RUN=$2 wrk -t "$t" -c "$c" -d "${DURATION}s" --latency -s "$DIR/add.lua" \
    "http://127.0.0.1:$CRDTD_PORT" >"$DIR/wrk.out"
  local rate p50 p99 non2xx
  rate=$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$DIR/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$DIR/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$DIR/wrk.out")
  if [[ -n "$non2xx" ]]; then echo "bench-vs-redis: $non2xx non-2xx answers from crdtd" >&2; cat "$DIR/wrk.out" >&2; exit 1; fi
  echo "$rate $p50 $p99"
}

redis_rate() { # conns requests -> rate
  local c=$1 n=$(( $2 > 1000 ? $2 : 1000 ))
  redis-benchmark -p "$REDIS_PORT" -c "$c" -n "$n" -r 1000 -q HINCRBY "key:__rand_int__" f 1 2>/dev/null \
    | tr '\r' '\n' | awk '/requests per second/ {for (i=1;i<=NF;i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}'
}

printf '%-6s %12s %10s %10s %12s %7s %12s %11s' conns crdtd/s p50 p99 redis/s ratio cpu/write writes/sync
[[ "${PREFER_MINIMAL:-}" == 1 ]] && printf ' %14s %7s' minimal/s ratio
printf '\n'
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# round runs crdtd and then Redis at $1 connections, prints their row and
# appends the ratio to the array ratios.
round() {
  local c=$1 rec0 sync0 tick0 tick1 rec1 sync1 crate p50 p99 rrate r cpu per mrate
  read -r rec0 sync0 < <(log_counts)
  tick0=$(cpu_ticks)
  read -r crate p50 p99 < <(wrk_rate "$c" 0)
  tick1=$(cpu_ticks)
  read -r rec1 sync1 < <(log_counts)
  rrate=$(redis_rate "$c" $((rec1 - rec0)))
  r=$(ratio "$crate" "$rrate")
  ratios+=("$r")
  cpu=$(awk -v t=$((tick1 - tick0)) -v hz="$TICK" -v n=$((rec1 - rec0)) 'BEGIN { printf "%.0fus", n ? t / hz * 1e6 / n : 0 }')
  per=$(awk -v n=$((rec1 - rec0)) -v s=$((sync1 - sync0)) 'BEGIN { printf "%.1f", s ? n / s : 0 }')
  printf '%-6s %12.0f %10s %10s %12.0f %7s %12s %11s' "$c" "$crate" "$p50" "$p99" "$rrate" "$r" "$cpu" "$per"
  if [[ "${PREFER_MINIMAL:-}" == 1 ]]; then
    read -r mrate _ _ < <(wrk_rate "$c" 1)
    printf ' %14.0f %7s' "$mrate" "$(ratio "$mrate" "$rrate")"
  fi
  printf '\n'
}

for c in $CONNS; do
  ratios=()
  for _ in $(seq 1 "$ROUNDS"); do round "$c"; done
  if ((ROUNDS > 1)); then
    printf '%-6s median ratio of %d rounds: %s\n' "$c" "$ROUNDS" "$(printf '%s\n' "${ratios[@]}" | median)"
  fi
done
