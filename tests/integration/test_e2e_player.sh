#!/usr/bin/env bash
# The web UI's end-to-end tests (tests/e2e/*.test.mjs: the player and its trade navigation, the
# strategy editor, two runs compared in lockstep, the sweep pages) under CTest: a real `tapedeck
# serve` driven by Debian's Chromium through playwright-core, both installed by
# scripts/bootstrap.sh. CTest sets TAPEDECK_BIN and TAPEDECK_SOURCE_DIR. The screenshots land in
# build/e2e/ (player.png, editor.png, sweep.png).
set -euo pipefail
src="${TAPEDECK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$src"
export TAPEDECK_BIN="${TAPEDECK_BIN:-$src/build/tapedeck}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "test_e2e_player: $chromium is missing: run scripts/bootstrap.sh (it installs chromium)" >&2
  exit 1
fi
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/lightweight-charts ] || [ ! -d node_modules/codemirror ]; then
  echo "test_e2e_player: node_modules is incomplete: run scripts/bootstrap.sh (npm ci)" >&2
  exit 1
fi
exec node --test --test-reporter=spec tests/e2e/
