"""Latency you can predict: device calibration, cost models and estimates.

``calibrate()`` times single-op micro-benchmarks on a device (here or over SSH) and fits
a cost model per op class; ``estimate()`` applies a target's cost model to a .tflite.
Neither imports TensorFlow: calibration runs on a Pi with only LiteRT.

Names load on first use: target profiles hold a ``CostModel`` (from ``cost_model``),
and the rest of this package reads models, which reads target profiles.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "Calibration": "edgekit.latency.api", "calibrate": "edgekit.latency.api", "write_profile": "edgekit.latency.api",
    "CostModel": "edgekit.latency.cost_model", "to_toml": "edgekit.latency.cost_model",
    "Estimate": "edgekit.latency.estimator", "estimate": "edgekit.latency.estimator",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module 'edgekit.latency' has no attribute {name!r}")
    return getattr(importlib.import_module(_NAMES[name]), name)
