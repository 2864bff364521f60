#!/usr/bin/python3
"""The history of runs across commits, and the site that shows it.

    history.py append HISTORY RUN [--machine-kind NAME]   add a finished run (results.json, verdicts.json)
    history.py site HISTORY OUT [--latest-report FILE]     write OUT/index.html (and the latest report beside it)

A counted run is also kept whole, the latest of each measure: `allocproof run --instructions`'s
as HISTORY/latest/instructions-results.json.gz, `allocproof count-micro`'s as
HISTORY/latest/micro_instructions-results.json.gz. They are what a pull request's counted runs
are compared with.

HISTORY is a folder (in CI, a checkout of the Pages branch): `index.json` lists the entries, and
`runs/` holds one compact summary per run and machine kind: the commit, the date, the machine,
each cell's headline median and ratio with its interval, and each verdict row's verdict and
effect. The site draws, per machine kind, each claim's verdict and effect over the commits and
each strategy's ratio to std over them, and marks the change points: a verdict that is not the
one before it, a ratio whose interval no longer overlaps the one before (a counted run's, which
has none: a change past 2%). It reads results files and the history only.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import Figure, Heading, Para, Table, html_page  # noqa: E402
from verdicts import find_results, load_json, load_results  # noqa: E402

HISTORY_SCHEMA = "allocproof-history/1"
ENTRY_SCHEMA = "allocproof-history-run/1"
# A counted ratio has no interval: it is the same on every run, so any change is the build's, and
# one past this is drawn as a change point (the gate's threshold in the README).
COUNTED_CHANGE = 0.02
# The most verdict rows the claims' figure draws.
MOST_DRAWN = 24
# The measures of a counted run (the same on every run of a build), and how the site names them:
# `run --instructions`'s cells and `count-micro`'s micro-suite pairs.
COUNTED_MEASURES = {"instructions": "instructions per operation of the cells (counted under callgrind)",
                    "micro_instructions": "instructions per operation of the micro suite's pairs (counted under "
                                          "callgrind)"}


def latest_counted(measure: str) -> str:
    """Where the history keeps a counted run of `measure` whole (history/latest/), the baseline of
    a pull request's run of the same measure."""
    return f"{measure}-results.json.gz"


# The cells' counted run: history/latest/instructions-results.json.gz.
LATEST_COUNTED = latest_counted("instructions")


class HistoryError(Exception):
    """A run or a history that cannot be read: said in one line, nothing written."""


# ---- a run's summary ------------------------------------------------------------------------------

def machine_kind(environment: dict) -> str:
    """Machines of one kind give comparable figures: the same CPU model and count, OS and kernel."""
    return f"{environment.get('cpu_model', 'unknown CPU')}, {environment.get('logical_cpus', '?')} CPUs"


def headline(cell: dict) -> tuple[str, str]:
    """The metric a cell is read by, and where its ratio to its baseline is."""
    if "external" in cell:
        return "wall_seconds", "ratio_to_glibc"
    if (cell.get("params") or {}).get("measure") == "callgrind":
        return "instructions_per_op", "ratio_to_std"
    return "ns_per_op", "ratio_to_std"


def cell_summary(cell: dict) -> dict:
    metric, ratio_key = headline(cell)
    value = (cell.get("metrics") or {}).get(metric) or {}
    ratio = (cell.get(ratio_key) or {}).get(metric) or {}
    return {"strategy": cell["strategy"], "status": cell["status"], "metric": metric, "median": value.get("median"),
            "ratio": {k: ratio.get(k) for k in ("estimate", "ci_low", "ci_high")} if ratio else None}


def verdict_rows(verdicts: dict, machine: int) -> list[dict]:
    rows = []
    for claim in verdicts.get("claims", []):
        for row in claim.get("rows", []):
            if row.get("machine", 0) != machine:
                continue
            rows.append({"claim": claim["id"] + (f" ({claim['part']})" if claim.get("part") else ""),
                         "allocator": row.get("allocator"), "label": row.get("label"), "verdict": row["verdict"],
                         "estimate": row.get("estimate"), "ci_low": row.get("ci_low"), "ci_high": row.get("ci_high"),
                         "unit": (claim.get("effect") or {}).get("unit", "")})
    return rows


