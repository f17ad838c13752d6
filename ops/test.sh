#!/usr/bin/env bash
# Quick start, command 2: install dependencies, build, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install-deps.sh
bash ops/build.sh
ctest --test-dir build --output-on-failure --timeout 600 -j2
# Both supported compilers must build everything (tests and benchmarks included) with our
# warnings as errors: a second build with clang, unoptimised (its warnings do not depend on the
# optimisation level; two to three minutes on two cores).
CC=clang CXX=clang++ cmake -S . -B build-clang -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-clang
echo "clang build: OK"
