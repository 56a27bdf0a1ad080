#!/usr/bin/env bash
# Makes a development CA and certificates for Vigil's mTLS: one per name given (default node-1 node-2
# node-3 client), each valid for localhost and 127.0.0.1, signed by the CA. Idempotent: existing
# files are kept. Never commit the output: it lives in .run/certs unless a folder is given.
#   bash cluster/certs.sh [--dir DIR] [name...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
dir="$VIGIL_RUN_DIR/certs"
if [ "${1:-}" = "--dir" ]; then dir="$2"; shift 2; fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(node-1 node-2 node-3 client)
ensure_pkg openssl openssl
mkdir -p "$dir"
cd "$dir"
if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=vigil-dev-ca" \
    -keyout ca.key -out ca.crt >/dev/null 2>&1 || die "openssl could not make the CA"
  log "made development CA $dir/ca.crt"
fi
for name in "${names[@]}"; do
  [ -f "$name.crt" ] && continue
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$name.key" -out "$name.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$name.ext" -out "$name.crt" >/dev/null 2>&1 || die "openssl could not sign $name"
  rm -f "$name.csr" "$name.ext"
  log "made certificate $dir/$name.crt"
done
