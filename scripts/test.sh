#!/usr/bin/env bash
# The whole test suite. Installs the peers the integration tests talk to when they are missing (from
# Debian: Mosquitto, and Chromium for the dashboard's browser test; from npm: playwright-core, which drives
# it), then runs every test of the workspace. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
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

# The browser test's npm project (playwright-core only; node_modules is not committed).
browser=crates/doppel/tests/browser
if [ ! -d "$browser/node_modules/playwright-core" ]; then
  echo "installing the browser test's npm packages ($browser)"
  (cd "$browser" && npm ci --no-audit --no-fund)
fi

cargo test --workspace --locked "$@"