def summaries(run: Path, kind: str | None) -> list[dict]:
    """One summary per machine of the run (a merged run may hold several)."""
    try:
        results = load_results(find_results(run))
    except (OSError, ValueError) as error:
        raise HistoryError(str(error)) from None
    verdicts_path = run / "verdicts.json"
    verdicts = load_json(verdicts_path) if verdicts_path.is_file() else {}
    machines = results.get("machines") or [results.get("environment") or {}]
    request = (results.get("plan") or {}).get("request") or {}
    out = []
    for index, environment in enumerate(machines):
        cells = {c["id"]: cell_summary(c) for c in results.get("cells", []) if c.get("machine", 0) == index}
        out.append({"schema": ENTRY_SCHEMA, "commit": environment.get("git_commit") or "unknown",
                    "time": environment.get("time") or "", "machine_kind": kind or machine_kind(environment),
                    "machine": {k: environment.get(k) for k in ("cpu_model", "logical_cpus", "memory_total", "os",
                                                                "kernel", "virtualized")},
                    "measure": request.get("measure", "time"), "scale": request.get("scale"),
                    "cells": cells, "verdicts": verdict_rows(verdicts, index)})
    return out


# ---- the history folder ---------------------------------------------------------------------------

def read_index(history: Path) -> dict:
    path = history / "index.json"
    if not path.is_file():
        return {"schema": HISTORY_SCHEMA, "entries": []}
    index = load_json(path)
    if not isinstance(index, dict) or index.get("schema") != HISTORY_SCHEMA or not isinstance(index.get("entries"),
                                                                                                 list):
        raise HistoryError(f"{path} is not an {HISTORY_SCHEMA} index")
    return index


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60]


