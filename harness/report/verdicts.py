#!/usr/bin/env python3
"""Judges every claim of claims/claims.json against one run's results.json.

    /usr/bin/python3 harness/report/verdicts.py RUN_DIR [--claims FILE] [--out FILE]

Writes RUN_DIR/verdicts.json (schema allocproof-verdicts/2, see claims/README.md) and prints the
verdict table. For each claim, machine and global allocator it computes the measured effect from
the repetitions of the cells the claim names, its 95% interval (Yuen's trimmed-mean interval,
from `allocproof interval`: harness/stats.hpp says why), and a verdict in the words of CLAIMS.md:

  holds         the interval lies within the claimed range (for an "at most" claim: under the bound)
  exceeds       wholly above a range whose top is not a limit: a real effect larger than claimed
  partly        a real effect, wholly short of the claimed range
  refuted       the opposite effect; no effect with the claimed size ruled out; wholly above an
                "up to" limit; for an "at most" claim, wholly above the bound
  inconclusive  any other position: the row says between which two words, and what would settle it
  no_verdict    a cell the claim needs is missing or not ok, or the claim is not an effect size

A figure that is the same in every repetition and on every global allocator (a count fixed by the
workload's construction) is one row, labelled "by construction", not one per allocator.

Only results files are read, so every figure is traceable to the repetitions of named cells.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np

from intervals import IntervalError, IntervalService
from trust import fault_text, strategy_faults, untrusted

SCHEMA = "allocproof-verdicts/2"
REPO = Path(__file__).resolve().parents[2]
# The global allocators in the order every table shows them: catalogue/allocators.json, the one list.
ALLOCATOR_ORDER = [entry["name"] for entry in
                   json.loads((REPO / "catalogue" / "allocators.json").read_text(encoding="utf-8"))["allocators"]]
# The one catalogue of metrics (results/metrics.json), which the driver compiles in: directions
# come from there, and every value from a repetition's `metrics`, derived once by the driver.
CATALOGUE = json.loads((REPO / "results" / "metrics.json").read_text(encoding="utf-8"))["metrics"]
# The schema_version of results.json this reads: the number the driver compiles in, from one file.
RESULTS_SCHEMA_VERSION = int((REPO / "results" / "schema_version").read_text(encoding="utf-8"))


def higher_is_better(metric: str) -> bool:
    for entry in CATALOGUE:
        name = entry["name"]
        if (metric.startswith(name[:-1]) if name.endswith("*") else metric == name):
            return entry["better"] == "higher"
    return False


class ClaimsError(Exception):
    """The claims file is malformed: the report cannot be trusted, so nothing is written."""


def load_json(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, EOFError, gzip.BadGzipFile, RecursionError) as error:  # RecursionError: nested too deep
        raise ValueError(f"{path} is not valid JSON ({error})") from None


def load_results(path: Path) -> dict:
    results = load_json(path)
    if not isinstance(results, dict) or results.get("tool") != "allocproof" or "schema_version" not in results:
        raise ValueError(f"{path} is not an allocproof results file (no tool \"allocproof\" and schema_version)")
    version = results["schema_version"]
    if type(version) is not int or version != RESULTS_SCHEMA_VERSION:  # bool is an int, and 1.0 == 1: not a version
        raise ValueError(f"{path} has schema_version {json.dumps(version)}, this report reads schema_version "
                         f"{RESULTS_SCHEMA_VERSION}")
    if not isinstance(results.get("cells"), list):
        raise ValueError(f"{path} is not an allocproof results file: no cells array")
    problem = shape_problem(results)
    if problem:
        raise ValueError(f"{path} is malformed: {problem}")
    return results


def shape_problem(results: dict) -> str | None:
    """The first part of a results document that is not of the shape Run and rows_for read, or None."""
    def objects(items) -> bool:
        return isinstance(items, list) and all(isinstance(item, dict) for item in items)
    if not objects(results.get("machines") or [results.get("environment", {})]):
        return "its machines (or environment) are not objects"
    plan = results.get("plan") or {}
    if not isinstance(plan, dict) or not isinstance(plan.get("request") or {}, dict):
        return "its plan (or the plan's request) is not an object"
    if not isinstance((plan.get("request") or {}).get("seed", 42), int):
        return "the request's seed is not a whole number"
    for i, cell in enumerate(results["cells"]):
        if not isinstance(cell, dict) or not objects(cell.get("repetitions", [])):
            return f"cells[{i}] is not an object with an array of repetition objects"
        if not isinstance(cell.get("instructions", {}), dict):
            return f"cells[{i}] has instruction counts that are not an object"
        for rep in cell.get("repetitions", []):
            raw = rep.get("raw") or {}
            if not isinstance(rep.get("metrics") or {}, dict) or not isinstance(raw, dict) or \
                    not isinstance(raw.get("timeline") or {}, dict):
                return f"cells[{i}] has a repetition whose metrics or raw record is not an object"
    return None


def find_results(run: Path) -> Path:
    if run.is_file():
        return run
    for name in ("results.json", "results.json.gz"):
        if (run / name).is_file():
            return run / name
    raise FileNotFoundError(f"no results.json in {run}")


# ---- values of one cell ----------------------------------------------------------------------

def is_number(value) -> bool:
    """A finite number: not a bool, not NaN or infinity, not an integer beyond a float's range."""
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:
        return False


def rep_value(rep: dict, metric: str):
    """One repetition's value of a metric, or None: what the driver derived when it wrote the record."""
    return (rep.get("metrics") or {}).get(metric)


def cell_values(cell: dict, metric: str) -> list[float]:
    values = []
    for rep in cell.get("repetitions", []):
        if rep.get("status") != "ok":
            continue
        v = rep_value(rep, metric)
        if is_number(v):
            values.append(float(v))
    return values


# ---- the run ---------------------------------------------------------------------------------

# Metrics of the instruction pass (`allocproof instructions`): read from a cell's `instructions`.
INSTRUCTION_METRICS = {"allocation_instructions_per_op": "allocation_per_op", "allocation_share": "allocation_share"}


