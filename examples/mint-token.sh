#!/usr/bin/env bash
# Mint a JWT for examples/auth.yaml, signed with the demo key examples/auth-demo-key.pem
# (EdDSA; the matching public key is in the example's JWKS). The key is public: use it for
# this demo only.
#
#   examples/mint-token.sh [SUBJECT] [SCOPES] [LIFETIME_SECONDS]
#   (ISSUER=http://HOST:PORT overrides the issuer when the example runs on other ports)
#   curl -H "Authorization: Bearer $(examples/mint-token.sh alice read)" 127.0.0.1:18082/private
set -euo pipefail
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sub=${1:-demo-user}
scope=${2:-read}
lifetime=${3:-3600}
issuer=${ISSUER:-http://127.0.0.1:18083}
now=$(date +%s)
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
header=$(printf '{"alg":"EdDSA","typ":"JWT","kid":"demo-1"}' | b64url)
claims=$(printf '{"iss":"%s","aud":"tollgate-demo","sub":"%s","scope":"%s","iat":%d,"exp":%d}' \
  "$issuer" "$sub" "$scope" "$now" $((now + lifetime)) | b64url)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s.%s' "$header" "$claims" >"$tmp"
sig=$(openssl pkeyutl -sign -inkey "$dir/auth-demo-key.pem" -rawin -in "$tmp" | b64url)
printf '%s.%s.%s\n' "$header" "$claims" "$sig"
