#!/usr/bin/env python3
"""Tests of the claims evaluator (harness/report/verdicts.py) and of claims/claims.json.

    /usr/bin/python3 tests/test_verdicts.py SOURCE_DIR BUILD_DIR

The verdict rules and the bootstrap are tested on synthetic results; the claims file is checked
against what the build can measure (`allocproof list --json`) and judged on a real small run, so a
claim naming a cell that does not exist, or a metric no cell has, fails here.
"""
import copy
import json
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
BUILD = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else SOURCE / "build"
sys.path.insert(0, str(SOURCE / "harness" / "report"))
import verdicts  # noqa: E402

CLAIMS = json.loads((SOURCE / "claims" / "claims.json").read_text())
# The ids of shared/CLAIMS.md (the project's brief, outside this repository).
SEED_IDS = ["G0-1", "G0-2", "G0-3", "G0-4", "G0-5", "P1-1", "P1-2", "P1-3", "P1-4", "P1-5",
            "A2-1", "A2-2", "A2-3", "A2-4", "A2-5", "A2-6", "A2-7", "A2-8", "A2-9",
            "L3-1", "L3-2", "L3-3", "L3-4", "L3-5", "L3-6", "L3-7", "L3-8", "L3-9", "L3-10",
            "R4-1", "R4-2", "R4-3", "R4-4", "R4-5"]


def cell(workload, strategy, allocator, threads, values, metric="ns_per_op", status="ok", reason=None):
    reps = [{"rep": i, "status": "ok", "metrics": {metric: v}, "raw": None} for i, v in enumerate(values)]
    return {"id": f"{workload}/{strategy}/{allocator}/t{threads}", "workload": workload, "strategy": strategy,
            "allocator": allocator, "threads": threads, "status": status, "reason": reason, "repetitions": reps}


def results(*cells):
    return {"tool": "allocproof", "schema_version": 1, "environment": {"cpu_model": "Test CPU", "logical_cpus": 2},
            "plan": {"request": {"seed": 7, "dirty_heap_bytes": 0}}, "cells": list(cells)}


def claims_doc(**claim):
    base = {"id": "T-1", "source": "s", "quote": "q", "claim": "c", "measure": "m", "metric": "ns_per_op",
            "effect": "speedup", "claimed": {"low": 2.0, "high": 3.0},
            "comparisons": [{"label": "w t1", "candidate": {"workload": "w", "strategy": "pool", "threads": 1},
                             "baseline": {"workload": "w", "strategy": "std", "threads": 1}}]}
    base.update(claim)
    return {"schema": "allocproof-claims/1", "sources": {"s": "a source"}, "claims": [base]}


def only_row(doc, res, resamples=2000):
    out = verdicts.evaluate(res, doc, resamples=resamples)
    rows = out["claims"][0]["rows"]
    assert len(rows) == 1, rows
    return rows[0]


class Judge(unittest.TestCase):
    """The verdict words of CLAIMS.md on intervals, for a claimed speed-up of 2x-3x."""
    spec = {"unit": "x", "null": 1.0, "claimed_low": 2.0, "claimed_high": 3.0}

    def verdict(self, low, high, **spec):
        return verdicts.judge((low + high) / 2, low, high, {**self.spec, **spec})[0]

    def test_an_interval_above_no_effect_that_reaches_the_range_holds(self):
        self.assertEqual(self.verdict(1.5, 2.2), "holds")
        self.assertEqual(self.verdict(3.5, 4.0), "holds")  # more than claimed still holds

    def test_a_real_effect_short_of_the_range_is_partly(self):
        self.assertEqual(self.verdict(1.1, 1.6), "partly")

    def test_the_opposite_effect_or_no_effect_excluding_the_range_is_refuted(self):
        self.assertEqual(self.verdict(0.5, 0.9), "refuted")
        self.assertEqual(self.verdict(0.9, 1.3), "refuted")

    def test_an_interval_holding_both_no_effect_and_the_range_is_inconclusive(self):
        verdict, why = verdicts.judge(1.4, 0.8, 2.5, self.spec)
        self.assertEqual(verdict, "inconclusive")
        self.assertIn("more repetitions", why)

    def test_an_up_to_limit_is_refuted_by_an_effect_wholly_above_it(self):
        self.assertEqual(self.verdict(3.5, 4.0, range_is_limit=True), "refuted")
        self.assertEqual(self.verdict(2.5, 3.5, range_is_limit=True), "holds")

    def test_at_most_claims(self):
        at_most = {"claimed_low": None, "claimed_high": 1.05}
        self.assertEqual(self.verdict(0.98, 1.04, **at_most), "holds")
        self.assertEqual(self.verdict(1.06, 1.2, **at_most), "refuted")
        self.assertEqual(self.verdict(0.99, 1.2, **at_most), "inconclusive")


