#!/usr/bin/env bash
# Fetches a stock gRPC client, buf (its `buf curl` speaks gRPC and server reflection), into
# .run/tools/buf, once. Debian 12 packages no grpcurl; buf publishes one npm package per platform,
# and only the one for this machine is fetched (`npm pack`), so package.json stays free of it.
#
#   bash cluster/stock-client.sh        prints the path of the buf binary
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
BUF_VERSION=1.75.0
tools="$VIGIL_RUN_DIR/tools"
bin="$tools/buf"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -qx "$BUF_VERSION"; then echo "$bin"; exit 0; fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64) platform=linux-aarch64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  Darwin-x86_64) platform=darwin-x64 ;;
  *) die "no buf package for $(uname -s)-$(uname -m)" ;;
esac
mkdir -p "$tools"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "fetching buf $BUF_VERSION ($platform) from the npm registry"
(cd "$work" && npm pack --silent "@bufbuild/buf-$platform@$BUF_VERSION" >/dev/null 2>&1) \
  || die "npm pack @bufbuild/buf-$platform@$BUF_VERSION failed"
tar -xzf "$work"/*.tgz -C "$work"
install -m 755 "$work/package/bin/buf" "$bin"
"$bin" --version >/dev/null || die "the fetched buf does not run"
echo "$bin"
