#!/usr/bin/python3
"""Runs the micro-suite runner on a tiny filter and checks what it writes (a ctest test).

    micro_suite_check.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

source, build = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as out:
    done = subprocess.run(
        ["/usr/bin/python3", os.path.join(source, "harness", "micro_suite.py"), "--build", build,
         "--out", out, "--quick", "--filter", "^one_live/(std|fixed_pool)/64$"],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(os.path.join(out, "micro", "summary.json")) as f:
        summary = json.load(f)
    rows = {(r["allocator"], r["strategy"]) for r in summary["rows"] if r["pattern"] == "one_live"}
    allocators = {a for a, _ in rows}
    assert allocators, "no allocator ran"
    for allocator in allocators:
        assert (allocator, "std") in rows and (allocator, "fixed_pool") in rows, rows
        raw = json.load(open(os.path.join(out, "micro", f"{allocator}.json")))
        assert raw["context"]["allocator"] == allocator, raw["context"]
    for row in summary["rows"]:
        assert row["ns_per_op"] > 0, row
    fastest = [f for f in summary["fastest_global"] if f["pattern"] == "one_live"]
    assert len(fastest) == 1 and fastest[0]["ns_per_op"] == min(
        r["ns_per_op"] for r in summary["rows"] if r["strategy"] == "std"), fastest
    names = [t["target"] for t in summary["targets"]]
    assert any(n.startswith("fixed_pool one_live/64 at most 0.35x") for n in names), names
    markdown = open(os.path.join(out, "micro", "summary.md")).read()
    assert "| one_live | fixed_pool | 64 |" in markdown, markdown

    # The claims pass: the pairs of the operation-level claims that the filter lets through, once
    # in each of 3 processes (--quick), and the evaluator judges A2-2's one_live/64 row from them.
    sys.path.insert(0, os.path.join(source, "harness", "report"))
    import verdicts  # noqa: E402
    samples = verdicts.load_micro(verdicts.Path(out))
    assert set(samples) == allocators, (samples.keys(), allocators)
    for allocator in allocators:
        claims_file = json.load(open(os.path.join(out, "micro", "claims", f"{allocator}.json")))
        assert claims_file["context"]["allocator"] == allocator
        assert sorted({b["process"] for b in claims_file["benchmarks"]}) == [0, 1, 2], claims_file["benchmarks"]
        assert sorted(samples[allocator]) == ["one_live/fixed_pool/64", "one_live/std/64"], samples[allocator]
        assert all(len(v) == 3 and min(v) > 0 for v in samples[allocator].values()), samples[allocator]
    claims = json.load(open(os.path.join(source, "claims", "claims.json")))
    a22 = [c for c in claims["claims"] if c["id"] == "A2-2"]
    for claim in a22:
        claim.pop("context", None)  # no matrix ran here
    doc = dict(claims, claims=a22)
    judged = verdicts.evaluate({"tool": "allocproof", "schema_version": 1, "cells": []}, doc, micro=samples)
    rows = {(r["label"], r["allocator"]): r for r in judged["claims"][0]["rows"]}
    for allocator in allocators:
        row = rows[("one_live/64", allocator)]
        assert row["verdict"] != "no_verdict", row
        assert row["cells"] == [f"micro:one_live/fixed_pool/64/{allocator}", f"micro:one_live/std/64/{allocator}"], row
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"], row
        assert rows[("batch_10k/64", allocator)]["verdict"] == "no_verdict"  # filtered out: said, not guessed

# Without --quick the runner also counts the filtered pairs' instructions (allocproof count-micro):
# its results file, and the instructions target read from it.
if os.access(os.path.join(build, "allocproof"), os.X_OK) and shutil.which("valgrind") and not os.environ.get(
        "ALLOCPROOF_SANITIZE"):
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            ["/usr/bin/python3", os.path.join(source, "harness", "micro_suite.py"), "--build", build,
             "--out", out, "--filter", "^one_live/(std|fixed_pool)/64$"],
            capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        counted = json.load(open(os.path.join(out, "micro", "counted", "results.json")))
        assert counted["plan"]["request"]["measure"] == "micro_instructions", counted["plan"]
        assert sorted(c["params"]["micro"] for c in counted["cells"]) == ["one_live/fixed_pool/64", "one_live/std/64"]
        instructions = json.load(open(os.path.join(out, "micro", "instructions.json")))
        assert 2 < instructions["one_live/fixed_pool/64"] <= 16 < instructions["one_live/std/64"], instructions
        summary = json.load(open(os.path.join(out, "micro", "summary.json")))
        target = [t for t in summary["targets"] if t["target"].startswith("fixed_pool instructions per pair")]
        assert target and target[0]["status"] == "met", summary["targets"]
print("micro suite check: 3 passed, 0 failed")
