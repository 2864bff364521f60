#!/usr/bin/env python3
"""Writes RUN_DIR/report.md and a self-contained RUN_DIR/report.html from the run's results files.

    /usr/bin/python3 harness/report/render.py RUN_DIR

Reads results.json, verdicts.json (harness/report/verdicts.py) and plots/index.json
(plots/plots.py) and nothing else. Both reports are built from one document model (headings,
paragraphs, tables, figures, details), so the two say the same thing. The HTML embeds every
plot as a data: URI and has no external reference: it opens from disk with no network. Every
string that comes from outside (names, command lines, reasons) is escaped in the HTML.
"""
from __future__ import annotations

import base64
import html
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verdicts import ALLOCATOR_ORDER, LEVEL_WORDS, VERDICT_WORDS, fmt, find_results, load_json, load_results  # noqa: E402
from trust import fault_text, flags_of, flags_text, marked, strategy_faults, untrusted  # noqa: E402



# ---- the document model ----------------------------------------------------------------------

@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str  # plain text; `code` spans and **bold** are the only markup


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    verdict_column: int | None = None  # cells whose first word is a verdict get its colour


@dataclass
class Figure:
    path: Path
    title: str
    caption: str


@dataclass
class Details:
    summary: str
    blocks: list = field(default_factory=list)


# What each one-table section of the report is, by its anchor: its heading, and what its table shows.
TABLE_SECTIONS = {
    "faults": ("Strategies that failed or were wrong",
        ("A strategy answers for all its cells. One with a wrong result (`invalid`), a record the driver "
         "could not believe (`implausible`) or no reference to check it against (`unverified`) in any cell "
         "is not ranked in the winners or plugin tables and gives no verdict; one that `failed` somewhere "
         "is ranked with its failures beside its name.")),
    "flags": ("Work outside the clock, memory beside std",
        ("Cells whose strategy did work the measured phase does not see (setup and teardown, a thread of "
         "its own) or holds far more memory than `std` on the same workload, allocator and threads "
         "(bounds: results/SCHEMA.md §13). The cell is ok, its ratio stands, and this is beside it.")),
    "external": ("Real programs under each allocator",
        ("Each program as its Debian package built it, with the allocator preloaded (glibc: none). "
         "Ratios are to the same program under glibc, with a 95% interval.")),
    "leaks": ("Memory left allocated when a cell ended",
        ("Global operator new calls minus delete calls, and bytes (a lower bound), from before a cell "
         "built its state to after it tore it down. Not zero means a leak, or memory a strategy keeps "
         "for the whole process (boost's singleton pools never give theirs back). The cell's figures "
         "stand; its memory figures understate what a long-running process would hold.")),
}


def table_section(anchor: str, header: list[str], rows: list[list[str]]) -> list:
    """A section of the report that is one table (TABLE_SECTIONS): its heading, what it shows, the table."""
    title, text = TABLE_SECTIONS[anchor]
    return [Heading(2, title, anchor=anchor), Para(text), Table(header, rows)]


