"""Each file of tests/contract_violations/ breaks one part of a strategy's or a workload's contract
(or, well_formed.cpp, none): compiled with this build's compiler and include paths, each wrong one
must fail with the static_assert that names what it misses, and name its own file, since the error
must point at the strategy or workload that is wrong rather than at a workload deep inside.

usage: check_contract_violations.py <source dir> <generated dir> <c++ compiler> [compiler flags...]
"""
import pathlib
import re
import subprocess
import sys
import unittest

SOURCE = pathlib.Path(sys.argv[1])
GENERATED = pathlib.Path(sys.argv[2])
COMPILER = sys.argv[3]
FLAGS = sys.argv[4:]
CASES = SOURCE / "tests" / "contract_violations"


def expectation(case):
    """The `// expect: <message>` line of a case; None for a case that must compile."""
    match = re.search(r"^// expect: (.*)$", case.read_text(), re.MULTILINE)
    assert match, f"{case.name} has no '// expect:' line"
    text = match.group(1).strip()
    return None if text.startswith("nothing") else text


def compile_case(case):
    # A case that includes plugin.hpp is built as a plugin is (ALLOCPROOF_PLUGIN_BUILD), the others
    # as a strategy of the tree: both ways a strategy and a workload register are covered.
    plugin = '#include "allocproof/plugin.hpp"' in case.read_text()
    command = [COMPILER, "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", *FLAGS,
               "-I", str(SOURCE), "-I", str(SOURCE / "include"), "-I", str(GENERATED),
               *(["-DALLOCPROOF_PLUGIN_BUILD"] if plugin else []), str(case)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


class ContractViolations(unittest.TestCase):
    def test_there_are_wrong_cases_and_a_right_one(self):
        expected = [expectation(case) for case in sorted(CASES.glob("*.cpp"))]
        self.assertIn(None, expected)
        self.assertGreaterEqual(sum(e is not None for e in expected), 4)

    def test_each_case(self):
        for case in sorted(CASES.glob("*.cpp")):
            with self.subTest(case=case.name):
                message = expectation(case)
                result = compile_case(case)
                if message is None:
                    self.assertEqual(result.returncode, 0, result.stderr)
                    continue
                self.assertNotEqual(result.returncode, 0, f"{case.name} compiled")
                errors = [line for line in result.stderr.splitlines() if "error:" in line]
                self.assertTrue(any(message in line for line in errors),
                                f"no error says '{message}':\n{result.stderr[-4000:]}")
                # One clear message: the contract's static_assert, not a cascade from a workload.
                self.assertEqual(len(errors), 1, "\n".join(errors))
                self.assertIn(case.name, result.stderr, "the error does not name the wrong file")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
