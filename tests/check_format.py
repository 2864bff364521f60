#!/usr/bin/python3
"""The tree's C++ is as .clang-format lays it out: every .cpp/.hpp/.h of the source folders,
checked with clang-format --dry-run. A file that is not names itself and the command that fixes it.

usage: check_format.py SOURCE_DIR [CLANG_FORMAT]"""
import pathlib
import subprocess
import sys

FOLDERS = ["harness", "include", "strategies", "workloads", "tests", "examples", "fuzz"]
SUFFIXES = {".cpp", ".hpp", ".h"}


def sources(root: pathlib.Path) -> list[pathlib.Path]:
    found = []
    for folder in FOLDERS:
        found += [p for p in (root / folder).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return sorted(found)


def unformatted(root: pathlib.Path, clang_format: str) -> list[str]:
    bad = []
    files = sources(root)
    for start in range(0, len(files), 50):
        batch = files[start:start + 50]
        done = subprocess.run([clang_format, "--dry-run", "--Werror", "--style=file",
                               *map(str, batch)], capture_output=True, text=True)
        if done.returncode != 0:
            bad += sorted({line.split(":", 1)[0] for line in done.stderr.splitlines() if ": error:" in line})
            if not bad:
                raise SystemExit(f"{clang_format} failed: {done.stderr.strip()[:500]}")
    return bad


def main() -> int:
    root = pathlib.Path(sys.argv[1]).resolve()
    clang_format = sys.argv[2] if len(sys.argv) > 2 else "clang-format"
    files = sources(root)
    if len(files) < 100:
        print(f"only {len(files)} C++ files under {root}: not the source tree")
        return 1
    bad = unformatted(root, clang_format)
    if bad:
        print(f"{len(bad)} of {len(files)} C++ files are not laid out as .clang-format says:")
        for path in bad:
            print(f"  {path}")
        print(f"fix: {clang_format} -i <file> (all: git ls-files '*.cpp' '*.hpp' '*.h' | xargs {clang_format} -i)")
        return 1
    print(f"{len(files)} C++ files laid out as .clang-format says")
    return 0


if __name__ == "__main__":
    sys.exit(main())