def md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list, run: Path) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text + "\n")
        elif isinstance(b, Para):
            out.append(b.text + "\n")
        elif isinstance(b, Table):
            out.append("| " + " | ".join(md_cell(h) for h in b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            out.extend("| " + " | ".join(md_cell(c) for c in row) + " |" for row in b.rows)
            out.append("")
        elif isinstance(b, Figure):
            out.append(f"![{b.title}]({b.path.relative_to(run).as_posix()})\n")
            out.append(f"*{b.caption}*\n")
        elif isinstance(b, Details):
            out.append(f"**{b.summary}**\n")
            out.append(to_markdown(b.blocks, run))
    return "\n".join(out)


def inline_html(text: str) -> str:
    """Escapes text, then turns `code` and **bold** into tags (the only markup the model uses)."""
    escaped = html.escape(text)
    parts = escaped.split("`")
    for i in range(1, len(parts), 2):
        parts[i] = f"<code>{parts[i]}</code>"
    escaped = "".join(parts)
    bold = escaped.split("**")
    for i in range(1, len(bold), 2):
        bold[i] = f"<strong>{bold[i]}</strong>"
    return "".join(bold)


def verdict_class(text: str) -> str:
    word = text.split(" ", 1)[0].strip("*").lower().replace(" ", "_")
    if word == "no":
        word = "no_verdict"
    return f' class="v-{word}"' if word in VERDICT_WORDS else ""


def to_html(blocks: list) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
            out.append(f"<h{b.level}{anchor}>{inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{inline_html(b.text)}</p>")
        elif isinstance(b, Table):
            out.append("<table><thead><tr>" + "".join(f"<th>{inline_html(h)}</th>" for h in b.header)
                       + "</tr></thead><tbody>")
            for row in b.rows:
                cells = []
                for i, c in enumerate(row):
                    css = verdict_class(c) if b.verdict_column is not None and i >= b.verdict_column else ""
                    cells.append(f"<td{css}>{inline_html(c)}</td>")
                out.append("<tr>" + "".join(cells) + "</tr>")
            out.append("</tbody></table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b.title)}">'
                       f"<figcaption><strong>{html.escape(b.title)}.</strong> {inline_html(b.caption)}"
                       "</figcaption></figure>")
        elif isinstance(b, Details):
            out.append(f"<details><summary>{inline_html(b.summary)}</summary>{to_html(b.blocks)}</details>")
    return "\n".join(out)


STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1280px;margin:2em auto;padding:0 1em;
color:#1d1d1f;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.88em}th,td{border:1px solid #ccc;padding:.25em .5em;
vertical-align:top}th{background:#f2f2f2;text-align:left}tbody tr:nth-child(even){background:#fafafa}
code{background:#f2f2f2;padding:0 .2em;border-radius:3px}
.v-holds{background:#d8f0d8}.v-exceeds{background:#cfe6f7}.v-partly{background:#fbecc8}.v-refuted{background:#f6d3d3}
.v-inconclusive{background:#e6e6e6}.v-no_verdict{background:#fff;color:#777}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85em;color:#444}
details{margin:.5em 0}summary{cursor:pointer;font-weight:600}
.counts span{display:inline-block;padding:.15em .6em;margin-right:.4em;border-radius:4px}
"""

# Records, for the Chromium test and for any reader who wonders, whether every image decoded and
# whether a script error happened. The page reads the same without it.
CHECK_SCRIPT = """
window.addEventListener('error', function () {
  document.body.dataset.errors = String(Number(document.body.dataset.errors || '0') + 1);
});
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.dataset.imagesLoaded = loaded + '/' + images.length;
  document.body.dataset.errors = document.body.dataset.errors || '0';
});
"""


# ---- content ---------------------------------------------------------------------------------

def claim_name(claim: dict) -> str:
    return claim["id"] + (f" ({claim['part']})" if claim.get("part") else "")


def row_text(row: dict, unit: str) -> str:
    if row["verdict"] == "no_verdict":
        return "no verdict"
    return (f"**{row['verdict']}** {fmt(row['estimate'], unit)} "
            f"[{fmt(row['ci_low'], unit)}, {fmt(row['ci_high'], unit)}]")


def verdict_blocks(verdicts: dict) -> list:
    allocators = verdicts["allocators"]
    several_machines = len(verdicts["machines"]) > 1
    header = ["Claim", "Source", "Claimed", "Measured on"] + allocators
    rows, notes, reasons = [], [], []
    for claim in verdicts["claims"]:
        unit = (claim.get("effect") or {}).get("unit", "")
        claimed = claim.get("claimed_text") or "-"
        if claim.get("document_estimate"):
            claimed += " (the seed's figure is an estimate, see below)"
            notes.append(f"**{claim_name(claim)}**: {claim['document_estimate']}")
        by_label: dict[tuple, dict] = {}
        for row in claim["rows"]:
            by_label.setdefault((row["machine"], row["label"]), {})[row["allocator"]] = row
            reasons.append([claim_name(claim), claim.get("level", "-"), row["label"], row["allocator"]
                            + (f" (machine {row['machine']})" if several_machines else ""),
                            row["verdict"].replace("_", " "), row.get("why", "")])
        source = claim["source"].split(" (")[0].split(", \"")[0]
        for (machine, label), per_allocator in by_label.items():
            where = label + (f" — machine {machine}" if several_machines else "")
            cells = [row_text(per_allocator[a], unit) if a in per_allocator else "-" for a in allocators]
            if "all" in per_allocator:  # a count fixed by construction: one figure for every allocator
                cells = [row_text(per_allocator["all"], unit) + " (by construction, every allocator)"] + \
                        [""] * (len(allocators) - 1)
            if claim.get("effect") is None:
                where, cells = "not an effect size", ["no verdict"] * len(allocators)
            rows.append([claim_name(claim), source, claimed, where] + cells)
            if claim.get("effect") is None:
                break
    blocks = [Table(header, rows, verdict_column=4)]
    if notes:
        blocks += [Heading(3, "Figures the seeds computed instead of measuring")] + [Para(n) for n in notes]
    blocks.append(Details("Why each verdict (every row: the level it is judged at, the interval, the claimed "
                          "range or which cells are missing, and for a claim judged on one operation, what the "
                          "effect comes to on whole workload operations)",
                          [Para("Levels: " + "; ".join(f"*{level}*: {words}" for level, words in LEVEL_WORDS.items())
                                + " (claims/README.md, Levels)."),
                           Table(["Claim", "Level", "Measured on", "Allocator", "Verdict", "Why"],
                                 reasons, verdict_column=4)]))
    return blocks


def metric_median(cell: dict, name: str):
    m = (cell.get("metrics") or {}).get(name)
    return None if m is None else m.get("median")


def ratio_text(cell: dict) -> str:
    r = ((cell.get("ratio_to_std") or {}).get("ns_per_op"))
    if not r:
        return "baseline" if cell["strategy"] == "std" else "-"
    ci = "" if r.get("ci_low") is None else f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
    return f"{r['estimate']:.2f}{ci}"


def winners_blocks(cells: list[dict], allocators: list[str]) -> list:
    """Per workload form: the three fastest strategies per allocator at 1 thread and at the most threads.
    A strategy with a wrong result or an implausible record anywhere in the run is not ranked; one that
    failed elsewhere is ranked with its failures beside its name; a flagged cell carries its flags."""
    blocks = []
    faults = strategy_faults(cells)
    forms = sorted({c["workload"] for c in cells if c["strategy"] != "as_installed"})
    for form in forms:
        mine = [c for c in cells if c["workload"] == form]
        threads = sorted({c["threads"] for c in mine})
        rows = []
        for t in sorted({threads[0], threads[-1]}):
            for allocator in allocators:
                ranked = sorted((c for c in mine if c["threads"] == t and c["allocator"] == allocator
                                 and c["status"] == "ok" and metric_median(c, "ns_per_op") is not None
                                 and not untrusted(c["strategy"], faults)),
                                key=lambda c: metric_median(c, "ns_per_op"))
                if not ranked:
                    continue
                best = "; ".join(f"{marked(c['strategy'], faults)} {metric_median(c, 'ns_per_op'):.1f} ns"
                                 f" ({ratio_text(c)}){' noisy' if c.get('noisy') else ''}"
                                 f"{' ⚑ ' + ', '.join(f['flag'] for f in flags_of(c)) if flags_of(c) else ''}"
                                 for c in ranked[:3])
                std = next((c for c in ranked if c["strategy"] == "std"), None)
                rows.append([str(t), allocator, best,
                             f"{metric_median(std, 'ns_per_op'):.1f} ns" if std else "-"])
        bad = [c for c in mine if c["status"] not in ("ok",)]
        blocks.append(Heading(3, f"`{form}`", anchor=f"w-{form}"))
        blocks.append(Table(["Threads", "Allocator", "Fastest three (median ns/op per thread; ratio to std [95% CI])",
                             "std"], rows))
        if bad:
            blocks.append(Para("Cells not ok: " + "; ".join(
                f"`{c['id']}` {c['status']}" + (f" ({c['reason']})" if c.get("reason") else "") for c in bad)))
        unranked = sorted({c["strategy"] for c in mine if c["status"] == "ok" and untrusted(c["strategy"], faults)})
        if unranked:
            blocks.append(Para("Not ranked, for wrong results or implausible records elsewhere in this run: "
                               + "; ".join(marked(s, faults) for s in unranked) + "."))
        flagged = [c for c in mine if flags_of(c)]
        if flagged:
            blocks.append(Para("Flagged: " + "; ".join(f"`{c['id']}` {flags_text(c)}" for c in flagged)))
        blocks.append(("plots", f"workload:{form}"))
    return blocks


def fault_blocks(cells: list[dict]) -> list:
    """Every strategy with a failed or untrusted cell, and which: its failure follows it everywhere."""
    faults = strategy_faults(cells)
    if not faults:
        return []
    rows = [[f"`{s}`", fault_text(s, faults), "not ranked, no verdict" if untrusted(s, faults) else "marked",
             ", ".join(f"`{i}`" for ids in by_status.values() for i in ids[:6])
             + (" ..." if sum(len(ids) for ids in by_status.values()) > 6 else "")]
            for s, by_status in sorted(faults.items())]
    return table_section("faults", ["Strategy", "Cells", "Consequence", "Where"], rows)


def flag_blocks(cells: list[dict]) -> list:
    """Ok cells whose ratio rests on work outside the clock or on memory std does not hold."""
    flagged = [c for c in cells if flags_of(c)]
    if not flagged:
        return []
    rows = [[f"`{c['id']}`", f['flag'], f.get("text", "")] for c in flagged for f in flags_of(c)]
    return table_section("flags", ["Cell", "Flag", "Figures"], rows)


def external_blocks(cells: list[dict]) -> list:
    rows = []
    for c in cells:
        if c["strategy"] != "as_installed":
            continue
        ratio = (c.get("ratio_to_glibc") or {})
        def r(name):
            v = ratio.get(name)
            return "-" if not v else f"{v['estimate']:.2f}" + (
                "" if v.get("ci_low") is None else f" [{v['ci_low']:.2f}, {v['ci_high']:.2f}]")
        wall, thr, rss = (metric_median(c, n) for n in ("wall_seconds", "program_throughput", "rss_peak_bytes"))
        rows.append([c["workload"], c["allocator"], c["status"] + (f" ({c['reason']})" if c.get("reason") else ""),
                     "-" if wall is None else f"{wall:.2f}", "-" if thr is None else f"{thr:.4g}",
                     "-" if rss is None else f"{rss / 2**20:.1f}", r("program_throughput"), r("rss_peak_bytes")])
    if not rows:
        return []
    return table_section("external", ["Program", "Allocator", "Status", "Wall s", "Throughput", "Peak RSS MiB",
                                      "Throughput / glibc", "Peak RSS / glibc"], rows)


def plugin_blocks(results: dict, cells: list[dict], allocators: list[str]) -> list:
    """The strategies of plugins (run --plugin): where they came from, and how they fared against std."""
    plugins = results.get("plugins") or []
    if not plugins:
        return []
    blocks = [Heading(2, "Strategies from plugins", anchor="plugins"),
              Para("Loaded with `allocproof run --plugin`: built out of the tree against the installed package, "
                   "measured in the same cells as the built-in strategies and judged by the same digests. "
                   "Ratio: geometric mean over the strategy's ok cells of its median ns/op to `std`'s on the "
                   "same workload, allocator and threads (below 1 is faster).")]
    rows = []
    faults = strategy_faults(cells)
    for plugin in plugins:
        for strategy in plugin.get("strategies", []):
            for allocator in allocators:
                mine = [c for c in cells if c["strategy"] == strategy and c["allocator"] == allocator]
                if not mine:
                    continue
                ratios = [c["ratio_to_std"]["ns_per_op"]["estimate"] for c in mine
                          if c["status"] == "ok" and (c.get("ratio_to_std") or {}).get("ns_per_op")]
                geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else None
                ok = sum(c["status"] == "ok" for c in mine)
                ratio = ("not ranked" if untrusted(strategy, faults) else
                         "-" if geomean is None else f"{geomean:.2f} ({len(ratios)} cells)")
                flags = sorted({f["flag"] for c in mine for f in flags_of(c)})
                rows.append([marked(strategy, faults), plugin.get("name", ""), plugin.get("path", ""), allocator,
                             f"{ok} of {len(mine)}", ratio, ", ".join(f"⚑ {f}" for f in flags) or "-"])
    blocks.append(Table(["Strategy", "Plugin", "Library", "Allocator", "Cells ok", "Ratio to std", "Flags"], rows))
    return blocks


def leak_blocks(cells: list[dict]) -> list:
    """Cells that left memory allocated when they ended: a leak, or memory kept for the process's lifetime."""
    leaked = [c for c in cells if c.get("leaked")]
    if not leaked:
        return []
    by_strategy: dict[str, list[dict]] = {}
    for c in leaked:
        by_strategy.setdefault(c["strategy"], []).append(c)
    rows = []
    for strategy, mine in sorted(by_strategy.items()):
        blocks_left = max(c["metrics"]["leaked_blocks"]["max"] for c in mine)
        bytes_left = max(c["metrics"]["leaked_bytes"]["max"] for c in mine)
        rows.append([f"`{strategy}`", str(len(mine)), f"{blocks_left:.0f}", f"{bytes_left:,.0f}"])
    return table_section("leaks", ["Strategy", "Cells", "Most blocks left", "Most bytes left"], rows)


def environment_blocks(results: dict) -> list:
    envs = results.get("machines") or [results.get("environment", {})]
    keys = ["cpu_model", "logical_cpus", "memory_total", "virtualized", "kernel", "os", "hostname", "compiler",
            "compiler_flags", "build_type", "sanitizers", "allocproof_version", "git_commit", "git_dirty", "time"]
    rows = [[k] + [json.dumps(e.get(k)) if not isinstance(e.get(k), str) else e.get(k) for e in envs] for k in keys]
    for name in ALLOCATOR_ORDER:
        if any(name in (e.get("allocators") or {}) for e in envs):
            rows.append([f"allocator {name}"] + [
                " ".join(str((e.get("allocators") or {}).get(name, {}).get(k, "")) for k in ("version", "malloc_provider"))
                for e in envs])
    header = ["", *(f"machine {i}" for i in range(len(envs)))] if len(envs) > 1 else ["", "value"]
    blocks = [Heading(2, "Environment", anchor="environment"), Table(header, rows)]
    settings = [[s.get("flag", ""), str(s.get("value") if s.get("value") is not None else s.get("default", "")),
                 s.get("meaning", "")] for s in results.get("settings", [])]
    command = " ".join(envs[0].get("command_line") or [])
    blocks += [Para(f"Command line: `{command}`"),
               Details("Run settings", [Table(["Option", "Value", "Meaning"], settings)])]
    return blocks


def plot_blocks(index: list[dict], section: str, run: Path) -> list:
    return [Figure(run / "plots" / p["png"], p["title"], p["caption"])
            for p in index if p.get("section") == section and p.get("png") and (run / "plots" / p["png"]).is_file()]


def scale_warning(results: dict) -> list:
    """A run at a small scale is a smoke test of the whole pipeline, not a measurement to quote."""
    scale = ((results.get("plan") or {}).get("request") or {}).get("scale", "default")
    if scale == "default":
        return []
    return [Para(f"**Indicative only.** This run used the `{scale}` scale: short measured phases and few "
                 "repetitions, so its verdicts show that every claim can be judged, not what the judgement is. "
                 "Quote the verdicts of a default run (`./run_all.sh`).")]


def noise_of_claim_cells(results: dict, verdicts: dict) -> Para | None:
    """How noisy the measurements the verdicts rest on were: the coefficient of variation of ns/op
    over the 1-thread cells the claims use (median and 90th percentile), against the targets."""
    used = {cell for claim in verdicts["claims"] for row in claim["rows"] for cell in row.get("cells", [])}
    cvs = sorted(c["metrics"]["ns_per_op"]["cv"] for c in results.get("cells", [])
                 if c.get("id") in used and c.get("threads") == 1 and c.get("status") == "ok"
                 and (c.get("metrics") or {}).get("ns_per_op") and c["metrics"]["ns_per_op"].get("n", 0) > 1)
    if not cvs:
        return None
    median_cv, p90_cv = float(np.percentile(cvs, 50)), float(np.percentile(cvs, 90))
    phases = sorted(r["metrics"]["phase_ms"] for c in results.get("cells", []) if c.get("id") in used
                    for r in c.get("repetitions", []) if r.get("status") == "ok" and
                    isinstance((r.get("metrics") or {}).get("phase_ms"), (int, float)))
    phase = f"; measured phases lasted {np.percentile(phases, 50):.0f} ms (median)" if phases else ""
    met = median_cv <= 0.02 and p90_cv <= 0.05
    return Para(f"**Noise of this machine.** Over the {len(cvs)} one-thread cells the claims use, the coefficient "
                f"of variation of ns/op across repetitions has a median of **{100 * median_cv:.1f}%** and a 90th "
                f"percentile of **{100 * p90_cv:.1f}%**{phase} (the project aims at 2% and 5%: "
                + ("met" if met else "not met here, so effects smaller than this noise stay inconclusive") + ").")


def build(run: Path, results: dict, verdicts: dict, index: list[dict]) -> list:
    env = results.get("environment", {})
    cells = results.get("cells", [])
    counts = verdicts["counts"]
    statuses = {}
    for c in cells:
        statuses[c["status"]] = statuses.get(c["status"], 0) + 1
    run_id = run.resolve().name
    blocks = [
        Heading(1, f"allocproof report — {run_id}"),
        Para(f"Every claim of the seed documents and of the literature, measured on "
             f"{len(verdicts['machines'])} machine(s) ({'; '.join(m['label'] for m in verdicts['machines'])}) "
             f"against each global allocator ({', '.join(verdicts['allocators'])}). Rows: "
             + ", ".join(f"**{counts[w]}** {w.replace('_', ' ')}" for w in VERDICT_WORDS)
             + f". Cells: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
             + f"; run `{results.get('status')}`, commit `{(env.get('git_commit') or 'unknown')[:12]}`, "
               f"started {env.get('time', '?')}."),
        Para("A verdict places the 95% interval of the measured effect (Yuen's trimmed-mean interval, "
             "ratios on the log scale) against the claimed range, in the words of CLAIMS.md: **holds** (within "
             "the range), **exceeds** (a real effect wholly above it), **partly** (real, wholly short of it), "
             "**refuted** (the opposite; no effect with the claimed size ruled out; above an 'up to' limit), "
             "**inconclusive** (any other position: the row says between which two words it lies and how many "
             "repetitions would settle it, or that the bound is within this machine's noise). A count that is "
             "the same on every allocator is shown once, 'by construction'. How each claim is measured is in "
             "`claims/claims.json`; every figure below comes from the cells named in `verdicts.json` and "
             "`results.json`."),
        *scale_warning(results),
        *[p for p in [noise_of_claim_cells(results, verdicts)] if p],
        Heading(2, "Verdicts on the claims", anchor="verdicts"),
        *verdict_blocks(verdicts),
        *fault_blocks(cells),
        *plot_blocks(index, "claims", run),
        Heading(2, "Overview", anchor="overview"),
        *plot_blocks(index, "overview", run),
        Heading(2, "Per workload: the winners", anchor="workloads"),
        Para("Median ns per operation per thread over the ok repetitions; in brackets the ratio to `std` on the "
             "same allocator with its 95% interval (below 1 is faster). `noisy`: the repetitions' CV "
             "exceeds the run's noise threshold."),
    ]
    for b in winners_blocks(cells, verdicts["allocators"]):
        blocks.extend(plot_blocks(index, b[1], run) if isinstance(b, tuple) else [b])
    blocks += external_blocks(cells)
    blocks += plugin_blocks(results, cells, verdicts["allocators"])
    blocks += flag_blocks(cells)
    blocks += leak_blocks(cells)
    micro = run / "micro" / "summary.md"
    if micro.is_file():
        blocks.append(Para("The micro suite (each strategy operation in isolation) is in `micro/summary.md`."))
    blocks += environment_blocks(results)
    return blocks


def write_reports(run: Path) -> tuple[Path, Path]:
    results_path = find_results(run)
    results = load_results(results_path)
    verdicts = load_json(run / "verdicts.json")
    index_path = run / "plots" / "index.json"
    index = load_json(index_path) if index_path.is_file() else []
    blocks = build(run, results, verdicts, index)
    md, page = run / "report.md", run / "report.html"
    md.write_text(to_markdown(blocks, run), encoding="utf-8")
    page.write_text(html_page(f"allocproof report — {run.resolve().name}", blocks), encoding="utf-8")
    return md, page


def html_page(title: str, blocks: list) -> str:
    """A whole page, self-contained (images embedded), with the report's style and load check."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style><script>{CHECK_SCRIPT}</script></head>\n"
            "<body>\n" + to_html(blocks) + "\n</body></html>\n")


def main(argv=None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: render.py RUN_DIR", file=sys.stderr)
        return 2
    try:
        md, page = write_reports(Path(args[0]))
    except (OSError, ValueError, KeyError) as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
    print(f"render: wrote {md} and {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