def load_micro(run_dir: Path) -> dict:
    """{allocator: {pair name: [ns per pair, one value per process]}} from the micro suite's claims
    pass (harness/micro_suite.py writes RUN/micro/claims/<allocator>.json: Google Benchmark's
    iteration records, each with the index of the process it ran in). {} when there is none."""
    samples = {}
    folder = run_dir / "micro" / "claims"
    if not folder.is_dir():
        return samples
    for path in sorted(folder.glob("*.json")):
        doc = load_json(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
            raise ValueError(f"{path} is not a micro suite claims file (an object with a benchmarks array)")
        pairs = samples.setdefault(path.stem, {})
        for record in doc["benchmarks"]:
            if not isinstance(record, dict) or record.get("run_type", "iteration") != "iteration" or \
                    record.get("error_occurred"):
                continue
            name = str(record.get("run_name", record.get("name", ""))).replace("/manual_time", "")
            rate = record.get("items_per_second")
            if is_number(rate) and rate > 0:
                pairs.setdefault(name, []).append(1e9 / float(rate))
    return samples


class Run:
    def __init__(self, results: dict, micro: dict | None = None):
        self.results = results
        # The micro suite ran on the machine the driver ran on: the first of a merged file.
        self.micro = micro or {}
        envs = results.get("machines") or [results.get("environment", {})]
        self.machines = list(range(len(envs)))
        self.environments = envs
        self.cells: dict[tuple, dict] = {}
        self.by_id: dict[tuple, dict] = {}
        seen_allocators = set()
        for cell in results.get("cells", []):
            key = (cell.get("machine", 0), cell["workload"], cell["strategy"], cell["allocator"],
                   cell.get("threads"))
            self.cells[key] = cell
            if isinstance(cell.get("id"), str):
                self.by_id[(key[0], cell["id"])] = cell
            seen_allocators.add(cell["allocator"])
        seen_allocators.update(self.micro)
        self.allocators = [a for a in ALLOCATOR_ORDER if a in seen_allocators] + sorted(
            seen_allocators - set(ALLOCATOR_ORDER))
        # Per machine: the strategies with failed or untrusted cells (trust.py), which follow them here.
        self.faults = {m: strategy_faults([c for c in results.get("cells", []) if c.get("machine", 0) == m])
                       for m in self.machines}
        request = (results.get("plan") or {}).get("request") or {}
        self.dirty_heap = (request.get("dirty_heap_bytes") or 0) > 0
        # The sizes the real programs (workloads/external/) ran at: "default" until a run says otherwise.
        self.real_program_sizes = request.get("real_program_sizes") or "default"

    def find(self, machine: int, side: dict, allocator: str):
        threads = side.get("threads")
        key = (machine, side["workload"], side["strategy"], allocator, threads)
        if threads is not None:
            return key, self.cells.get(key)
        # External programs run at their own thread count: the claim names none.
        for k, cell in self.cells.items():
            if k[:4] == key[:4]:
                return k, cell
        return key, None


    def most_threads(self, machine: int, comparison: dict, allocators: dict) -> int | None:
        """For sides at threads "most": the most threads measured on both sides on this machine,
        up to its CPUs (more would be oversubscribed), or None when no count is on both."""
        cpus = self.environments[machine].get("logical_cpus") if machine < len(self.environments) else None
        counts = None
        for side, allocator in allocators.items():
            found = {k[4] for k in self.cells if k[:4] == (machine, comparison[side]["workload"],
                                                           comparison[side]["strategy"], allocator)
                     and is_number(k[4]) and k[4] >= 2 and (not is_number(cpus) or k[4] <= cpus)}
            counts = found if counts is None else counts & found
        return max(counts) if counts else None

    def values(self, machine: int, side: dict, allocator: str, metric: str) -> tuple[str, list | None, str | None]:
        """One side of a comparison: (its id, its values, why there are none)."""
        if "micro" in side:
            name = side["micro"]
            ident = f"micro:{name}/{allocator}"
            if machine != 0:
                return ident, None, f"the micro suite ran on machine 0 only, not on machine {machine}"
            values = self.micro.get(allocator, {}).get(name)
            if not values:
                return ident, None, (f"the micro suite's claims pass has no {name} on {allocator} "
                                     f"(micro/claims/{allocator}.json)")
            return ident, values, None
        key, cell = self.find(machine, side, allocator)
        if cell is None:
            return cell_id(key), None, f"{cell_id(key)} is not in this run"
        if cell.get("status") != "ok":
            return cell["id"], None, (f"{cell['id']} is {cell.get('status')}"
                                      + (f" ({cell['reason']})" if cell.get("reason") else ""))
        if metric in INSTRUCTION_METRICS:
            counts = cell.get("instructions")
            if not isinstance(counts, dict):
                return cell["id"], None, (f"{cell['id']} has no instruction count (`allocproof instructions` "
                                          "did not count it)")
            if counts.get("error"):
                return cell["id"], None, f"{cell['id']}: the instruction pass failed ({counts['error']})"
            value = counts.get(INSTRUCTION_METRICS[metric])
            # One count, deterministic: an exact value, no repetitions to spread.
            return (cell["id"], [float(value)], None) if is_number(value) else \
                (cell["id"], None, f"{cell['id']} has no {INSTRUCTION_METRICS[metric]} count")
        values = cell_values(cell, metric)
        if not values:
            return cell["id"], None, f"{cell['id']} has no value of {metric}"
        return cell["id"], values, None


def side_names(side: dict) -> tuple[str, str]:
    """(workload, strategy) of a comparison's side; a micro pair 'pattern/strategy/size' names its
    pattern and size as the workload."""
    if "micro" in side:
        pattern, strategy, size = side["micro"].split("/")
        return f"{pattern}/{size}", strategy
    return side["workload"], side["strategy"]


def cell_id(key: tuple) -> str:
    _, workload, strategy, allocator, threads = key
    return f"{workload}/{strategy}/{allocator}" + (f"/t{threads}" if threads is not None else "")


def machine_label(env: dict) -> str:
    cpus = env.get("logical_cpus")
    host = env.get("cpu_model", "unknown CPU")
    return f"{host} ({cpus} CPUs)" if cpus else host


# ---- effects ---------------------------------------------------------------------------------

def effect_spec(claim: dict) -> dict:
    """Display units and the no-effect value of the claim's effect; claimed bounds in those units."""
    kind, metric = claim["effect"], claim["metric"]
    claimed = claim["claimed"]
    scale = 100.0 if kind == "reduction" or metric == "churn_growth" else 1.0
    low = None if claimed.get("low") is None else claimed["low"] * scale
    high = None if claimed.get("high") is None else claimed["high"] * scale
    cand, base = claim["comparisons"][0]["candidate"], claim["comparisons"][0].get("baseline")
    (cand_workload, cand_strategy), (base_workload, base_strategy) = side_names(cand), \
        (side_names(base) if base else (None, None))
    if claim.get("compare") == "allocators":
        cand_name, base_name = claim["allocators"]["candidate"], claim["allocators"]["baseline"]
    elif len(claim["comparisons"]) > 1 and claim.get("combine") == "geomean":
        cand_name, base_name = "candidate", "baseline"
    elif base and cand_strategy == base_strategy:
        # The same strategy on two forms of a workload (a technique of the workload itself).
        cand_name, base_name = cand_workload, base_workload
    else:
        cand_name, base_name = cand_strategy, base_strategy
    if kind == "speedup":
        label, unit, null = f"speed-up ({base_name} time / {cand_name} time)", "x", 1.0
        if higher_is_better(metric):
            label = f"speed-up ({cand_name} {metric} / {base_name} {metric})"
    elif kind == "reduction":
        label, unit, null = f"reduction of {metric} ({cand_name} vs {base_name})", "%", 0.0
    elif kind == "ratio":
        label, unit, null = f"{metric} ratio ({cand_name} / {base_name})", "x", 1.0
    elif kind == "absolute":
        unit = {"churn_growth": "% of live bytes"}.get(
            metric, "ns" if metric.endswith("_ns") or metric == "ns_per_op" else "")
        label, null = f"{metric} of {cand_name}", None
    elif kind == "saving_per_object":
        label, unit, null = f"bytes held per live object, {base_name} minus {cand_name}", "B", 0.0
    else:
        raise ClaimsError(f"claim {claim['id']}: unknown effect '{kind}'")
    if cand_name == "candidate":
        label += f", geometric mean over {len(claim['comparisons'])} comparisons"
    return {"label": label, "unit": unit, "null": null, "claimed_low": low, "claimed_high": high,
            "direction": "higher_is_better" if low is not None else "lower_is_better",
            "range_is_limit": bool(claimed.get("up_to")), "scale": scale}


class Effect:
    """How one claim's effect maps from its contrast (what `allocproof interval` estimates) to the
    figure the report shows. Ratio effects are contrasts of log values (log of the typical
    candidate / baseline, averaged over the claim's pairs: a geometric mean); the others are
    contrasts of the values themselves. `show` is monotonic, so an interval maps end to end."""

    def __init__(self, claim: dict, spec: dict):
        self.kind, self.metric = claim["effect"], claim["metric"]
        self.log = self.kind in ("speedup", "reduction", "ratio")
        self.scale = spec["scale"]
        self.higher_better = higher_is_better(self.metric)

    def show(self, contrast: float) -> float:
        if not self.log:
            return contrast * self.scale
        # exp overflows a float past about 709: a contrast that far out (a malformed or absurd file)
        # shows as 0 or infinity rather than failing the whole evaluation.
        ratio = 0.0 if contrast < -700 else math.inf if contrast > 700 else math.exp(contrast)
        if self.kind == "speedup":
            return ratio if self.higher_better else (1 / ratio if ratio > 0 else math.inf)
        if self.kind == "reduction":
            return 100.0 * (1 - ratio)
        return ratio

    def contrast_of(self, shown: float):
        """The inverse of show, or None where a shown value has no contrast (a 100% reduction)."""
        if not self.log:
            return shown / self.scale
        ratio = {"speedup": (shown if self.higher_better else (1 / shown if shown > 0 else None))
                 if shown > 0 else None,
                 "reduction": 1 - shown / 100.0, "ratio": shown}[self.kind]
        return math.log(ratio) if ratio is not None and ratio > 0 else None

    def interval(self, low: float, high: float) -> tuple[float, float]:
        a, b = self.show(low), self.show(high)
        return (a, b) if a <= b else (b, a)


def exact_ratio(pairs: list[dict]) -> float:
    """The geometric mean of candidate / baseline where every value is the same in every repetition."""
    ratios = [pair["candidate"][0] / pair["baseline"][0] for pair in pairs]
    return 0.0 if min(ratios) <= 0 else float(np.exp(np.mean(np.log(ratios))))


def constant(values: list[float]) -> bool:
    return max(values) == min(values)


def measure(claim: dict, effect: Effect, pairs: list[dict], service: IntervalService, repetitions: dict) -> dict:
    """The effect over one or more (candidate, baseline) pairs: its estimate and intervals at the
    verdict's and the decision's confidence, in display units, and the figures that say how many
    repetitions a decision would take. Raises ValueError with the reason when there is no effect."""
    kind = claim["effect"]
    weight = 1.0 / len(pairs)
    terms = []
    for pair in pairs:
        if kind == "absolute":
            terms.append((pair["candidate"], weight))
            continue
        if pair["baseline"] and kind != "saving_per_object" and float(np.median(pair["baseline"])) == 0:
            raise ValueError(f"the baseline's median {claim['metric']} is 0 ({pair['label']}): no ratio")
        per_object = 1.0
        if kind == "saving_per_object":
            objects = float(np.median(pair["live"])) / claim["object_bytes"]
            if objects <= 0:
                raise ValueError("the candidate reports no live bytes")
            per_object = 1.0 / objects
            terms += [(pair["baseline"], weight * per_object), (pair["candidate"], -weight * per_object)]
            continue
        terms += [(pair["candidate"], weight), (pair["baseline"], -weight)]
    n = min(len(values) for values, _ in terms)
    exact = all(constant(values) for values, _ in terms)
    if exact and effect.log:
        # Counts fixed by construction may be 0 (a pool that never calls the allocator): their
        # ratio is exact, and a log would not have it.
        ratio = exact_ratio(pairs)
        shown = effect.show(math.log(ratio)) if ratio > 0 else effect.show(-1e9)
        return {"estimate": shown, "ci": (shown, shown), "decide_ci": (shown, shown), "exact": True, "n": n,
                "contrast": None}
    if n < 2:
        raise ValueError("a cell has fewer than 2 ok repetitions: no interval")
    if effect.log and any(min(values) <= 0 for values, _ in terms):
        raise ValueError(f"some repetitions measure {claim['metric']} as 0 or less: no ratio interval")
    answer = service.contrast(terms, effect.log, [repetitions["confidence"], repetitions["decide_confidence"]])
    (low, high), (decide_low, decide_high) = answer["intervals"]
    return {"estimate": effect.show(answer["estimate"]), "ci": effect.interval(low, high),
            "decide_ci": effect.interval(decide_low, decide_high), "exact": answer["std_error"] == 0, "n": n,
            "contrast": {"estimate": answer["estimate"], "decide_half_width": (decide_high - decide_low) / 2}}


def fmt(value: float, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit.startswith("%"):
        return f"{value:.1f}%"
    if unit == "B":
        return f"{value:.1f} B"
    if unit == "ns":
        return f"{value:.0f} ns" if abs(value) >= 100 else f"{value:.3g} ns"
    return f"{value:.3g}"


def thresholds(spec: dict) -> list[float]:
    """The points where the verdict word changes: no effect and the claimed bounds."""
    points = [spec["claimed_high"]] if spec["claimed_low"] is None else \
        [spec["null"], spec["claimed_low"]] + ([spec["claimed_high"]] if spec["claimed_high"] is not None else [])
    return [p for p in points if p is not None]


def word_at(x: float, spec: dict) -> str:
    """The verdict of an interval shrunk to the point x."""
    a, b, null = spec["claimed_low"], spec["claimed_high"], spec["null"]
    if a is None:
        return "holds" if x <= b else "refuted"
    if b is not None and x > b:
        return "refuted" if spec.get("range_is_limit") else "exceeds"
    if x >= a:
        return "holds"
    return "partly" if x > null else "refuted"


def judge(low_ci: float, high_ci: float, spec: dict) -> tuple[str, str]:
    """The verdict words of CLAIMS.md applied to a 95% interval [low_ci, high_ci]."""
    unit, null = spec["unit"], spec["null"]
    a, b = spec["claimed_low"], spec["claimed_high"]
    interval = f"95% CI [{fmt(low_ci, unit)}, {fmt(high_ci, unit)}]"
    if a is None:  # an "at most b" claim
        if high_ci <= b:
            return "holds", f"the whole {interval} is within the claimed bound {fmt(b, unit)}"
        if low_ci > b:
            return "refuted", f"the whole {interval} is beyond the claimed bound {fmt(b, unit)}"
        return "inconclusive", f"the {interval} straddles the claimed bound {fmt(b, unit)}"
    claimed = f"[{fmt(a, unit)}, {fmt(b, unit) if b is not None else 'up'}]"
    if a <= low_ci and (b is None or high_ci <= b):
        return "holds", f"the {interval} lies within the claimed range {claimed}"
    if b is not None and low_ci > b:
        if spec.get("range_is_limit"):
            return "refuted", (f"the whole {interval} lies above the claimed range {claimed}, "
                               "whose upper end the claim gives as a limit ('up to')")
        return "exceeds", f"a real effect larger than claimed: the {interval} lies above the claimed range {claimed}"
    if null < low_ci and high_ci < a:
        return "partly", f"a real effect, {interval}, but wholly short of the claimed range {claimed}"
    if high_ci < null:
        return "refuted", f"the {interval} lies on the opposite side of no effect ({fmt(null, unit)})"
    if high_ci < a:
        return "refuted", (f"no effect beyond noise: the {interval} holds no effect ({fmt(null, unit)}) "
                           f"and rules out the claimed range {claimed}")
    return "inconclusive", (f"the {interval} lies between {word_at(low_ci, spec)} and {word_at(high_ci, spec)} "
                            f"(claimed {claimed}, no effect {fmt(null, unit)})")


# Beyond this many repetitions of a cell a decision is out of reach of a run: the bound is within
# this machine's noise of the measured effect.
PRACTICAL_REPETITIONS = 200


def settling(measured: dict, effect: Effect, spec: dict, schedule: list[int]) -> dict:
    """Whether a row is decided (no threshold inside its interval at the decision's confidence:
    claims/README.md, Repetitions) and, if not, how many repetitions per cell would decide it.
    The interval's half-width shrinks as 1/sqrt(n); it must become smaller than the distance from
    the estimate to the nearest threshold inside it."""
    low, high = measured["decide_ci"]
    inside = [t for t in thresholds(spec) if low <= t <= high]
    if not inside:
        return {"decided": True, "reps_needed": None}
    contrast = measured["contrast"]
    if contrast is None:
        return {"decided": False, "reps_needed": None}
    distances = [abs(contrast["estimate"] - c) for c in map(effect.contrast_of, inside) if c is not None]
    distance = min(distances) if distances else 0.0
    if distance <= 0:
        return {"decided": False, "reps_needed": None}
    needed = math.ceil(measured["n"] * (contrast["decide_half_width"] / distance) ** 2)
    return {"decided": False, "reps_needed": needed if needed <= PRACTICAL_REPETITIONS else None}


def settle_text(state: dict, spec: dict, n: int, schedule: list[int]) -> str:
    if state["reps_needed"] is None:
        return (f"; with {n} repetitions per cell, the effect lies too close to a bound for this machine's "
                f"noise: more than {PRACTICAL_REPETITIONS} repetitions per cell would be needed, or a "
                "quieter measurement (longer phases, instruction counts)")
    return f"; about {state['reps_needed']} repetitions per cell (this run has {n}) would settle it"


# ---- claims ----------------------------------------------------------------------------------

def check_claims(doc: dict) -> None:
    """Every shape evaluate() relies on, so that a malformed file ends as one ClaimsError line."""
    if not isinstance(doc, dict) or doc.get("schema") != "allocproof-claims/1":
        raise ClaimsError("claims file: schema is not allocproof-claims/1")
    sources, claims = doc.get("sources", {}), doc.get("claims", [])
    if not isinstance(sources, dict) or not isinstance(claims, list):
        raise ClaimsError("claims file: 'sources' must be an object and 'claims' an array")
    repetitions = doc.get("repetitions", {})
    if not isinstance(repetitions, dict) or not all(
            is_number(repetitions.get(k, 0.5)) and 0 < repetitions.get(k, 0.5) < 1
            for k in ("confidence", "decide_confidence")):
        raise ClaimsError("claims file: 'repetitions' must be an object whose confidences lie between 0 and 1")
    schedule = repetitions.get("schedule", [2])
    if not isinstance(schedule, list) or not schedule or not all(
            isinstance(n, int) and not isinstance(n, bool) and 2 <= n <= 10_000 for n in schedule) or \
            sorted(set(schedule)) != schedule:
        raise ClaimsError("claims file: the repetitions' schedule must be increasing whole numbers from 2")
    seen = set()
    for claim in claims:
        if not isinstance(claim, dict):
            raise ClaimsError(f"claims file: a claim is not an object: {json.dumps(claim)[:60]}")
        key = (claim.get("id"), claim.get("part"))
        if not isinstance(key[0], str) or not key[0] or not isinstance(key[1], (str, type(None))) or key in seen:
            raise ClaimsError(f"claims file: missing or repeated id/part {key}")
        seen.add(key)
        if not isinstance(claim.get("source"), str) or claim["source"] not in sources:
            raise ClaimsError(f"claim {key}: unknown source {claim.get('source')!r}")
        if claim.get("level") not in LEVELS:
            raise ClaimsError(f"claim {key}: 'level' must be one of {', '.join(LEVELS)} (claims/README.md, Levels)")
        if "not_measured" in claim:
            if claim["level"] not in UNMEASURED_LEVELS:
                raise ClaimsError(f"claim {key}: a claim that is not measured is at level "
                                  f"{' or '.join(UNMEASURED_LEVELS)}")
            continue
        if claim["level"] in UNMEASURED_LEVELS:
            raise ClaimsError(f"claim {key}: level {claim['level']} is for claims that are not measured")
        for field in ("metric", "effect", "claimed", "comparisons"):
            if field not in claim:
                raise ClaimsError(f"claim {key}: no '{field}'")
        if not isinstance(claim["metric"], str) or not isinstance(claim["effect"], str):
            raise ClaimsError(f"claim {key}: 'metric' and 'effect' must be strings")
        if not isinstance(claim["claimed"], dict) or not all(
                claim["claimed"].get(bound) is None or is_number(claim["claimed"][bound]) for bound in ("low", "high")):
            raise ClaimsError(f"claim {key}: 'claimed' must be an object with numbers 'low' and 'high'")
        if claim["claimed"].get("low") is None and claim["claimed"].get("high") is None:
            raise ClaimsError(f"claim {key}: the claimed range has no bound")
        if not isinstance(claim["comparisons"], list) or not claim["comparisons"]:
            raise ClaimsError(f"claim {key}: 'comparisons' must be a non-empty array")
        if not isinstance(claim.get("context", []), list) or not isinstance(claim.get("context_metric", ""), str):
            raise ClaimsError(f"claim {key}: 'context' must be an array of comparisons, 'context_metric' a string")
        sides = ("candidate",) if claim["effect"] == "absolute" else ("candidate", "baseline")
        for comparison in claim["comparisons"]:
            if not isinstance(comparison, dict) or not all(is_side(comparison.get(side), claim["level"])
                                                           for side in sides):
                what = "{micro: 'pattern/strategy/size'}" if claim["level"] == "operation" else \
                    "{workload, strategy, threads}"
                raise ClaimsError(f"claim {key}: a comparison lacks a side {what}: {json.dumps(comparison)[:60]}")
        for comparison in claim.get("context", []):
            if not isinstance(comparison, dict) or not isinstance(comparison.get("label"), str) or \
                    not all(is_side(comparison.get(side), "workload") for side in sides):
                raise ClaimsError(f"claim {key}: a context comparison needs a label and sides "
                                  f"{{workload, strategy, threads}}: {json.dumps(comparison)[:60]}")
        if claim.get("compare") == "allocators" and not (
                isinstance(claim.get("allocators"), dict) and
                all(isinstance(claim["allocators"].get(side), str) for side in ("candidate", "baseline"))):
            raise ClaimsError(f"claim {key}: compare 'allocators' needs allocators {{candidate, baseline}}")
        if claim.get("min_threads") is not None and not (is_number(claim["min_threads"]) and claim["min_threads"] >= 1):
            raise ClaimsError(f"claim {key}: 'min_threads' must be a count")
        if not isinstance(claim.get("size_note", ""), str):
            raise ClaimsError(f"claim {key}: 'size_note' must be a string")
        if not isinstance(claim.get("requires") or {}, dict):
            raise ClaimsError(f"claim {key}: 'requires' must be an object")
        if claim.get("min_over_footprint") is not None and not (is_number(claim["min_over_footprint"]) and
                                                                 claim["min_over_footprint"] > 0):
            raise ClaimsError(f"claim {key}: 'min_over_footprint' must be a number above 0")
        if claim["effect"] == "saving_per_object" and not (is_number(claim.get("object_bytes")) and
                                                            claim["object_bytes"] > 0):
            raise ClaimsError(f"claim {key}: saving_per_object needs object_bytes")


def is_side(side, level: str) -> bool:
    """A cell by its coordinates: workload and strategy, and threads (a count, or "most": the most
    the machine runs without oversubscription) unless an external program; at the operation level,
    a micro suite pair by its name."""
    if level == "operation":
        return isinstance(side, dict) and isinstance(side.get("micro"), str) and \
            len(side["micro"].split("/")) == 3 and all(side["micro"].split("/"))
    return (isinstance(side, dict) and isinstance(side.get("workload"), str) and
            isinstance(side.get("strategy"), str) and
            (side.get("threads") in (None, "most") or is_number(side["threads"])))


def rows_for(claim: dict, spec: dict, run: Run, service: IntervalService, repetitions: dict) -> list[dict]:
    comparing_allocators = claim.get("compare") == "allocators"
    allocator_pairs = ([(claim["allocators"]["candidate"], claim["allocators"]["baseline"])]
                       if comparing_allocators else [(a, a) for a in run.allocators])
    groups = ([claim["comparisons"]] if claim.get("combine") == "geomean"
              else [[c] for c in claim["comparisons"]])
    judged = RowJudge(claim, spec, run, service, repetitions)
    rows = [judged.row(machine, allocators, group)
            for machine in run.machines for allocators in allocator_pairs for group in groups]
    return by_construction(rows, claim)


class RowJudge:
    """One row of a claim: a group of comparisons on one machine and one pair of allocators."""

    def __init__(self, claim: dict, spec: dict, run: Run, service: IntervalService, repetitions: dict):
        self.claim, self.spec, self.run, self.service, self.repetitions = claim, spec, run, service, repetitions
        self.effect = Effect(claim, spec)

    def row(self, machine: int, allocators: tuple[str, str], group: list[dict]) -> dict:
        claim, cand_alloc, base_alloc = self.claim, allocators[0], allocators[1]
        label = " + ".join(c["label"] for c in group) if len(group) > 1 else group[0]["label"]
        if claim.get("compare") == "allocators":
            label += f" ({cand_alloc} vs {base_alloc})"
        row = {"label": label, "allocator": cand_alloc, "machine": machine, "verdict": "no_verdict",
               "estimate": None, "ci_low": None, "ci_high": None, "cells": []}
        pairs, problems, threads_used = self.pairs(machine, allocators, group, row)
        required = (claim.get("requires") or {}).get("dirty_heap")
        if required is not None and required != self.run.dirty_heap:
            problems.insert(0, "needs a run " + ("with" if required else "without")
                            + " --dirty-heap; this run was " + ("with" if self.run.dirty_heap else "without"))
        if problems:
            return row | {"why": "not judged: " + "; ".join(problems)}
        try:
            measured = measure(claim, self.effect, pairs, self.service, self.repetitions)
        except ValueError as why:
            return row | {"why": f"not judged: {why}"}
        low_ci, high_ci = measured["ci"]
        if not all(math.isfinite(x) for x in (measured["estimate"], low_ci, high_ci)):
            return row | {"why": "not judged: the effect is undefined on these values"}
        return self.judged(row, measured, threads_used, machine, allocators, group)

    def pairs(self, machine: int, allocators: tuple[str, str], group: list[dict], row: dict):
        """Each comparison's candidate (and baseline) values, the problems that keep them from
        being judged, and the thread counts "most" stood for."""
        claim, run, (cand_alloc, base_alloc) = self.claim, self.run, allocators
        pairs, problems, threads_used = [], [], []
        for comparison in group:
            if any(comparison.get(side, {}).get("threads") == "most" for side in ("candidate", "baseline")):
                sides = {"candidate": cand_alloc} | ({"baseline": base_alloc} if "baseline" in comparison else {})
                most = run.most_threads(machine, comparison, sides)
                if most is not None:
                    comparison = {k: (dict(v, threads=most) if isinstance(v, dict) and v.get("threads") == "most"
                                      else v) for k, v in comparison.items()}
                    threads_used.append(most)
            pair = {"label": comparison["label"]}
            sides = [("candidate", cand_alloc)]
            if claim["effect"] != "absolute":
                sides.append(("baseline", base_alloc))
            for side, allocator in sides:
                ident, values, problem = run.values(machine, comparison[side], allocator, claim["metric"])
                row["cells"].append(ident)
                if problem:
                    problems.append(problem)
                    continue
                pair[side] = values
                if side == "candidate" and claim["effect"] == "saving_per_object":
                    pair["live"] = run.values(machine, comparison[side], allocator, "live_bytes_peak")[1] or [0.0]
            pairs.append(pair)
        return pairs, problems, threads_used

    def judged(self, row: dict, measured: dict, threads_used: list[int], machine: int,
               allocators: tuple[str, str], group: list[dict]) -> dict:
        spec, (low_ci, high_ci) = self.spec, measured["ci"]
        state = settling(measured, self.effect, spec, self.repetitions["schedule"])
        row.update(estimate=measured["estimate"], ci_low=low_ci, ci_high=high_ci, reps=measured["n"],
                   exact=measured["exact"], decided=state["decided"], reps_needed=state["reps_needed"])
        row["verdict"], row["why"] = judge(low_ci, high_ci, spec)
        if measured["exact"]:  # counts, not timings: the same in every repetition, or counted once
            row["why"] = row["why"].replace("the whole 95% CI", "the exact figure").replace("95% CI", "exact figure")
        if threads_used:
            row["threads"] = min(threads_used)
            row["label"] += f" t{row['threads']}"
        withheld = self.withheld(row, threads_used, machine, allocators, group)
        wrong, failed_elsewhere = strategies_at_fault(self.run, machine, group)
        if wrong:
            withheld = (f"{'; '.join(wrong)} elsewhere in this run, so its figures here cannot be trusted",
                        "A run in which every strategy of the comparison passes its checks would judge it")
        if withheld:
            return row | {"verdict": "no_verdict", "estimate": None, "ci_low": None, "ci_high": None, "why": (
                f"not judged: {withheld[0]}. Its figure here, {fmt(measured['estimate'], spec['unit'])} "
                f"[{fmt(low_ci, spec['unit'])}, {fmt(high_ci, spec['unit'])}], would read {row['verdict']}. "
                f"{withheld[1]}")}
        if row["verdict"] == "inconclusive":
            row["why"] += settle_text(state, spec, measured["n"], self.repetitions["schedule"])
        if failed_elsewhere:
            row["why"] += f" Note: {'; '.join(failed_elsewhere)} elsewhere in this run."
        return row

    def withheld(self, row: dict, threads_used: list[int], machine: int, allocators: tuple[str, str],
                 group: list[dict]):
        """Measured, but on data that cannot show the claim: (why, what would judge it), or None.
        The last reason that applies is the one said."""
        claim, run, withheld = self.claim, self.run, None
        if claim.get("min_threads") and threads_used and min(threads_used) < claim["min_threads"]:
            env = run.environments[machine] if machine < len(run.environments) else {}
            withheld = (f"measured at {min(threads_used)} threads, the most this machine "
                        f"({env.get('logical_cpus', '?')} CPUs) runs without oversubscription; the claim "
                        f"speaks of many threads (read as at least {claim['min_threads']})",
                        f"A run on a machine with {claim['min_threads']} or more cores, merged into this one "
                        "(allocproof merge), is judged on its own row")
        thin = thin_data(run, machine, group, [("candidate", allocators[0]), ("baseline", allocators[1])], claim)
        if thin:
            withheld = (f"the data held is too small beside the program's own footprint to show a memory "
                        f"claim: {thin}",
                        f"Data at least {claim['min_over_footprint']:g} times the idle footprint (the real "
                        "programs' full sizes) would judge it")
        sizes = (claim.get("requires") or {}).get("real_program_sizes")
        fell_back = [f"{ident} ran at its {cell['params']['scale']} scale" for ident in row["cells"]
                     if isinstance(cell := run.by_id.get((machine, ident)), dict)
                     and isinstance(cell.get("params"), dict)
                     and cell["params"].get("scale") not in (None, sizes)]
        if sizes is not None and sizes == run.real_program_sizes and fell_back:
            withheld = (f"the run asked for the real programs' {sizes} sizes, but {'; '.join(fell_back)} "
                        "(its descriptor has none)", f"A descriptor with a {sizes} scale would judge it")
        if sizes is not None and sizes != run.real_program_sizes:
            withheld = (f"the real programs ran at their {run.real_program_sizes} sizes, which cannot show "
                        f"this claim: {claim.get('size_note', 'the data is too small')}",
                        f"A run at their {sizes} sizes would judge it")
        return withheld


def strategies_at_fault(run: Run, machine: int, group: list[dict]) -> tuple[list[str], list[str]]:
    """The strategies of a comparison with cells that were wrong (their verdict is withheld) or that
    failed (said beside it) anywhere in the run on this machine, each as '`name` was invalid in 2 cells'."""
    faults = run.faults.get(machine, {})
    names = sorted({side_names(c[side])[1] for c in group for side in ("candidate", "baseline")
                    if isinstance(c.get(side), dict)})
    wrong = [f"`{n}` was {fault_text(n, faults)}" for n in names if untrusted(n, faults)]
    failed = [f"`{n}` {fault_text(n, faults)}" for n in names if n in faults and not untrusted(n, faults)]
    return wrong, failed


# The idle footprint of a real program under an allocator (results/SCHEMA.md §10): what the
# program and its allocator hold on no data, which bounds the allocator's own footprint from above.
FOOTPRINT_METRIC = "rss_idle_bytes"


def thin_data(run: Run, machine: int, group: list[dict], sides: list[tuple[str, str]], claim: dict) -> str | None:
    """For a claim with `min_over_footprint`: why the data its cells hold (the claim's metric, e.g.
    the steady resident set over the idle footprint) is less than that many times their idle
    footprint, so that the allocator's own footprint could decide the figure; None when it is not."""
    factor = claim.get("min_over_footprint")
    if not factor:
        return None
    thin = []
    for comparison in group:
        for side, allocator in sides:
            if side not in comparison:
                continue
            ident, held, _ = run.values(machine, comparison[side], allocator, claim["metric"])
            _, idle, _ = run.values(machine, comparison[side], allocator, FOOTPRINT_METRIC)
            if not held or not idle:
                thin.append(f"{ident} has no {FOOTPRINT_METRIC} to weigh its data against")
                continue
            data, footprint = float(np.median(held)), float(np.median(idle))
            if data < factor * footprint:
                thin.append(f"{ident} holds {data / 2**20:.1f} MiB over an idle footprint of "
                            f"{footprint / 2**20:.1f} MiB, less than {factor:g} times it")
    return "; ".join(thin) or None


def by_construction(rows: list[dict], claim: dict) -> list[dict]:
    """Rows that hold the same exact figure on every allocator are one fact of the workload's
    construction (a count, not a timing): one row, allocator "all", instead of one per allocator."""
    if claim.get("compare") == "allocators":
        return rows
    out, groups = [], {}
    for row in rows:
        groups.setdefault((row["machine"], row["label"]), []).append(row)
    for group in groups.values():
        first = group[0]
        if len(group) > 1 and all(r.get("exact") and r["verdict"] == first["verdict"] and
                                  r["estimate"] == first["estimate"] for r in group):
            merged = dict(first, allocator="all", by_construction=True,
                          cells=[c for r in group for c in r["cells"]])
            merged["why"] = (f"by construction: the same in every repetition on every allocator "
                             f"({', '.join(r['allocator'] for r in group)}); " + first["why"])
            out.append(merged)
        else:
            out.extend(group)
    return out
    return rows


# Where a claim is judged (claims/README.md, Levels).
LEVELS = ("operation", "allocation", "workload", "program", "tests", "none")
UNMEASURED_LEVELS = ("tests", "none")
LEVEL_WORDS = {
    "operation": "one operation pair in isolation (the micro suite, one value per process)",
    "allocation": "the allocation part of a workload's operations (instructions under callgrind, "
                  "`allocproof instructions`)",
    "workload": "whole operations of a model workload (the matrix's cells)",
    "program": "a real database program",
    "tests": "the tests (a functional claim)",
    "none": "not measured",
}

DEFAULT_REPETITIONS = {"confidence": 0.95, "decide_confidence": 0.99, "schedule": [8, 12, 16, 24, 32]}
VERDICT_WORDS = ("holds", "exceeds", "partly", "refuted", "inconclusive", "no_verdict")
_service = IntervalService()


def context_rows(claim: dict, run: Run, service: IntervalService, repetitions: dict) -> dict:
    """What an operation-level claim's effect comes to on whole workloads: its `context`
    comparisons judged the same way, by (machine, allocator)."""
    if not claim.get("context"):
        return {}
    at_workload = dict(claim, level="workload", comparisons=claim["context"], combine="each",
                       metric=claim.get("context_metric", claim["metric"]))
    found = {}
    for row in rows_for(at_workload, effect_spec(at_workload), run, service, repetitions):
        found.setdefault((row["machine"], row["allocator"]), []).append(row)
    return found


def allocation_share_text(run: Run, row: dict) -> str:
    """What allocation's code takes of the operation's instructions in each cell of a row, where the
    instruction pass counted them: the share that a speed-up of allocation alone can move."""
    shares = []
    for ident in row.get("cells", []):
        counts = (run.by_id.get((row["machine"], ident)) or {}).get("instructions") or {}
        if isinstance(counts, dict) and is_number(counts.get("allocation_share")) and isinstance(ident, str):
            shares.append(f"{ident.split('/')[1] if '/' in ident else ident} {100 * counts['allocation_share']:.0f}%")
    return f"; allocation's share of the instructions: {', '.join(shares)}" if shares else ""


def context_text(run: Run, rows: list[dict], unit: str, heading: str) -> str:
    parts = []
    several_allocators = len({row["allocator"] for row in rows}) > 1
    for row in rows:
        label = row["label"] + (f" on {row['allocator']}" if several_allocators else "")
        if row["verdict"] == "no_verdict":
            parts.append(f"{label} not measured ({row['why'].removeprefix('not judged: ')})")
        else:
            parts.append(f"{label} {fmt(row['estimate'], unit)} [{fmt(row['ci_low'], unit)}, "
                         f"{fmt(row['ci_high'], unit)}], which would read {row['verdict']}"
                         + allocation_share_text(run, row))
    return f" {heading}: " + "; ".join(parts) + "."


def attach_context(run: Run, rows: list[dict], context: dict, claim: dict) -> None:
    """Each row gains the context rows of its machine and allocator, in `context` and in its why."""
    if not context:
        return
    if claim.get("context_metric", claim["metric"]) != claim["metric"]:
        at_workload = dict(claim, metric=claim["context_metric"], comparisons=claim["context"])
        unit = effect_spec(at_workload)["unit"]
        heading = f"Beside it, {claim['context_metric']} of the same cells"
    else:
        unit = effect_spec(claim)["unit"]
        heading = "On whole workload operations" if claim["level"] == "operation" else "Beside it"
    for row in rows:
        mine = context.get((row["machine"], row["allocator"]))
        if mine is None and row["allocator"] == "all":
            mine = [r for (m, _), found in context.items() if m == row["machine"] for r in found]
        # A context of the same cells as the row (an allocation claim's time) goes with that row alone.
        same = [r for r in mine or [] if r["label"] == row["label"]]
        mine = same or mine
        if not mine:
            continue
        row["context"] = [{k: r.get(k) for k in ("label", "allocator", "verdict", "estimate", "ci_low", "ci_high",
                                                 "cells")} for r in mine]
        for entry, r in zip(row["context"], mine):
            entry["allocation_share"] = [{"cell": ident, "share": ((run.by_id.get((r["machine"], ident)) or {}).get(
                "instructions") or {}).get("allocation_share")} for ident in r.get("cells", [])]
        row["why"] = row["why"].rstrip(".") + "." + context_text(run, mine, unit, heading)


def evaluate(results: dict, claims_doc: dict, results_name: str = "results.json",
             service: IntervalService | None = None, micro: dict | None = None) -> dict:
    check_claims(claims_doc)
    run = Run(results, micro)
    service = service or _service
    repetitions = dict(DEFAULT_REPETITIONS, **claims_doc.get("repetitions", {}))
    out_claims = []
    counts = {k: 0 for k in VERDICT_WORDS}
    for claim in claims_doc["claims"]:
        entry = {
            "id": claim["id"], "part": claim.get("part"), "group": claim.get("group", "seed_document"),
            "source": claims_doc["sources"][claim["source"]], "quote": claim["quote"], "claim": claim["claim"],
            "measure": claim["measure"], "reading": claim.get("reading"),
            "document_estimate": claim.get("document_estimate"), "level": claim["level"],
        }
        if "not_measured" in claim:
            entry.update(effect=None, claimed_text=None, rows=[
                {"label": "not an effect size", "allocator": a, "machine": m, "verdict": "no_verdict",
                 "estimate": None, "ci_low": None, "ci_high": None, "why": claim["not_measured"], "cells": []}
                for m in run.machines for a in run.allocators])
        else:
            spec = effect_spec(claim)
            entry["effect"] = {k: spec[k] for k in ("label", "unit", "null", "claimed_low", "claimed_high",
                                                   "direction", "range_is_limit")}
            entry["claimed_text"] = claim["claimed"].get("text")
            entry["rows"] = rows_for(claim, spec, run, service, repetitions)
            attach_context(run, entry["rows"], context_rows(claim, run, service, repetitions), claim)
        for row in entry["rows"]:
            counts[row["verdict"]] += 1
        out_claims.append(entry)
    return {
        "schema": SCHEMA,
        "results": results_name,
        "machines": [{"index": i, "label": machine_label(env), "environment": env}
                     for i, env in enumerate(run.environments)],
        "allocators": run.allocators,
        "counts": counts,
        "claims": out_claims,
    }


def plan_round(verdicts: dict, claims_doc: dict) -> dict:
    """The next round of the default run's adaptive schedule (claims/README.md, Repetitions): for
    every row still undecided that more repetitions could decide within the schedule, its cells get
    the schedule's next count above the repetitions they have. Returns {cells: {id: reps}, ...}."""
    schedule = dict(DEFAULT_REPETITIONS, **claims_doc.get("repetitions", {}))["schedule"]
    targets: dict[str, int] = {}
    undecided = in_reach = 0
    for claim in verdicts["claims"]:
        for row in claim["rows"]:
            if row["verdict"] == "no_verdict" or row.get("decided", True):
                continue
            undecided += 1
            needed, have = row.get("reps_needed"), row.get("reps") or 0
            if needed is None or needed > schedule[-1] or have >= schedule[-1]:
                continue  # out of reach of this run: the row says what would settle it
            in_reach += 1
            target = next(n for n in schedule if n > have)
            for cell in row["cells"]:
                targets[cell] = max(targets.get(cell, 0), target)
    return {"cells": targets, "rows_undecided": undecided, "rows_in_reach": in_reach}


def table(verdicts: dict) -> str:
    lines = []
    for claim in verdicts["claims"]:
        name = claim["id"] + (f" ({claim['part']})" if claim.get("part") else "")
        unit = (claim.get("effect") or {}).get("unit", "")
        for row in claim["rows"]:
            if row["verdict"] == "no_verdict":
                figure = "-"
            else:
                figure = f"{fmt(row['estimate'], unit)} [{fmt(row['ci_low'], unit)}, {fmt(row['ci_high'], unit)}]"
            machine = f" m{row['machine']}" if len(verdicts["machines"]) > 1 else ""
            lines.append(f"{name:<28} {row['label'][:34]:<34} {row['allocator']:<9}{machine} "
                         f"{row['verdict']:<13} {figure}")
    counts = ", ".join(f"{v} {k}" for k, v in verdicts["counts"].items())
    lines.append(f"rows: {counts}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder (or its results.json)")
    parser.add_argument("--claims", type=Path, default=REPO / "claims" / "claims.json")
    parser.add_argument("--out", type=Path, help="where to write (default RUN/verdicts.json)")
    parser.add_argument("--quiet", action="store_true", help="do not print the table")
    parser.add_argument("--plan-round", action="store_true",
                        help="print, as JSON, the repetitions the next adaptive round gives each cell; write nothing")
    args = parser.parse_args(argv)
    try:
        results_path = find_results(args.run)
        results = load_results(results_path)
        claims_doc = load_json(args.claims)
        micro = load_micro(results_path.parent)
        verdicts = evaluate(results, claims_doc, results_path.name, micro=micro)
    except (OSError, ValueError, KeyError, TypeError, ClaimsError, IntervalError) as error:
        print(f"verdicts: {error}", file=sys.stderr)
        return 2
    if args.plan_round:
        print(json.dumps(plan_round(verdicts, claims_doc), sort_keys=True))
        return 0
    out = args.out or results_path.parent / "verdicts.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(verdicts, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(out)
    if not args.quiet:
        print(table(verdicts))
        print(f"verdicts: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
