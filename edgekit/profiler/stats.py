"""Latency distribution from per-run samples."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def latency_stats(samples_ms: Sequence[float]) -> dict:
    """mean, std, min, p50, p90, p99, max in milliseconds (percentiles by linear interpolation)."""
    x = np.asarray(samples_ms, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no samples")
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    return {
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "min": float(x.min()),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": float(x.max()),
    }
