#!/usr/bin/python3
"""Runs the micro suite on every global allocator and writes what it found.

    harness/micro_suite.py --build build --out DIR [--quick] [--filter REGEX] [--no-callgrind]

Writes DIR/micro/<allocator>.json (Google Benchmark's own JSON, so its compare tool works on
two runs), DIR/micro/claims/<allocator>.json (the pairs the operation-level claims of
claims/claims.json name, each measured once in each of several processes: see claims_pass),
DIR/micro/instructions.json (instructions per operation of each 1-thread pair on glibc, counted under
callgrind by `allocproof count-micro`, whose results file is DIR/micro/counted/results.json; where
valgrind is present),
and DIR/micro/summary.json + DIR/micro/summary.md: ns per pair on each allocator, the ratio to
the fastest global allocator (the `std` strategy's best time over the four, same pattern and
size), and the speed targets of the strategies issue, each met or missed with its figures.

Every figure is a median over repetitions measured in this one run; nothing is estimated.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The global allocators, in the order every table shows them: catalogue/allocators.json, the one list.
with open(os.path.join(REPO, "catalogue", "allocators.json"), encoding="utf-8") as catalogue:
    ALLOCATORS = [entry["name"] for entry in json.load(catalogue)["allocators"]]


def run_allocator(build, allocator, out_dir, args):
    program = os.path.join(build, f"allocproof-micro-{allocator}")
    if not os.access(program, os.X_OK):
        return None
    out_file = os.path.join(out_dir, f"{allocator}.json")
    command = [
        program,
        f"--benchmark_out={out_file}",
        "--benchmark_out_format=json",
        f"--benchmark_repetitions={args.repetitions}",
        "--benchmark_report_aggregates_only=true",
        f"--benchmark_min_time={args.min_time}",
    ]
    if args.filter:
        command.append(f"--benchmark_filter={args.filter}")
    print(f"micro suite: {allocator} ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        print(f"micro suite: {allocator} failed ({done.returncode}): {done.stderr[-500:]}", file=sys.stderr)
        return None
    with open(out_file) as f:
        return json.load(f)


def claim_benchmarks(claims_file):
    """The micro benchmarks the operation-level claims name (claims/README.md, Levels)."""
    with open(claims_file, encoding="utf-8") as f:
        claims = json.load(f)["claims"]
    names = set()
    for claim in claims:
        if claim.get("level") != "operation":
            continue
        for comparison in claim.get("comparisons", []):
            for side in ("candidate", "baseline"):
                if side in comparison:
                    names.add(comparison[side]["micro"])
    return sorted(names)


def claims_pass(build, allocator, out_dir, names, processes, min_time):
    """Each named pair measured once in each of `processes` fresh processes, kept as Google
    Benchmark's iteration records with the process's index added. The verdicts take one value per
    process: repetitions inside one process share its heap layout and address-space placement, so
    their spread understates the spread between runs (the matrix found node_churn's time to vary
    more between processes than within one), and an interval from them would be too narrow."""
    program = os.path.join(build, f"allocproof-micro-{allocator}")
    if not names or not os.access(program, os.X_OK):
        return None
    pattern = "^(" + "|".join(re.escape(n) for n in names) + ")$"
    merged = {"context": None, "processes": processes, "benchmarks": []}
    print(f"micro suite: claims pass on {allocator} ({len(names)} pairs x {processes} processes) ...",
          file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for process in range(processes):
            part = os.path.join(scratch, f"{process}.json")
            done = subprocess.run([program, f"--benchmark_filter={pattern}", "--benchmark_repetitions=1",
                                   f"--benchmark_min_time={min_time}", f"--benchmark_out={part}",
                                   "--benchmark_out_format=json"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                print(f"micro suite: claims pass on {allocator} failed ({done.returncode}): {done.stderr[-500:]}",
                      file=sys.stderr)
                return None
            with open(part) as f:
                report = json.load(f)
            merged["context"] = merged["context"] or report.get("context")
            for b in report.get("benchmarks", []):
                merged["benchmarks"].append(dict(b, process=process))
    os.makedirs(os.path.join(out_dir, "claims"), exist_ok=True)
    with open(os.path.join(out_dir, "claims", f"{allocator}.json"), "w") as f:
        json.dump(merged, f, indent=1)
    return merged


def medians(report):
    """{(pattern, strategy, argument): ns per item} from the median aggregates of one run."""
    figures = {}
    for b in report.get("benchmarks", []):
        if b.get("aggregate_name") != "median" and b.get("run_type") == "aggregate":
            continue
        if b.get("run_type") == "iteration" and b.get("repetitions", 1) > 1:
            continue
        name = b.get("run_name", b["name"]).replace("/manual_time", "")
        parts = name.split("/")
        if len(parts) < 3 or "items_per_second" not in b:
            continue
        figures[(parts[0], parts[1], int(parts[2]))] = 1e9 / b["items_per_second"]
    return figures


def counted_pairs(build, out_dir, pair_filter):
    """Instructions per operation of every 1-thread pair on glibc, counted under callgrind by
    `allocproof count-micro` (whose results file, DIR/micro/counted/results.json, `allocproof
    compare` reads): {pair: count}, or None when the count failed."""
    folder = os.path.join(out_dir, "counted")
    print("micro suite: counting instructions under callgrind (allocproof count-micro) ...", file=sys.stderr, flush=True)
    command = [os.path.join(build, "allocproof"), "count-micro", "--allocators", "glibc", "--out", folder]
    # Google Benchmark's filter is a regular expression but for a leading '-', which negates it;
    # count-micro has no negation, so such a filter counts every pair.
    if pair_filter and not pair_filter.startswith("-"):
        command += ["--filter", pair_filter]
    done = subprocess.run(command,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        print(f"micro suite: count-micro failed ({done.returncode}): {done.stderr[-500:]}", file=sys.stderr)
        return None
    with open(os.path.join(folder, "results.json"), encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    return {cell["params"]["micro"]: cell["metrics"]["instructions_per_op"]["median"]
            for cell in cells if cell["status"] == "ok"}


def check_targets(table, fastest, instructions):
    """The speed targets of the strategies issue, each a ratio measured in this run."""
    targets = []

    def add(name, value, limit, kind, detail):
        if value is None:
            targets.append({"target": name, "status": "not measured", "detail": detail})
            return
        met = value <= limit if kind == "at most" else value >= limit
        targets.append({"target": name, "value": round(value, 3), "limit": limit, "kind": kind,
                        "status": "met" if met else "missed", "detail": detail})

    def ns(pattern, strategy, size, allocator):
        return table.get(allocator, {}).get((pattern, strategy, size))

    def best(pattern, strategy, size):
        """The strategy's best time over the allocators (None when it did not run)."""
        times = [v for v in (ns(pattern, strategy, size, a) for a in table) if v]
        return min(times) if times else None

    def ratio(numerator, denominator):
        return numerator / denominator if numerator and denominator else None

    for allocator in table:
        for pattern in ("one_live", "batch_10k", "replace_10k"):
            for size in (64, 256):
                add(f"fixed_pool within 1.2x of boost_pool: {pattern}/{size} on {allocator}",
                    ratio(ns(pattern, "fixed_pool", size, allocator), ns(pattern, "boost_pool", size, allocator)),
                    1.2, "at most", "ratio of ns per pair")
    for size in (64, 256):
        add(f"fixed_pool one_live/{size} at most 0.35x the fastest global allocator",
            ratio(best("one_live", "fixed_pool", size), fastest.get(("one_live", size))), 0.35, "at most",
            "best fixed_pool time / fastest std time")
        if size == 64:
            add("arena batch_10k/64 at most 0.35x the fastest global allocator",
                ratio(best("batch_10k", "arena", size), fastest.get(("batch_10k", size))), 0.35, "at most", "")
        add(f"fixed_pool_mt one_live/{size} at most 0.6x the fastest global allocator",
            ratio(best("one_live", "fixed_pool_mt", size), fastest.get(("one_live", size))), 0.6, "at most", "")
        add(f"fixed_pool_mt 2t_own/{size} throughput at least the fastest global allocator's",
            ratio(fastest.get(("2t_own", size)), best("2t_own", "fixed_pool_mt", size)), 1.0, "at least",
            "throughput ratio")
        add(f"fixed_pool_mt 2t_cross/{size} throughput at least 0.8x the best global allocator's",
            ratio(fastest.get(("2t_cross", size)), best("2t_cross", "fixed_pool_mt", size)), 0.8, "at least",
            "throughput ratio")
        add(f"fixed_pool_mt 2t_cross/{size} throughput at least 10x mutex_pool's",
            ratio(best("2t_cross", "mutex_pool", size), best("2t_cross", "fixed_pool_mt", size)), 10.0,
            "at least", "")
    for count in (6, 20):
        add(f"small_vector vector_fill/{count} within 1.1x of boost_small_vector",
            ratio(best("vector_fill", "small_vector", count), best("vector_fill", "boost_small_vector", count)),
            1.1, "at most", "")
    if instructions is not None:
        value = instructions.get("one_live/fixed_pool/64")
        add("fixed_pool instructions per pair (callgrind, one_live/64, with the loop) at most 16",
            value, 16, "at most", "glibc program")
    return targets


