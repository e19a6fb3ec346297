#!/usr/bin/env bash
# Installs what is missing, builds the tapedeck binary (only it: no tests, no benchmarks), and
# starts it on its embedded defaults. Arguments go to tapedeck.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh --target tapedeck
exec build/tapedeck "$@"
