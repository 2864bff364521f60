#!/usr/bin/python3
"""check_format.py finds a file laid out otherwise than .clang-format says, and passes one that is."""
import pathlib
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import check_format  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


class CheckFormat(unittest.TestCase):
    def setUp(self):
        self.tree = pathlib.Path(tempfile.mkdtemp(prefix="check_format_"))
        shutil.copy(ROOT / ".clang-format", self.tree / ".clang-format")
        (self.tree / "harness").mkdir()

    def tearDown(self):
        shutil.rmtree(self.tree)

    def test_a_file_laid_out_otherwise_is_named(self):
        (self.tree / "harness" / "bad.cpp").write_text("int  f( int x ){return x;}\n")
        (self.tree / "harness" / "good.cpp").write_text("int f(int x) { return x; }\n")
        self.assertEqual(check_format.unformatted(self.tree, "clang-format"), [str(self.tree / "harness" / "bad.cpp")])

    def test_a_laid_out_tree_passes(self):
        (self.tree / "harness" / "good.cpp").write_text("int f(int x) { return x; }\n")
        self.assertEqual(check_format.unformatted(self.tree, "clang-format"), [])


if __name__ == "__main__":
    unittest.main()
