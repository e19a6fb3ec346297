#!/usr/bin/env bash
# Installs everything tapedeck needs on Debian 12, as root (or with sudo). Idempotent: quiet and
# fast when everything is present. Debian packages only (--no-install-recommends: python3-pandas'
# recommends would pull libboost1.74-dev, which conflicts with libboost1.81-dev), then the npm
# packages pinned in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config ccache git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libssl-dev liblua5.4-dev
  postgresql libpq-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
  python3 python3-websockets python3-pandas python3-numpy python3-jsonschema python3-yaml
  curl ca-certificates jq chromium
  nginx haproxy
  # the .deb and its check (tests/integration/test_package.py): dpkg-shlibdeps (dpkg-dev, file),
  # systemd-analyze (systemd)
  dpkg-dev file systemd
)
# Node.js with npm: any install that provides both will do (Debian's, or one the machine has).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [ -n "${TAPEDECK_EXTRA_PACKAGES:-}" ]; then
  read -r -a extra <<<"$TAPEDECK_EXTRA_PACKAGES"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL: the tests start clusters of their own (initdb into a temp dir, tests/integration/
# pgcluster.py), never the system's. When this run has just installed Debian's package, which
# creates a `main` cluster and starts it where services can start (and systemd would start it at
# every boot), stop that cluster and keep its service from starting: nothing of ours is left
# running. A PostgreSQL the machine had before is its owner's and left alone.
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_lsclusters >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  while read -r version cluster _port status _rest; do
    if [ "$status" = "online" ] || [[ "$status" == online,* ]]; then
      echo "bootstrap: stopping the new PostgreSQL cluster $version/$cluster (tests start their own)" >&2
      $SUDO pg_ctlcluster --force "$version" "$cluster" stop
    fi
  done < <(pg_lsclusters --no-header 2>/dev/null || true)
  if [ -d /run/systemd/system ] && systemctl is-enabled --quiet postgresql 2>/dev/null; then
    echo "bootstrap: disabling the new postgresql service (the tests start their own clusters)" >&2
    $SUDO systemctl disable --now --quiet postgresql
  fi
fi

# npm packages (sample data, and later the web UI's libraries), from the committed lock file.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.tapedeck-lock; then
  echo "bootstrap: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json node_modules/.tapedeck-lock
fi