class Evaluate(unittest.TestCase):
    def test_the_estimate_is_the_ratio_of_medians_and_the_interval_holds_it(self):
        res = results(cell("w", "pool", "glibc", 1, [10, 11, 12, 10.5, 11.5]),
                      cell("w", "std", "glibc", 1, [25, 26, 24, 25.5, 24.5]))
        row = only_row(claims_doc(), res)
        self.assertAlmostEqual(row["estimate"], 25 / 11)
        self.assertLessEqual(row["ci_low"], row["estimate"])
        self.assertGreaterEqual(row["ci_high"], row["estimate"])
        self.assertGreaterEqual(row["ci_low"], 24 / 12 - 1e-9)  # no resample beats the extremes
        self.assertLessEqual(row["ci_high"], 26 / 10 + 1e-9)
        self.assertEqual(row["verdict"], "holds")
        self.assertEqual(row["cells"], ["w/pool/glibc/t1", "w/std/glibc/t1"])

    def test_the_interval_is_reproducible_from_the_seed(self):
        res = results(cell("w", "pool", "glibc", 1, [10, 14, 12]), cell("w", "std", "glibc", 1, [25, 20, 30]))
        self.assertEqual(only_row(claims_doc(), res), only_row(claims_doc(), res))

    def test_a_reduction_is_in_percent_with_its_claimed_range(self):
        doc = claims_doc(metric="alloc_calls_per_op", effect="reduction", claimed={"low": 0.4, "high": 0.6})
        res = results(cell("w", "pool", "glibc", 1, [0.5] * 3, "alloc_calls_per_op"),
                      cell("w", "std", "glibc", 1, [2.0] * 3, "alloc_calls_per_op"))
        out = verdicts.evaluate(res, doc, resamples=500)
        self.assertEqual(out["claims"][0]["effect"]["claimed_low"], 40.0)
        row = out["claims"][0]["rows"][0]
        self.assertAlmostEqual(row["estimate"], 75.0)
        self.assertEqual(row["verdict"], "holds")

    def test_a_missing_cell_gives_no_verdict_and_names_it(self):
        row = only_row(claims_doc(), results(cell("w", "std", "glibc", 1, [25, 26, 24])))
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIsNone(row["estimate"])
        self.assertIn("w/pool/glibc/t1 is not in this run", row["why"])

    def test_a_failed_cell_gives_no_verdict_with_its_reason(self):
        res = results(cell("w", "pool", "glibc", 1, [], status="failed", reason="crashed with SIGSEGV"),
                      cell("w", "std", "glibc", 1, [25, 26, 24]))
        row = only_row(claims_doc(), res)
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIn("w/pool/glibc/t1 is failed (crashed with SIGSEGV)", row["why"])

    def test_one_row_per_allocator_and_geomean_combines(self):
        cells = []
        for allocator, speedup in (("glibc", 2.0), ("jemalloc", 8.0)):
            cells += [cell("w", "pool", allocator, 1, [10.0] * 3), cell("w", "std", allocator, 1, [10.0 * speedup] * 3),
                      cell("v", "pool", allocator, 1, [10.0] * 3), cell("v", "std", allocator, 1, [40.0] * 3)]
        doc = claims_doc(combine="geomean", comparisons=[
            {"label": "w", "candidate": {"workload": "w", "strategy": "pool", "threads": 1},
             "baseline": {"workload": "w", "strategy": "std", "threads": 1}},
            {"label": "v", "candidate": {"workload": "v", "strategy": "pool", "threads": 1},
             "baseline": {"workload": "v", "strategy": "std", "threads": 1}}])
        rows = verdicts.evaluate(results(*cells), doc, resamples=200)["claims"][0]["rows"]
        self.assertEqual([r["allocator"] for r in rows], ["glibc", "jemalloc"])
        self.assertAlmostEqual(rows[0]["estimate"], (2.0 * 4.0) ** 0.5)
        self.assertAlmostEqual(rows[1]["estimate"], (8.0 * 4.0) ** 0.5)

    def test_machines_of_a_merged_file_are_judged_apart(self):
        res = results(cell("w", "pool", "glibc", 1, [10] * 3), cell("w", "std", "glibc", 1, [30] * 3))
        other = copy.deepcopy(res["cells"])
        for c in other:
            c["machine"] = 1
        other[1]["repetitions"] = [{"status": "ok", "metrics": {"ns_per_op": 12.0}}] * 3
        res["cells"] += other
        res["machines"] = [res["environment"], {"cpu_model": "Other CPU", "logical_cpus": 64}]
        rows = verdicts.evaluate(res, claims_doc(), resamples=200)["claims"][0]["rows"]
        self.assertEqual([(r["machine"], r["verdict"]) for r in rows], [(0, "holds"), (1, "partly")])

    def test_a_claim_needing_a_dirty_heap_is_not_judged_on_a_clean_run(self):
        res = results(cell("w", "pool", "glibc", 1, [10] * 3), cell("w", "std", "glibc", 1, [30] * 3))
        row = only_row(claims_doc(requires={"dirty_heap": True}), res)
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIn("--dirty-heap", row["why"])

    def test_a_malformed_claims_file_is_refused(self):
        doc = claims_doc()
        doc["claims"].append(copy.deepcopy(doc["claims"][0]))
        with self.assertRaises(verdicts.ClaimsError):
            verdicts.evaluate(results(), doc)
        doc = claims_doc(claimed={"low": None, "high": None})
        with self.assertRaises(verdicts.ClaimsError):
            verdicts.evaluate(results(), doc)


