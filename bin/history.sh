#!/usr/bin/env bash
# What a shop's history costs: starts `shopmesh run` on a fresh data
# directory, places orders in chunks with `shopmesh load`, and after each
# chunk prints the orders so far, that chunk's orders/s and p99, the shop's
# resident memory (VmRSS), and the size on disk of its streams and of the
# services' local state. Then it stops the
# shop, reads the first order placed and its timeline 200 times each (p99),
# starts it again on the same data, and prints how long it took to be
# ready and its memory once idle; then the same after kill -9; then it
# archives every event (`shopmesh archive --after 0s`, ADR 25), and prints
# the same again, and the first order's reads, now from the archives; then
# the same after `shopmesh rebuild` of every service, with the rate at
# which the projections replayed the archives and streams; then, once the rebuilt
# projections have taken their snapshots, it removes the local state and
# times a start from the snapshots, as a new replica's.
#
#   bin/history.sh [BINARY] [CHUNKS] [ORDERS_PER_CHUNK]
#
# BINARY is a shopmesh binary (default: bin/shopmesh, built from this tree).
# Everything listens on this machine only: the shop on 127.0.0.1:18080,
# NATS on 127.0.0.1:18022 (monitoring 18222), or on PORT + 80, + 22 and
# + 222 if PORT is set (say PORT=28000). Needs curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-bin/shopmesh}
CHUNKS=${2:-6}
PER_CHUNK=${3:-10000}
# The snapshots a new replica can restore: a file's, once its projection
# has applied 10,000 events (ADR 22). From about 10,000 orders, that is
# every file's but the catalog's (a few products): 4. Fewer on a shorter
# history, which then waits up to 5 minutes for them.
SNAPSHOTS=${SNAPSHOTS:-4}
if [ "$BIN" = bin/shopmesh ]; then go build -trimpath -o bin/shopmesh ./cmd/shopmesh; fi
BIN=$(realpath "$BIN")
DATA=$(mktemp -d)
TOKEN=history-admin-token
PORT=${PORT:-18000}
HTTP=127.0.0.1:$((PORT + 80))
MONITOR=127.0.0.1:$((PORT + 222))
# A nats context of its own: another shop on this machine writes "shopmesh".
CONTEXT=history-$PORT
ARGS=(run --data "$DATA/data" --admin-token "$TOKEN" --log-format json --http-addr "$HTTP"
  --nats-addr 127.0.0.1:$((PORT + 22)) --nats-monitor-addr $MONITOR --nats-context "$CONTEXT")
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT

start() {
  local t0=$(date +%s.%N)
  "$BIN" "${ARGS[@]}" >>"$DATA/shop.log" 2>&1 &
  PID=$!
  until curl -sf "http://$HTTP/readyz" >/dev/null 2>&1; do
    kill -0 "$PID" 2>/dev/null || { echo "the shop stopped; see its log:"; tail -20 "$DATA/shop.log"; exit 1; }
    sleep 0.05
  done
  READY=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
}
rss_mb() { awk '/VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$PID/status"; }
# the part of it that is the process's own, not pages of the files it maps (bbolt's)
anon_mb() { awk '/RssAnon/ { printf "%d", $2 / 1024 }' "/proc/$PID/status"; }
heap_mb() { curl -s "http://$HTTP/metrics" | awk '/^go_memstats_heap_inuse_bytes / { printf "%d", $2 / 1048576 }'; }
# subjects in the event streams: what the server's subject index holds
subjects() {
  curl -s "http://$MONITOR/jsz?streams=true" | jq '[.account_details[].stream_detail[]
    | select(.name | test("^(INVENTORY|ORDERS|PAYMENTS)$")) | (.state.num_subjects // 0)] | add'
}
disk_mb() { echo "$(du -sm "$DATA/data/jetstream" | cut -f1) MB + $(du -sm "$DATA/data/state" | cut -f1)"; }

# p99 of n GETs of path, in ms
p99_ms() {
  local path=$1 n=$2
  for _ in $(seq "$n"); do curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "http://$HTTP$path"; done |
    sort -n | awk '{ t[NR] = $1 } END { printf "%.1f", t[int(NR * 0.99)] * 1000 }'
}

start
# The first order of the history: read again at the end, when it is the oldest.
"$BIN" load --url "http://$HTTP" --admin-token "$TOKEN" --orders 1 --concurrency 1 --nats-monitor "" --json >/dev/null
FIRST=$(curl -s -H "Authorization: Bearer $TOKEN" "http://$HTTP/orders?limit=1" | jq -r '.items[0].id')
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://$HTTP/orders/$FIRST" || { echo "no first order ($FIRST)"; exit 1; }
printf '| orders so far | orders/s | p99 placed→ended | RSS | streams + local state on disk |\n|---|---|---|---|---|\n'
total=0
for _ in $(seq "$CHUNKS"); do
  out=$("$BIN" load --url "http://$HTTP" --admin-token "$TOKEN" --orders "$PER_CHUNK" --concurrency 32 \
    --nats-monitor http://$MONITOR --timeout 30m --json)
  total=$((total + $(jq .ended <<<"$out")))
  printf '| %d | %.0f | %.0f ms | %d MB | %s MB |\n' "$total" "$(jq .ordersPerSecond <<<"$out")" \
    "$(jq .latencyMs.p99 <<<"$out")" "$(rss_mb)" "$(disk_mb)"
done

printf '\nthe first order, now the oldest: GET p99 %s ms, its timeline p99 %s ms (200 requests each)\n' \
  "$(p99_ms "/orders/$FIRST" 200)" "$(p99_ms "/orders/$FIRST/timeline" 200)"

kill -INT "$PID"; wait "$PID" || true
start
sleep 5 # idle: what the shop holds once started, not while starting
printf 'restart: ready after %.2f s, then %d MB resident (%d MB anonymous), %d MB of heap in use when idle; %d subjects in the event streams\n' \
  "$READY" "$(rss_mb)" "$(anon_mb)" "$(heap_mb)" "$(subjects)"
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
start
sleep 5
printf 'kill -9, then start: ready after %.2f s, then %d MB resident (%d MB anonymous), %d MB of heap in use when idle; %d subjects in the event streams\n' \
  "$READY" "$(rss_mb)" "$(anon_mb)" "$(heap_mb)" "$(subjects)"

# The archive (ADR 25): every event moves out of its stream at once here,
# rather than a day after it was stored.
t0=$(date +%s.%N)
SHOPMESH_NATS_CONTEXT=$CONTEXT "$BIN" archive --after 0s --overlap 0s | sed 's/^/archive: /'
printf 'archive of every event: %.1f s\n' "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
kill -INT "$PID"; wait "$PID" || true
start
sleep 5
printf 'archived, then start: ready after %.2f s, then %d MB resident (%d MB anonymous), %d MB of heap in use when idle; %d subjects in the event streams\n' \
  "$READY" "$(rss_mb)" "$(anon_mb)" "$(heap_mb)" "$(subjects)"
printf 'the first order, archived: GET p99 %s ms, its timeline p99 %s ms (200 requests each)\n' \
  "$(p99_ms "/orders/$FIRST" 200)" "$(p99_ms "/orders/$FIRST/timeline" 200)"
kill -INT "$PID"; wait "$PID" || true
"$BIN" rebuild --data "$DATA/data" products inventory orders payments >/dev/null
start
# The events replayed: the archives' (gap markers included) and the streams'.
events=$(curl -s "http://$MONITOR/jsz?streams=true" | jq '[.account_details[].stream_detail[]
  | select(.name | test("^(PRODUCTS|INVENTORY|ORDERS|PAYMENTS)(_ARCHIVE)?$")) | .state.messages] | add')
printf 'rebuild of every service, then start: ready after %.2f s, %d events in the streams, %.0f events/s\n' \
  "$READY" "$events" "$(awk -v e="$events" -v s="$READY" 'BEGIN { print e / s }')"

# A new replica: the local state is gone, and each file is restored from
# the snapshot the rebuilt projections took once caught up (ADR 22). A
# projection that applied fewer than 10,000 events takes none, and is
# replayed from the streams.
for _ in $(seq 600); do
  taken=$(curl -s "http://$HTTP/metrics" | awk '/^shopmesh_snapshots_total\{event="taken"/ { n += $2 } END { print n + 0 }')
  [ "$taken" -ge "$SNAPSHOTS" ] && break
  sleep 0.5
done
kill -INT "$PID"; wait "$PID" || true
rm -rf "$DATA/data/state"
start
printf 'a new replica (no local state, %d snapshots): ready after %.2f s\n' "$taken" "$READY"
kill -INT "$PID"; wait "$PID" || true
PID=
