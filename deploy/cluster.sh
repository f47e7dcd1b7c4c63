#!/usr/bin/env bash
# The cluster of compose.yml from images built on this machine: every binary
# comes from `go build` (Go modules only) and every image is FROM scratch,
# so nothing is pulled from a container registry.
#
#   deploy/cluster.sh images        build the binaries and the three images
#   deploy/cluster.sh up            images, then start the cluster and wait until it is healthy
#   deploy/cluster.sh down          stop it and remove its containers and volumes
#   deploy/cluster.sh compose ARGS  compose with the local images (ps, logs, ...)
#
# Works with `docker compose` (v2) and `docker-compose` (v1.29), whichever
# answers. The chaos test (go test -tags cluster ./deploy/...) uses it too,
# with its own project name and ports.
set -euo pipefail
cd "$(dirname "$0")/.."

# Caddy's version is the one deploy/caddy/go.mod names.
CADDY_VERSION=$(cd deploy/caddy && go list -m -f '{{.Version}}' github.com/caddyserver/caddy/v2)
NATS_MODULE=github.com/nats-io/nats-server/v2
# The server shopmesh embeds, so the cluster runs what the tests run.
NATS_VERSION=$(go list -m -f '{{.Version}}' "$NATS_MODULE")
OUT=build/images
# How long `up` waits for every container to be healthy.
WAIT_SECONDS=${CLUSTER_WAIT_SECONDS:-240}

# compose.yml defaults to the official images; these are the local ones.
export SHOPMESH_IMAGE=shopmesh-local/shopmesh:dev
export NATS_IMAGE=shopmesh-local/nats-server:${NATS_VERSION#v}
export CADDY_IMAGE=shopmesh-local/caddy:${CADDY_VERSION#v}
# The local images probe with deploy/healthcheck instead of busybox wget.
export PROBE=/usr/bin/healthcheck

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  else
    docker-compose "$@"
  fi
}

# context NAME: a fresh build context holding the Dockerfile, an empty data
# directory (owned by the image's user) and the probe.
context() {
  local dir=$OUT/$1
  rm -rf "$dir" && mkdir -p "$dir/data"
  cp "deploy/images/$1.Dockerfile" "$dir/Dockerfile"
  cp "$OUT/healthcheck" "$dir/"
  echo "$dir"
}

# image TAG DIR: docker build, quiet unless it fails (the legacy builder,
# all this engine has, warns on every build that it is deprecated).
image() {
  local out
  if ! out=$(docker build -q -t "$1" "$2" 2>&1); then
    echo "$out"; return 1
  fi
  echo "   $1"
}

images() {
  export CGO_ENABLED=0
  local flags=(-trimpath -ldflags=-s\ -w)
  mkdir -p "$OUT"
  echo "== binaries (nats-server $NATS_VERSION, caddy $CADDY_VERSION)"
  go build "${flags[@]}" -o "$OUT/healthcheck" ./deploy/healthcheck
  local dir
  dir=$(context shopmesh)
  go build "${flags[@]}" -o "$dir/shopmesh" ./cmd/shopmesh
  image "$SHOPMESH_IMAGE" "$dir"
  dir=$(context nats-server)
  go build "${flags[@]}" -o "$dir/nats-server" "$NATS_MODULE"
  image "$NATS_IMAGE" "$dir"
  dir=$(context caddy)
  # Caddy is not a dependency of shopmesh: deploy/caddy is a module of its
  # own, with only the Caddy modules the Caddyfile uses.
  (cd deploy/caddy && go build "${flags[@]}" -o "$OLDPWD/$dir/caddy" .)
  image "$CADDY_IMAGE" "$dir"
}

# wait_healthy: every container of the project is healthy, or exited 0
# (one-shot jobs); gives up after WAIT_SECONDS and shows what is not.
wait_healthy() {
  local deadline=$((SECONDS + WAIT_SECONDS)) waiting
  while :; do
    waiting=$(not_ready)
    [ -z "$waiting" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "not healthy after ${WAIT_SECONDS}s:"; echo "$waiting"
      compose ps
      return 1
    fi
    sleep 2
  done
}

not_ready() {
  local ids
  ids=$(compose ps -q)
  [ -z "$ids" ] && { echo "no containers"; return; }
  # shellcheck disable=SC2086
  docker inspect -f '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' $ids |
    awk '!($2 == "running" && $4 == "healthy") && !($2 == "exited" && $3 == 0)'
}

case "${1:-}" in
  images) images ;;
  up)
    images
    compose up -d --remove-orphans
    wait_healthy
    echo "== the shop: http://127.0.0.1:${SHOPMESH_HTTP_PORT:-8080}/ (admin token in .env)"
    ;;
  down) compose down --volumes --remove-orphans ;;
  wait) wait_healthy ;;
  compose) shift; compose "$@" ;;
  *) echo "usage: $0 images|up|down|wait|compose ARGS" >&2; exit 2 ;;
esac
