#!/usr/bin/env bash
# The one command that installs what the tests need and runs them all:
#   ./scripts/test.sh
# Used as-is by .ci/run. Safe to rerun; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# --- what the tests need -----------------------------------------------------------------
need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
# aws-lc-sys (the crypto behind JWT verification and TLS) builds with cc and make.
command -v make >/dev/null 2>&1 || need_apt+=(make)
# examples/mint-token.sh signs the auth example's demo tokens with openssl.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The AWS import's progress-bar test runs the binary on a pseudo-terminal with `script`.
command -v script >/dev/null 2>&1 || need_apt+=(bsdutils)
# SigV4 tests sign requests with botocore, installed into a venv below.
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The dashboard's browser test drives Debian's Chromium with Playwright (never a downloaded
# browser: `playwright install` is not used).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (Rust stable, https://rustup.rs)" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
PYENV=target/pyenv
if ! "$PYENV/bin/python3" -c 'import botocore' >/dev/null 2>&1; then
  log "installing botocore into $PYENV"
  python3 -m venv "$PYENV"
  "$PYENV/bin/pip" install -q --disable-pip-version-check botocore
fi
if ! "$PYENV/bin/python3" -c 'import boto3, websockets' >/dev/null 2>&1; then
  log "installing boto3 and websockets into $PYENV (WebSocket @connections tests)"
  "$PYENV/bin/pip" install -q --disable-pip-version-check boto3 websockets
fi
if ! "$PYENV/bin/python3" -c 'import playwright.sync_api' >/dev/null 2>&1; then
  log "installing playwright into $PYENV"
  "$PYENV/bin/pip" install -q --disable-pip-version-check playwright
fi
export TOLLGATE_TEST_PYTHON="$PWD/$PYENV/bin/python3"
# The dashboard test fails, rather than skips, when Chromium or Playwright is missing.
export TOLLGATE_REQUIRE_BROWSER=1
export TOLLGATE_CHROMIUM=/usr/bin/chromium

# Incremental compilation artefacts (gigabytes) buy nothing in a one-shot run; a developer
# who sets CARGO_INCREMENTAL keeps their choice.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Free space on the build and temp disks, printed so a full disk is visible in the log.
df -h . "${TMPDIR:-/tmp}" 2>/dev/null || true

# --- checks ------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
mkdir -p target
set +e
# --no-fail-fast: every failing test binary is reported, not only the first.
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary, the last often a
# doc-test run with nothing in it).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.log
exit "$status"
