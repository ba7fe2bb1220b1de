#!/usr/bin/env bash
# Quickstart: build crdtd and cartctl, start a 3-node local cluster, edit one
# cart through two different nodes, show that all three nodes converged on
# the same cart, then stop the cluster.
#
# Environment (all optional):
#   CRDTD_BIN               use binaries from this directory instead of building
#   CRDTD_BASE_API_PORT     API port of node1 (default 7070; nodes use +0..+2)
#   CRDTD_BASE_GOSSIP_PORT  gossip port of node1 (default 7946; nodes use +0..+2)
#   KEEP_RUNNING=1          leave the cluster running (Ctrl-C stops it)
#
# On failure the cluster's directory (node logs, the cluster's output) is kept
# and its path printed; on success it is removed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${CRDTD_BIN:-}" ]]; then
  BIN="$CRDTD_BIN"
else
  BIN="$PWD/bin"
  echo "+ go build -o bin/ ./cmd/crdtd ./cmd/cartctl"
  go build -o "$BIN/" ./cmd/crdtd ./cmd/cartctl
fi
API=${CRDTD_BASE_API_PORT:-7070}
GOSSIP=${CRDTD_BASE_GOSSIP_PORT:-7946}
N1="http://127.0.0.1:$API"
N2="http://127.0.0.1:$((API + 1))"
N3="http://127.0.0.1:$((API + 2))"
DIR="$(mktemp -d -t crdtd-quickstart.XXXXXX)"

# The cluster prints one line per node on stdout once every node serves; its
# messages go to stderr, straight to the user.
"$BIN/crdtd" cluster --nodes 3 --data-dir "$DIR" --base-api-port "$API" --base-gossip-port "$GOSSIP" \
  >"$DIR/cluster.out" &
CLUSTER=$!
cleanup() {
  local status=$?
  kill -TERM "$CLUSTER" 2>/dev/null || true
  wait "$CLUSTER" 2>/dev/null || true
  if [[ $status -eq 0 ]]; then
    rm -rf "$DIR"
  else
    echo "quickstart failed; logs kept in $DIR" >&2
  fi
}
trap cleanup EXIT

cartctl() { echo "+ cartctl $*" >&2; "$BIN/cartctl" "$@"; }

# fail_if_cluster_died exits at once, with the cluster's exit status, if the
# cluster is gone: its own message (a port in use, a node that failed) is
# already on stderr.
fail_if_cluster_died() {
  if ! kill -0 "$CLUSTER" 2>/dev/null; then
    local status=0
    wait "$CLUSTER" || status=$?
    echo "crdtd cluster exited with status $status; its message is above" >&2
    exit 1
  fi
}

# Wait until the cluster reports every node serving (it gives up by itself
# after 30 s), then until every node sees all three members alive.
until [[ $(wc -l <"$DIR/cluster.out") -ge 3 ]]; do
  fail_if_cluster_died
  sleep 0.1
done
deadline=$((SECONDS + 30))
while :; do
  fail_if_cluster_died
  alive=0
  for n in "$N1" "$N2" "$N3"; do
    if "$BIN/cartctl" --node "$n" --timeout 2s members -o json 2>/dev/null | grep -o '"state": *"alive"' | wc -l | grep -q '^3$'; then
      alive=$((alive + 1))
    fi
  done
  [[ $alive -eq 3 ]] && break
  ((SECONDS < deadline)) || { echo "the nodes did not all see each other within 30s" >&2; exit 1; }
  sleep 0.1
done

echo
echo "== Edit alice's cart through node1 and node2"
cartctl --node "$N1" add alice apple --qty 2 --price 1.25
cartctl --node "$N2" add alice pear --qty 3 --price 0.80
cartctl --node "$N2" set alice apple 5
cartctl --node "$N1" remove alice pear
cartctl --node "$N2" add alice milk --price 0.99

echo
echo "== Wait until all three nodes hold the same cart"
converged=""
for _ in $(seq 1 200); do
  a=$("$BIN/cartctl" --node "$N1" show alice -o json)
  b=$("$BIN/cartctl" --node "$N2" show alice -o json)
  c=$("$BIN/cartctl" --node "$N3" show alice -o json)
  if [[ "$a" == "$b" && "$b" == "$c" ]]; then converged=yes; break; fi
  sleep 0.05
done
[[ -n "$converged" ]] || { echo "nodes did not converge" >&2; exit 1; }
for n in "$N1" "$N2" "$N3"; do
  echo
  cartctl --node "$n" show alice
done
echo
echo "converged: all 3 nodes show the same cart"

# Anti-entropy's own check: node3 compares its digest (a hash over every
# cart it holds) with each peer's as their digests arrive. Show its status
# once every peer's digest, received since the cart converged, agrees with
# node3's (or after 15 s).
echo
echo "== node3's status once its digest agrees with every peer's"
since=$("$BIN/cartctl" --node "$N3" status | awk '$1 == "uptime_seconds" {print $2}')
agreed=""
for _ in $(seq 1 150); do
  if "$BIN/cartctl" --node "$N3" status | awk -v since="$since" '
    $1 == "uptime_seconds" {up = $2}
    $1 == "peer" && ($4 != "true" || $5 < 0 || up - $5 < since) {d = 1}
    END {exit d}'; then agreed=yes; break; fi
  sleep 0.1
done
cartctl --node "$N3" status
[[ -n "$agreed" ]] || echo "(after 15 s, a peer's digest still differs from node3's or has not arrived since the cart converged)"
echo "(peer rows: name, state, digests agree, seconds since that check, seconds since its last heartbeat, replica)"

if [[ "${KEEP_RUNNING:-}" == 1 ]]; then
  echo
  echo "cluster still running (API on $N1 $N2 $N3; logs in $DIR); Ctrl-C stops it"
  # Ctrl-C reaches the cluster too: the first wait returns, the second waits for it to stop.
  trap : INT
  wait "$CLUSTER" || wait "$CLUSTER" || true
fi
