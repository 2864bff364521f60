#!/usr/bin/env python3
"""Tests of the claims evaluator (harness/report/verdicts.py) and of claims/claims.json.

    /usr/bin/python3 tests/test_verdicts.py SOURCE_DIR BUILD_DIR

The verdict rules and the intervals are tested on synthetic results; the claims file is checked
against what the build can measure (`allocproof list --json`) and judged on a real small run, so a
claim naming a cell that does not exist, or a metric no cell has, fails here.
"""
import copy
import json
import math
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
    base = {"id": "T-1", "level": "workload", "source": "s", "quote": "q", "claim": "c", "measure": "m", "metric": "ns_per_op",
            "effect": "speedup", "claimed": {"low": 2.0, "high": 3.0},
            "comparisons": [{"label": "w t1", "candidate": {"workload": "w", "strategy": "pool", "threads": 1},
                             "baseline": {"workload": "w", "strategy": "std", "threads": 1}}]}
    base.update(claim)
    return {"schema": "allocproof-claims/1", "sources": {"s": "a source"}, "claims": [base]}


def only_row(doc, res):
    out = verdicts.evaluate(res, doc)
    rows = out["claims"][0]["rows"]
    assert len(rows) == 1, rows
    return rows[0]


class Judge(unittest.TestCase):
    """Every cell of the verdict table of CLAIMS.md, for a claimed speed-up of 2x-3x (no effect: 1x)."""
    spec = {"unit": "x", "null": 1.0, "claimed_low": 2.0, "claimed_high": 3.0}

    def verdict(self, low, high, **spec):
        return verdicts.judge(low, high, {**self.spec, **spec})

    def word(self, low, high, **spec):
        return self.verdict(low, high, **spec)[0]

    def test_holds_within_the_range(self):
        self.assertEqual(self.word(2.0, 3.0), "holds")
        self.assertEqual(self.word(2.2, 2.4), "holds")
        self.assertEqual(self.word(2.2, 40.0, claimed_high=None), "holds")  # b open: a <= l suffices

    def test_exceeds_wholly_above_the_range_unless_its_top_is_a_limit(self):
        self.assertEqual(self.word(3.5, 4.0), "exceeds")
        self.assertEqual(self.word(3.5, 4.0, range_is_limit=True), "refuted")

    def test_partly_real_and_wholly_short(self):
        self.assertEqual(self.word(1.1, 1.6), "partly")

    def test_refuted_opposite_or_claimed_size_ruled_out(self):
        self.assertEqual(self.word(0.5, 0.9), "refuted")      # h < n
        self.assertEqual(self.word(0.9, 1.3), "refuted")      # l <= n and h < a
        self.assertIn("rules out", self.verdict(0.9, 1.3)[1])

    def test_inconclusive_says_between_which_two_words(self):
        cases = {(0.8, 2.5): ("refuted", "holds"), (1.5, 2.5): ("partly", "holds"),
                 (2.5, 3.5): ("holds", "exceeds"), (1.5, 3.5): ("partly", "exceeds"),
                 (0.8, 3.5): ("refuted", "exceeds")}
        for (low, high), (lower, upper) in cases.items():
            word, why = self.verdict(low, high)
            self.assertEqual(word, "inconclusive", (low, high))
            self.assertIn(f"between {lower} and {upper}", why, (low, high))

    def test_a_touching_interval_no_longer_holds(self):
        # Before: "holds" needed only the interval's top to reach the range (A2-5 held at 1.04x
        # against "faster than 1.05x"). Now the whole interval must lie in the range.
        self.assertEqual(self.word(0.99, 1.06, claimed_low=1.05, claimed_high=None), "inconclusive")

    def test_at_most_claims(self):
        at_most = {"claimed_low": None, "claimed_high": 1.05}
        self.assertEqual(self.word(0.98, 1.04, **at_most), "holds")
        self.assertEqual(self.word(1.06, 1.2, **at_most), "refuted")
        self.assertEqual(self.word(0.99, 1.2, **at_most), "inconclusive")


