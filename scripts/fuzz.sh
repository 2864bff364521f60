#!/usr/bin/env bash
# Fuzzes every parser of outside input for a bounded time (fuzz/README.md):
#
#   scripts/fuzz.sh [SECONDS-PER-TARGET]     (default 30)
#
# Builds fuzz/ with clang into build-fuzz/, runs each libFuzzer target on a copy of its seed
# corpus (new corpus entries stay out of the repository) and fuzz/fuzz_claims.py, all at once for
# SECONDS. One line per target; exit 1 if any of them found something. Installs nothing.
set -uo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS-PER-TARGET]" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
libfuzzer_targets=(fuzz_results fuzz_filters fuzz_descriptor)

if ! command -v clang++ >/dev/null 2>&1 ||
   ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "fuzz: needs clang++ and libFuzzer's runtime: apt-get install clang libclang-rt-14-dev" >&2
  exit 1
fi

started=$SECONDS
if ! CC=clang CXX=clang++ cmake -S "$root/fuzz" -B "$build" >"$build.configure.log" 2>&1 ||
   ! cmake --build "$build" -j "$(nproc)" >"$build.build.log" 2>&1; then
  echo "fuzz: the build failed; see $build.configure.log and $build.build.log" >&2
  tail -n 30 "$build.build.log" >&2
  exit 1
fi
mv "$build.configure.log" "$build.build.log" "$build/"
echo "fuzz: built in $((SECONDS - started)) s; fuzzing ${#libfuzzer_targets[@]} libFuzzer targets and fuzz_claims for $seconds s"

work="$build/run"  # this run's corpora, logs and findings; the previous run's are replaced
rm -rf "$work"
mkdir -p "$work"
pids=()
for target in "${libfuzzer_targets[@]}"; do
  cp -r "$root/fuzz/corpus/$target" "$work/$target.corpus"
  mkdir -p "$work/$target.findings"
  "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$target.findings/" "$work/$target.corpus" >"$work/$target.log" 2>&1 &
  pids+=($!)
done
/usr/bin/python3 "$root/fuzz/fuzz_claims.py" "$seconds" >"$work/fuzz_claims.log" 2>&1 &
pids+=($!)

failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"
  status=$?
  target="${libfuzzer_targets[$i]:-fuzz_claims}"
  log="$work/$target.log"
  if [ "$target" = fuzz_claims ]; then
    runs="$(grep -ao '^fuzz_claims: [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -n 1)"
  else
    runs="$(grep -ao 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)"
  fi
  if [ "$status" -eq 0 ]; then
    echo "fuzz: $target: ${runs:-?} runs, no finding"
  else
    failed=1
    echo "fuzz: $target: FINDING after ${runs:-?} runs (exit $status); log $log, inputs in $work/$target.findings/"
    tail -n 40 "$log" | sed "s/^/  $target| /"
  fi
done
echo "fuzz: $((SECONDS - started)) s in all; $([ $failed -eq 0 ] && echo "no finding" || echo "FINDINGS: see fuzz/README.md to reproduce")"
exit $failed
