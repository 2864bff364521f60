#!/usr/bin/env python3
"""Fuzzes the report's readers of outside input: the claims file and the results file, as
harness/report/verdicts.py reads them (libFuzzer cannot instrument Python).

    /usr/bin/python3 fuzz/fuzz_claims.py [SECONDS] [--seed N]
    /usr/bin/python3 fuzz/fuzz_claims.py --replay claims|results FILE

For SECONDS (default 30) it mutates seed documents the way a hand edit or a damaged copy would:
keys deleted or renamed, values of the wrong type, huge, negative and non-finite numbers, odd
unicode, deep nesting, truncation, random bytes, gzip. Each mutant is judged by verdicts.main()
together with an intact document of the other kind. The documented outcome of bad input is exit
code 2 with one line on stderr (verdicts' ClaimsError and the loaders' ValueError end there); any
other exception escaping is a finding: the mutant is saved, printed, and the exit code is 1.
Seeds, each judged as it is before any mutation: claims/claims.json, fuzz/corpus/fuzz_claims/,
the results files of fuzz/corpus/fuzz_results/, and the micro suite's claims files of
fuzz/corpus/fuzz_micro/ (judged as RUN/micro/claims/glibc.json beside an intact run).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import io
import json
import random
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "harness" / "report"))
import verdicts  # noqa: E402

CORPUS = REPO / "fuzz" / "corpus"

# Values of every JSON type, and the edges of each: what replaces a value of another type.
ODD_VALUES = [None, True, False, 0, -1, 1, 2**64 + 1, -(2**63) - 1, 10**400, 1e308, -1e-308,
              float("nan"), float("inf"), float("-inf"), 0.5, "", "x", "\u00fc\u202e\U0001f600",
              "\ud800", "\x00", "a" * 5000, [], {}, [None], {"": None}, [[]], {"id": {}}]


# ---- mutations ---------------------------------------------------------------------------

def containers(node, path=()):
    """(path, container) for every object and array in the document."""
    if isinstance(node, (dict, list)):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from containers(value, path + (key,))


def values(node):
    """Every value in the document, containers included."""
    yield node
    if isinstance(node, (dict, list)):
        for value in (node.values() if isinstance(node, dict) else node):
            yield from values(value)


def mutate_tree(doc, rng: random.Random):
    """One structural change somewhere in the parsed document."""
    spots = [(p, c) for p, c in containers(doc) if c]
    if not spots:
        return rng.choice(ODD_VALUES)
    _, container = rng.choice(spots)
    key = rng.choice(list(container)) if isinstance(container, dict) else rng.randrange(len(container))
    action = rng.randrange(6)
    if action == 0:
        del container[key]
    elif action == 1:
        container[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif action == 2:  # a value from elsewhere in the document: right type, wrong place
        container[key] = copy.deepcopy(rng.choice(list(values(doc))))
    elif action == 3 and isinstance(container, dict):
        container[rng.choice(["", key + "_", key.upper(), "id", "machine", "raw"])] = container.pop(key)
    elif action == 4 and isinstance(container, list):
        container.insert(rng.randrange(len(container) + 1), copy.deepcopy(container[key]))
    else:
        value = container[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            container[key] = rng.choice([[value], {"x": value}, str(value)])
        else:
            container[key] = rng.choice([-value, value * 10**rng.randrange(1, 30), 0, -1, 0.5])
    return doc


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    action = rng.randrange(5)
    if action == 0 and data:
        return data[:rng.randrange(len(data))]
    if action == 1 and data:
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if action == 2:
        at = rng.randrange(len(data) + 1)
        return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + data[at:]
    if action == 3:  # deeper than a recursive reader's stack
        depth = rng.choice([100, 5000, 100000])
        return b'{"cells":' + b"[" * depth + b"]" * depth + b"}"
    return b"\xef\xbb\xbf" + data  # a byte-order mark, as some editors save


def mutant(seed_doc, rng: random.Random) -> bytes:
    doc = copy.deepcopy(seed_doc)
    for _ in range(rng.randint(1, 3)):
        doc = mutate_tree(doc, rng)
    data = json.dumps(doc).encode("utf-8", "surrogatepass")
    if rng.random() < 0.2:
        data = mutate_bytes(data, rng)
    return data


# ---- judging ------------------------------------------------------------------------------

def judge(results_file: Path, claims_file: Path, out: Path) -> None:
    """Runs the report's verdicts step; raises if bad input ends any other way than exit 2."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's RuntimeWarnings on odd numbers are not findings
        try:
            code = verdicts.main([str(results_file), "--claims", str(claims_file), "--out", str(out),
                                  "--quiet"])
        except SystemExit as leaving:
            code = leaving.code
    if code not in (0, 2):
        raise AssertionError(f"verdicts.main returned {code!r}")
    if code == 2 and not stderr.getvalue().strip():
        raise AssertionError("exit 2 without a word of explanation")


