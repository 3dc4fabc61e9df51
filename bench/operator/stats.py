"""Order statistics for latency samples: nearest-rank percentiles (with 20 samples p99 is the
worst one, which is what a p99 goal over 20 pushes can honestly claim)."""

from __future__ import annotations

import math
import statistics


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
