"""Whether a strategy's figures can be trusted, and what its cells' clocks did not see.

A strategy answers for all of its cells: one that computed a wrong result (`invalid`), whose record
the driver could not believe (`implausible`) or whose group had no reference to check it against
(`unverified`) in any cell of a run is not trusted in its other cells either, since the same code
ran there; one that `failed` elsewhere (a crash, a timeout, out of memory) is marked, its other
figures standing. The report, the plots and the verdicts all read these two sets from here, so
a strategy cannot be ranked in one table and marked in another.

Flags (`cell["flags"]`, set by the driver: harness/driver/cell_flags.cpp, results/SCHEMA.md §13)
say that an ok cell's ratio rests on work outside its measured phase or on memory std does not hold.
"""
from __future__ import annotations

UNTRUSTED_STATUSES = ("invalid", "implausible", "unverified")
FAILED_STATUSES = ("failed",)
REAL_PROGRAM = "as_installed"


def strategy_faults(cells: list[dict]) -> dict[str, dict[str, list[str]]]:
    """{strategy: {status: [cell ids]}} for every strategy with a failed or untrusted cell."""
    faults: dict[str, dict[str, list[str]]] = {}
    for cell in cells:
        status = cell.get("status")
        if cell.get("strategy") == REAL_PROGRAM or status not in UNTRUSTED_STATUSES + FAILED_STATUSES:
            continue
        faults.setdefault(cell["strategy"], {}).setdefault(status, []).append(str(cell.get("id")))
    return faults


def untrusted(strategy: str, faults: dict) -> bool:
    return any(status in UNTRUSTED_STATUSES for status in faults.get(strategy, {}))


def fault_text(strategy: str, faults: dict) -> str:
    """'invalid in 2 cells, failed in 1' or ''."""
    mine = faults.get(strategy)
    if not mine:
        return ""
    return ", ".join(f"{status} in {len(ids)} cell{'s' if len(ids) != 1 else ''}" for status, ids in sorted(mine.items()))


def marked(strategy: str, faults: dict) -> str:
    """The strategy's name as the report shows it: with its faults, if it has any."""
    text = fault_text(strategy, faults)
    return f"`{strategy}`" + (f" (✗ {text})" if text else "")


def flags_of(cell: dict) -> list[dict]:
    return [f for f in (cell.get("flags") or []) if isinstance(f, dict) and f.get("flag")]


def flags_text(cell: dict) -> str:
    """'⚑ work_outside_clock: ...; ⚑ ...' or ''."""
    return "; ".join(f"⚑ {f['flag']}: {f.get('text', '')}" for f in flags_of(cell))