class BadInput(unittest.TestCase):
    """Each gets one line naming the file, exit code 2, and no verdicts.json."""

    def run_main(self, results_text, claims=None):
        with tempfile.TemporaryDirectory() as scratch:
            run = Path(scratch)
            (run / "results.json").write_text(results_text)
            args = [str(run), "--quiet"]
            if claims is not None:
                (run / "claims.json").write_text(json.dumps(claims))
                args += ["--claims", str(run / "claims.json")]
            import contextlib
            import io
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = verdicts.main(args)
            return code, err.getvalue(), (run / "verdicts.json").exists()

    def test_a_truncated_results_file(self):
        code, err, written = self.run_main('{"tool": "allocproof", "schema_version": 1, "cel')
        self.assertEqual((code, written), (2, False))
        self.assertIn("results.json is not valid JSON", err)
        self.assertEqual(err.count("\n"), 1)

    def test_a_file_that_is_not_a_results_file(self):
        for text in ("{}", "[]", '{"tool": "allocproof", "schema_version": 2, "cells": []}'):
            code, err, written = self.run_main(text)
            self.assertEqual((code, written), (2, False), text)
            self.assertIn("not an allocproof results file", err)

    def test_a_malformed_claims_file(self):
        doc = claims_doc()
        doc["claims"][0]["effect"] = "faster"
        code, err, written = self.run_main(json.dumps(results()), doc)
        self.assertEqual((code, written), (2, False))
        self.assertIn("unknown effect", err)


