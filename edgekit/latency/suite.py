"""The calibration suite: single-op models timed on a device, and the cost model fitted to them.

The suite covers each op class (1x1, k x k, transposed and depthwise convolutions, fully connected,
pooling, elementwise, data movement) at sizes from a MobileNet's first layers to its
last, in int8 and float32. Every micro-benchmark is written here from scratch and run
with the device's own runtime, so this needs no TensorFlow and runs on a Pi.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.analyze import read_model
from edgekit.latency.cost_model import ClassCosts, Coefficients, CostModel, DType, OpClass, padded_macs
from edgekit.latency.micro import MicroOp, build
from edgekit.latency.ops import op_costs
from edgekit.profiler.per_op import builtin_kernels, median_ms, random_input
from edgekit.progress import Progress, resolve
from edgekit.runtime import find_runtime

# (kind, height=width, channels, filters, kernel, stride): shapes met in MobileNet- and
# EfficientNet-Lite-sized models, from the stem to the classifier.
SUITE: tuple[tuple, ...] = (
    ("conv", 112, 16, 16, 1, 1), ("conv", 56, 24, 144, 1, 1), ("conv", 28, 32, 192, 1, 1),
    ("conv", 28, 192, 64, 1, 1), ("conv", 14, 96, 576, 1, 1), ("conv", 14, 384, 128, 1, 1),
    ("conv", 7, 320, 1280, 1, 1), ("conv", 7, 960, 160, 1, 1),
    ("conv", 224, 3, 32, 3, 2), ("conv", 56, 32, 32, 3, 1), ("conv", 28, 64, 64, 3, 1),
    ("conv", 14, 128, 128, 3, 1), ("conv", 28, 32, 64, 3, 2), ("conv", 7, 256, 256, 3, 1),
    ("depthwise", 112, 32, 0, 3, 1), ("depthwise", 112, 96, 0, 3, 2), ("depthwise", 56, 144, 0, 3, 1),
    ("depthwise", 28, 192, 0, 3, 1), ("depthwise", 14, 576, 0, 3, 1), ("depthwise", 7, 960, 0, 3, 1),
    ("depthwise", 28, 144, 0, 5, 2), ("depthwise", 14, 480, 0, 5, 1),
    ("fully_connected", 1, 1280, 1000, 1, 1), ("fully_connected", 1, 1024, 1000, 1, 1),
    ("fully_connected", 1, 512, 512, 1, 1), ("fully_connected", 1, 256, 128, 1, 1),
    ("fully_connected", 1, 2048, 256, 1, 1),
    ("max_pool", 56, 64, 0, 2, 2), ("max_pool", 28, 128, 0, 3, 2), ("average_pool", 14, 256, 0, 2, 2),
    ("mean", 7, 1280, 0, 1, 1), ("mean", 14, 576, 0, 1, 1),
    ("add", 56, 24, 0, 1, 1), ("add", 28, 32, 0, 1, 1), ("add", 14, 96, 0, 1, 1), ("mul", 28, 96, 0, 1, 1),
    ("hard_swish", 56, 16, 0, 1, 1), ("hard_swish", 14, 96, 0, 1, 1), ("logistic", 28, 72, 0, 1, 1),
    ("softmax", 1, 1000, 0, 1, 1), ("prelu", 56, 32, 0, 1, 1), ("prelu", 28, 64, 0, 1, 1),
    ("concatenation", 28, 64, 0, 1, 1), ("concatenation", 14, 128, 0, 1, 1), ("pad", 56, 32, 0, 1, 1),
    ("resize_bilinear", 14, 64, 0, 1, 1), ("resize_bilinear", 28, 32, 0, 1, 1),
    # Tensors of megabytes, beyond a CPU's caches: segmentation and landmark models at
    # 128-256 pixels move that much per op, and pay memory's speed for it.
    ("conv", 128, 32, 32, 1, 1), ("conv", 256, 3, 16, 3, 2), ("conv", 128, 16, 32, 3, 1),
    ("depthwise", 128, 32, 0, 3, 1), ("depthwise", 256, 16, 0, 3, 2),
    ("add", 128, 32, 0, 1, 1), ("mul", 128, 32, 0, 1, 1), ("hard_swish", 128, 24, 0, 1, 1),
    ("pad", 128, 24, 0, 1, 1), ("resize_bilinear", 64, 32, 0, 1, 1), ("concatenation", 64, 32, 0, 1, 1),
    # Few channels: a segmentation mask's last layers, audio models' 1-D filters, a
    # detector's stem. Kernels compute whole tiles of output channels and restart their
    # channel loop at every position, so these cost far more than their MACs and bytes say.
    ("conv", 56, 32, 1, 1, 1), ("conv", 56, 64, 8, 1, 1), ("conv", 64, 8, 1, 5, 1), ("conv", 64, 16, 4, 3, 1),
    ("conv", 128, 1, 8, 3, 1), ("depthwise", 128, 8, 0, 3, 1), ("depthwise", 64, 4, 0, 3, 1),
    ("fully_connected", 1, 1024, 4, 1, 1), ("max_pool", 128, 8, 0, 2, 2), ("add", 128, 4, 0, 1, 1),
    ("prelu", 128, 8, 0, 1, 1), ("pad", 128, 1, 0, 1, 1), ("concatenation", 128, 1, 0, 1, 1),
    # Transposed convolutions upsampling by 2: segmentation decoders, down to a mask's one
    # channel at 256x256 (MediaPipe's selfie segmenter ends in one).
    ("transpose_conv", 128, 16, 1, 2, 2), ("transpose_conv", 64, 16, 8, 2, 2), ("transpose_conv", 64, 32, 16, 2, 2),
    ("transpose_conv", 32, 64, 64, 2, 2), ("transpose_conv", 28, 64, 32, 3, 2), ("transpose_conv", 14, 128, 64, 4, 2),
)
# One invoke of a one-element ADD: the runtime's fixed cost with no work in it.
_EMPTY = MicroOp("add", "float32", 1, 1, 1)


def suite(dtypes: Sequence[str] = ("int8", "float32"), limit: int | None = None) -> list[MicroOp]:
    """The micro-benchmarks, each op class at several sizes, in each type (``limit``: the
    first few of each class, for a quick check)."""
    ops = []
    for dtype in dtypes:
        per_kind: dict[str, int] = {}
        for kind, size, channels, filters, kernel, stride in SUITE:
            per_kind[kind] = per_kind.get(kind, 0) + 1
            if limit is not None and per_kind[kind] > limit:
                continue
            height = width = size
            ops.append(MicroOp(kind, dtype, height, width, channels, filters or channels, kernel, stride))
    return ops


def measure_suite(ops: Sequence[MicroOp], threads: int = 1, runtime: str | None = None,
                  progress: bool | Progress | None = None) -> dict:
    """Each micro-benchmark's median latency here, with its class, type, MACs and bytes."""
    from edgekit.analyze.cpu import delegated_nodes
    say = resolve(progress)
    chosen = find_runtime(runtime)
    builtin = builtin_kernels(chosen)
    empty = _time_model(build(_EMPTY), chosen, threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-calibrate-") as scratch:
        for n, op in enumerate(ops):
            data = build(op, seed=n)
            path = Path(scratch) / f"{op.name}.tflite"
            path.write_bytes(data)
            [cost] = op_costs(read_model(data))
            rows.append({
                "name": op.name, "kind": op.kind, "dtype": cost.dtype.value, "op_class": cost.op_class.value,
                "macs": cost.macs, "bytes": cost.bytes, "rows": cost.rows, "channels": cost.channels,
                # Whether XNNPACK takes it, as the runtime itself decides; its time either way,
                # and on the built-in kernels alone.
                "delegated": bool(delegated_nodes(path, threads)),
                "ms": _time_model(data, chosen, threads),
                "builtin_ms": _time_model(data, chosen, threads, builtin) if builtin else None,
            })
            if (n + 1) % 10 == 0 or n + 1 == len(ops):
                say.count("micro-benchmarks timed", n + 1, len(ops))
    return {"runtime": f"{chosen.name} {chosen.version}", "threads": threads, "invoke_ms": empty, "rows": rows}


@dataclass(frozen=True)
class Fit:
    model: CostModel
    # Leave-one-out relative error of each micro-benchmark (predicted / measured - 1).
    errors: dict[str, float]


def fit(measured: dict, source: str) -> Fit:
    """Per kernel path, type and class, ms = fixed + a·MMACs in whole channel tiles + b·MB
    + c·Mrows (non-negative, least relative squares), with each micro-benchmark's
    leave-one-out error."""
    invoke = float(measured["invoke_ms"])
    costs: dict[str, dict[str, Coefficients]] = {}
    errors = {}
    # XNNPACK's coefficients from what it took; the built-in kernels' from every op.
    samples = [{**r, "section": r["dtype"]} for r in measured["rows"] if r["delegated"]]
    samples += [{**r, "section": f"builtin_{r['dtype']}", "ms": r["builtin_ms"], "name": f"builtin {r['name']}"}
                for r in measured["rows"] if r.get("builtin_ms")]
    key = lambda r: (r["section"], r["op_class"])  # noqa: E731
    for (section, op_class), group in itertools.groupby(sorted(samples, key=key), key=key):
        group = list(group)
        costs.setdefault(section, {})[op_class] = _fit_group(group, invoke)
        for i, row in enumerate(group):
            others = group[:i] + group[i + 1:]
            c = _fit_group(others, invoke) if others else costs[section][op_class]
            predicted = invoke + c.predict(row["macs"], row["bytes"], row.get("rows", 0), row.get("channels", 0))
            errors[row["name"]] = predicted / row["ms"] - 1
    # The band: the typical error of one XNNPACK op's estimate (the path most time goes
    # through); a whole model's error is usually smaller, as its ops' errors partly
    # cancel (tools/bench_estimate.py measures that).
    typical = [abs(e) for name, e in errors.items() if not name.startswith("builtin ")] or [0.0]
    band = float(min(0.9, max(0.10, np.median(typical))))
    model = CostModel(
        source=source, threads=int(measured["threads"]), invoke_ms=invoke, band=round(band, 3),
        **{section: ClassCosts(**classes) for section, classes in costs.items()},
    )
    return Fit(model, errors)


# The output-channel tiles tried: XNNPACK's GEMM kernels compute 1 to 32 channels at once
# (the f32 ones XNNPACK picks in src/configs/gemm-config.c are 6x8 on AArch64 NEON and
# 7x16 on AVX-512F: MR rows by NR channels).
_TILES = (1, 4, 8, 16, 32)


def _fit_group(rows: list[dict], invoke: float) -> Coefficients:
    """The coefficients of one group, on relative error, with the channel tile that fits best."""
    y = np.array([max(r["ms"] - invoke, 0.0) for r in rows])
    weight = 1.0 / np.array([max(r["ms"], 1e-6) for r in rows])
    best, best_error = None, np.inf
    tiles = _TILES if any(r["macs"] for r in rows) else (1,)
    for tile in tiles:
        features = np.array([[1.0, padded_macs(r["macs"], r.get("channels", 0), tile) / 1e6, r["bytes"] / 1e6,
                              r.get("rows", 0) / 1e6] for r in rows])
        solution = nnls(features, y, weight)
        error = float(np.sum(((features @ solution - y) * weight) ** 2))
        # A larger tile must earn its place: ties go to the smaller one.
        if error < best_error * (1 - 1e-6):
            best, best_error = (solution, tile), error
    (fixed, per_mmac, per_mb, per_mrow), tile = best
    return Coefficients(fixed_ms=float(fixed), per_mmac_ms=float(per_mmac), per_mb_ms=float(per_mb),
                        per_mrow_ms=float(per_mrow), channel_tile=tile if per_mmac > 0 else 1)


def nnls(features: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Non-negative weighted least squares, by trying each subset of the columns: with
    four or five unknowns an exhaustive search is exact and small."""
    count = features.shape[1]
    best, best_error = np.zeros(count), np.inf
    for mask in itertools.product((0, 1), repeat=count):
        columns = [i for i in range(count) if mask[i]]
        if not columns:
            continue
        solution, *_ = np.linalg.lstsq(features[:, columns] * weight[:, None], target * weight, rcond=None)
        if np.any(solution < 0):
            continue
        coefficients = np.zeros(count)
        coefficients[columns] = solution
        error = float(np.sum(((features @ coefficients - target) * weight) ** 2))
        if error < best_error:
            best, best_error = coefficients, error
    return best


def _time_model(data: bytes, runtime, threads: int, resolver: dict | None = None) -> float:
    interpreter = runtime.interpreter(model_content=data, num_threads=threads, **(resolver or {}))
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], random_input(detail, rng))
    return median_ms(interpreter.invoke, warmup=3)

__all__ = ["SUITE", "Fit", "DType", "OpClass", "fit", "measure_suite", "suite"]
