#!/usr/bin/python3
"""Runs the micro-suite runner on a tiny filter and checks what it writes (a ctest test).

    micro_suite_check.py SOURCE_DIR BUILD_DIR
"""
import json
import os
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
print("micro suite check: 1 passed, 0 failed")
