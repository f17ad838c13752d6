#!/usr/bin/env bash
# Quick start, command 1: install dependencies, build, and run the main job on the embedded
# default (a generated event stream), printing the report summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install-deps.sh
bash ops/build.sh
./build/x402rec demo "$@"
