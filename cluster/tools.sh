#!/usr/bin/env bash
# Installs the foreign tools the integration tests drive when they are missing (Debian packages):
# kcat (librdkafka: compressed batches Vigil did not write), mosquitto_pub (an MQTT publisher that is
# not Vigil's), Prometheus with promtool (scrapes nodes, checks metrics and the shipped rules) and
# Alertmanager (the alertmanager sink's counterpart). Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
ensure_pkg kcat kcat
ensure_pkg mosquitto_pub mosquitto-clients
ensure_pkg promtool prometheus
ensure_pkg prometheus-alertmanager prometheus-alertmanager
