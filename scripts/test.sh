#!/usr/bin/env bash
# Builds everything and runs every test: unit tests, the namespace integration tests and the
# lab matrix (sim/run.sh), then a short smoke run of every fuzz target. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] && bash scripts/setup-deps.sh
jobs=$(nproc)

cmake -S . -B build -DNC_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure

# libFuzzer targets, built with clang into their own tree; ctest runs each on its seed corpus.
cmake -S . -B build-fuzz -DNC_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz --output-on-failure
