#!/usr/bin/env python3
"""Do two runs reach the same verdicts? Row by row, for the repeatability of the whole pipeline.

    /usr/bin/python3 harness/report/agreement.py A B [--json FILE]

A and B are run folders (or their verdicts.json). Rows are matched by claim id, part, label,
allocator and machine. A row is decided in a run when its verdict is one of holds, exceeds,
partly, refuted; the agreement is the share of rows decided in both runs whose words are the same.
A move between holds/exceeds and refuted is a flip: the two runs contradict each other, where a
move to or from inconclusive is only a loss of precision. Prints the counts and every changed row;
exits 0, or 2 on bad input (one line). With --fail-on-flip it exits 1 when a row flipped.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DECIDED = ("holds", "exceeds", "partly", "refuted")
POSITIVE = ("holds", "exceeds")


def load(path: Path) -> dict:
    file = path / "verdicts.json" if path.is_dir() else path
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{file}: not a readable verdicts file ({error})") from None
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("allocproof-verdicts/") or \
            not isinstance(doc.get("claims"), list):
        raise ValueError(f"{file}: not an allocproof verdicts file")
    return doc


def rows(doc: dict) -> dict[tuple, dict]:
    out = {}
    for claim in doc["claims"]:
        for row in claim.get("rows", []):
            key = (claim["id"], claim.get("part") or "", row["label"], row["allocator"], row.get("machine", 0))
            out[key] = row
    return out


def compare(a: dict, b: dict) -> dict:
    rows_a, rows_b = rows(a), rows(b)
    common = [k for k in rows_a if k in rows_b]
    decided_both, agree, changed, flips = 0, 0, [], []
    for key in common:
        va, vb = rows_a[key]["verdict"], rows_b[key]["verdict"]
        if va in DECIDED and vb in DECIDED:
            decided_both += 1
            agree += va == vb
        if va != vb:
            entry = {"claim": key[0], "part": key[1] or None, "label": key[2], "allocator": key[3],
                     "machine": key[4], "a": va, "b": vb,
                     "estimate_a": rows_a[key].get("estimate"), "estimate_b": rows_b[key].get("estimate")}
            changed.append(entry)
            if (va in POSITIVE and vb == "refuted") or (vb in POSITIVE and va == "refuted"):
                flips.append(entry)
    return {"rows_in_both": len(common), "only_in_a": len(rows_a) - len(common),
            "only_in_b": len(rows_b) - len(common), "decided_in_both": decided_both, "agree": agree,
            "agreement": agree / decided_both if decided_both else None, "changed": changed, "flips": flips}


def text(result: dict) -> str:
    lines = []
    share = "-" if result["agreement"] is None else f"{100 * result['agreement']:.1f}%"
    lines.append(f"rows in both runs: {result['rows_in_both']} (only in A: {result['only_in_a']}, "
                 f"only in B: {result['only_in_b']})")
    lines.append(f"decided in both: {result['decided_in_both']}; the same word: {result['agree']} ({share}); "
                 f"flips between holds/exceeds and refuted: {len(result['flips'])}")
    for c in result["changed"]:
        name = c["claim"] + (f" ({c['part']})" if c["part"] else "")
        flip = "  FLIP" if c in result["flips"] else ""
        lines.append(f"  {name:<26} {c['label'][:34]:<34} {c['allocator']:<9} {c['a']:>12} -> {c['b']:<12}{flip}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    parser.add_argument("--fail-on-flip", action="store_true", help="exit 1 when a row flipped")
    args = parser.parse_args(argv)
    try:
        result = compare(load(args.a), load(args.b))
    except ValueError as error:
        print(f"agreement: {error}", file=sys.stderr)
        return 2
    print(text(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 1 if args.fail_on_flip and result["flips"] else 0


if __name__ == "__main__":
    sys.exit(main())
