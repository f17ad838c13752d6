#!/usr/bin/env bash
# Installs every Debian package x402rec needs to build, test and run.
# Idempotent: when everything is already installed it does nothing (no network).
# Nothing is fetched from anywhere but the Debian package registry.
set -euo pipefail

PACKAGES=(
  build-essential g++ clang cmake ninja-build pkg-config git
  librdkafka-dev librocksdb-dev libsimdjson-dev libxxhash-dev prometheus-cpp-dev
  libtomlplusplus-dev libssl-dev libboost-dev libboost-system-dev
  libboost-program-options-dev libgtest-dev libgmock-dev libbenchmark-dev
  libjemalloc-dev zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev libbz2-dev
  kcat prometheus python3 python3-jsonschema python3-yaml curl ca-certificates
  chromium-headless-shell  # the HTML report's browser test (tests/ops/report_browser_test.py)
)

# Node.js runs kafkajs, the independent Kafka client of the interop test: Debian's nodejs and
# npm unless a Node.js with npm is already installed.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

# The npm packages of tests/node (kafkajs), exactly as package-lock.json pins them.
install_node_peers() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
  if [ ! -f "$dir/node_modules/kafkajs/package.json" ]; then
    echo "install-deps: npm ci in tests/node (kafkajs, from the npm registry)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  install_node_peers
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package installs and may start a server; we only need promtool.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
install_node_peers
echo "install-deps: done"