class Settling(unittest.TestCase):
    """What an inconclusive row says would settle it, from the measured spread."""

    def row_for(self, pool, std):
        doc = claims_doc(claimed={"low": 1.05, "high": None})
        return only_row(doc, results(cell("w", "pool", "glibc", 1, pool), cell("w", "std", "glibc", 1, std)))

    def test_an_effect_near_a_bound_names_the_repetitions_needed(self):
        # About 1.08x with 4% noise on 8 repetitions: the 1.05x bound is inside the interval.
        pool = [100, 104, 96, 102, 98, 101, 99, 103]
        std = [108, 112, 104, 110, 106, 109, 107, 111]
        row = self.row_for(pool, std)
        self.assertEqual(row["verdict"], "inconclusive")
        self.assertFalse(row["decided"])
        self.assertGreater(row["reps_needed"], 8)
        self.assertIn(f"about {row['reps_needed']} repetitions per cell", row["why"])

    def test_an_effect_on_the_bound_is_below_the_noise(self):
        pool = [100, 110, 90, 105, 95, 102, 98, 100]
        std = [105, 115.5, 94.5, 110.25, 99.75, 107.1, 102.9, 105]  # exactly 1.05x
        row = self.row_for(pool, std)
        self.assertEqual(row["verdict"], "inconclusive")
        self.assertIsNone(row["reps_needed"])
        self.assertIn("too close to a bound for this machine's noise", row["why"])

    def test_a_clear_effect_is_decided(self):
        row = self.row_for([50, 51, 49, 50.5, 49.5], [100, 102, 98, 101, 99])
        self.assertEqual(row["verdict"], "holds")
        self.assertTrue(row["decided"])


class Evaluate(unittest.TestCase):
    def test_the_estimate_is_the_ratio_of_trimmed_means_and_the_interval_holds_it(self):
        pool, std = [10, 10.2, 9.8, 10.1, 9.9], [25, 25.3, 24.7, 25.2, 24.8]
        res = results(cell("w", "pool", "glibc", 1, pool), cell("w", "std", "glibc", 1, std))
        row = only_row(claims_doc(), res)
        # 20% trimmed means of the logs: one value dropped at each end of five.
        import math
        trimmed = lambda v: math.exp(sum(sorted(math.log(x) for x in v)[1:-1]) / 3)  # noqa: E731
        self.assertAlmostEqual(row["estimate"], trimmed(std) / trimmed(pool))
        self.assertLess(row["ci_low"], row["estimate"])
        self.assertGreater(row["ci_high"], row["estimate"])
        self.assertEqual(row["verdict"], "holds")
        self.assertEqual(row["reps"], 5)
        self.assertEqual(row["cells"], ["w/pool/glibc/t1", "w/std/glibc/t1"])

    def test_the_interval_is_the_driver_s_own(self):
        # The same figures as `allocproof interval` gives, and as SciPy's Yuen test implies.
        from scipy import stats
        import math
        pool, std = [10, 14, 12, 11, 13, 12.5], [25, 20, 30, 24, 26, 40]
        row = only_row(claims_doc(claimed={"low": 1.05, "high": None}), results(
            cell("w", "pool", "glibc", 1, pool), cell("w", "std", "glibc", 1, std)))
        lp, ls = [math.log(v) for v in pool], [math.log(v) for v in std]
        yuen = stats.ttest_ind(ls, lp, equal_var=False, trim=0.2)
        estimate = math.log(row["estimate"])
        half = math.log(row["ci_high"]) - estimate
        # The interval's half-width is t(0.975, df) * se, and estimate / se is SciPy's statistic.
        se = estimate / yuen.statistic
        df = self._df_from_p(yuen.statistic, yuen.pvalue)  # SciPy gives p, which fixes the df
        self.assertAlmostEqual(half, stats.t.ppf(0.975, df) * se, places=6)

    @staticmethod
    def _df_from_p(statistic, p):
        from scipy import optimize, stats
        return optimize.brentq(lambda df: 2 * stats.t.sf(abs(statistic), df) - p, 0.5, 1e4, xtol=1e-12)

    def test_counts_fixed_by_construction_are_one_row(self):
        cells = []
        for allocator in ("glibc", "jemalloc", "mimalloc"):
            cells += [cell("w", "pool", allocator, 1, [0.5] * 5, "alloc_calls_per_op"),
                      cell("w", "std", allocator, 1, [2.0] * 5, "alloc_calls_per_op")]
        doc = claims_doc(metric="alloc_calls_per_op", effect="reduction", claimed={"low": 0.4, "high": 0.6})
        out = verdicts.evaluate(results(*cells), doc)
        rows = out["claims"][0]["rows"]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["allocator"], "all")
        self.assertTrue(rows[0]["by_construction"])
        self.assertIn("by construction", rows[0]["why"])
        self.assertEqual(out["counts"]["exceeds"], 1)  # 75% against 40-60%, counted once
        self.assertEqual(len(rows[0]["cells"]), 6)

    def test_a_count_of_zero_is_an_exact_reduction(self):
        doc = claims_doc(metric="alloc_calls_per_op", effect="reduction", claimed={"low": 0.4, "high": None})
        res = results(cell("w", "pool", "glibc", 1, [0.0] * 4, "alloc_calls_per_op"),
                      cell("w", "std", "glibc", 1, [2.0] * 4, "alloc_calls_per_op"))
        row = only_row(doc, res)
        self.assertAlmostEqual(row["estimate"], 100.0)
        self.assertEqual(row["verdict"], "holds")

    def test_a_reduction_is_in_percent_with_its_claimed_range(self):
        doc = claims_doc(metric="alloc_calls_per_op", effect="reduction", claimed={"low": 0.4, "high": 0.6})
        res = results(cell("w", "pool", "glibc", 1, [1.0, 1.02, 0.98, 1.01], "alloc_calls_per_op"),
                      cell("w", "std", "glibc", 1, [2.0, 2.02, 1.98, 2.01], "alloc_calls_per_op"))
        out = verdicts.evaluate(res, doc)
        self.assertEqual(out["claims"][0]["effect"]["claimed_low"], 40.0)
        row = out["claims"][0]["rows"][0]
        self.assertAlmostEqual(row["estimate"], 50.0, delta=0.5)
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

    def test_a_strategy_wrong_elsewhere_gives_no_verdict_here(self):
        # Its cell on `w` is ok, but the same code computed a wrong result on `v`: not trusted here either.
        res = results(cell("w", "pool", "glibc", 1, [10, 10.2, 9.8]), cell("w", "std", "glibc", 1, [25, 25.3, 24.7]),
                      cell("v", "pool", "glibc", 1, [], status="invalid", reason="digest differs"))
        row = only_row(claims_doc(), res)
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIn("`pool` was invalid in 1 cell elsewhere in this run", row["why"])
        self.assertIsNone(row["estimate"])

    def test_a_strategy_that_failed_elsewhere_is_judged_and_the_failure_said(self):
        res = results(cell("w", "pool", "glibc", 1, [10, 10.2, 9.8]), cell("w", "std", "glibc", 1, [25, 25.3, 24.7]),
                      cell("v", "pool", "glibc", 1, [], status="failed", reason="crashed"))
        row = only_row(claims_doc(), res)
        self.assertNotEqual(row["verdict"], "no_verdict")
        self.assertIn("Note: `pool` failed in 1 cell elsewhere in this run.", row["why"])

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
        rows = verdicts.evaluate(results(*cells), doc)["claims"][0]["rows"]
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
        rows = verdicts.evaluate(res, claims_doc())["claims"][0]["rows"]
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


