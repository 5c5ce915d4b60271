"""What every benchmark shares (not a benchmark itself: `make bench` skips _*.py)."""

from __future__ import annotations

import math
import os


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def print_load(busy_note: str = "other work is running, wall times are inflated") -> None:
    """The load average first: figures from a busy machine are not comparable."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    print(f"load average {load:.1f} on {cpus} CPUs" + (f": {busy_note}" if load > cpus / 2 else ""))
