#!/usr/bin/env bash
# Builds and runs every test: the measurement build (Release) and an AddressSanitizer +
# UndefinedBehaviorSanitizer build of the tests. Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
jobs="$(nproc)"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# Sanitizer build: only glibc's cell program (the sanitizer replaces malloc anyway), and only
# what the tests run.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DALLOCPROOF_SANITIZE=address,undefined \
  -DALLOCPROOF_ALLOCATORS=glibc >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")