def micro_file(folder: Path, allocator: str, values: dict) -> None:
    """A micro suite claims file as harness/micro_suite.py writes it: Google Benchmark's iteration
    records (items per second), one per pair and process."""
    records = [{"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1, "repetition_index": 0,
                "iterations": 1000, "real_time": ns, "cpu_time": ns, "time_unit": "ns",
                "items_per_second": 1e9 / ns, "process": k}
               for name, per_process in values.items() for k, ns in enumerate(per_process)]
    (folder / "micro" / "claims").mkdir(parents=True, exist_ok=True)
    (folder / "micro" / "claims" / f"{allocator}.json").write_text(json.dumps(
        {"context": {"allocator": allocator}, "processes": 6, "benchmarks": records}))


class OperationLevel(unittest.TestCase):
    """A claim judged on the micro suite's pairs (claims/README.md, Levels), with the whole
    workload's effect beside it."""
    pool = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0]
    std = [8.0, 8.4, 7.6, 8.2, 7.8, 8.0]

    def doc(self, **claim):
        base = dict(level="operation", claimed={"low": 4.0, "high": 10.0},
                    comparisons=[{"label": "one_live/64", "candidate": {"micro": "one_live/pool/64"},
                                  "baseline": {"micro": "one_live/std/64"}}],
                    context=[{"label": "w t1", "candidate": {"workload": "w", "strategy": "pool", "threads": 1},
                              "baseline": {"workload": "w", "strategy": "std", "threads": 1}}])
        base.update(claim)
        return claims_doc(**base)

    def test_judged_from_a_micro_suite_file_with_the_workload_beside(self):
        with tempfile.TemporaryDirectory() as scratch:
            run = Path(scratch)
            micro_file(run, "glibc", {"one_live/pool/64": self.pool, "one_live/std/64": self.std})
            res = results(cell("w", "pool", "glibc", 1, [90, 92, 88, 91, 89]),
                          cell("w", "std", "glibc", 1, [100, 103, 97, 101, 99]))
            (run / "results.json").write_text(json.dumps(res))
            claims = run / "claims.json"
            claims.write_text(json.dumps(self.doc()))
            self.assertEqual(verdicts.main([str(run), "--claims", str(claims), "--quiet"]), 0)
            out = json.loads((run / "verdicts.json").read_text())
        claim = out["claims"][0]
        self.assertEqual(claim["level"], "operation")
        row = claim["rows"][0]
        trimmed = lambda v: math.exp(sum(sorted(math.log(x) for x in v)[1:-1]) / 4)  # noqa: E731
        self.assertAlmostEqual(row["estimate"], trimmed(self.std) / trimmed(self.pool))
        self.assertEqual(row["verdict"], "holds")
        self.assertEqual(row["reps"], 6)
        self.assertEqual(row["cells"], ["micro:one_live/pool/64/glibc", "micro:one_live/std/64/glibc"])
        # Beside it, the same effect on whole operations: about 1.1x, far from the pair's 8x.
        (context,) = row["context"]
        self.assertEqual(context["label"], "w t1")
        self.assertEqual(context["cells"], ["w/pool/glibc/t1", "w/std/glibc/t1"])
        self.assertAlmostEqual(context["estimate"], 100 / 90, delta=0.02)
        self.assertEqual(context["verdict"], "partly")  # a real effect, wholly short of 4x
        self.assertIn("On whole workload operations: w t1 1.11x", row["why"])

    def test_a_pair_the_micro_suite_did_not_measure_is_named(self):
        res = results(cell("w", "pool", "glibc", 1, [1, 1.1]), cell("w", "std", "glibc", 1, [2, 2.1]))
        row = only_row(self.doc(), res)  # no micro suite at all
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIn("the micro suite's claims pass has no one_live/pool/64 on glibc", row["why"])
        self.assertIn("On whole workload operations: w t1", row["why"])

    def test_a_machine_the_micro_suite_did_not_run_on_gets_no_verdict(self):
        res = results(cell("w", "pool", "glibc", 1, [1, 1.1]), cell("w", "std", "glibc", 1, [2, 2.1]))
        res["machines"] = [{"cpu_model": "A"}, {"cpu_model": "B"}]
        micro = {"glibc": {"one_live/pool/64": self.pool, "one_live/std/64": self.std}}
        rows = verdicts.evaluate(res, self.doc(context=[]), micro=micro)["claims"][0]["rows"]
        self.assertEqual([r["verdict"] for r in rows], ["holds", "no_verdict"])
        self.assertIn("the micro suite ran on machine 0 only", rows[1]["why"])

    def test_levels_and_sides_are_checked(self):
        for bad in (dict(level="everywhere"),
                    dict(comparisons=[{"label": "x", "candidate": {"workload": "w", "strategy": "pool", "threads": 1},
                                       "baseline": {"micro": "one_live/std/64"}}]),
                    dict(comparisons=[{"label": "x", "candidate": {"micro": "one_live"},
                                       "baseline": {"micro": "one_live/std/64"}}]),
                    dict(context=[{"label": "x", "candidate": {"micro": "one_live/pool/64"},
                                   "baseline": {"micro": "one_live/std/64"}}]),
                    dict(level="tests")):
            with self.assertRaises(verdicts.ClaimsError, msg=bad):
                verdicts.evaluate(results(), self.doc(**bad))
        doc = claims_doc(not_measured="a functional claim", level="workload")
        with self.assertRaises(verdicts.ClaimsError):
            verdicts.evaluate(results(), doc)


