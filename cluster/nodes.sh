#!/usr/bin/env bash
# Runs a Vigil cluster on this machine: N node processes with their own gRPC ports (7401, 7402, …),
# mTLS certificates, logs and pid files under .run/cluster. Kafka, Redis and Mosquitto are brought up
# first (reused when healthy). Tokens are generated once into .run/cluster/tokens.env (mode 600).
#
#   bash cluster/nodes.sh up [N=3]        start nodes 1..N (those not running)
#   bash cluster/nodes.sh status          processes, and the cluster as node 1 sees it
#   bash cluster/nodes.sh kill I [SIG]    send SIG (default KILL) to node I
#   bash cluster/nodes.sh drain I         drain node I through the Control service, wait for it to exit
#   bash cluster/nodes.sh restart I       stop node I if running, start it again
#   bash cluster/nodes.sh stop            stop every node (SIGTERM: drain), then wait
#
# VIGIL_CLUSTER_CONFIG=<yaml file> is the base config of every node (default config/vigil.yaml);
# VIGIL_CLUSTER_BASE_PORT moves the ports (node I serves on BASE+I, default 7400);
# VIGIL_CLUSTER_HTTP_BASE_PORT moves the HTTP ports: node I's dashboard, /metrics and metrics API are
# on HTTP_BASE+I (default: the gRPC base + 100, so 7500), e.g. http://127.0.0.1:7501/ for node 1;
# VIGIL_CLUSTER_ADVERTISE_BASE_PORT makes node I advertise 127.0.0.1:ADVERTISE_BASE+I to its peers;
# VIGIL_CLUSTER_NODE_PREFIX names the nodes: node I is <prefix>I (default node-, so node-1, node-2, …).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$VIGIL_ROOT"
dir="$VIGIL_RUN_DIR/cluster"
certs="$VIGIL_RUN_DIR/certs"
mkdir -p "$dir"

tokens() {
  if [ ! -f "$dir/tokens.env" ]; then
    umask 077
    printf 'VIGIL_ADMIN_TOKEN=%s\nVIGIL_VIEWER_TOKEN=%s\nVIGIL_NODE_TOKEN=%s\n' \
      "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" > "$dir/tokens.env"
  fi
  # shellcheck disable=SC1091
  source "$dir/tokens.env"
  export VIGIL_TOKENS="admin=$VIGIL_ADMIN_TOKEN,viewer=$VIGIL_VIEWER_TOKEN,node=$VIGIL_NODE_TOKEN"
}

