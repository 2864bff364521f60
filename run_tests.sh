#!/usr/bin/env bash
# Builds and runs every test: the measurement build (Release) and an AddressSanitizer +
# UndefinedBehaviorSanitizer build of the tests. Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
jobs="$(nproc)"
# The driver and the tests are built a few files at a time (CMakeLists.txt, ALLOCPROOF_UNITY_BUILD).
batched=-DALLOCPROOF_UNITY_BUILD=ON

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$batched" >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# ThreadSanitizer build: the unit tests only (the thread-safe strategies and the runner's threads).
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALLOCPROOF_SANITIZE=thread "$batched" \
  -DALLOCPROOF_ALLOCATORS=glibc -DALLOCPROOF_TEST_SCOPE=unit >/dev/null
cmake --build build-tsan -j"$jobs" --target allocproof_unit_tests
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -j"$jobs")

# Sanitizer build: only glibc's cell program (the sanitizer replaces malloc anyway), and only
# what the tests run.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DALLOCPROOF_SANITIZE=address,undefined "$batched" \
  -DALLOCPROOF_ALLOCATORS=glibc >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")