class AllocationLevel(unittest.TestCase):
    """A claim judged on the instruction pass's counts (results/SCHEMA.md §6b): one exact count per
    cell, with the cells' time beside it."""

    @staticmethod
    def counted(workload, strategy, allocation, times):
        c = cell(workload, strategy, "glibc", 1, times)
        c["instructions"] = {"tool": "callgrind", "ops": 1000, "per_op": allocation + 200.0,
                             "allocation_per_op": allocation, "other_per_op": 200.0,
                             "allocation_share": allocation / (allocation + 200.0)}
        return c

    def doc(self):
        return claims_doc(level="allocation", metric="allocation_instructions_per_op", effect="reduction",
                          claimed={"low": 0.5, "high": 0.7}, context_metric="ns_per_op",
                          context=claims_doc()["claims"][0]["comparisons"])

    def test_an_exact_reduction_with_the_time_beside_it(self):
        res = results(self.counted("w", "pool", 10.0, [90, 92, 88]), self.counted("w", "std", 100.0, [100, 101, 99]))
        row = only_row(self.doc(), res)
        self.assertEqual(row["verdict"], "exceeds")  # 90% fewer instructions, past 70%
        self.assertAlmostEqual(row["estimate"], 90.0)
        self.assertEqual((row["ci_low"], row["ci_high"]), (row["estimate"], row["estimate"]))
        self.assertIn("exact figure", row["why"])
        self.assertIn("Beside it, ns_per_op of the same cells: w t1", row["why"])
        self.assertIn("allocation's share of the instructions: pool 5%, std 33%", row["why"])
        self.assertEqual(row["context"][0]["allocation_share"], [{"cell": "w/pool/glibc/t1", "share": 10 / 210},
                                                                  {"cell": "w/std/glibc/t1", "share": 100 / 300}])

    def test_a_cell_the_pass_did_not_count_or_could_not_is_named(self):
        uncounted = cell("w", "pool", "glibc", 1, [90, 92])
        row = only_row(self.doc(), results(uncounted, self.counted("w", "std", 100.0, [100, 101])))
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIn("w/pool/glibc/t1 has no instruction count", row["why"])
        uncounted["instructions"] = {"tool": "callgrind", "ops": 1000, "error": "computed digest 1 where std computed 2"}
        row = only_row(self.doc(), results(uncounted, self.counted("w", "std", 100.0, [100, 101])))
        self.assertIn("the instruction pass failed (computed digest 1 where std computed 2)", row["why"])