port() { echo $((${VIGIL_CLUSTER_BASE_PORT:-7400} + $1)); }
node_id() { echo "${VIGIL_CLUSTER_NODE_PREFIX:-node-}$1"; }
http_port() { echo $((${VIGIL_CLUSTER_HTTP_BASE_PORT:-$(($(port 0) + 100))} + $1)); }
pid_of() { [ -f "$dir/node-$1.pid" ] && cat "$dir/node-$1.pid" || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

config() { # config I -> writes the node's config file
  local i=$1 base="${VIGIL_CLUSTER_CONFIG:-$VIGIL_ROOT/config/vigil.yaml}"
  { cat "$base"
    printf '\ngrpc:\n  listen: 127.0.0.1:%s\n  tls: { ca: %s/ca.crt, cert: %s/node-%s.crt, key: %s/node-%s.key }\n' \
      "$(port "$i")" "$certs" "$certs" "$i" "$certs" "$i"
    # Peers dial node I through a proxy on ADVERTISE_BASE+I when one is set (fault tests cut links there).
    if [ -n "${VIGIL_CLUSTER_ADVERTISE_BASE_PORT:-}" ]; then
      printf '  advertise: 127.0.0.1:%s\n' $((VIGIL_CLUSTER_ADVERTISE_BASE_PORT + i))
    fi
  } > "$dir/node-$i.yaml"
}

start_node() {
  local i=$1
  if alive "$i"; then log "node-$i already running (pid $(pid_of "$i"))"; return; fi
  bash cluster/certs.sh "node-$i" client >/dev/null 2>&1
  config "$i"
  VIGIL_NODE_ID="$(node_id "$i")" VIGIL_HTTP_LISTEN="127.0.0.1:$(http_port "$i")" \
    setsid "${VIGIL_NODE[@]}" dist/cli/main.js -c "$dir/node-$i.yaml" node >>"$dir/node-$i.log" 2>&1 < /dev/null &
  echo $! > "$dir/node-$i.pid"
  log "node-$i started (pid $!, gRPC 127.0.0.1:$(port "$i"), dashboard http://127.0.0.1:$(http_port "$i")/, log $dir/node-$i.log)"
}

wait_serving() { # wait until node I answers gRPC status
  local i=$1 n=0
  for _ in $(seq 1 60); do
    n=$((n + 1)); [ $((n % 10)) -ne 0 ] || log "waiting for node-$i to answer ($((n / 2)) s)"
    if VIGIL_TOKEN="$VIGIL_VIEWER_TOKEN" "${VIGIL_NODE[@]}" dist/cli/main.js status --node "localhost:$(port "$i")" \
        --ca "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key" >/dev/null 2>&1; then return 0; fi
    alive "$i" || { log "node-$i exited; last lines of its log:"; tail -n 20 "$dir/node-$i.log" >&2; return 1; }
    sleep 0.5
  done
  log "node-$i did not answer within 30 s"; return 1
}

nodes() { ls "$dir"/node-*.pid 2>/dev/null | sed 's/.*node-\([0-9]*\)\.pid/\1/' | sort -n; }

case "${1:-}" in
  up)
    n="${2:-3}"
    bash cluster/services.sh
    bash cluster/kafka/start.sh
    [ -f dist/cli/main.js ] || { log "building"; npm run --silent build; }
    tokens
    for i in $(seq 1 "$n"); do start_node "$i"; done
    for i in $(seq 1 "$n"); do wait_serving "$i"; done
    log "$n node(s) serving; tokens in $dir/tokens.env" ;;
  status)
    tokens
    for i in $(nodes); do
      if alive "$i"; then log "node-$i running (pid $(pid_of "$i"))"; else log "node-$i down"; fi
    done
    first=$(for i in $(nodes); do alive "$i" && { echo "$i"; break; }; done || true)
    [ -n "$first" ] || { log "no node running"; exit 1; }
    VIGIL_TOKEN="$VIGIL_VIEWER_TOKEN" "${VIGIL_NODE[@]}" dist/cli/main.js status --node "localhost:$(port "$first")" \
      --ca "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key" ;;
  kill)
    i="${2:?usage: nodes.sh kill I [SIGNAL]}"; sig="${3:-KILL}"
    alive "$i" || die "node-$i is not running"
    kill -"$sig" "$(pid_of "$i")"
    log "sent SIG$sig to node-$i (pid $(pid_of "$i"))" ;;
  drain)
    i="${2:?usage: nodes.sh drain I}"
    tokens
    alive "$i" || die "node-$i is not running"
    VIGIL_TOKEN="$VIGIL_ADMIN_TOKEN" "${VIGIL_NODE[@]}" dist/cli/main.js drain "$(node_id "$i")" --node "localhost:$(port "$i")" \
      --ca "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key"
    for _ in $(seq 1 60); do alive "$i" || break; sleep 0.5; done
    alive "$i" && die "node-$i drained but did not exit; see $dir/node-$i.log"
    log "node-$i drained and stopped" ;;
  restart)
    i="${2:?usage: nodes.sh restart I}"
    tokens
    if alive "$i"; then kill -TERM "$(pid_of "$i")"; for _ in $(seq 1 60); do alive "$i" || break; sleep 0.5; done; fi
    start_node "$i"
    wait_serving "$i" ;;
  stop)
    for i in $(nodes); do alive "$i" && kill -TERM "$(pid_of "$i")" && log "stopping node-$i"; done
    for i in $(nodes); do
      for _ in $(seq 1 60); do alive "$i" || break; sleep 0.5; done
      alive "$i" && { log "node-$i still running after 30 s: SIGKILL"; kill -KILL "$(pid_of "$i")"; }
      rm -f "$dir/node-$i.pid"
    done
    log "all nodes stopped" ;;
  *) die "usage: nodes.sh up [N] | status | kill I [SIGNAL] | drain I | restart I | stop" ;;
esac
