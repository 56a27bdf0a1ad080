#!/usr/bin/env bash
# Starts a single combined Kafka broker + KRaft controller on 127.0.0.1:9092 (controller on :9093).
# Idempotent: a broker already answering on :9092 is reused. Fetches the jars on first use, formats
# KRaft storage when the data folder is new, waits until a Metadata request is answered, and on
# failure prints the tail of the broker log and exits non-zero.
#   KAFKA_HEAP   JVM heap options        (default "-Xms256m -Xmx512m")
#   KAFKA_START_TIMEOUT  seconds to wait (default 90)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
here="$VIGIL_ROOT/cluster/kafka"
run="$VIGIL_RUN_DIR/kafka"
data="$run/data"
logs="$run/logs"
pidfile="$run/kafka.pid"
timeout_s="${KAFKA_START_TIMEOUT:-90}"

if bash "$here/probe.sh" 127.0.0.1 9092; then
  log "Kafka already serving on 127.0.0.1:9092: reusing it"
  exit 0
fi
if port_open 127.0.0.1 9092 || port_open 127.0.0.1 9093; then
  # Something holds the port but does not answer as Kafka: maybe our own broker still starting.
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "a broker we started (pid $(cat "$pidfile")) is still starting; waiting for it"
  else
    die "port 9092 or 9093 is taken by something that is not a serving Kafka broker"
  fi
else
  bash "$here/fetch.sh"
  mkdir -p "$data" "$logs"
  cp "$here/log4j.properties" "$run/log4j.properties"
  sed "s#@DATA_DIR@#$data#" "$here/server.properties" > "$run/server.properties"
  cp="$here/target/lib/*"
  if [ ! -f "$data/meta.properties" ]; then
    cluster_id=$(java -cp "$cp" -Dlog4j.configuration="file:$run/log4j.properties" -Dkafka.logs.dir="$logs" kafka.tools.StorageTool random-uuid)
    log "formatting KRaft storage in $data (cluster id $cluster_id)"
    java -cp "$cp" -Dlog4j.configuration="file:$run/log4j.properties" -Dkafka.logs.dir="$logs" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$run/server.properties" --ignore-formatted >"$logs/format.log" 2>&1 \
      || { cat "$logs/format.log" >&2; die "formatting KRaft storage failed"; }
  fi
  log "starting Kafka $(basename "$here"/target/lib/kafka_2.13-*.jar .jar | sed 's/kafka_2.13-//') (logs: $logs/server.log)"
  # setsid: the broker outlives this script and the shell that ran it.
  # shellcheck disable=SC2086
  setsid java ${KAFKA_HEAP:--Xms256m -Xmx512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$run/log4j.properties" -Dkafka.logs.dir="$logs" \
    -cp "$cp" kafka.Kafka "$run/server.properties" >"$logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
fi

pid=$(cat "$pidfile")
start=$(date +%s)
while :; do
  if bash "$here/probe.sh" 127.0.0.1 9092; then
    log "Kafka serving on 127.0.0.1:9092 (pid $pid) after $(( $(date +%s) - start ))s"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    log "the broker process exited; last lines of its logs:"
    tail -n 40 "$logs/server.log" "$logs/stdout.log" >&2 2>/dev/null || true
    rm -f "$pidfile"
    exit 1
  fi
  if [ $(( $(date +%s) - start )) -ge "$timeout_s" ]; then
    log "Kafka did not serve within ${timeout_s}s; last lines of its log:"
    tail -n 40 "$logs/server.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.5
done
