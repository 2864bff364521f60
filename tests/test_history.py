"""The history of runs across commits (harness/report/history.py), built from synthetic runs whose
changes are planted: a verdict that flips at one commit, a strategy whose ratio leaves its interval
at another, and a second machine kind that must stay apart. The site is checked as a person sees
it, in headless Chromium, as the report is (test_report.py).

Usage: test_history.py SOURCE_DIR BUILD_DIR
"""
import gzip
import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SOURCE / "harness" / "report"))
import history  # noqa: E402

HISTORY = SOURCE / "harness" / "report" / "history.py"
SCHEMA_VERSION = int((SOURCE / "results" / "schema_version").read_text())
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def cell(workload: str, strategy: str, ratio: float | None, width: float = 0.05) -> dict:
    return {"id": f"{workload}/{strategy}/glibc/t1", "workload": workload, "strategy": strategy,
            "allocator": "glibc", "threads": 1, "status": "ok", "repetitions": [],
            "params": {"ops_per_thread": 1000, "working_set": 10, "warmup_ops": 0, "seed": 42},
            "metrics": {"ns_per_op": {"median": 10 * (ratio or 1.0), "n": 5}},
            "ratio_to_std": None if ratio is None else
            {"ns_per_op": {"estimate": ratio, "ci_low": ratio * (1 - width), "ci_high": ratio * (1 + width)}}}


def write_run(folder: Path, commit: str, time: str, cpu: str, verdict: str, pool_ratio: float) -> Path:
    folder.mkdir(parents=True)
    results = {"tool": "allocproof", "schema_version": SCHEMA_VERSION, "status": "complete",
               "environment": {"git_commit": commit, "time": time, "cpu_model": cpu, "logical_cpus": 2},
               "plan": {"request": {"seed": 42, "scale": "default", "measure": "time"}},
               "cells": [cell("node_churn", "std", None), cell("node_churn", "fixed_pool", pool_ratio),
                         cell("graph", "std", None), cell("graph", "fixed_pool", pool_ratio),
                         cell("graph", "arena", 0.5)]}
    estimate = 1.6 if verdict == "holds" else 1.0
    verdicts = {"claims": [{"id": "A2-1", "part": "time", "effect": {"unit": "x"}, "rows": [
        {"allocator": "glibc", "label": "node_churn t1", "machine": 0, "verdict": verdict, "estimate": estimate,
         "ci_low": estimate - 0.1, "ci_high": estimate + 0.1},
        {"allocator": "glibc", "label": "graph t1", "machine": 0, "verdict": "inconclusive", "estimate": 1.1,
         "ci_low": 0.9, "ci_high": 1.3}]}]}
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "verdicts.json").write_text(json.dumps(verdicts))
    return folder


# Five commits on a CI runner; the claim flips from holds to refuted at c3, and fixed_pool's ratio
# leaves its interval at c4. A laptop ran two of the commits, with the claim refuted throughout.
RUNNER = [("c1" * 20, "holds", 0.60), ("c2" * 20, "holds", 0.61), ("c3" * 20, "refuted", 0.60),
          ("c4" * 20, "refuted", 0.90), ("c5" * 20, "refuted", 0.91)]
LAPTOP = [("c2" * 20, "refuted", 0.70), ("c4" * 20, "refuted", 0.70)]


