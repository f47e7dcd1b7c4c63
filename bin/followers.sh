#!/usr/bin/env bash
# What followers that never read cost the shop (issue 19, finding 5):
# starts `shopmesh run` on a fresh data directory and, in turns in that
# one run, places orders with `shopmesh load` alone, then again while
# IDLE clients follow GET /inventory/changes and never read. It prints
# each turn's orders/s without and with them, what became of the idle
# followers (admitted, turned away), and the ratio over all turns.
#
#   bin/followers.sh [BINARY] [ORDERS] [TURNS] [IDLE] [ADDRESSES]
#
# BINARY is the shop's shopmesh binary (default: bin/shopmesh, built from
# this tree); the load always comes from this tree, which has
# --idle-followers. ORDERS per measure (default 3000), TURNS (default 3),
# IDLE followers (default 1500) from ADDRESSES loopback addresses,
# 127.0.0.2 on (default 1). Everything listens on this machine only: the
# shop on 127.0.0.1:19080, NATS on 127.0.0.1:19022, or PORT + 80 and + 22
# if PORT is set. Needs jq.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -trimpath -o bin/shopmesh ./cmd/shopmesh
LOAD=$(realpath bin/shopmesh)
BIN=$(realpath "${1:-bin/shopmesh}")
ORDERS=${2:-3000}
TURNS=${3:-3}
IDLE=${4:-1500}
ADDRESSES=${5:-1}
DATA=$(mktemp -d)
TOKEN=followers-admin-token
PORT=${PORT:-19000}
HTTP=127.0.0.1:$((PORT + 80))
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT

"$BIN" run --data "$DATA/data" --admin-token "$TOKEN" --log-format json --log-level warn --http-addr "$HTTP" \
  --nats-addr 127.0.0.1:$((PORT + 22)) --nats-monitor-addr "" --nats-context "" >"$DATA/shop.log" 2>&1 &
PID=$!
until curl -sf "http://$HTTP/readyz" >/dev/null 2>&1; do
  kill -0 "$PID" 2>/dev/null || { echo "the shop stopped; see its log:"; tail -20 "$DATA/shop.log"; exit 1; }
  sleep 0.1
done

load() {
  "$LOAD" load --url "http://$HTTP" --admin-token "$TOKEN" --orders "$ORDERS" --concurrency 16 \
    --nats-monitor "" --timeout 10m --json "$@"
}
load --orders 500 >/dev/null # warm up: the first orders pay for files and caches
printf '| turn | orders/s alone | orders/s with %d idle followers (%d addresses) | ratio | idle admitted / turned away |\n|---|---|---|---|---|\n' "$IDLE" "$ADDRESSES"
sum_alone=0 sum_with=0
for turn in $(seq "$TURNS"); do
  alone=$(load | jq .ordersPerSecond)
  with=$(load --idle-followers "$IDLE" --idle-addresses "$ADDRESSES")
  rate=$(jq .ordersPerSecond <<<"$with")
  printf '| %d | %.0f | %.0f | %.2f× | %s / %s |\n' "$turn" "$alone" "$rate" "$(jq -n "$rate / $alone")" \
    "$(jq '.idleFollowers.admitted // 0' <<<"$with")" "$(jq '.idleFollowers.refused // 0' <<<"$with")"
  sum_alone=$(jq -n "$sum_alone + $alone")
  sum_with=$(jq -n "$sum_with + $rate")
done
printf '\nover %d turns: %.0f orders/s alone, %.0f with the idle followers: %.2f×\n' "$TURNS" \
  "$(jq -n "$sum_alone / $TURNS")" "$(jq -n "$sum_with / $TURNS")" "$(jq -n "$sum_with / $sum_alone")"
