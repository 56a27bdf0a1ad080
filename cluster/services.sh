#!/usr/bin/env bash
# Makes sure Redis (127.0.0.1:6379) and Mosquitto (127.0.0.1:1883) are up. A healthy service already
# listening is reused; otherwise the server is started, after installing its Debian package when it is
# missing. `services.sh status` only reports.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
run="$VIGIL_RUN_DIR"

redis_healthy() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
mqtt_healthy() {
  # A CONNECT answered by CONNACK: subscribe to the broker's own version topic, wait up to 3 s.
  mosquitto_sub -h 127.0.0.1 -p 1883 -t '$SYS/broker/version' -C 1 -W 3 >/dev/null 2>&1
}

wait_for() { # wait_for NAME CHECK-FUNCTION LOGFILE
  for _ in $(seq 1 50); do "$2" && { log "$1 started"; return 0; }; sleep 0.2; done
  log "$1 did not become healthy; last lines of $3:"; tail -n 20 "$3" >&2 2>/dev/null || true
  exit 1
}

ensure_redis() {
  ensure_pkg redis-cli redis-tools
  if redis_healthy; then log "Redis already serving on 127.0.0.1:6379: reusing it"; return; fi
  port_open 127.0.0.1 6379 && die "port 6379 is taken by something that does not answer PING"
  ensure_pkg redis-server redis-server
  mkdir -p "$run/redis"
  log "starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir "$run/redis" \
    --logfile "$run/redis/redis.log" --pidfile "$run/redis/redis.pid" --save "" --appendonly no
  wait_for Redis redis_healthy "$run/redis/redis.log"
}

ensure_mosquitto() {
  ensure_pkg mosquitto_sub mosquitto-clients
  if mqtt_healthy; then log "Mosquitto already serving on 127.0.0.1:1883: reusing it"; return; fi
  port_open 127.0.0.1 1883 && die "port 1883 is taken by something that does not answer MQTT CONNECT"
  ensure_pkg mosquitto mosquitto
  mkdir -p "$run/mosquitto"
  # Run as the invoking user (mosquitto would otherwise drop root for a user that cannot write here).
  { cat "$VIGIL_ROOT/cluster/mosquitto.conf"
    printf 'user %s\npersistence_location %s/\nlog_dest file %s\npid_file %s\n' "$(id -un)" \
      "$run/mosquitto" "$run/mosquitto/mosquitto.log" "$run/mosquitto/mosquitto.pid"
  } > "$run/mosquitto/mosquitto.conf"
  log "starting mosquitto on 127.0.0.1:1883"
  mosquitto -d -c "$run/mosquitto/mosquitto.conf"
  wait_for Mosquitto mqtt_healthy "$run/mosquitto/mosquitto.log"
}

case "${1:-up}" in
  up) ensure_redis; ensure_mosquitto ;;
  status)
    redis_healthy && log "Redis: serving" || log "Redis: down"
    mqtt_healthy && log "Mosquitto: serving" || log "Mosquitto: down" ;;
  *) die "usage: services.sh [up|status]" ;;
esac
