"""The project's confidence intervals, from the one implementation in harness/stats.cpp.

verdicts.py asks `allocproof interval` (harness/driver/interval.hpp) for every interval it prints,
so that the report, the driver's table and `compare` can never disagree on a method, a seed or a
rounding. One process serves a whole evaluation: a request is one JSON line, its answer one line.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class IntervalError(Exception):
    """The interval service could not be started or did not answer."""


def driver_path() -> Path:
    """ALLOCPROOF_DRIVER if set, else the Release build's driver beside the sources."""
    return Path(os.environ.get("ALLOCPROOF_DRIVER") or REPO / "build" / "allocproof")


class IntervalService:
    def __init__(self, program: Path | None = None):
        self.program = program or driver_path()
        self.process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            if not self.program.is_file():
                raise IntervalError(f"no allocproof driver at {self.program}: build it first (cmake --build build), "
                                    "or set ALLOCPROOF_DRIVER")
            self.process = subprocess.Popen([str(self.program), "interval"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True, bufsize=1)
            atexit.register(self.close)
        return self.process

    def contrast(self, terms: list[tuple[list[float], float]], log: bool, confidences: list[float]) -> dict:
        """sum of weight * 20%-trimmed mean (of logs with `log`), with an interval per confidence.
        Returns the service's answer; raises ValueError with its reason when it has none."""
        request = {"terms": [{"values": list(map(float, values)), "weight": weight} for values, weight in terms],
                   "log": log, "confidence": confidences}
        process = self._start()
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except (BrokenPipeError, OSError) as error:
            raise IntervalError(f"the interval service stopped ({error})") from None
        if not line:
            raise IntervalError("the interval service stopped without answering")
        answer = json.loads(line)
        if "error" in answer:
            raise ValueError(answer["error"])
        return answer

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        self.process = None