class MostThreads(unittest.TestCase):
    """threads "most": each machine's most threads without oversubscription; "min_threads" keeps a
    claim about many threads from a verdict on a machine that cannot run them (L3-10)."""

    def test_each_machine_at_its_most_threads_and_judged_only_from_min_threads(self):
        def side(strategy):
            return {"workload": "w", "strategy": strategy, "threads": "most"}
        doc = claims_doc(claimed={"low": 1.05, "high": None}, min_threads=4,
                         comparisons=[{"label": "w", "candidate": side("pool"), "baseline": side("std")}])
        cells = []
        for machine, counts in ((0, (1, 2)), (1, (1, 2, 8, 16))):
            for t in counts:
                for strategy, values in (("pool", [10, 10.5, 9.5]), ("std", [20, 21, 19])):
                    c = cell("w", strategy, "glibc", t, values)
                    c["machine"], c["id"] = machine, f"m{machine}/" + c["id"]
                    cells.append(c)
        res = results(*cells)
        res["machines"] = [{"cpu_model": "small", "logical_cpus": 2}, {"cpu_model": "big", "logical_cpus": 8}]
        rows = verdicts.evaluate(res, doc)["claims"][0]["rows"]
        small, big = rows
        self.assertEqual(small["label"], "w t2")
        self.assertEqual(small["verdict"], "no_verdict")
        self.assertIn("measured at 2 threads, the most this machine (2 CPUs) runs", small["why"])
        self.assertIn("would read holds", small["why"])
        self.assertEqual(big["label"], "w t8")  # 16 would be oversubscribed on 8 CPUs
        self.assertEqual(big["verdict"], "holds")
        self.assertEqual(big["cells"], ["m1/w/pool/glibc/t8", "m1/w/std/glibc/t8"])


