#!/usr/bin/env python3
"""Turns a run folder into its report: verdicts.json, plots/, report.md and report.html.

    /usr/bin/python3 harness/report/make_report.py RUN_DIR

The last step of ./run_all.sh. Each step reads only the results files the earlier ones wrote, so
it can be run again on any run folder (a merged one too) without measuring anything.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "harness" / "report"))
sys.path.insert(0, str(ROOT / "plots"))

import render  # noqa: E402
import verdicts  # noqa: E402


def main(argv=None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: make_report.py RUN_DIR", file=sys.stderr)
        return 2
    run = Path(args[0])
    status = verdicts.main([str(run), "--quiet"])
    if status != 0:
        return status
    import plots  # noqa: E402  (matplotlib is slow to import: only once the verdicts are written)
    try:
        plots.main(run)
    except (OSError, ValueError, KeyError) as error:
        print(f"plots: {error}", file=sys.stderr)
        return 2
    return render.main([str(run)])


if __name__ == "__main__":
    sys.exit(main())
