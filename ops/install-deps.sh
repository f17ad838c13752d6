#!/usr/bin/env bash
# Installs every Debian package x402rec needs to build, test and run.
# Idempotent: when everything is already installed it does nothing (no network).
# Nothing is fetched from anywhere but the Debian package registry.
set -euo pipefail

PACKAGES=(
  build-essential g++ clang cmake ninja-build pkg-config git
  librdkafka-dev librocksdb-dev libsimdjson-dev prometheus-cpp-dev
  libtomlplusplus-dev libssl-dev libboost-dev libboost-system-dev
  libboost-program-options-dev libgtest-dev libgmock-dev libbenchmark-dev
  libjemalloc-dev zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev libbz2-dev
  kcat prometheus python3 python3-jsonschema python3-yaml curl ca-certificates
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
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
echo "install-deps: done"