def append(history: Path, run: Path, kind: str | None) -> list[Path]:
    """Adds the run's summaries; a second run of the same commit, machine kind and measure replaces
    the first (a re-run of CI is the same point of the history)."""
    index = read_index(history)
    written = []
    for summary in summaries(run, kind):
        name = f"runs/{slug(summary['time'])}-{summary['commit'][:12]}-{slug(summary['machine_kind'])}-" \
               f"{summary['measure']}.json"
        same = [e for e in index["entries"] if (e["commit"], e["machine_kind"], e["measure"]) ==
                (summary["commit"], summary["machine_kind"], summary["measure"])]
        for entry in same:
            (history / entry["file"]).unlink(missing_ok=True)
            index["entries"].remove(entry)
        (history / "runs").mkdir(parents=True, exist_ok=True)
        (history / name).write_text(json.dumps(summary, separators=(",", ":")) + "\n", encoding="utf-8")
        index["entries"].append({"file": name, "commit": summary["commit"], "time": summary["time"],
                                 "machine_kind": summary["machine_kind"], "measure": summary["measure"]})
        written.append(history / name)
    index["entries"].sort(key=lambda e: e["time"])
    (history / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    for measure in {summary["measure"] for summary in summaries(run, kind)} & set(COUNTED_MEASURES):
        written.append(keep_latest_counted(history, find_results(run), measure))
    return written


def keep_latest_counted(history: Path, results: Path, measure: str) -> Path:
    """A counted run whole, the one a pull request's counted run is compared with (`allocproof
    compare`): its counts are the same on any machine, so the latest of main's is the baseline."""
    latest = history / "latest" / latest_counted(measure)
    latest.parent.mkdir(parents=True, exist_ok=True)
    data = results.read_bytes()
    latest.write_bytes(data if results.suffix == ".gz" else gzip.compress(data, mtime=0))
    return latest


def series(history: Path) -> dict[tuple[str, str], list[dict]]:
    """Each (machine kind, measure)'s summaries, oldest first."""
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for entry in read_index(history)["entries"]:
        out[(entry["machine_kind"], entry["measure"])].append(load_json(history / entry["file"]))
    return out


# ---- change points --------------------------------------------------------------------------------

def verdict_changes(runs: list[dict]) -> list[dict]:
    """Every verdict row whose verdict differs from its verdict in the run before."""
    changes, last = [], {}
    for run in runs:
        for row in run["verdicts"]:
            key = (row["claim"], row["allocator"], row["label"])
            if key in last and last[key] != row["verdict"]:
                changes.append({"row": key, "before": last[key], "after": row["verdict"], "commit": run["commit"],
                                "time": run["time"]})
            last[key] = row["verdict"]
    return changes


def strategy_ratio(run: dict, strategy: str) -> tuple[float, float, float] | None:
    """A strategy's ratio to std across its ok cells of one run: geometric means of the estimates and
    of each bound (a summary line, not an interval of its own)."""
    ratios = [c["ratio"] for c in run["cells"].values() if c["strategy"] == strategy and c["status"] == "ok"
              and c["ratio"] and (c["ratio"].get("estimate") or 0) > 0]
    if not ratios:
        return None

    def mean(key):
        values = [r.get(key) or r["estimate"] for r in ratios]
        return math.exp(sum(math.log(max(v, 1e-12)) for v in values) / len(values))
    return mean("estimate"), mean("ci_low"), mean("ci_high")


def ratio_changes(runs: list[dict], counted: bool) -> list[dict]:
    """A strategy's ratio that left the interval of the run before (counted: moved past 2%)."""
    strategies = sorted({c["strategy"] for run in runs for c in run["cells"].values()})
    changes = []
    for strategy in strategies:
        before = None
        for run in runs:
            now = strategy_ratio(run, strategy)
            if now and before:
                moved = (abs(now[0] / before[0] - 1) > COUNTED_CHANGE if counted
                         else now[1] > before[2] or now[2] < before[1])
                if moved:
                    changes.append({"strategy": strategy, "before": before[0], "after": now[0],
                                    "commit": run["commit"], "time": run["time"]})
            before = now or before
    return changes


# ---- the site ---------------------------------------------------------------------------------------

def drawn_rows(runs: list[dict], changes: list[dict]) -> list[tuple]:
    """The verdict rows with an effect in two runs or more, those whose verdict changed first, at
    most MOST_DRAWN of them (a history of every row of every claim would be a figure no one reads:
    the tables hold them all)."""
    points: dict[tuple, int] = defaultdict(int)
    for run in runs:
        for r in run["verdicts"]:
            if r.get("estimate") is not None:
                points[(r["claim"], r["allocator"], r["label"])] += 1
    changed = {c["row"] for c in changes}
    rows = sorted((key for key, n in points.items() if n >= 2), key=lambda key: (key not in changed, key))
    return rows[:MOST_DRAWN]


def draw_claims(runs: list[dict], changes: list[dict], out: Path, ident: str) -> Path | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = drawn_rows(runs, changes)
    if not rows:
        return None
    commits = [run["commit"][:7] for run in runs]
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.6 * len(rows) + 0.6), squeeze=False, sharex=True)
    for ax, key in zip(axes[:, 0], rows):
        xs, ys, lows, highs = [], [], [], []
        for i, run in enumerate(runs):
            row = next((r for r in run["verdicts"] if (r["claim"], r["allocator"], r["label"]) == key), None)
            if row and row.get("estimate") is not None:
                xs.append(i)
                ys.append(row["estimate"])
                lows.append(row["estimate"] - (row.get("ci_low") if row.get("ci_low") is not None else row["estimate"]))
                highs.append((row.get("ci_high") if row.get("ci_high") is not None else row["estimate"])
                             - row["estimate"])
        ax.errorbar(xs, ys, yerr=[lows, highs], fmt="o-", capsize=3)
        for change in changes:
            if change["row"] == key:
                at = next(i for i, run in enumerate(runs) if run["commit"] == change["commit"])
                ax.axvline(at - 0.5, color="#c0392b", linestyle="--")
                ax.annotate(f"{change['before']} → {change['after']}", (at - 0.45, max(ys)), fontsize=7,
                            color="#c0392b")
        ax.set_title(f"{key[0]}, {key[1]}, {key[2]}", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xticks(range(len(commits)), commits, rotation=45, fontsize=7)
    fig.tight_layout()
    path = out / f"claims-{ident}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def draw_strategies(runs: list[dict], changes: list[dict], out: Path, ident: str) -> Path | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    strategies = sorted({c["strategy"] for run in runs for c in run["cells"].values()} - {"std", "as_installed"})
    fig, ax = plt.subplots(figsize=(9, 4.5))
    drawn = False
    for strategy in strategies:
        points = [(i, r) for i, run in enumerate(runs) if (r := strategy_ratio(run, strategy))]
        if points:
            ax.plot([p[0] for p in points], [p[1][0] for p in points], "o-", label=strategy, linewidth=1)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    for change in changes:
        at = next(i for i, run in enumerate(runs) if run["commit"] == change["commit"])
        ax.axvline(at - 0.5, color="#c0392b", linestyle=":", linewidth=0.8)
    ax.axhline(1.0, color="#777", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("ratio to std (geometric mean of its cells)")
    ax.set_xticks(range(len(runs)), [run["commit"][:7] for run in runs], rotation=45, fontsize=7)
    ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    path = out / f"strategies-{ident}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def kind_blocks(kind: str, measure: str, runs: list[dict], images: Path, ident: str) -> list:
    counted = measure in COUNTED_MEASURES
    what = COUNTED_MEASURES.get(measure, "time")
    blocks = [Heading(2, f"{kind}: {what}", anchor=ident),
              Para(f"{len(runs)} runs, from `{runs[0]['commit'][:7]}` ({runs[0]['time']}) to "
                   f"`{runs[-1]['commit'][:7]}` ({runs[-1]['time']}).")]
    changes = verdict_changes(runs)
    if changes:
        blocks.append(Table(["Commit", "Date", "Claim", "Allocator", "Cells", "Verdict before", "Verdict after"],
                            [[f"`{c['commit'][:7]}`", c["time"], c["row"][0], c["row"][1], c["row"][2], c["before"],
                              c["after"]] for c in changes], verdict_column=5))
    elif any(run["verdicts"] for run in runs):
        blocks.append(Para("No verdict changed between consecutive runs."))
    latest = runs[-1]
    if latest["verdicts"]:
        blocks.append(Table(["Claim", "Allocator", "Cells", "Verdict", "Effect [95% CI]"],
                            [[r["claim"], r["allocator"], r["label"], r["verdict"], effect_text(r)]
                             for r in latest["verdicts"]], verdict_column=3))
    figure = draw_claims(runs, changes, images, ident)
    if figure:
        blocks.append(Figure(figure, "Claims' effects over the commits",
                             "Estimate and 95% interval per run; a dashed line marks a change of verdict. The rows "
                             f"whose verdict changed first, at most {MOST_DRAWN}; the tables above hold them all."))
    moved = ratio_changes(runs, counted)
    figure = draw_strategies(runs, moved, images, ident)
    if figure:
        blocks.append(Figure(figure, "Each strategy's ratio to std over the commits",
                             "Geometric mean over the strategy's ok cells; a dotted line marks a run where a "
                             "strategy's ratio left the interval of the run before" +
                             (" (counted: moved past 2%)." if counted else ".")))
    if moved:
        blocks.append(Table(["Commit", "Strategy", "Ratio before", "Ratio after"],
                            [[f"`{c['commit'][:7]}`", c["strategy"], f"{c['before']:.3f}", f"{c['after']:.3f}"]
                             for c in moved]))
    return blocks


def effect_text(row: dict) -> str:
    if row.get("estimate") is None:
        return "-"
    text = f"{row['estimate']:.3g}{row.get('unit') or ''}"
    if row.get("ci_low") is not None and row.get("ci_high") is not None:
        text += f" [{row['ci_low']:.3g}, {row['ci_high']:.3g}]"
    return text


def write_site(history: Path, out: Path, latest_report: Path | None) -> Path:
    all_series = series(history)
    if not all_series:
        raise HistoryError(f"{history} holds no run: append one first")
    out.mkdir(parents=True, exist_ok=True)
    blocks = [Heading(1, "allocproof: the history of its figures"),
              Para("Each machine kind apart: figures from different machines are not compared. Time-based runs "
                   "are labelled by the machine they ran on; counted runs are the same on any machine.")]
    if latest_report:
        shutil.copyfile(latest_report, out / "report.html")
        blocks.append(Para("The latest report: report.html, beside this page."))
    with tempfile.TemporaryDirectory() as scratch:
        for number, ((kind, measure), runs) in enumerate(sorted(all_series.items())):
            blocks += kind_blocks(kind, measure, runs, Path(scratch), f"kind-{number}")
        page = out / "index.html"
        page.write_text(html_page("allocproof history", blocks), encoding="utf-8")
    return page


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("append", help="add a finished run to the history")
    add.add_argument("history", type=Path)
    add.add_argument("run", type=Path)
    add.add_argument("--machine-kind", help="the machine kind to file it under (default: CPU model and count)")
    site = commands.add_parser("site", help="write the history's site")
    site.add_argument("history", type=Path)
    site.add_argument("out", type=Path)
    site.add_argument("--latest-report", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "append":
            for path in append(args.history, args.run, args.machine_kind):
                print(f"history: {path}")
        else:
            print(f"history site: {write_site(args.history, args.out, args.latest_report)}")
    except (HistoryError, OSError, ValueError) as error:
        print(f"history.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
