#!/usr/bin/env python3
"""The report's figures, drawn with matplotlib from a run's results files only.

    /usr/bin/python3 plots/plots.py RUN_DIR

Reads RUN_DIR/results.json and RUN_DIR/verdicts.json; writes RUN_DIR/plots/<id>.png (and .svg for a
run at the default scale) and RUN_DIR/plots/index.json: [{id, section, title, caption, png, svg}]
(svg null when not drawn), in the order the report shows
them. Sections: `claims` (forest plots of the verdicts), `overview` (heat map of every strategy on
every allocator), `workload:<form>` (throughput, latency, allocator calls and memory of one
workload form), plus the fragmentation workload's memory over time. Every caption says which
records it was drawn from. Cells that are not ok are left out and counted in the caption.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import math
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness" / "report"))
from verdicts import ALLOCATOR_ORDER, find_results, load_json, load_results  # noqa: E402
from trust import fault_text, strategy_faults  # noqa: E402

VERDICT_COLOURS = {"holds": "#2e8b3a", "exceeds": "#1f6fb2", "partly": "#d99a00", "refuted": "#c62828", "inconclusive": "#7a7a7a"}
PERCENTILES = [("latency_p50_ns", "p50"), ("latency_p90_ns", "p90"), ("latency_p99_ns", "p99"),
               ("latency_p999_ns", "p99.9")]
plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "figure.titlesize": 12, "svg.fonttype": "none"})


class Figures:
    # vector: an SVG beside each PNG. It costs as much as the PNG (the report's largest time), so a
    # run at a small scale, a check of the pipeline, has PNGs only.
    def __init__(self, out: Path, vector: bool = True):
        self.out = out
        self.vector = vector
        self.index: list[dict] = []
        out.mkdir(parents=True, exist_ok=True)

    def save(self, fig, ident: str, section: str, title: str, caption: str, strategies=()) -> None:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in ident)
        fig.savefig(self.out / f"{safe}.png", dpi=110, bbox_inches="tight")
        if self.vector:
            fig.savefig(self.out / f"{safe}.svg", bbox_inches="tight")
        plt.close(fig)
        # The strategies a figure shows, so that a reader (or a test) can find one without the picture.
        self.index.append({"id": safe, "section": section, "title": title, "caption": caption,
                           "png": f"{safe}.png", "svg": f"{safe}.svg" if self.vector else None,
                           "strategies": sorted(strategies)})


def median(cell: dict, metric: str):
    m = (cell.get("metrics") or {}).get(metric)
    return None if m is None else m.get("median")


def strategy_colours(strategies: list[str]) -> dict:
    palette = plt.get_cmap("tab20").colors
    return {s: palette[i % len(palette)] for i, s in enumerate(sorted(strategies))}


# ---- claims --------------------------------------------------------------------------------------

def claim_group(claim: dict) -> str:
    if claim.get("group") == "literature":
        return "literature"
    return claim["source"].split(" (")[0].split(", \"")[0]


def forest(fig_set: Figures, verdicts: dict) -> None:
    groups: dict[str, list] = defaultdict(list)
    for claim in verdicts["claims"]:
        groups[claim_group(claim)].append(claim)
    several_machines = len(verdicts["machines"]) > 1
    for number, (group, claims) in enumerate(groups.items()):
        heights = [max(1, len(c["rows"])) * 0.28 + 0.9 for c in claims]
        fig, axes = plt.subplots(len(claims), 1, figsize=(9.5, sum(heights)),
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
        for ax, claim in zip(axes[:, 0], claims):
            name = claim["id"] + (f" ({claim['part']})" if claim.get("part") else "")
            effect = claim.get("effect")
            rows = claim["rows"]
            labels = [f"{r['allocator']}" + (f" · {r['label']}" if len({x['label'] for x in rows}) > 1 else "")
                      + (f" · m{r['machine']}" if several_machines else "") for r in rows]
            ax.set_title(f"{name}: {claim['claim']}", loc="left", fontsize=9, fontweight="bold")
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels(labels, fontsize=7.5)
            ax.invert_yaxis()
            if effect is None:
                ax.set_xticks([])
                ax.text(0.01, 0.5, textwrap.fill("not an effect size: " + rows[0]["why"], 150), transform=ax.transAxes,
                        ha="left", va="center", fontsize=7, color="#555")
                ax.set_yticks([])
                continue
            values = [v for r in rows for v in (r["ci_low"], r["ci_high"], r["estimate"]) if v is not None]
            values += [v for v in (effect["claimed_low"], effect["claimed_high"], effect["null"]) if v is not None]
            lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
            log = effect["unit"] == "x" and lo > 0 and hi / lo > 10
            pad = (hi - lo) * 0.08 or 1.0
            left, right = (lo / 1.3, hi * 1.3) if log else (lo - pad, hi + pad)
            if log:
                ax.set_xscale("log")
            ax.set_xlim(left, right)
            band_low = effect["claimed_low"] if effect["claimed_low"] is not None else left
            band_high = effect["claimed_high"] if effect["claimed_high"] is not None else right
            ax.axvspan(band_low, band_high, color="#3b7dd8", alpha=0.13, lw=0,
                       label=f"claimed: {claim.get('claimed_text') or ''}")
            if effect["null"] is not None:
                ax.axvline(effect["null"], color="#333", ls="--", lw=0.8)
            for y, r in enumerate(rows):
                if r["verdict"] == "no_verdict":
                    ax.text(0.01, y, "no verdict: " + r["why"].replace("not judged: ", "")[:90], va="center",
                            fontsize=7, color="#777", transform=ax.get_yaxis_transform())
                    continue
                colour = VERDICT_COLOURS[r["verdict"]]
                ax.errorbar(r["estimate"], y, xerr=[[r["estimate"] - r["ci_low"]], [r["ci_high"] - r["estimate"]]],
                            fmt="o", color=colour, ms=4.5, capsize=2.5, lw=1.2)
                ax.text(1.01, y, r["verdict"], va="center", fontsize=7, color=colour,
                        transform=ax.get_yaxis_transform())
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_xlabel(f"{effect['label']} [{effect['unit']}]" if effect["unit"] else effect["label"], fontsize=7.5)
            ax.legend(loc="lower right", fontsize=6.5, frameon=False)
            ax.grid(axis="x", alpha=0.3)
        fig.suptitle(f"Claims of {group}: measured effect and 95% CI per allocator against the claimed range",
                     x=0.01, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / sum(heights)))
        fig_set.save(fig, f"claims-{number}", "claims", f"Claims of {group}",
                     "Each row: the effect measured on one allocator ('all': a count fixed by construction, the same "
                     "on every allocator) (marker: estimate from the 20%-trimmed means of the ok repetitions; bar: "
                     "Yuen 95% interval), coloured by verdict (green holds, blue exceeds, amber partly, red refuted, "
                     "grey inconclusive). Blue band: the claimed range; dashed line: no effect. "
                     "From verdicts.json, whose rows name the cells of results.json they use.")


# ---- overview ------------------------------------------------------------------------------------

def heat_map(fig_set: Figures, cells: list[dict], allocators: list[str]) -> None:
    ratios: dict[tuple, list] = defaultdict(list)
    for c in cells:
        r = ((c.get("ratio_to_std") or {}).get("ns_per_op") or {}).get("estimate")
        if c.get("threads") == 1 and c["status"] == "ok" and r and r > 0:
            ratios[(c["strategy"], c["allocator"])].append(r)
    strategies = sorted({s for s, _ in ratios}, key=lambda s: np.mean([math.log(v) for a in allocators
                                                                       for v in ratios.get((s, a), [1.0])]))
    if not strategies:
        return
    grid = np.full((len(strategies), len(allocators)), np.nan)
    for i, s in enumerate(strategies):
        for j, a in enumerate(allocators):
            if ratios.get((s, a)):
                grid[i, j] = math.exp(np.mean(np.log(ratios[(s, a)])))
    finite = grid[np.isfinite(grid)]
    span = max(2.0, math.exp(float(np.max(np.abs(np.log(finite))))))
    fig, ax = plt.subplots(figsize=(1.6 * len(allocators) + 3, 0.42 * len(strategies) + 1.5))
    image = ax.imshow(grid, cmap="RdYlGn_r", norm=LogNorm(vmin=1 / span, vmax=span), aspect="auto")
    for i, s in enumerate(strategies):
        for j, a in enumerate(allocators):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}\n({len(ratios[(s, a)])})", ha="center", va="center", fontsize=7.5)
    ax.set_xticks(range(len(allocators)), allocators)
    # A strategy's failures follow it here too: its ok cells are drawn, its name says what else happened.
    faults = strategy_faults(cells)
    ax.set_yticks(range(len(strategies)), [s + (f"  ✗ {fault_text(s, faults)}" if s in faults else "")
                                           for s in strategies])
    ax.set_title("Time per operation relative to std on the same allocator (1 thread)")
    fig.colorbar(image, ax=ax, label="geometric mean of ratio to std (below 1: faster)")
    fig_set.save(fig, "overview-heatmap", "overview", "Every strategy on every allocator",
                 "Geometric mean over the workload forms a strategy serves of ratio_to_std.ns_per_op.estimate "
                 "(median ns/op of the strategy / median ns/op of std, same workload, allocator and 1 thread), "
                 "from results.json; in brackets the number of workload forms. Strategies sorted by their mean; "
                 "✗ marks a strategy with failed or wrong cells elsewhere in the run (not ranked if wrong).",
                 strategies)


# ---- per workload --------------------------------------------------------------------------------

def workload_figure(fig_set: Figures, form: str, cells: list[dict], allocators: list[str], colours: dict) -> None:
    ok = [c for c in cells if c["status"] == "ok"]
    skipped = len(cells) - len(ok)
    strategies = sorted({c["strategy"] for c in ok}, key=lambda s: (s != "std", s))
    threads = sorted({c["threads"] for c in ok})
    fig, axes = plt.subplots(3, len(allocators), figsize=(4.2 * len(allocators), 10.5), squeeze=False)
    for j, allocator in enumerate(allocators):
        mine = [c for c in ok if c["allocator"] == allocator]
        ax = axes[0, j]
        for s in strategies:
            points = sorted((c["threads"], median(c, "ops_per_sec")) for c in mine if c["strategy"] == s
                            and median(c, "ops_per_sec"))
            if points:
                ax.plot([p[0] for p in points], [p[1] / 1e6 for p in points], marker="o", ms=3, lw=1.2,
                        color=colours[s], label=s, ls="-" if s != "std" else "--")
        ax.set_title(f"{allocator}: throughput")
        ax.set_xlabel("threads")
        ax.set_xticks(threads)
        ax.set_ylabel("million operations / s (all threads)" if j == 0 else "")
        ax.grid(alpha=0.3)
        one = {c["strategy"]: c for c in mine if c["threads"] == threads[0]}
        ax = axes[1, j]
        for k, (metric, name) in enumerate(PERCENTILES):
            xs = [i for i, s in enumerate(strategies) if s in one and median(one[s], metric)]
            ax.scatter(xs, [median(one[strategies[i]], metric) for i in xs], s=14, label=name,
                       marker="o^sD"[k], zorder=3)
        ax.set_yscale("log")
        ax.set_xticks(range(len(strategies)), strategies, rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{allocator}: latency percentiles, {threads[0]} thread(s)")
        ax.set_ylabel("ns per sampled operation" if j == 0 else "")
        ax.grid(alpha=0.3)
        ax = axes[2, j]
        held = [median(one[s], "memory_held_bytes") if s in one else None for s in strategies]
        live = [median(one[s], "live_bytes_peak") if s in one else None for s in strategies]
        calls = [median(one[s], "alloc_calls_per_op") if s in one else None for s in strategies]
        x = np.arange(len(strategies))
        ax.bar(x - 0.2, [(h or 0) / 2**20 for h in held], 0.4, color="#5b8bd0", label="memory held (RSS gained)")
        ax.bar(x + 0.2, [(v or 0) / 2**20 for v in live], 0.4, color="#a6c98a", label="live bytes (workload's count)")
        ax.set_ylabel("MiB" if j == 0 else "")
        ax.set_xticks(x, strategies, rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{allocator}: memory and allocator calls, {threads[0]} thread(s)")
        twin = ax.twinx()
        twin.plot(x, [c if c is not None else np.nan for c in calls], "k.", ms=7, label="allocator calls / op")
        twin.set_ylabel("allocator calls per operation" if j == len(allocators) - 1 else "")
        twin.set_ylim(bottom=0)
        if j == 0:
            handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
            ax.legend(handles=handles, fontsize=6.5, loc="lower left", framealpha=0.9)
    axes[1, 0].legend(fontsize=7, loc="upper left")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(8, len(labels)), fontsize=7.5, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle(f"{form}", y=1.03, fontsize=13, fontweight="bold")
    fig.tight_layout()
    note = f" {skipped} cell(s) not ok were left out." if skipped else ""
    no_held = all(held_v is None for held_v in held)
    fig_set.save(fig, f"workload-{form}", f"workload:{form}", f"{form}: throughput, latency, memory",
                 "Top: metrics.ops_per_sec.median (all threads) per thread count, one line per strategy (std dashed). "
                 "Middle: metrics.latency_p50/p90/p99/p999_ns medians at the smallest thread count (a sampled "
                 "operation, clock reads included). Bottom: memory held = metrics.memory_held_bytes.median "
                 "(results/metrics.json)"
                 + (" (not in this results file, which predates it)" if no_held else "")
                 + ", the workload's live_bytes_peak, and alloc_calls_per_op (dots). Ok cells of results.json."
                 + note, strategies)


def fragmentation_timeline(fig_set: Figures, cells: list[dict], allocators: list[str], colours: dict) -> None:
    chosen = [c for c in cells if c["workload"] == "fragmentation" and c["status"] == "ok"
              and c["threads"] == min(x["threads"] for x in cells if x["workload"] == "fragmentation")]
    if not chosen or not any(r.get("raw") for c in chosen for r in c["repetitions"]):
        return
    fig, axes = plt.subplots(1, len(allocators), figsize=(4.2 * len(allocators), 4), squeeze=False, sharey=True)
    for j, allocator in enumerate(allocators):
        ax = axes[0, j]
        live_drawn = False
        for c in sorted((c for c in chosen if c["allocator"] == allocator), key=lambda c: c["strategy"]):
            rep = next((r for r in c["repetitions"] if r.get("status") == "ok" and r.get("raw")), None)
            if rep is None:
                continue
            tl = rep["raw"]["timeline"]
            done = [sum(o) if isinstance(o, list) else o for o in tl["ops_done"]]
            base = rep["raw"]["rss_before_setup_bytes"]
            ax.plot(done, [(r - base) / 2**20 for r in tl["rss_bytes"]], color=colours[c["strategy"]], lw=1.2,
                    label=c["strategy"], ls="--" if c["strategy"] == "std" else "-")
            if not live_drawn and tl.get("live_bytes") and all(v is not None for v in tl["live_bytes"]):
                ax.plot(done, [v / 2**20 for v in tl["live_bytes"]], color="black", lw=2, alpha=0.5, label="live bytes")
                live_drawn = True
        ax.set_title(f"{allocator}")
        ax.set_xlabel("operations done")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("MiB (RSS gained since before setup)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(7, len(labels)), fontsize=7.5, bbox_to_anchor=(0.5, 1.12))
    fig.suptitle("fragmentation: memory held over time", y=1.18, fontweight="bold")
    fig_set.save(fig, "fragmentation-timeline", "workload:fragmentation", "fragmentation: memory over time",
                 "raw.timeline of the first ok repetition of each fragmentation cell at the smallest thread count: "
                 "rss_bytes − rss_before_setup_bytes after each of the 32 chunks of the measured phase, against "
                 "the operations done; black: the workload's own live_bytes.")


def main(run_dir) -> list[dict]:
    run = Path(run_dir)
    results = load_results(find_results(run))
    verdicts = load_json(run / "verdicts.json")
    machine0 = [c for c in results.get("cells", []) if c.get("machine", 0) == 0]
    model = [c for c in machine0 if c["strategy"] != "as_installed"]
    allocators = [a for a in ALLOCATOR_ORDER if any(c["allocator"] == a for c in model)] or ["glibc"]
    scale = ((results.get("plan") or {}).get("request") or {}).get("scale", "default")
    out, vector = run / "plots", scale == "default"
    colours = strategy_colours(sorted({c["strategy"] for c in model}))
    by_form: dict[str, list] = defaultdict(list)
    for c in model:
        by_form[c["workload"]].append(c)
    # The figures are independent of one another: drawn on every CPU (matplotlib spends most of a
    # report's time here), and listed in the report's order whatever finishes first.
    jobs = [(claims_figures, (out, vector, verdicts, model, allocators))]
    jobs += [(workload_figures, (out, vector, form, by_form[form], allocators, colours)) for form in sorted(by_form)]
    context = multiprocessing.get_context("fork")
    index: list[dict] = []
    with context.Pool(min(len(jobs), os.cpu_count() or 1)) as pool:
        for entries in pool.map(draw_job, jobs):
            index.extend(entries)
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return index


def draw_job(job) -> list[dict]:
    draw, arguments = job
    return draw(*arguments)


def claims_figures(out, vector, verdicts, model, allocators) -> list[dict]:
    figures = Figures(out, vector)
    forest(figures, verdicts)
    heat_map(figures, model, allocators)
    return figures.index


def workload_figures(out, vector, form, cells, allocators, colours) -> list[dict]:
    figures = Figures(out, vector)
    if any(c["status"] == "ok" for c in cells):
        workload_figure(figures, form, cells, allocators, colours)
    if form == "fragmentation":
        fragmentation_timeline(figures, cells, allocators, colours)
    return figures.index


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: plots.py RUN_DIR", file=sys.stderr)
        sys.exit(2)
    index = main(sys.argv[1])
    print(f"plots: wrote {len(index)} figures to {Path(sys.argv[1]) / 'plots'}")
