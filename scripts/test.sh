#!/usr/bin/env bash
# The whole test suite. Installs the peers the integration tests talk to (Mosquitto, from Debian)
# when they are missing, then runs every test of the workspace. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing test peers: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "the tests need: ${missing[*]} — install with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

cargo test --workspace --locked "$@"
