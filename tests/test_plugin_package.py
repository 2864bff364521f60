#!/usr/bin/env python3
"""The example plugin, as a user outside the tree builds it: against the installed package.

    /usr/bin/python3 tests/test_plugin_package.py SOURCE_DIR BUILD_DIR

Installs BUILD_DIR with `cmake --install` into a scratch prefix, configures and builds
examples/plugin against that prefix alone (find_package(allocproof)), runs a small matrix with
`allocproof run --plugin`, makes the report, and checks that the plugin's strategy is in
results.json (measured, digests matching std's), in the plots and in the report. Also checks
that the package refuses another version, and that the installed headers are complete (the
plugin compiles from the prefix, never from the source tree).
"""
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
BUILD = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else SOURCE / "build"
STRATEGY = "size_class_pool"


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=900, **kwargs)


class InstalledPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        root = Path(cls.scratch.name)
        cls.prefix = root / "prefix"
        installed = run(["cmake", "--install", BUILD, "--prefix", cls.prefix])
        assert installed.returncode == 0, installed.stdout + installed.stderr
        # The example is copied out of the tree, so that nothing but the prefix can serve its includes.
        cls.example = root / "example"
        shutil.copytree(SOURCE / "examples" / "plugin", cls.example)
        cls.plugin_build = root / "plugin-build"
        configured = run(["cmake", "-S", cls.example, "-B", cls.plugin_build, f"-DCMAKE_PREFIX_PATH={cls.prefix}",
                          "-DCMAKE_BUILD_TYPE=Release"])
        assert configured.returncode == 0, configured.stdout + configured.stderr
        built = run(["cmake", "--build", cls.plugin_build])
        assert built.returncode == 0, built.stdout + built.stderr
        cls.library = cls.plugin_build / f"lib{STRATEGY}.so"
        cls.driver = cls.prefix / "bin" / "allocproof"
        cls.run_dir = root / "run"
        measured = run([cls.driver, "run", "--plugin", cls.library, "--scale", "test", "--reps", "3",
                        "--threads", "1,2", "--allocators", "glibc,jemalloc", "--workloads", "node_churn,json_docs",
                        "--strategies", f"std,fixed_pool,{STRATEGY}", "--out", cls.run_dir])
        assert measured.returncode == 0, measured.stdout + measured.stderr
        cls.results = json.loads((cls.run_dir / "results.json").read_text())
        report = run(["/usr/bin/python3", SOURCE / "harness" / "report" / "make_report.py", cls.run_dir])
        assert report.returncode == 0, report.stdout + report.stderr

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_the_package_installs_headers_config_and_programs(self):
        include = self.prefix / "include" / "allocproof-0.1.0"
        for header in ["allocproof/plugin.hpp", "allocproof/abi.hpp", "allocproof/generated_workloads.hpp",
                       "workloads/node_churn.hpp", "allocproof/cell_runner.hpp"]:
            self.assertTrue((include / header).is_file(), header)
        self.assertFalse((include / "allocproof" / "register.hpp").exists(), "the in-tree macro is not public")
        self.assertFalse((include / "harness").exists(), "a plugin compiles against allocproof/ and workloads/ only")
        self.assertTrue((self.prefix / "lib" / "cmake" / "allocproof" / "allocproofConfig.cmake").is_file())
        installed = sorted(p.name for p in (self.prefix / "share" / "allocproof" / "external").glob("*.json"))
        self.assertEqual(installed, sorted(p.name for p in (SOURCE / "workloads" / "external").glob("*.json")))
        for program in ["allocproof", "allocproof-cell-glibc", "allocproof-cell-jemalloc"]:
            self.assertTrue((self.prefix / "bin" / program).is_file(), program)

    def test_the_installed_driver_reads_the_installed_descriptors(self):
        """Not the source tree it was built from: a descriptor placed in the prefix alone is listed."""
        folder = self.prefix / "share" / "allocproof" / "external"
        only_here = json.loads((folder / "sqlite.json").read_text())
        only_here["name"] = "sqlite_in_the_prefix"
        (folder / "sqlite_in_the_prefix.json").write_text(json.dumps(only_here))
        try:
            listed = run([self.prefix / "bin" / "allocproof", "list", "--json"])
        finally:
            (folder / "sqlite_in_the_prefix.json").unlink()
        self.assertEqual(listed.returncode, 0, listed.stderr)
        names = [w["name"] for w in json.loads(listed.stdout)["external_workloads"]]
        self.assertIn("sqlite_in_the_prefix", names)
        self.assertIn("redis", names)

    def test_the_strategy_is_measured_and_computes_what_std_computes(self):
        mine = [c for c in self.results["cells"] if c["strategy"] == STRATEGY]
        self.assertEqual(len(mine), 2 * 2 * 2, "node_churn and json_docs, two allocators, 1 and 2 threads")
        for cell in mine:
            self.assertEqual(cell["status"], "ok", cell.get("reason"))
            self.assertEqual(cell["digest"], cell["reference_digest"])
            self.assertIsNotNone(cell["ratio_to_std"]["ns_per_op"]["estimate"])
            self.assertFalse(cell["leaked"])
        self.assertEqual(self.results["plan"]["request"]["plugins"], [str(self.library)])
        plugin = self.results["plugins"][0]
        self.assertEqual(plugin["strategies"], [STRATEGY])
        self.assertIn("headers", plugin["abi_tag"])

    def test_the_strategy_is_in_the_plots_and_the_report(self):
        index = json.loads((self.run_dir / "plots" / "index.json").read_text())
        self.assertTrue(any(STRATEGY in json.dumps(p.get("strategies", [])) for p in index),
                        "no plot names the plugin's strategy")
        md = (self.run_dir / "report.md").read_text()
        self.assertIn("## Strategies from plugins", md)
        self.assertIn(f"| `{STRATEGY}` | size_class_pool example", md)
        self.assertIn(STRATEGY, (self.run_dir / "report.html").read_text())

    def test_another_version_of_the_package_is_refused_by_find_package(self):
        other = Path(self.scratch.name) / "other-version"
        other.mkdir()
        (other / "CMakeLists.txt").write_text(
            (self.example / "CMakeLists.txt").read_text().replace("0.1.0 EXACT", "0.2.0 EXACT"))
        (other / "size_class_pool.cpp").write_text((self.example / "size_class_pool.cpp").read_text())
        configured = run(["cmake", "-S", other, "-B", other / "build", f"-DCMAKE_PREFIX_PATH={self.prefix}"])
        self.assertNotEqual(configured.returncode, 0)
        self.assertIn("0.1.0", configured.stderr + configured.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
