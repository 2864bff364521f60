#!/usr/bin/python3
"""tests/house_rules.py finds what it is there to find: a planted long function and a planted
repetition each make it fail, and the same tree without them passes.

    tests/test_house_rules.py SOURCE_DIR [BUILD_DIR]
"""

import subprocess
import sys
import shutil
import tempfile
import unittest
from pathlib import Path

RULES = Path(__file__).resolve().parent / "house_rules.py"


def check(tree):
    done = subprocess.run(["/usr/bin/python3", str(RULES), str(tree)], capture_output=True, text=True)
    return done.returncode, done.stdout


def function(name, body_lines):
    body = "".join(f"    total += {i} * argument - {len(name)};\n" for i in range(body_lines))
    return f"int {name}(int argument) {{\n    int total = 0;\n{body}    return total;\n}}\n"


SHARED = """    auto parsed = nlohmann::json::parse(text);
    if (!parsed.is_object()) throw usage_error(path + ": not a results file");
    auto version = parsed.value("schema_version", 0);
    if (version != supported_version) throw usage_error(path + ": another schema");
    auto cells = parsed.at("cells");
    std::sort(cells.begin(), cells.end(), by_plan_order);
"""


class HouseRules(unittest.TestCase):
    def tree(self, files):
        root = Path(tempfile.mkdtemp(prefix="house_rules_"))
        self.addCleanup(shutil.rmtree, root)
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return root

    def test_a_clean_tree_passes(self):
        code, out = check(self.tree({"harness/a.cpp": function("short_one", 60),
                                     "harness/b.py": "def f(x):\n    return x + 1\n"}))
        self.assertEqual(code, 0, out)
        self.assertIn("0 breaches", out)

    def test_a_cpp_function_past_80_lines_is_named(self):
        code, out = check(self.tree({"harness/driver/a.cpp": function("short_one", 60) + function("too_long", 80)}))
        self.assertEqual(code, 1, out)
        self.assertIn("harness/driver/a.cpp:", out)
        self.assertIn("too_long is 84 lines", out)
        self.assertNotIn("short_one", out)

    def test_a_lambda_counts_toward_its_function(self):
        lambda_body = "".join(f"        total += {i};\n" for i in range(79))
        text = f"int outer() {{\n    int total = 0;\n    auto add = [&] {{\n{lambda_body}    }};\n    add();\n    return total;\n}}\n"
        code, out = check(self.tree({"harness/a.cpp": text}))
        self.assertEqual(code, 1, out)
        self.assertIn("outer is", out)

    def test_a_python_function_past_80_lines_is_named(self):
        body = "".join(f"    x += {i}\n" for i in range(85))
        code, out = check(self.tree({"harness/report/r.py": f"def long_one(x):\n{body}    return x\n"}))
        self.assertEqual(code, 1, out)
        self.assertIn("long_one is 87 lines", out)

    def test_six_shared_lines_in_two_files_are_a_breach(self):
        a = "void load_a(const std::string& text) {\n" + SHARED + "}\n"
        b = "// another file\nint x = 1;\nvoid load_b(const std::string& text) {\n" + SHARED + "}\n"
        code, out = check(self.tree({"harness/a.cpp": a, "harness/driver/b.cpp": b}))
        self.assertEqual(code, 1, out)
        self.assertIn("harness/a.cpp:2-7 is written again at harness/driver/b.cpp:4-9", out)

    def test_five_shared_lines_or_braces_and_comments_alone_are_not(self):
        five = "".join(SHARED.splitlines(keepends=True)[:5])
        braces = "    }\n  }\n}\n// same comment\n#include <vector>\n" * 3
        a = "void f() {\n" + five + "}\n" + braces
        b = "void g() {\n" + five + "    other();\n}\n" + braces
        code, out = check(self.tree({"harness/a.cpp": a, "harness/b.cpp": b}))
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]])
