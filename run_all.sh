#!/usr/bin/env bash
# Reproduces allocproof's numbers on this machine: installs what is missing, builds, runs the
# default matrix (or the small one with --quick), judges every claim and writes the report
# (results/<run-id>/{results.json,verdicts.json,report.md,report.html,plots/}), pointing
# results/latest at it.
#
#   ./run_all.sh              the default matrix
#   ./run_all.sh --quick      the small matrix (a couple of minutes)
#   ./run_all.sh --out DIR    write to DIR instead of results/<run-id>
#   ./run_all.sh --shard k/N  part k of N of the matrix (`allocproof merge` joins them); part 1
#                             also runs the micro suite
#   ./run_all.sh --real-programs full   the real programs (workloads/external/) at their full sizes,
#                             which can judge the memory claim L3-4 (the default sizes cannot); the
#                             budget grows by 15 minutes for them
#   ./run_all.sh --no-example-plugin   leave out examples/plugin (built out of the tree against
#                             `cmake --install` of this build, and measured like a built-in strategy)
# Any other option is passed to `allocproof run` (see build/allocproof run --help).
set -euo pipefail
cd "$(dirname "$0")"

out=""
# Claims first (claims/README.md, Repetitions): the cells the claims need get the claims' schedule
# of repetitions, more while a row is undecided and the budget lasts; then the rest of the matrix
# (every workload x strategy x allocator at 1, 2 and N threads) four times each, the fewest
# repetitions at which the intervals keep their 95% (tests/test_interval_coverage.cpp), or three
# when the rounds took the budget (there they cover 94.5-97.5%). The budget keeps the run, with the
# micro suite and the report, within half an hour on 2 cores. --quick measures the claims' cells
# only, 4 times each at the small scale: a check that every claim can be judged, in about 2 min 15 s. A later option wins.
args=(--reps 4 --claims claims/claims.json)
default_args=(--budget 1260)
quick_args=(--claims-only --claims-reps 4)
quick=false
user_args=()
micro_args=()
example_plugin=true
shard=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-example-plugin) example_plugin=false; shift ;;
    --quick) user_args+=("$1"); micro_args+=("--quick"); quick=true; shift ;;
    --out) [ $# -ge 2 ] || { echo "run_all.sh: --out needs a folder" >&2; exit 2; }
           out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    # A shard (`allocproof run --shard k/N`): the micro suite is not part of the matrix, so part 1
    # alone runs it (the merge takes part 1's), and the other parts do not spend a runner's time on it.
    --shard) [ $# -ge 2 ] || { echo "run_all.sh: --shard needs k/N" >&2; exit 2; }
             shard="$2"; user_args+=("$1" "$2"); shift 2 ;;
    --shard=*) shard="${1#--shard=}"; user_args+=("$1"); shift ;;
    --real-programs|--real-programs=*)
           if [ "$1" = --real-programs ]; then
             [ $# -ge 2 ] || { echo "run_all.sh: --real-programs needs default or full" >&2; exit 2; }
             sizes="$2"; shift 2
           else
             sizes="${1#--real-programs=}"; shift
           fi
           user_args+=(--real-program-sizes "$sizes")
           # The claim's cells (RocksDB and sqlite on glibc and jemalloc) take the claims' first
           # round of repetitions at about 15 s and 10 s each, the other allocators' and redis's
           # cells the rest of the matrix's: some 15 minutes more than the default sizes.
           if [ "$sizes" = full ]; then default_args=(--budget 2160); fi ;;
    *) user_args+=("$1"); shift ;;
  esac
done

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DALLOCPROOF_UNITY_BUILD=ON >/dev/null
cmake --build build -j"$(nproc)"
if $example_plugin; then
  # What a user outside the tree does: install the package, build the plugin against it alone.
  cmake --install build --prefix build/install >/dev/null
  cmake -S examples/plugin -B build/example-plugin -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$(pwd)/build/install" >/dev/null
  cmake --build build/example-plugin -j"$(nproc)"
  args+=(--plugin build/example-plugin/libsize_class_pool.so)
fi

link_latest=false
if [ -z "$out" ]; then
  run_id="$(date -u +%Y%m%d-%H%M%S)-$(git rev-parse --short HEAD 2>/dev/null || echo nogit)"
  out="results/$run_id"
  link_latest=true
fi

if $quick; then args+=("${quick_args[@]}"); else args+=("${default_args[@]}"); fi
args+=(${user_args[@]+"${user_args[@]}"})

# The driver's exit code for "done, but some cells failed" (catalogue/exit_codes.json): the steps
# after the run go on then, and stop after a refused (usage) or interrupted run.
cells_failed=$(/usr/bin/python3 -c 'import json, sys
codes = json.load(open(sys.argv[1]))["programs"]["driver"]
print(next(code["code"] for code in codes if code["name"] == "cells_failed"))' catalogue/exit_codes.json)
status=0
build/allocproof run --out "$out" "${args[@]}" || status=$?
# The instruction pass: under callgrind, what allocation's code costs the cells whose counts the
# claims read (the allocation-level claims, and the whole-workload figures beside the others).
if [ "$status" -eq 0 ] || [ "$status" -eq "$cells_failed" ]; then
  build/allocproof instructions "$out" --cells claims || status=$?
fi
# The micro suite: each strategy operation in isolation, on every global allocator.
if [ -n "$shard" ] && [ "${shard%%/*}" != 1 ]; then
  echo "run_all.sh: shard $shard: the micro suite runs in part 1 of the shards only" >&2
elif [ "$status" -eq 0 ] || [ "$status" -eq "$cells_failed" ]; then
  /usr/bin/python3 harness/micro_suite.py --build build --out "$out" "${micro_args[@]}" || status=$?
fi
# The report: a verdict on every claim, the plots, report.md and report.html, beside results.json.
# It reads only the results files, so harness/report/make_report.py can redo it on any run folder.
if [ "$status" -eq 0 ] || [ "$status" -eq "$cells_failed" ]; then
  /usr/bin/python3 harness/report/make_report.py "$out" || status=$?
  [ -f "$out/report.html" ] && echo "allocproof: report: $out/report.html" >&2
fi
# Point results/latest at the run even when some cells failed: their records say why.
if $link_latest && [ -f "$out/results.json" ]; then
  ln -sfn "$(basename "$out")" results/latest
fi
exit $status
