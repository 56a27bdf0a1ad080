#!/usr/bin/env bash
# One command from a fresh clone to alerts on the screen: installs the npm dependencies, builds,
# brings up Redis, Mosquitto and Kafka, starts a Vigil node, feeds it simulated city stations, and
# prints alerts as they fire. Ctrl-C (or the end of --duration) stops the node and the simulator;
# the services keep running for the next command (cluster/kafka/stop.sh stops Kafka). The node serves
# its dashboard on http://127.0.0.1:<http-port>/; the script prints the URL and a viewer token (tokens
# are generated once into .run/quickstart/tokens.env, mode 600).
#   bash cluster/quickstart.sh [--duration 60s] [--sensors 200] [--rate 2000] [--http-port 7500]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$VIGIL_ROOT"
duration=60s sensors=200 rate=2000 http_port=7500
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --sensors) sensors="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --http-port) http_port="$2"; shift 2 ;;
    *) die "unknown option $1 (use --duration, --sensors, --rate, --http-port)" ;;
  esac
done

ensure_pkg node nodejs
ensure_pkg npm npm
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"; npm ci --no-audit --no-fund >&2
fi
log "building"; npm run --silent build >&2
bash cluster/services.sh
bash cluster/kafka/start.sh

out="$VIGIL_RUN_DIR/quickstart"; mkdir -p "$out"
if [ ! -f "$out/tokens.env" ]; then
  ( umask 077; printf 'VIGIL_VIEWER_TOKEN=%s\nVIGIL_ADMIN_TOKEN=%s\n' \
      "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" > "$out/tokens.env" )
fi
source "$out/tokens.env"
export VIGIL_NODE_ID="${VIGIL_NODE_ID:-quickstart-1}"
export VIGIL_HTTP_LISTEN="127.0.0.1:$http_port"
export VIGIL_TOKENS="viewer=$VIGIL_VIEWER_TOKEN,admin=$VIGIL_ADMIN_TOKEN"
"${VIGIL_NODE[@]}" dist/cli/main.js topics >&2
"${VIGIL_NODE[@]}" dist/cli/main.js node >"$out/node.log" 2>&1 &
node_pid=$!
"${VIGIL_NODE[@]}" dist/cli/main.js tail alerts &
tail_pid=$!
cleanup() {
  kill -TERM "$tail_pid" "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
  log "node stopped; its log: $out/node.log"
}
trap cleanup EXIT
log "node running (log: $out/node.log); alerts appear below as they fire"
log "dashboard: http://127.0.0.1:$http_port/  viewer token: $VIGIL_VIEWER_TOKEN  (admin token, to edit rules: in $out/tokens.env)"
"${VIGIL_NODE[@]}" dist/cli/main.js simulate --sensors "$sensors" --rate "$rate" --duration "$duration"
sleep 3 # let the last batches drain before stopping
