"""Result rows: one cell of the printed table each, with the samples behind it."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["eskit", "raw", "peer"]
Backend = Literal["postgres", "sqlite"]


@dataclass
class Row:
    """One cell of the result table: one contender on one case, several samples."""

    workload: str
    backend: Backend
    case: str
    contender: str
    role: Role
    unit: Literal["ev/s", "cmd/s", "ms", "s"]
    samples: list[float] = field(default_factory=list)
    pair: str = ""
    """eskit rows are compared with the peer row of the same ``pair`` ("" or e.g. "snapshot")."""
    is_reference: bool = True
    """The row a ratio uses for its role (one raw / one peer row per case and pair)."""
    value: float | None = None
    """Shown instead of the median when set: a latency percentile over every append of the
    run, whose ``samples`` are the same percentile in each part of the run (the range)."""
    extra: dict[str, list[float]] = field(default_factory=dict)
    """Further figures per sample, for a workload with a table of its own (the service
    load: latency percentiles, errors, CPU)."""

    @property
    def median(self) -> float:
        if self.value is not None:
            return self.value
        return statistics.median(self.samples)

    @property
    def higher_is_better(self) -> bool:
        return self.unit in ("ev/s", "cmd/s")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` = 1.0 is the maximum)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
