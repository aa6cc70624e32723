#!/usr/bin/env bash
# bench/install.sh — install the benchmark tools tollgate's bench needs, with apt only.
#
# Idempotent: it installs only what is missing and does nothing when every tool is present.
# Tools: wrk (load generator), nginx (upstream and contestant), haproxy (contestant),
# curl (pre-flight checks). Debian package names: wrk, nginx, haproxy, curl.
#
# The distribution's nginx/haproxy services are NOT used by the bench: run.sh starts its own
# instances with their own configs under a temp dir. If the package scripts start the system
# services anyway (no policy-rc.d), they listen on :80 and do not interfere with the bench ports.
set -euo pipefail

# command -> Debian package
declare -A PKG=(
  [wrk]=wrk
  [nginx]=nginx
  [haproxy]=haproxy
  [curl]=curl
)

have() {
  # nginx and haproxy live in /usr/sbin, which may not be on a non-root PATH.
  command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]
}

missing=()
for cmd in wrk nginx haproxy curl; do
  have "$cmd" || missing+=("${PKG[$cmd]}")
done

if ((${#missing[@]} == 0)); then
  echo "install.sh: wrk, nginx, haproxy and curl are already installed"
  exit 0
fi

echo "install.sh: installing: ${missing[*]}"
SUDO=()
if ((EUID != 0)); then
  SUDO=(sudo)
fi
"${SUDO[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"

for cmd in wrk nginx haproxy curl; do
  if ! have "$cmd"; then
    echo "install.sh: $cmd still missing after apt-get install" >&2
    exit 1
  fi
done
echo "install.sh: done"
