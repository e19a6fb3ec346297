#!/usr/bin/env bash
# Installs what is missing, builds, and starts tapedeck on its embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh
exec build/tapedeck "$@"
