#!/usr/bin/env python3
"""A strategy's failures follow it, and a cell's flags stand beside its figures, in every table of
the report (harness/report/trust.py, render.py, plots/plots.py).

    /usr/bin/python3 tests/test_trust.py SOURCE_DIR BUILD_DIR
"""
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SOURCE / "harness" / "report"))
sys.path.insert(0, str(SOURCE / "plots"))
import render  # noqa: E402
import trust  # noqa: E402


def cell(workload, strategy, ns, status="ok", flags=None, allocator="glibc"):
    ratio = None if strategy == "std" else {"ns_per_op": {"estimate": ns / 20.0, "ci_low": None, "ci_high": None}}
    return {"id": f"{workload}/{strategy}/{allocator}/t1", "workload": workload, "strategy": strategy,
            "allocator": allocator, "threads": 1, "status": status, "reason": None if status == "ok" else "why",
            "metrics": {"ns_per_op": {"median": ns}} if status == "ok" else {}, "ratio_to_std": ratio,
            "noisy": False, "flags": flags or []}


def text_of(blocks) -> str:
    out = []
    for b in blocks:
        if isinstance(b, render.Table):
            out += [" | ".join(row) for row in b.rows]
        elif isinstance(b, render.Para):
            out.append(b.text)
    return "\n".join(out)


# `racy` is fastest on node_churn but wrong on fragmentation; `crashy` failed on fragmentation;
# `stocked` did its work in its constructor (a flag).
CELLS = [cell("node_churn", "std", 20.0), cell("node_churn", "racy", 5.0), cell("node_churn", "crashy", 8.0),
         cell("node_churn", "stocked", 9.0, flags=[{"flag": "work_outside_clock", "text": "setup 40 ms"}]),
         cell("node_churn", "pool", 12.0),
         cell("fragmentation", "std", 30.0), cell("fragmentation", "racy", 0, status="invalid"),
         cell("fragmentation", "crashy", 0, status="failed")]


class Trust(unittest.TestCase):
    def test_faults_are_gathered_per_strategy(self):
        faults = trust.strategy_faults(CELLS)
        self.assertEqual(set(faults), {"racy", "crashy"})
        self.assertTrue(trust.untrusted("racy", faults))
        self.assertFalse(trust.untrusted("crashy", faults))
        self.assertEqual(trust.fault_text("racy", faults), "invalid in 1 cell")

    def test_the_winners_do_not_rank_a_wrong_strategy_and_mark_a_failing_one(self):
        text = text_of(render.winners_blocks(CELLS, ["glibc"]))
        fastest = next(line for line in text.splitlines() if line.startswith("1 | glibc") and "crashy" in line)
        self.assertNotIn("`racy` 5.0", fastest)
        self.assertIn("`crashy` (✗ failed in 1 cell) 8.0 ns", fastest)
        self.assertIn("`stocked` 9.0 ns (0.45) ⚑ work_outside_clock", fastest)
        self.assertIn("Not ranked, for wrong results or implausible records elsewhere in this run: "
                      "`racy` (✗ invalid in 1 cell)", text)
        self.assertIn("Flagged: `node_churn/stocked/glibc/t1` ⚑ work_outside_clock: setup 40 ms", text)

    def test_the_plugin_table_marks_faults_and_flags_and_ranks_no_wrong_strategy(self):
        results = {"plugins": [{"name": "p", "path": "libp.so", "strategies": ["racy", "crashy", "stocked"]}]}
        rows = {r[0]: r for r in render.plugin_blocks(results, CELLS, ["glibc"])[-1].rows}
        self.assertEqual(rows["`racy` (✗ invalid in 1 cell)"][5], "not ranked")
        self.assertEqual(rows["`crashy` (✗ failed in 1 cell)"][5], "0.40 (1 cells)")
        self.assertEqual(rows["`stocked`"][6], "⚑ work_outside_clock")

    def test_the_report_lists_every_strategy_at_fault(self):
        text = text_of(render.fault_blocks(CELLS))
        self.assertIn("`racy` | invalid in 1 cell | not ranked, no verdict", text)
        self.assertIn("`crashy` | failed in 1 cell | marked", text)
        self.assertEqual(render.fault_blocks([c for c in CELLS if c["strategy"] in ("std", "pool")]), [])

    def test_the_heat_map_names_a_strategy_s_faults(self):
        import plots
        with tempfile.TemporaryDirectory() as out:
            figures = plots.Figures(Path(out), vector=False)
            labels = []
            original = plots.plt.Axes.set_yticks
            plots.plt.Axes.set_yticks = lambda ax, ticks, names=None, **k: labels.extend(names or []) or original(
                ax, ticks, names, **k)
            try:
                plots.heat_map(figures, CELLS, ["glibc"])
            finally:
                plots.plt.Axes.set_yticks = original
        self.assertIn("crashy  ✗ failed in 1 cell", labels)
        self.assertIn("racy  ✗ invalid in 1 cell", labels)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