class RealProgramSizes(unittest.TestCase):
    def test_a_memory_claim_on_databases_too_small_shows_its_figure_and_no_verdict(self):
        doc = claims_doc(effect="reduction", claimed={"low": 0.1, "high": 0.2}, metric="rss_peak_bytes",
                         requires={"real_program_sizes": "full"}, size_note="the data fits in a memtable")
        res = results(cell("w", "pool", "glibc", 1, [50, 51, 49], metric="rss_peak_bytes"),
                      cell("w", "std", "glibc", 1, [100, 101, 99], metric="rss_peak_bytes"))
        row = only_row(doc, res)
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIn("ran at their default sizes, which cannot show this claim: the data fits in a memtable", row["why"])
        self.assertIn("would read exceeds. A run at their full sizes would judge it", row["why"])
        res["plan"]["request"]["real_program_sizes"] = "full"
        self.assertEqual(only_row(doc, res)["verdict"], "exceeds")

    @staticmethod
    def program(strategy, held_mib, idle_mib):
        """A cell whose repetitions hold `held_mib` of data over an idle footprint of `idle_mib`."""
        c = cell("w", strategy, "glibc", 1, held_mib, metric="rss_steady_over_idle_bytes")
        for rep, held in zip(c["repetitions"], held_mib):
            rep["metrics"] = {"rss_steady_over_idle_bytes": held * 2**20, "rss_idle_bytes": idle_mib * 2**20}
        return c

    def memory_claim(self):
        return claims_doc(effect="reduction", claimed={"low": 0.1, "high": 0.2}, metric="rss_steady_over_idle_bytes",
                          requires={"real_program_sizes": "full"}, min_over_footprint=3)

    def test_data_less_than_a_few_times_the_footprint_gets_no_verdict_saying_why(self):
        res = results(self.program("pool", [25, 25.5, 24.5], 10), self.program("std", [100, 101, 99], 10))
        res["plan"]["request"]["real_program_sizes"] = "full"
        row = only_row(self.memory_claim(), res)
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIsNone(row["estimate"])
        # Only the side below 3 times its footprint is named; the figure is still said.
        self.assertIn("w/pool/glibc/t1 holds 25.0 MiB over an idle footprint of 10.0 MiB, less than 3 times it",
                      row["why"])
        self.assertNotIn("w/std/glibc/t1 holds", row["why"])
        self.assertIn("would read exceeds", row["why"])
        self.assertIn("Data at least 3 times the idle footprint", row["why"])

    def test_data_several_times_the_footprint_is_judged(self):
        res = results(self.program("pool", [85, 86, 84], 10), self.program("std", [100, 101, 99], 10))
        res["plan"]["request"]["real_program_sizes"] = "full"
        self.assertEqual(only_row(self.memory_claim(), res)["verdict"], "holds")

    def test_a_cell_that_fell_back_to_its_default_scale_is_not_judged_at_full(self):
        res = results(self.program("pool", [85, 86, 84], 10), self.program("std", [100, 101, 99], 10))
        res["plan"]["request"]["real_program_sizes"] = "full"
        res["cells"][0]["params"] = {"scale": "default"}
        res["cells"][1]["params"] = {"scale": "full"}
        row = only_row(self.memory_claim(), res)
        self.assertEqual(row["verdict"], "no_verdict")
        self.assertIn("asked for the real programs' full sizes, but w/pool/glibc/t1 ran at its default scale", row["why"])

    def test_a_bad_factor_is_refused(self):
        with self.assertRaises(verdicts.ClaimsError):
            verdicts.evaluate(results(), claims_doc(min_over_footprint="three"))


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
        for text in ("{}", "[]", '{"tool": "allocproof", "cells": []}', '{"tool": "allocproof", "schema_version": 1}'):
            code, err, written = self.run_main(text)
            self.assertEqual((code, written), (2, False), text)
            self.assertIn("not an allocproof results file", err)

    def test_a_results_file_of_another_schema_version(self):
        # The version read is the driver's own: results/schema_version, which CMake compiles in.
        supported = int((SOURCE / "results" / "schema_version").read_text())
        self.assertEqual(verdicts.RESULTS_SCHEMA_VERSION, supported)
        for version in (supported + 1, 0, f'"{supported}"', "true", f"{supported}.0"):
            code, err, written = self.run_main(f'{{"tool": "allocproof", "schema_version": {version}, "cells": []}}')
            self.assertEqual((code, written), (2, False), version)
            self.assertIn(f"results.json has schema_version {version}, this report reads schema_version {supported}",
                          err)
            self.assertEqual(err.count("\n"), 1, err)

    def test_a_malformed_claims_file(self):
        doc = claims_doc()
        doc["claims"][0]["effect"] = "faster"
        code, err, written = self.run_main(json.dumps(results()), doc)
        self.assertEqual((code, written), (2, False))
        self.assertIn("unknown effect", err)


    def test_a_contrast_beyond_a_floats_exponent_is_not_judged_rather_than_a_crash(self):
        # Found by fuzz_claims: a log contrast past 709 made math.exp overflow and the evaluator fail.
        for kind, higher in (("speedup", "ns_per_op"), ("speedup", "ops_per_sec"), ("reduction", "ns_per_op"),
                             ("ratio", "ns_per_op")):
            effect = verdicts.Effect({"effect": kind, "metric": higher}, {"scale": 1.0})
            low, high = effect.interval(-1e4, 1e4)  # raised OverflowError before
            self.assertLessEqual(low, high)
            # An end at 0 or infinity, which rows_for reports as "not judged".
            self.assertFalse(math.isfinite(low) and math.isfinite(high) and low > 0, (kind, higher, low, high))


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

    def test_every_entry_says_the_level_it_is_judged_at(self):
        verdicts.check_claims(CLAIMS)  # refuses an entry without one
        readme = (SOURCE / "claims" / "README.md").read_text()
        for level in verdicts.LEVELS:
            self.assertIn(f"`{level}`", readme)
        operation = {c["id"] for c in CLAIMS["claims"] if c["level"] == "operation"}
        self.assertEqual(operation, {"A2-2", "A2-7", "P1-2", "P1-4", "R4-4"})
        allocation = {c["id"] for c in CLAIMS["claims"] if c["level"] == "allocation"}
        self.assertEqual(allocation, {"A2-1", "A2-8", "P1-4"})
        for claim in CLAIMS["claims"]:
            if claim["level"] == "operation" and claim["effect"] != "absolute":
                self.assertTrue(claim.get("context"), f"{claim['id']}: no whole-workload figure beside it")

    def test_every_cell_a_claim_names_can_be_measured_by_this_build(self):
        listing = json.loads(subprocess.run([str(BUILD / "allocproof"), "list", "--json"], check=True,
                                            capture_output=True, text=True).stdout)
        serves = {w["name"]: set(w["strategies"]) for w in listing["workloads"]}
        external = {w["name"] for w in listing["external_workloads"]}
        pairs = set(subprocess.run([str(BUILD / "allocproof-micro-glibc"), "--benchmark_list_tests"], check=True,
                                   capture_output=True, text=True).stdout.split())
        for claim in CLAIMS["claims"]:
            for comparison in claim.get("comparisons", []) + claim.get("context", []):
                for side in ("candidate", "baseline"):
                    if side not in comparison:
                        continue
                    if "micro" in comparison[side]:
                        self.assertIn(comparison[side]["micro"], pairs, f"{claim['id']}: not in the micro suite")
                        continue
                    workload, strategy = comparison[side]["workload"], comparison[side]["strategy"]
                    if workload in external:
                        self.assertEqual(strategy, "as_installed")
                        continue
                    self.assertIn(workload, serves, f"{claim['id']}: unknown workload")
                    self.assertIn(strategy, serves[workload], f"{claim['id']}: {strategy} does not serve {workload}")


