#!/usr/bin/python3
"""The workflows' own steps, run here as GitHub would run them, against a local git remote in
place of GitHub: the report job's history step (its first push makes the gh-pages branch, the
next adds a commit on top), and the gate's comparison with what that step pushed (before any
history: nothing to compare, said; an unchanged run: pass; a planted regression in a cell or a
micro pair: fail), its failing step, and its pull-request comment (actions/github-script's
JavaScript under Node, with a stand-in for GitHub's API). The shell of each step is read from the
workflow file itself, so what runs here is what runs there.

    test_ci_steps.py [SOURCE_DIR [BUILD_DIR]]
"""
import copy
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import yaml

SOURCE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
BUILD = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else SOURCE / "build"
WORKFLOWS = SOURCE / ".github" / "workflows"
NODE = shutil.which("node") or shutil.which("nodejs")


def steps_of(workflow: str, job: str) -> list[dict]:
    return yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["steps"]


def step(workflow: str, job: str, name_part: str) -> dict:
    found = [s for s in steps_of(workflow, job) if name_part in s.get("name", "")]
    assert len(found) == 1, f"{workflow} {job}: {len(found)} steps named like '{name_part}'"
    return found[0]


def git(*args, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class CiSteps(unittest.TestCase):
    """One sequence, in the order of a project's life: a pull request before main has a history,
    main's first run, a pull request against it, a second run on main."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        root = Path(cls.scratch.name)
        cls.origin, cls.workspace, cls.output = root / "origin.git", root / "workspace", root / "github_output"
        cls.env = dict(os.environ, HOME=str(root / "home"), GITHUB_WORKSPACE=str(cls.workspace),
                       GITHUB_OUTPUT=str(cls.output), GITHUB_SHA="c0ffee" * 6 + "c0ff", MACHINE_KIND="test runner",
                       THRESHOLD="0.02", GIT_CONFIG_NOSYSTEM="1")
        (root / "home").mkdir()
        subprocess.run(["git", "init", "-q", "--bare", str(cls.origin)], check=True)
        cls.workspace.mkdir()
        git("init", "-q", "-b", "main", cwd=cls.workspace)
        (cls.workspace / "README.md").write_text("a project\n")
        git("add", "README.md", cwd=cls.workspace)
        git("-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q", "-m", "start", cwd=cls.workspace)
        git("remote", "add", "origin", str(cls.origin), cwd=cls.workspace)
        git("push", "-q", "origin", "main", cwd=cls.workspace)
        # The checkout's tools: this build and the source's scripts, where the workflow finds them.
        (cls.workspace / "build").symlink_to(BUILD)
        (cls.workspace / "harness").symlink_to(SOURCE / "harness")
        # Main's runs as the report job has them, and the pull request's counted runs as the gate
        # makes them: small ones, but of the same commands' kinds.
        cls.driver("run", "--scale", "test", "-w", "node_churn", "-s", "std,fixed_pool", "-a", "glibc",
                   "--threads", "1", "--reps", "3", "--out", "full")
        (cls.workspace / "full" / "report.html").write_text("<html><body>the latest report</body></html>\n")
        for job in ("main", "pr"):
            cls.driver("run", "--instructions", "--scale", "test", "-w", "node_churn", "-s", "std,fixed_pool",
                       "-a", "glibc", "--out", f"{job}-counted")
            cls.driver("count-micro", "--filter", "^one_live/(std|fixed_pool)/64(/|$)", "--out", f"{job}-counted-micro")

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    @classmethod
    def driver(cls, *args):
        done = subprocess.run([str(BUILD / "allocproof"), *args], cwd=cls.workspace, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr

    @classmethod
    def counted_runs_of(cls, job: str):
        """The counted runs where the workflows write them, as main's report job or the pull
        request's gate made them."""
        for folder in ("counted", "counted-micro"):
            shutil.rmtree(cls.workspace / folder, ignore_errors=True)
            shutil.copytree(cls.workspace / f"{job}-{folder}", cls.workspace / folder)

    def run_step(self, workflow: str, job: str, name_part: str, outputs: dict | None = None):
        """A step's `run` as GitHub runs it (bash -e), `${{ steps.X.outputs.Y }}` filled in."""
        script = step(workflow, job, name_part)["run"]
        script = re.sub(r"\$\{\{\s*steps\.\w+\.outputs\.(\w+)\s*\}\}", lambda m: (outputs or {})[m.group(1)], script)
        self.output.write_text("")
        return subprocess.run(["bash", "-e", "-c", script], cwd=self.workspace, env=self.env, capture_output=True,
                              text=True, timeout=600)

    def gate(self) -> tuple[dict, str]:
        """The gate's comparison of the pull request's counted runs: its outputs and what it posts."""
        self.counted_runs_of("pr")
        done = self.run_step("gate.yml", "gate", "Compare with main's latest counted runs")
        self.assertEqual(done.returncode, 0, done.stderr)
        outputs = dict(line.split("=", 1) for line in self.output.read_text().split())
        return outputs, (self.workspace / "compare.txt").read_text()

    def pages(self, path: str) -> bytes:
        return subprocess.run(["git", "show", f"gh-pages:{path}"], cwd=self.origin, check=True,
                              capture_output=True).stdout

    def test_1_before_main_has_a_history_the_gate_says_it_compared_nothing(self):
        outputs, posted = self.gate()
        self.assertEqual(outputs["status"], "0")
        self.assertIn("main has no gh-pages branch yet", posted)
        self.assertIn("main has no counted instructions run on gh-pages yet", posted)
        self.assertIn("main has no counted micro_instructions run on gh-pages yet", posted)

    def test_2_mains_first_run_makes_the_gh_pages_branch(self):
        self.counted_runs_of("main")
        done = self.run_step("report.yml", "report", "history on the gh-pages branch")
        self.assertEqual(done.returncode, 0, done.stderr + done.stdout)
        index = json.loads(self.pages("history/index.json"))
        self.assertEqual(sorted(e["measure"] for e in index["entries"]), ["instructions", "micro_instructions", "time"])
        self.assertTrue(all(e["machine_kind"] == "test runner" for e in index["entries"]))
        for measure, run in (("instructions", "main-counted"), ("micro_instructions", "main-counted-micro")):
            kept = json.loads(gzip.decompress(self.pages(f"history/latest/{measure}-results.json.gz")))
            self.assertEqual(kept, json.loads((self.workspace / run / "results.json").read_text()))
        # Only the history is on the branch; the site is the Pages artifact, with the latest report.
        self.assertEqual(git("ls-tree", "--name-only", "gh-pages", cwd=self.origin).split(), ["history"])
        self.assertIn("<img", (self.workspace / "site" / "index.html").read_text())
        self.assertIn("the latest report", (self.workspace / "site" / "report.html").read_text())
        self.assertEqual(len(git("log", "--format=%s", "gh-pages", cwd=self.origin).splitlines()), 1)

    def test_3_an_unchanged_pull_request_passes_the_gate(self):
        outputs, posted = self.gate()
        self.assertEqual(outputs["status"], "0", posted)
        self.assertEqual(posted.count("-> PASS"), 2, posted)
        self.assertEqual(self.run_step("gate.yml", "gate", "Fail on a regression", outputs).returncode, 0)

    def test_4_a_planted_regression_fails_the_gate(self):
        for folder, planted in (("pr-counted", "node_churn/fixed_pool/glibc/t1"),
                                ("pr-counted-micro", "micro:one_live/64/fixed_pool/glibc/t1")):
            with self.subTest(folder=folder):
                results = self.workspace / folder / "results.json"
                original = results.read_text()
                document = json.loads(original)
                cell = next(c for c in document["cells"] if c["id"] == planted)
                repetition = cell["repetitions"][0]
                repetition["metrics"]["instructions_per_op"] *= 1.10
                if "iterations" in repetition:  # as count-micro writes a costlier pair: fewer iterations
                    repetition["iterations"][1] = 2 + int((repetition["iterations"][1] - 2) / 1.10)
                results.write_text(json.dumps(document))
                try:
                    outputs, posted = self.gate()
                finally:
                    results.write_text(original)
                self.assertEqual(outputs["status"], "1", posted)
                self.assertIn(planted, posted)
                self.assertEqual(posted.count("-> FAIL"), 1, posted)
                failed = self.run_step("gate.yml", "gate", "Fail on a regression", outputs)
                self.assertNotEqual(failed.returncode, 0)

    @unittest.skipUnless(NODE, "Node is not installed (scripts/install-deps.sh installs it)")
    def test_5_the_comment_posts_the_comparison_and_then_updates_it(self):
        _, posted = self.gate()
        script = step("gate.yml", "gate", "Say it on the pull request")["with"]["script"]
        # A stand-in for GitHub's client: the pull request's comments so far, and what was called.
        harness = ("const calls = [];\n"
                   "const existing = JSON.parse(process.env.EXISTING_COMMENTS);\n"
                   "const issues = {\n"
                   "  listComments: async () => ({data: existing}),\n"
                   "  createComment: async (c) => { calls.push(['create', c]); },\n"
                   "  updateComment: async (c) => { calls.push(['update', c]); }};\n"
                   "const github = {rest: {issues},\n"
                   "  paginate: async (method, parameters) => (await method(parameters)).data};\n"
                   "const context = {repo: {owner: 'owner', repo: 'repo'}, issue: {number: 7}, sha: 'abc1234'};\n"
                   f"(async () => {{\n{script}\n}})().then(() => console.log(JSON.stringify(calls)),\n"
                   "  (e) => { console.error(e); process.exit(1); });\n")

        def comment(existing: list) -> list:
            done = subprocess.run([NODE, "-e", harness], cwd=self.workspace, capture_output=True, text=True,
                                  timeout=60, env=dict(self.env, EXISTING_COMMENTS=json.dumps(existing)))
            self.assertEqual(done.returncode, 0, done.stderr)
            return json.loads(done.stdout)

        # The first push: a new comment on the pull request, with the comparison.
        calls = comment([{"id": 3, "body": "a reviewer's comment"}])
        self.assertEqual([kind for kind, _ in calls], ["create"])
        first = calls[0][1]
        self.assertEqual((first["owner"], first["repo"], first["issue_number"]), ("owner", "repo", 7))
        self.assertIn("threshold 0.02", first["body"])
        self.assertIn("commit abc1234", first["body"])
        self.assertIn(posted.strip(), first["body"])
        # The next push: that comment brought up to date, not a second one; the reviewer's untouched.
        calls = comment([{"id": 3, "body": "a reviewer's comment"}, {"id": 9, "body": first["body"]}])
        self.assertEqual([kind for kind, _ in calls], ["update"])
        self.assertEqual(calls[0][1]["comment_id"], 9)
        self.assertEqual(calls[0][1]["body"], first["body"])

    def test_6_mains_next_run_adds_to_the_history(self):
        full = self.workspace / "full" / "results.json"
        document = json.loads(full.read_text())
        later = copy.deepcopy(document)
        later["environment"].update(git_commit="beef" * 10, time="2099-01-01T00:00:00Z")
        full.write_text(json.dumps(later))
        # A fresh job: no worktree or site left from the run before.
        git("worktree", "remove", "--force", "pages", cwd=self.workspace)
        shutil.rmtree(self.workspace / "site")
        self.counted_runs_of("main")
        try:
            done = self.run_step("report.yml", "report", "history on the gh-pages branch")
        finally:
            full.write_text(json.dumps(document))
        self.assertEqual(done.returncode, 0, done.stderr + done.stdout)
        index = json.loads(self.pages("history/index.json"))
        timed = [e for e in index["entries"] if e["measure"] == "time"]
        self.assertEqual([e["commit"][:4] for e in timed], [document["environment"]["git_commit"][:4], "beef"])
        # A commit on top of the first, not a replacement of the branch.
        self.assertEqual(len(git("log", "--format=%s", "gh-pages", cwd=self.origin).splitlines()), 2)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
