#!/usr/bin/env bash
# Installs the foreign clients the integration tests drive when they are missing (Debian packages):
# kcat (librdkafka: compressed batches Vigil did not write) and mosquitto_pub (an MQTT publisher that
# is not Vigil's). Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
ensure_pkg kcat kcat
ensure_pkg mosquitto_pub mosquitto-clients