class Agreement(unittest.TestCase):
    """harness/report/agreement.py: two runs' verdicts, row by row."""

    @staticmethod
    def doc(*words):
        rows = [{"label": f"row {i}", "allocator": "glibc", "machine": 0, "verdict": w, "estimate": 1.0}
                for i, w in enumerate(words)]
        return {"schema": "allocproof-verdicts/2", "claims": [{"id": "T-1", "part": None, "rows": rows}]}

    def test_counts_agreement_among_rows_decided_in_both_and_flags_flips(self):
        import agreement
        a = self.doc("holds", "holds", "refuted", "inconclusive", "partly", "exceeds")
        b = self.doc("holds", "refuted", "refuted", "holds", "holds", "exceeds")
        result = agreement.compare(a, b)
        self.assertEqual(result["rows_in_both"], 6)
        self.assertEqual(result["decided_in_both"], 5)  # row 3 was inconclusive in A
        self.assertEqual(result["agree"], 3)
        self.assertEqual([c["label"] for c in result["changed"]], ["row 1", "row 3", "row 4"])
        self.assertEqual([c["label"] for c in result["flips"]], ["row 1"])  # holds -> refuted

    def test_the_command_line(self):
        with tempfile.TemporaryDirectory() as scratch:
            a, b = Path(scratch) / "a.json", Path(scratch) / "b.json"
            a.write_text(json.dumps(self.doc("holds", "refuted")))
            b.write_text(json.dumps(self.doc("refuted", "refuted")))
            script = str(SOURCE / "harness" / "report" / "agreement.py")
            run = subprocess.run(["/usr/bin/python3", script, str(a), str(b), "--fail-on-flip"],
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, 1)
            self.assertIn("decided in both: 2; the same word: 1 (50.0%)", run.stdout)
            self.assertIn("FLIP", run.stdout)
            bad = subprocess.run(["/usr/bin/python3", script, str(a), str(Path(scratch) / "none.json")],
                                 capture_output=True, text=True)
            self.assertEqual(bad.returncode, 2)
            self.assertIn("not a readable verdicts file", bad.stderr)


class Reference(unittest.TestCase):
    def test_the_committed_reference_reproduces_its_verdicts(self):
        """results/reference/verdicts.json is what the evaluator makes of the committed results,
        row by row: nothing in the report depends on anything that was not committed."""
        reference = SOURCE / "results" / "reference"
        committed = json.loads((reference / "verdicts.json").read_text())
        again = verdicts.evaluate(verdicts.load_results(reference / "results.json.gz"), CLAIMS, "results.json.gz",
                                  micro=verdicts.load_micro(reference))
        self.assertEqual(again["counts"], committed["counts"])
        for claim_again, claim_committed in zip(again["claims"], committed["claims"]):
            for row_again, row_committed in zip(claim_again["rows"], claim_committed["rows"]):
                for key in ("label", "allocator", "verdict", "why", "cells"):
                    self.assertEqual(row_again[key], row_committed[key], (claim_again["id"], key))
                for key in ("estimate", "ci_low", "ci_high"):
                    if row_committed[key] is None:
                        self.assertIsNone(row_again[key])
                    else:
                        self.assertAlmostEqual(row_again[key], row_committed[key], places=9)


