#!/usr/bin/env bash
# Stops the broker that start.sh started (SIGTERM, then SIGKILL after 30 s). A broker this script
# did not start is left alone. Add --wipe to delete its data as well.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
run="$VIGIL_RUN_DIR/kafka"
pidfile="$run/kafka.pid"

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  pid=$(cat "$pidfile")
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "still running after 30s: SIGKILL"; kill -KILL "$pid"; fi
  log "Kafka stopped"
else
  log "no Kafka started by these scripts is running"
fi
rm -f "$pidfile"
if [ "${1:-}" = "--wipe" ]; then rm -rf "$run/data"; log "wiped $run/data"; fi