class History(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        root = Path(cls.scratch.name)
        cls.history = root / "history"
        for name, cpu, runs, hour in (("runner", "CI runner", RUNNER, 10), ("laptop", "Laptop CPU", LAPTOP, 12)):
            for i, (commit, verdict, ratio) in enumerate(runs):
                day = i + 1 if name == "runner" else 2 * i + 2
                run = write_run(root / f"{name}-{i}", commit, f"2026-12-0{day}T{hour}:00:00Z", cpu, verdict, ratio)
                history.append(cls.history, run, None)
        cls.site = root / "site"
        report = root / "report.html"
        report.write_text("<!DOCTYPE html><title>latest</title>")
        made = subprocess.run(["/usr/bin/python3", str(HISTORY), "site", str(cls.history), str(cls.site),
                               "--latest-report", str(report)], capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        cls.page = (cls.site / "index.html").read_text()

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_each_run_is_an_entry_in_time_order_and_each_machine_kind_apart(self):
        index = json.loads((self.history / "index.json").read_text())
        self.assertEqual(len(index["entries"]), 7)
        times = [e["time"] for e in index["entries"]]
        self.assertEqual(times, sorted(times))
        by_kind = history.series(self.history)
        self.assertEqual(sorted(by_kind), [("CI runner, 2 CPUs", "time"), ("Laptop CPU, 2 CPUs", "time")])
        self.assertEqual([r["commit"] for r in by_kind[("CI runner, 2 CPUs", "time")]], [c for c, _, _ in RUNNER])

    def test_the_planted_verdict_change_is_found_at_its_commit_and_nowhere_else(self):
        runner = history.series(self.history)[("CI runner, 2 CPUs", "time")]
        changes = history.verdict_changes(runner)
        self.assertEqual(len(changes), 1)
        self.assertEqual(changes[0]["commit"], "c3" * 20)
        self.assertEqual((changes[0]["before"], changes[0]["after"]), ("holds", "refuted"))
        # The laptop refuted it all along: its own history has no change, and the runner's flip is
        # not read across machines.
        self.assertEqual(history.verdict_changes(history.series(self.history)[("Laptop CPU, 2 CPUs", "time")]), [])

    def test_the_planted_ratio_step_is_a_change_point(self):
        runner = history.series(self.history)[("CI runner, 2 CPUs", "time")]
        moved = history.ratio_changes(runner, counted=False)
        self.assertEqual([(m["strategy"], m["commit"]) for m in moved], [("fixed_pool", "c4" * 20)])

    def test_the_site_shows_the_change_at_its_commit(self):
        rows = re.findall(r"<tr>(.*?)</tr>", self.page)
        flips = [r for r in rows if "<code>c3c3c3c</code>" in r and "holds" in r and "refuted" in r]
        self.assertEqual(len(flips), 1, rows)
        self.assertIn("A2-1 (time)", flips[0])
        self.assertIn("node_churn t1", flips[0])
        self.assertEqual(self.page.count("CI runner, 2 CPUs: time"), 1)
        self.assertEqual(self.page.count("Laptop CPU, 2 CPUs: time"), 1)
        self.assertTrue((self.site / "report.html").is_file())

    def test_the_same_commit_again_replaces_its_entry(self):
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "history"
            shutil.copytree(self.history, copy)
            run = write_run(Path(scratch) / "again", "c5" * 20, "2026-12-06T10:00:00Z", "CI runner", "holds", 0.9)
            history.append(copy, run, None)
            runner = history.series(copy)[("CI runner, 2 CPUs", "time")]
            self.assertEqual([r["commit"] for r in runner], [c for c, _, _ in RUNNER])
            self.assertEqual(runner[-1]["verdicts"][0]["verdict"], "holds")
            self.assertEqual(len(list((copy / "runs").iterdir())), 7)

    def test_a_counted_run_is_kept_whole_as_the_gates_baseline(self):
        with tempfile.TemporaryDirectory() as scratch:
            run = write_run(Path(scratch) / "counted", "c6" * 20, "2026-12-07T10:00:00Z", "CI runner", "holds", 0.9)
            results = json.loads((run / "results.json").read_text())
            results["plan"]["request"]["measure"] = "instructions"
            (run / "results.json").write_text(json.dumps(results))
            history.append(Path(scratch) / "h", run, None)
            kept = Path(scratch) / "h" / "latest" / history.LATEST_COUNTED
            self.assertEqual(json.loads(gzip.decompress(kept.read_bytes())), results)
            self.assertEqual(list(history.series(Path(scratch) / "h")), [("CI runner, 2 CPUs", "instructions")])
            # The micro suite's counted run (count-micro) is its own series and its own baseline.
            results["plan"]["request"]["measure"] = "micro_instructions"
            (run / "results.json").write_text(json.dumps(results))
            history.append(Path(scratch) / "h", run, None)
            micro = Path(scratch) / "h" / "latest" / "micro_instructions-results.json.gz"
            self.assertEqual(json.loads(gzip.decompress(micro.read_bytes())), results)
            self.assertTrue(kept.is_file())
            self.assertEqual(sorted(history.series(Path(scratch) / "h")),
                             [("CI runner, 2 CPUs", "instructions"), ("CI runner, 2 CPUs", "micro_instructions")])
        self.assertFalse((self.history / "latest").exists())  # timed runs are summaries only

    def test_bad_input_is_one_line_and_exit_2(self):
        with tempfile.TemporaryDirectory() as scratch:
            bad = subprocess.run(["/usr/bin/python3", str(HISTORY), "append", str(Path(scratch) / "h"), scratch],
                                 capture_output=True, text=True)
            self.assertEqual(bad.returncode, 2)
            self.assertEqual(len(bad.stderr.strip().splitlines()), 1, bad.stderr)
            empty = subprocess.run(["/usr/bin/python3", str(HISTORY), "site", str(Path(scratch) / "h"),
                                    str(Path(scratch) / "s")], capture_output=True, text=True)
            self.assertEqual(empty.returncode, 2)
            self.assertIn("holds no run", empty.stderr)

    @unittest.skipUnless(Path(CHROMIUM).is_file(), "chromium is not installed (scripts/install-deps.sh installs it)")
    def test_chromium_renders_the_site_with_every_image(self):
        dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, "--enable-logging=stderr", "--v=0",
                              "--virtual-time-budget=10000", "--dump-dom", (self.site / "index.html").as_uri()],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        body = re.search(r"<body([^>]*)>", dom.stdout)
        loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', body.group(1))
        self.assertIsNotNone(loaded, "the page's load check did not run")
        # Per machine kind: the claims' effects and the strategies' ratios.
        self.assertEqual(int(loaded.group(2)), 4)
        self.assertEqual(loaded.group(1), loaded.group(2), "some images did not decode")
        self.assertIn('data-errors="0"', body.group(1))
        self.assertIn("c3c3c3c", dom.stdout)
        self.assertEqual([line for line in dom.stderr.splitlines() if ":CONSOLE" in line], [])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