def corpus(kind: str) -> list[Path]:
    """The seed files of a kind; for claims, the real claims/claims.json too."""
    own = sorted(p for p in (CORPUS / f"fuzz_{kind}").glob("*.json*"))
    return ([REPO / "claims" / "claims.json"] if kind == "claims" else []) + own


def parsed(paths: list[Path]) -> list:
    """The seeds that parse, to mutate; the others (truncated, nested too deep) are only replayed."""
    docs = []
    for path in paths:
        try:
            docs.append(verdicts.load_json(path))
        except ValueError:
            continue
    return docs


def report_finding(kind: str, data: bytes, name: str) -> None:
    saved = Path(tempfile.mkdtemp(prefix="fuzz_claims-finding-")) / name
    saved.write_bytes(data)
    traceback.print_exc()
    shown = data[:2000].decode("utf-8", "backslashreplace")
    print(f"fuzz_claims: FINDING in the {kind} file reader; input ({len(data)} bytes) saved to {saved}; "
          f"reproduce: /usr/bin/python3 fuzz/fuzz_claims.py --replay {kind} {saved}\n{shown}", file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seconds", nargs="?", type=float, default=30)
    parser.add_argument("--seed", type=int, help="random seed (default: from the clock, printed)")
    parser.add_argument("--replay", nargs=2, metavar=("KIND", "FILE"), help="judge one saved input")
    args = parser.parse_args(argv)
    # Each mutant is judged with an intact file of the other kind: the real claims, and a real run
    # of some of their cells.
    intact_claims, intact_results = REPO / "claims" / "claims.json", CORPUS / "fuzz_results" / "run.json"
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="fuzz_claims-") as folder:
        folder = Path(folder)
        out = folder / "verdicts.json"

        # A micro suite claims file is read from beside the results it goes with.
        micro_run = folder / "micro-run"
        (micro_run / "micro" / "claims").mkdir(parents=True)
        (micro_run / "results.json").write_bytes(intact_results.read_bytes())

        def check(kind: str, path: Path) -> bool:
            try:
                if kind == "claims":
                    judge(intact_results, path, out)
                elif kind == "micro":
                    (micro_run / "micro" / "claims" / "glibc.json").write_bytes(path.read_bytes())
                    judge(micro_run / "results.json", intact_claims, out)
                else:
                    judge(path, intact_claims, out)
            except Exception:  # noqa: BLE001  anything escaping is what this looks for
                report_finding(kind, path.read_bytes(), path.name)
                return False
            return True

        if args.replay:
            kind, file = args.replay
            return 0 if check(kind, Path(file)) else 1

        # The corpus first, as libFuzzer does: the inputs of past findings stay fixed.
        kinds = ("claims", "results", "micro")
        for kind in kinds:
            if not all(check(kind, path) for path in corpus(kind)):
                return 1
        seeds = {kind: parsed(corpus(kind)) for kind in kinds}
        runs = {kind: 0 for kind in kinds}
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            kind = rng.choice(kinds)
            data = mutant(rng.choice(seeds[kind]), rng)
            # The results reader takes gzip by the file name; the claims reader reads plain JSON.
            compressed = kind == "results" and rng.random() < 0.2
            path = folder / (f"{kind}.json" + (".gz" if compressed else ""))
            path.write_bytes(gzip.compress(data) if compressed else data)
            if not check(kind, path):
                print(f"fuzz_claims: stopped after {sum(runs.values())} runs (seed {seed})", file=sys.stderr)
                return 1
            runs[kind] += 1
    print(f"fuzz_claims: {sum(runs.values())} runs ({runs['claims']} claims, {runs['results']} results, "
          f"{runs['micro']} micro suite files) in {args.seconds:g} s, seed {seed}: no finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