class OnARealRun(unittest.TestCase):
    """Every claim judged on a real run at the test scale: only the reasons below may leave a row
    without a verdict (the real databases are left out of this run to keep it short)."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        out = Path(cls.scratch.name) / "run"
        sides = [c[side] for claim in CLAIMS["claims"] for c in claim.get("comparisons", []) + claim.get("context", [])
                 for side in ("candidate", "baseline") if side in c]
        cells = [s for s in sides if "workload" in s and s["strategy"] != "as_installed"]
        strategies = sorted({s["strategy"] for s in cells})
        workloads = sorted({s["workload"].split(":")[0] for s in cells})
        run = subprocess.run([str(BUILD / "allocproof"), "run", "--scale", "test", "--reps", "3",
                              "--allocators", "glibc,jemalloc", "--threads", "1,2",
                              "--workloads", ",".join(workloads), "--strategies", ",".join(strategies),
                              "--out", str(out)], capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr
        # The operation-level claims' pairs, as run_all.sh's micro suite measures them (3 processes).
        sys.path.insert(0, str(SOURCE / "harness"))
        import micro_suite
        pairs = micro_suite.claim_benchmarks(SOURCE / "claims" / "claims.json")
        for allocator in ("glibc", "jemalloc"):
            assert micro_suite.claims_pass(str(BUILD), allocator, str(out / "micro"), pairs, 3, 0.002)
        # The instruction pass, as run_all.sh runs it, on the cells whose counts the claims read.
        counted = subprocess.run([str(BUILD / "allocproof"), "instructions", str(out), "--claims",
                                  str(SOURCE / "claims" / "claims.json"), "--ops", "2000"],
                                 capture_output=True, text=True, timeout=900)
        assert counted.returncode == 0, counted.stderr + counted.stdout
        cls.results = json.loads((out / "results.json").read_text())
        cls.micro = verdicts.load_micro(out)
        cls.verdicts = verdicts.evaluate(cls.results, CLAIMS, micro=cls.micro)

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_every_claim_has_a_row_per_allocator_with_a_verdict_or_a_reason(self):
        allowed_reasons = ("rocksdb/", "sqlite/", "--dirty-heap", "not an effect size")
        import os
        if (os.cpu_count() or 1) < 4:  # many threads (L3-10) cannot be judged on this machine
            allowed_reasons += ("runs without oversubscription; the claim speaks of many threads",)
        by_claim = {}
        for claim in self.verdicts["claims"]:
            by_claim.setdefault(claim["id"], set()).update(r["allocator"] for r in claim["rows"])
            for row in claim["rows"]:
                self.assertIn(row["verdict"], verdicts.VERDICT_WORDS)
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
                # "all": a count fixed by construction, one row for every allocator.
                self.assertTrue(allocators == {"glibc", "jemalloc"} or "all" in allocators and
                                allocators <= {"glibc", "jemalloc", "all"}, (claim_id, allocators))

    def test_every_repetition_carries_exactly_the_catalogue_s_metrics(self):
        """results/metrics.json is the one list: the driver derives each model metric under its name."""
        model = {m["name"] for m in verdicts.CATALOGUE if m["of"] == "model"}
        for cell in self.results["cells"]:
            for rep in cell["repetitions"]:
                if rep["status"] == "ok":
                    self.assertEqual(set(rep["metrics"]), model, cell["id"])
            self.assertEqual(set(cell["metrics"]), model, cell["id"])

    def test_the_memory_claims_are_judged_from_metrics_alone(self):
        """With the raw records gone, the memory rows still have their values (issue: the committed
        reference dropped raw records and its memory rows lost their verdicts)."""
        stripped = copy.deepcopy(self.results)
        for cell in stripped["cells"]:
            for rep in cell["repetitions"]:
                rep["raw"] = None
        again = verdicts.evaluate(stripped, CLAIMS, micro=self.micro)
        for before, after in zip(self.verdicts["claims"], again["claims"]):
            self.assertEqual([r["verdict"] for r in before["rows"]], [r["verdict"] for r in after["rows"]], before["id"])
        memory = [c for c in again["claims"] if c.get("effect") and c["rows"] and
                  next(x for x in CLAIMS["claims"] if x["id"] == c["id"] and x.get("part") == c.get("part"))["metric"]
                  in ("memory_held_bytes", "churn_growth")]
        self.assertTrue(memory)
        self.assertTrue(all(r["verdict"] != "no_verdict" for c in memory for r in c["rows"]
                            if "--dirty-heap" not in r["why"]))

    def test_a2_8_says_the_seed_estimated_its_figure(self):
        a28 = next(c for c in self.verdicts["claims"] if c["id"] == "A2-8")
        self.assertIn("24 bytes", a28["document_estimate"])
        self.assertTrue(all(r["verdict"] != "no_verdict" for r in a28["rows"]))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
