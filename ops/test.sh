#!/usr/bin/env bash
# Quick start, command 2: install dependencies, build, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install-deps.sh
bash ops/build.sh
ctest --test-dir build --output-on-failure --timeout 600 -j2
