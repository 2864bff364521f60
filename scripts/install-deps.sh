#!/usr/bin/env bash
# Installs the Debian packages allocproof needs, only those missing. Used by run_all.sh,
# run_tests.sh and .ci/run, so a fresh Debian 12 machine needs nothing done by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake g++ make git pkg-config
  libbenchmark-dev libgtest-dev
  libboost-dev libboost-container-dev libabsl-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev zlib1g-dev
  python3 python3-matplotlib python3-yaml valgrind
  # The report's browser test opens report.html in headless Chromium.
  chromium
  # scripts/fuzz.sh: libFuzzer comes with clang's runtime.
  clang libclang-rt-14-dev
  # The test `formatting` checks the tree's layout against .clang-format (clang-format 14).
  clang-format
  # The test `ci_steps` runs the gate's pull-request comment (actions/github-script's JavaScript).
  nodejs
  # The real databases measured under each allocator (workloads/external/); optional at run
  # time: a workload whose program is missing is skipped, and the run says so.
  rocksdb-tools redis-server redis-tools sqlite3
)
# Each global allocator's package, from its catalogue (read with sed: Python may not be here yet).
packages+=($(sed -n 's/.*"debian_package": *"\([^"]*\)".*/\1/p' catalogue/allocators.json))

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "allocproof: installing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "allocproof: these packages are missing and this user cannot install them: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Installing redis-server enables and starts a system redis on port 6379. allocproof starts its
# own servers on free loopback ports and needs none: stop the one we just installed, so that a
# run never shares the machine with an idle database it did not ask for.
if printf '%s\n' "${missing[@]}" | grep -qx redis-server; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    "${sudo[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    "${sudo[@]}" service redis-server stop >/dev/null 2>&1 || true
  fi
fi
