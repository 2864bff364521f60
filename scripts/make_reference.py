#!/usr/bin/env python3
"""Makes results/reference/ from a finished run folder: what the repository keeps of a full run.

    /usr/bin/python3 scripts/make_reference.py RUN_DIR [--out results/reference]

Keeps results.json.gz with each repetition's raw record dropped (the repository stays small; every
figure the verdicts need is in the repetitions' metrics, derived by the driver) but for the timeline
of each fragmentation cell's first ok repetition (a plot draws it), summary.csv, the
micro suite, and the report remade from the kept file alone: verdicts.json, report.md and the PNG
plots. tests/test_verdicts.py checks that the evaluator reproduces the kept verdicts.json.
"""
import argparse
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "reference")
    args = parser.parse_args()
    results = json.loads((args.run / "results.json").read_text(encoding="utf-8"))
    if results.get("status") != "complete":
        print(f"make_reference: {args.run} is not a complete run ({results.get('status')})", file=sys.stderr)
        return 2
    for cell in results["cells"]:
        kept_timeline = False
        for rep in cell.get("repetitions", []):
            raw = rep.get("raw") or {}
            # The one figure drawn from raw records, the fragmentation workload's memory over time,
            # reads the timeline of each cell's first ok repetition: that much is kept.
            if (cell["workload"] == "fragmentation" and not kept_timeline and rep.get("status") == "ok"
                    and "timeline" in raw):
                rep["raw"] = {"timeline": raw["timeline"], "rss_before_setup_bytes": raw["rss_before_setup_bytes"]}
                kept_timeline = True
            else:
                rep["raw"] = None
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    with gzip.open(args.out / "results.json.gz", "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(results, f, separators=(",", ":"))
    shutil.copy(args.run / "summary.csv", args.out / "summary.csv")
    if (args.run / "micro").is_dir():
        shutil.copytree(args.run / "micro", args.out / "micro")
    made = subprocess.run(["/usr/bin/python3", str(ROOT / "harness" / "report" / "make_report.py"), str(args.out)])
    if made.returncode != 0:
        return made.returncode
    # The HTML embeds every plot and the SVGs repeat the PNGs: report.md and the PNGs suffice.
    (args.out / "report.html").unlink(missing_ok=True)
    for svg in (args.out / "plots").glob("*.svg"):
        svg.unlink()
    print(f"make_reference: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
