#!/usr/bin/env python3
"""The report as a person sees it: built from a real small run, opened in headless Chromium.

    /usr/bin/python3 tests/test_report.py SOURCE_DIR BUILD_DIR

Checks that report.md and report.html name every claim, that the HTML is self-contained and
escapes names that come from outside, that Chromium renders it with no console message or script
error and with every image decoded, and saves a screenshot to BUILD_DIR/report-screenshot.png.
Also checks the CI publishing: .github/workflows/report.yml is a valid workflow that uploads
what ./run_all.sh writes, and .ci/run runs the quick matrix.
"""
import copy
import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
BUILD = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else SOURCE / "build"
sys.path.insert(0, str(SOURCE / "harness" / "report"))
import history  # noqa: E402  (where the history keeps main's counted runs: the gate's baselines)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CLAIMS = json.loads((SOURCE / "claims" / "claims.json").read_text())
HOSTILE = "<script>alert('x')</script>"


def make_report(run: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/bin/python3", str(SOURCE / "harness" / "report" / "make_report.py"), str(run)],
                          capture_output=True, text=True, timeout=600)


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        cls.run_dir = Path(cls.scratch.name) / "run"
        run = subprocess.run([str(BUILD / "allocproof"), "run", "--scale", "test", "--reps", "3",
                              "--allocators", "glibc,jemalloc", "--threads", "1,2",
                              "--workloads", "node_churn,fragmentation,json_docs",
                              "--strategies", "std,fixed_pool,fixed_pool_stats,arena,arena_pool,tracking",
                              "--out", str(cls.run_dir)], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        report = make_report(cls.run_dir)
        assert report.returncode == 0, report.stdout + report.stderr
        cls.md = (cls.run_dir / "report.md").read_text()
        cls.html = (cls.run_dir / "report.html").read_text()

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_every_claim_is_in_both_reports_with_the_verdict_table_first(self):
        for claim in CLAIMS["claims"]:
            self.assertIn(f"| {claim['id']}", self.md)
            self.assertIn(f"<td>{claim['id']}", self.html)
        self.assertLess(self.md.index("## Verdicts on the claims"), self.md.index("## Per workload"))
        self.assertLess(self.md.index("## Per workload"), self.md.index("## Environment"))
        self.assertIn("is an estimate", self.md)  # A2-8: the seed computed its figure

    def test_the_header_gives_the_noise_of_the_claim_cells(self):
        self.assertRegex(self.md, r"\*\*Noise of this machine\.\*\* Over the \d+ one-thread cells the claims use, "
                                  r"the coefficient of variation of ns/op across repetitions has a median of "
                                  r"\*\*\d+\.\d%\*\* and a 90th percentile of \*\*\d+\.\d%\*\*")

    def test_a_small_scale_run_says_its_verdicts_are_indicative_only(self):
        self.assertIn("**Indicative only.** This run used the `test` scale", self.md)
        self.assertLess(self.md.index("Indicative only"), self.md.index("## Verdicts on the claims"))

    def test_the_html_is_self_contained_and_embeds_every_plot(self):
        index = json.loads((self.run_dir / "plots" / "index.json").read_text())
        self.assertGreater(len(index), 5)
        images = re.findall(r'<img src="([^"]*)"', self.html)
        self.assertEqual(len(images), len(index))
        self.assertTrue(all(src.startswith("data:image/png;base64,") for src in images))
        self.assertIsNone(re.search(r'(src|href)="(https?:|//)', self.html))
        self.assertNotIn("<link", self.html)
        for entry in index:  # the Markdown report links the files
            self.assertIn(f"(plots/{entry['png']})", self.md)
            self.assertTrue((self.run_dir / "plots" / entry["png"]).is_file())

    def test_vector_figures_are_drawn_for_a_default_scale_run_only(self):
        index = json.loads((self.run_dir / "plots" / "index.json").read_text())
        self.assertTrue(all(entry["svg"] is None for entry in index))
        self.assertEqual(list((self.run_dir / "plots").glob("*.svg")), [])
        # The same results said to be at the default scale: an SVG beside every PNG.
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch)
            results = json.loads((self.run_dir / "results.json").read_text())
            results["plan"]["request"]["scale"] = "default"
            (copy / "results.json").write_text(json.dumps(results))
            (copy / "verdicts.json").write_text((self.run_dir / "verdicts.json").read_text())
            drawn = subprocess.run(["/usr/bin/python3", str(SOURCE / "plots" / "plots.py"), str(copy)],
                                   capture_output=True, text=True, timeout=600)
            self.assertEqual(drawn.returncode, 0, drawn.stderr)
            vector_index = json.loads((copy / "plots" / "index.json").read_text())
            self.assertEqual([e["id"] for e in vector_index], [e["id"] for e in index])
            for entry in vector_index:
                self.assertTrue((copy / "plots" / entry["svg"]).is_file(), entry["id"])

    def test_names_from_outside_are_escaped(self):
        with tempfile.TemporaryDirectory() as scratch:
            hostile = Path(scratch)
            results = json.loads((self.run_dir / "results.json").read_text())
            planted = copy.deepcopy(next(c for c in results["cells"] if c["strategy"] == "fixed_pool"))
            planted["strategy"] = HOSTILE
            planted["id"] = planted["id"].replace("fixed_pool", HOSTILE)
            # Failed, so that it is shown whatever its speed: in the workload's cells not ok and among the
            # strategies at fault (an ok cell is shown only if it is among the fastest three).
            planted["status"], planted["reason"] = "failed", f"crashed with {HOSTILE}"
            results["cells"].append(planted)
            results["environment"]["command_line"] = ["allocproof", "run", "--out", "<img src=x onerror=alert(1)>"]
            (hostile / "results.json").write_text(json.dumps(results))
            report = make_report(hostile)
            self.assertEqual(report.returncode, 0, report.stderr)
            page = (hostile / "report.html").read_text()
            self.assertIn(HOSTILE.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#x27;"), page)
            self.assertNotIn(HOSTILE, page)
            self.assertNotIn("<img src=x", page)

    @unittest.skipUnless(Path(CHROMIUM).is_file(), "chromium is not installed (scripts/install-deps.sh installs it)")
    def test_chromium_renders_it_with_every_image_and_no_console_message(self):
        page = (self.run_dir / "report.html").as_uri()
        dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, "--enable-logging=stderr", "--v=0",
                              "--virtual-time-budget=10000", "--dump-dom", page],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        body = re.search(r"<body([^>]*)>", dom.stdout)
        self.assertIsNotNone(body, dom.stdout[:500])
        loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', body.group(1))
        self.assertIsNotNone(loaded, "the page's load check did not run")
        self.assertGreater(int(loaded.group(2)), 5)
        self.assertEqual(loaded.group(1), loaded.group(2), "some images did not decode")
        self.assertIn('data-errors="0"', body.group(1))
        console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
        self.assertEqual(console, [])
        screenshot = BUILD / "report-screenshot.png"
        screenshot.unlink(missing_ok=True)
        shot = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, "--hide-scrollbars", "--window-size=1400,6000",
                               f"--screenshot={screenshot}", page], capture_output=True, text=True, timeout=120)
        self.assertEqual(shot.returncode, 0, shot.stderr[-2000:])
        self.assertEqual(screenshot.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(screenshot.stat().st_size, 50_000)


class Publishing(unittest.TestCase):
    """The workflows: valid, calling only what the README documents, and publishing what the code writes."""

    def setUp(self):
        import yaml  # Debian's python3-yaml
        folder = SOURCE / ".github" / "workflows"
        self.texts = {name: (folder / name).read_text() for name in ("report.yml", "gate.yml")}
        self.report = yaml.safe_load(self.texts["report.yml"])
        self.gate = yaml.safe_load(self.texts["gate.yml"])

    @staticmethod
    def triggers(workflow):
        return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true

    @staticmethod
    def runs(job) -> str:
        return "\n".join(s.get("run", "") for s in job["steps"])

    def test_the_workflows_are_valid(self):
        self.assertEqual(self.triggers(self.report)["push"]["branches"], ["main"])
        self.assertIn("workflow_dispatch", self.triggers(self.report))
        self.assertIn("pull_request", self.triggers(self.gate))
        for workflow in (self.report, self.gate):
            for name, job in workflow["jobs"].items():
                self.assertIn("runs-on", job, name)
                for step in job["steps"]:
                    self.assertTrue(("run" in step) != ("uses" in step), f"{name}: {step}")
        jobs = self.report["jobs"]
        self.assertEqual(set(jobs), {"test", "shard", "report", "deploy"})
        self.assertEqual(set(jobs["report"]["needs"]), {"test", "shard"})
        self.assertEqual(jobs["deploy"]["needs"], "report")
        self.assertEqual(jobs["deploy"]["permissions"], {"pages": "write", "id-token": "write"})
        self.assertEqual(jobs["deploy"]["environment"]["name"], "github-pages")
        uses = [s["uses"].split("@")[0] for j in jobs.values() for s in j["steps"] if "uses" in s]
        for action in ("actions/checkout", "actions/upload-artifact", "actions/download-artifact",
                       "actions/upload-pages-artifact", "actions/deploy-pages"):
            self.assertIn(action, uses)

    def test_the_shard_count_is_one_variable(self):
        shards = int(self.report["env"]["SHARDS"])
        job = self.report["jobs"]["shard"]
        self.assertEqual(job["strategy"]["matrix"]["shard"], list(range(1, shards + 1)))
        self.assertIn("./run_all.sh --shard ${{ matrix.shard }}/${{ env.SHARDS }}", self.runs(job))
        merge = self.runs(self.report["jobs"]["report"])
        self.assertIn("build/allocproof merge part-* --out full", merge)
        self.assertIn("harness/report/make_report.py full", merge)

    def test_every_command_they_call_is_in_the_readme(self):
        readme = (SOURCE / "README.md").read_text()
        for name, text in self.texts.items():
            subcommands = set(re.findall(r"build/allocproof (\w+)", text))
            self.assertTrue(subcommands, name)
            for sub in subcommands:
                self.assertIn(f"build/allocproof {sub}", readme, f"{name}: allocproof {sub}")
            for script in set(re.findall(r"((?:scripts|harness)/[\w/-]+\.(?:py|sh))", text)):
                self.assertIn(script, readme, f"{name}: {script}")
            for top in set(re.findall(r"\./(run_\w+\.sh)", text)):
                self.assertIn(f"./{top}", readme, f"{name}: {top}")
            for option in set(re.findall(r"history\.py (\w+)", text)):
                self.assertIn(f"history.py {option}", readme, f"{name}: history.py {option}")

    def test_main_publishes_the_history_site_and_the_merged_report(self):
        job = self.report["jobs"]["report"]
        commands = self.runs(job)
        self.assertIn("run --instructions", commands)
        self.assertIn("history.py append pages/history full", commands)
        self.assertIn("history.py append pages/history counted", commands)
        self.assertIn("history.py site pages/history site --latest-report full/report.html", commands)
        self.assertIn("git push origin HEAD:gh-pages", commands)
        pages = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
        self.assertEqual(pages["with"]["path"], "site")
        upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
        written = {"report.html", "report.md", "verdicts.json", "results.json", "summary.csv", "plots", "micro"}
        for path in upload["with"]["path"].split():
            folder, name = path.split("/", 1)
            self.assertIn(folder, {"full", "counted", "counted-micro"})
            self.assertIn(name, written)
        # Those names are the ones the code writes.
        code = "".join((SOURCE / p).read_text() for p in ("harness/report/render.py", "harness/report/verdicts.py",
                                                         "plots/plots.py", "run_all.sh", "harness/report/history.py"))
        for name in ("report.html", "report.md", "verdicts.json", "index.json", "instructions-results.json.gz"):
            self.assertIn(name, code)

    def test_the_gate_compares_counts_with_mains_latest_and_fails_on_a_regression(self):
        job = self.gate["jobs"]["gate"]
        commands = self.runs(job)
        self.assertIn("./run_all.sh --quick --out ci-report", commands)
        # On glibc's cells, which main's counted run holds too: the allocator whose counts are exact.
        counted = "build/allocproof run --instructions --claims claims/claims.json --claims-only --allocators glibc"
        self.assertIn(counted, commands)
        self.assertIn(counted, self.runs(self.report["jobs"]["report"]))
        # And the micro suite's pairs, all of them on glibc, as main's report job counts them.
        micro = "build/allocproof count-micro --allocators glibc --out counted-micro"
        self.assertIn(micro, commands)
        self.assertIn(micro, self.runs(self.report["jobs"]["report"]))
        self.assertIn("history.py append pages/history counted-micro", self.runs(self.report["jobs"]["report"]))
        # Each counted run is compared with main's latest of its measure, where history.py keeps it.
        pairs = re.search(r"for run in ([\w:\- ]+); do", commands).group(1).split()
        self.assertEqual(pairs, ["instructions:counted", "micro_instructions:counted-micro"])
        for measure, _ in (pair.split(":") for pair in pairs):
            self.assertIn(measure, history.COUNTED_MEASURES)
        self.assertEqual(history.latest_counted("instructions"), "instructions-results.json.gz")
        self.assertIn('"FETCH_HEAD:history/latest/$measure-results.json.gz"', commands)
        self.assertIn('build/allocproof compare "main-$measure.json.gz" "$folder" --metric instructions_per_op', commands)
        self.assertIn('test "${{ steps.compare.outputs.status }}" = 0', commands)
        self.assertTrue(any(s.get("uses", "").startswith("actions/github-script") for s in job["steps"]))
        self.assertEqual(self.gate["permissions"]["pull-requests"], "write")

    def test_ci_runs_the_tests_then_the_quick_matrix_then_the_history(self):
        ci = (SOURCE / ".ci" / "run").read_text()
        self.assertLess(ci.index("./run_tests.sh"), ci.index("./run_all.sh --quick"))
        self.assertLess(ci.index("./run_all.sh --quick"), ci.index("history.py site"))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
