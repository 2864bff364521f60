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
    def setUp(self):
        import yaml  # Debian's python3-yaml
        self.workflow = yaml.safe_load((SOURCE / ".github" / "workflows" / "report.yml").read_text())

    def test_the_workflow_is_valid(self):
        triggers = self.workflow.get("on", self.workflow.get(True))  # YAML 1.1 reads a bare `on` as true
        self.assertEqual(triggers["push"]["branches"], ["main"])
        self.assertIn("workflow_dispatch", triggers)
        jobs = self.workflow["jobs"]
        self.assertEqual(set(jobs), {"build", "deploy"})
        for name, job in jobs.items():
            self.assertIn("runs-on", job, name)
            for step in job["steps"]:
                self.assertTrue(("run" in step) != ("uses" in step), f"{name}: {step}")
        self.assertEqual(jobs["deploy"]["needs"], "build")
        self.assertEqual(jobs["deploy"]["permissions"], {"pages": "write", "id-token": "write"})
        self.assertEqual(jobs["deploy"]["environment"]["name"], "github-pages")
        uses = [s["uses"].split("@")[0] for j in jobs.values() for s in j["steps"] if "uses" in s]
        for action in ("actions/checkout", "actions/upload-artifact", "actions/upload-pages-artifact",
                       "actions/deploy-pages"):
            self.assertIn(action, uses)

    def test_it_publishes_what_run_all_writes(self):
        steps = self.workflow["jobs"]["build"]["steps"]
        runs = " ".join(s.get("run", "") for s in steps)
        self.assertIn("./run_tests.sh", runs)
        out = re.search(r"\./run_all\.sh --quick --out (\S+)", runs).group(1)
        upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
        written = {"report.html", "report.md", "verdicts.json", "results.json", "summary.csv", "plots", "micro"}
        for path in upload["with"]["path"].split():
            folder, name = path.split("/", 1)
            self.assertEqual(folder, out)
            self.assertIn(name, written)
        # Those names are the ones the code writes.
        code = "".join((SOURCE / p).read_text() for p in ("harness/report/render.py", "harness/report/verdicts.py",
                                                         "plots/plots.py", "run_all.sh"))
        for name in ("report.html", "report.md", "verdicts.json", "index.json"):
            self.assertIn(name, code)
        pages = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
        self.assertIn(f"cp {out}/report.html {pages['with']['path']}/index.html", runs)

    def test_ci_runs_the_tests_then_the_quick_matrix(self):
        ci = (SOURCE / ".ci" / "run").read_text()
        self.assertLess(ci.index("./run_tests.sh"), ci.index("./run_all.sh --quick"))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