class TheClaimsFile(unittest.TestCase):
    def test_every_seed_id_is_there_and_the_literature_too(self):
        ids = {c["id"] for c in CLAIMS["claims"]}
        for claim_id in SEED_IDS:
            self.assertIn(claim_id, ids)
        brief = SOURCE.parent / "shared" / "CLAIMS.md"
        if brief.is_file():  # beside a checkout of the project: read the ids from the brief itself
            self.assertEqual(set(re.findall(r"^\| ([A-Z][0-9]-[0-9]+) \|", brief.read_text(), re.M)),
                             set(SEED_IDS))
        literature = {c["source"] for c in CLAIMS["claims"] if c.get("group") == "literature"}
        self.assertEqual(literature, {"BZM02", "BvK26"})

    def test_every_cell_a_claim_names_can_be_measured_by_this_build(self):
        listing = json.loads(subprocess.run([str(BUILD / "allocproof"), "list", "--json"], check=True,
                                            capture_output=True, text=True).stdout)
        serves = {w["name"]: set(w["strategies"]) for w in listing["workloads"]}
        external = {w["name"] for w in listing["external_workloads"]}
        for claim in CLAIMS["claims"]:
            for comparison in claim.get("comparisons", []):
                for side in ("candidate", "baseline"):
                    if side not in comparison:
                        continue
                    workload, strategy = comparison[side]["workload"], comparison[side]["strategy"]
                    if workload in external:
                        self.assertEqual(strategy, "as_installed")
                        continue
                    self.assertIn(workload, serves, f"{claim['id']}: unknown workload")
                    self.assertIn(strategy, serves[workload], f"{claim['id']}: {strategy} does not serve {workload}")


class OnARealRun(unittest.TestCase):
    """Every claim judged on a real run at the test scale: only the reasons below may leave a row
    without a verdict (the real databases are left out of this run to keep it short)."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        out = Path(cls.scratch.name) / "run"
        strategies = sorted({c[side]["strategy"] for claim in CLAIMS["claims"]
                             for c in claim.get("comparisons", []) for side in ("candidate", "baseline")
                             if side in c and c[side]["strategy"] != "as_installed"})
        workloads = sorted({c[side]["workload"].split(":")[0] for claim in CLAIMS["claims"]
                            for c in claim.get("comparisons", []) for side in ("candidate", "baseline")
                            if side in c and c[side]["strategy"] != "as_installed"})
        run = subprocess.run([str(BUILD / "allocproof"), "run", "--scale", "test", "--reps", "3",
                              "--allocators", "glibc,jemalloc", "--threads", "1,2",
                              "--workloads", ",".join(workloads), "--strategies", ",".join(strategies),
                              "--out", str(out)], capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr
        cls.verdicts = verdicts.evaluate(json.loads((out / "results.json").read_text()), CLAIMS, resamples=500)

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_every_claim_has_a_row_per_allocator_with_a_verdict_or_a_reason(self):
        allowed_reasons = ("rocksdb/", "sqlite/", "--dirty-heap", "not an effect size")
        by_claim = {}
        for claim in self.verdicts["claims"]:
            by_claim.setdefault(claim["id"], set()).update(r["allocator"] for r in claim["rows"])
            for row in claim["rows"]:
                self.assertIn(row["verdict"], ("holds", "partly", "refuted", "inconclusive", "no_verdict"))
                self.assertTrue(row["why"])
                if row["verdict"] == "no_verdict":
                    self.assertTrue(any(r in row["why"] for r in allowed_reasons) or
                                    any(c.get("not_measured") for c in CLAIMS["claims"] if c["id"] == claim["id"]),
                                    f"{claim['id']} {row['label']} {row['allocator']}: {row['why']}")
                else:
                    self.assertLessEqual(row["ci_low"], row["ci_high"])
        self.assertEqual(set(by_claim), {c["id"] for c in CLAIMS["claims"]})
        for claim_id, allocators in by_claim.items():
            if claim_id != "L3-4":  # compares allocators: its rows are jemalloc's
                self.assertEqual(allocators, {"glibc", "jemalloc"}, claim_id)

    def test_a2_8_says_the_seed_estimated_its_figure(self):
        a28 = next(c for c in self.verdicts["claims"] if c["id"] == "A2-8")
        self.assertIn("24 bytes", a28["seed_estimate"])
        self.assertTrue(all(r["verdict"] != "no_verdict" for r in a28["rows"]))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