def markdown(table, fastest, instructions, targets):
    lines = ["# Micro suite", "",
             "ns per pair (median of repetitions); in brackets, the ratio to the fastest global",
             "allocator (the `std` strategy's best time over the four allocators, same pattern and size).", ""]
    allocators = [a for a in ALLOCATORS if a in table]
    keys = sorted({k for a in allocators for k in table[a]})
    lines.append("| pattern | strategy | arg | " + " | ".join(allocators) + " |")
    lines.append("|---|---|---|" + "---|" * len(allocators))
    for pattern, strategy, arg in keys:
        cells = []
        for a in allocators:
            v = table[a].get((pattern, strategy, arg))
            f = fastest.get((pattern, arg))
            cells.append("-" if v is None else f"{v:.2f}" + (f" ({v / f:.2f}x)" if f else ""))
        lines.append(f"| {pattern} | {strategy} | {arg} | " + " | ".join(cells) + " |")
    if instructions:
        lines += ["", "## Instructions per pair (callgrind, glibc program, including the loop)", ""]
        lines += [f"- {name}: {value:.1f}" for name, value in sorted(instructions.items()) if value is not None]
    lines += ["", "## Targets", ""]
    for t in targets:
        if t["status"] == "not measured":
            lines.append(f"- {t['target']}: not measured")
        else:
            lines.append(f"- {t['target']}: **{t['status']}** ({t['value']} vs {t['kind']} {t['limit']})")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="one short repetition per benchmark")
    parser.add_argument("--filter", default="")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--claims", default=os.path.join(REPO, "claims", "claims.json"),
                        help="the claims file whose operation-level claims name the pairs of the claims pass")
    args = parser.parse_args()
    # Three repetitions of 50 ms each: medians steady to a few per cent here, and the whole suite
    # fits beside the matrix in run_all.sh's half-hour budget. --quick checks that every benchmark
    # runs (one repetition of 10 ms), within run_all.sh --quick's two minutes.
    args.repetitions = 1 if args.quick else 3
    args.min_time = 0.01 if args.quick else 0.05

    # The claims pass: 12 processes, each pair's phase 20 ms (about a minute for the four
    # allocators): the spread between processes is what limits the intervals, so processes are
    # worth more than longer phases. --quick: 3 processes of 10 ms.
    processes, claims_min_time = (3, 0.01) if args.quick else (12, 0.02)

    out_dir = os.path.join(args.out, "micro")
    os.makedirs(out_dir, exist_ok=True)
    try:
        names = claim_benchmarks(args.claims)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"micro suite: cannot read the claims file {args.claims}: {error}", file=sys.stderr)
        return 2
    if args.filter:
        names = [n for n in names if re.search(args.filter, n)]
    table = {}
    for allocator in ALLOCATORS:
        report = run_allocator(args.build, allocator, out_dir, args)
        if report is not None:
            table[allocator] = medians(report)
            claims_pass(args.build, allocator, out_dir, names, processes, claims_min_time)
    if not table:
        print("micro suite: no allocator program ran", file=sys.stderr)
        return 1

    fastest = {}
    for allocator, figures in table.items():
        for (pattern, strategy, arg), value in figures.items():
            if strategy == "std":
                key = (pattern, arg)
                fastest[key] = min(fastest.get(key, value), value)

    instructions = None
    if not args.no_callgrind and not args.quick and shutil.which("valgrind"):
        instructions = counted_pairs(args.build, out_dir, args.filter)
        with open(os.path.join(out_dir, "instructions.json"), "w") as f:
            json.dump(instructions, f, indent=1)

    targets = check_targets(table, fastest, instructions)
    summary = {
        "rows": [{"allocator": a, "pattern": p, "strategy": s, "argument": n, "ns_per_op": v,
                  "ratio_to_fastest_global": (v / fastest[(p, n)]) if (p, n) in fastest else None}
                 for a, figures in table.items() for (p, s, n), v in sorted(figures.items())],
        "fastest_global": [{"pattern": p, "argument": n, "ns_per_op": v} for (p, n), v in sorted(fastest.items())],
        "instructions_per_pair": instructions,
        "targets": targets,
        "settings": {"repetitions": args.repetitions, "min_time": args.min_time, "filter": args.filter},
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(markdown(table, fastest, instructions, targets))
    print(f"micro suite: {os.path.join(out_dir, 'summary.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
