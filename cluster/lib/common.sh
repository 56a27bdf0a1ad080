# Shared helpers for the cluster/ scripts. Sourced, never run.
# shellcheck shell=bash

VIGIL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Everything a running stack writes (broker data, logs, pid files) lives under one ignored folder.
VIGIL_RUN_DIR="${VIGIL_RUN_DIR:-$VIGIL_ROOT/.run}"

# How the scripts run Node.js for Vigil's processes: young generation bounded as src/cli/main.ts's
# shebang bounds it (README, "Runtime").
VIGIL_NODE=(node --max-semi-space-size=16)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# port_open HOST PORT -> 0 if something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Installs Debian packages when a command is missing. apt-get update runs once per script.
_apt_updated=""
ensure_pkg() { # ensure_pkg COMMAND PACKAGE...
  local cmd="$1"; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  log "$cmd not found: installing Debian package(s) $*"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "$_apt_updated" ]; then $sudo apt-get update -qq >&2 || die "apt-get update failed"; _apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}
