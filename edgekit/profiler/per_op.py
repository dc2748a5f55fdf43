"""Each op's latency, measured alone: cut from the model, fed the values it sees in the
whole model, run warm with the same runtime, threads and delegate.

The parts do not add up to the whole exactly: every piece pays a whole invoke's fixed
cost, and in the whole model an op finds its inputs in cache and the runtime may fuse
neighbours. The table says both figures and the difference.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit.analyze import read_model
from edgekit.analyze.layers import layer_name
from edgekit.analyze.model import ModelInfo, pads_fused_into_convolutions
from edgekit.analyze.shapes import resize_dynamic_inputs
from edgekit.errors import ProfileError, first_line
from edgekit.profiler.cut import FOLDED, Piece, cut_ops
from edgekit.profiler.measure import input_feeds, make_runner
from edgekit.profiler.options import ProfileOptions
from edgekit.runtime import find_runtime

# Each piece runs until this much time is spent (and at least MIN_RUNS times): enough for
# a stable median of a 10 µs op and a 50 ms one alike, without minutes on a big model.
BUDGET_S = 0.05
MIN_RUNS = 5
PER_OP_NOTE = ("each op cut into a model of its own and timed alone (median); 'folded' rows unpack constant "
               "weights once; 'fused' rows are PADs that XNNPACK merges into the convolution they feed, whose piece "
               "reads the padded input; 'estimate' rows could not be cut or run alone and are scaled from the "
               "measured ops' time per MAC")


def measure_ops(model_path: str | Path, options: ProfileOptions, whole_p50_ms: float | None = None) -> dict:
    """The per-op table of one model; ``whole_p50_ms``: the whole model's median, for the comparison."""
    info = read_model(model_path)
    runtime = find_runtime(options.runtime)
    data = Path(model_path).read_bytes()
    shapes, values = _capture(model_path, info, runtime, options)
    pieces = cut_ops(data, shapes, values, evaluate=lambda piece: _evaluate(piece, runtime))
    # Only XNNPACK merges them: not the built-in kernels, a delegate or another accelerator.
    fused = pads_fused_into_convolutions(info.main) if options.delegate is None and options.accelerator in (
        None, "cpu") else {}
    rows = []
    rng = np.random.default_rng(options.seed)
    with tempfile.TemporaryDirectory(prefix="edgekit-ops-") as scratch:
        for piece in pieces:
            op = info.main.ops[piece.index]
            row = {"index": piece.index, "opcode": piece.opcode, "layer": layer_name(info, op), "macs": op.macs,
                   "ms": None, "how": "estimate", "note": piece.reason}
            if piece.reason == FOLDED:
                row.update(ms=0.0, how="folded")
            elif piece.index in fused:
                row.update(ms=0.0, how="fused", note=f"merged into op {fused[piece.index]} by XNNPACK")
            elif piece.data is not None:
                path = Path(scratch) / f"op{piece.index}.tflite"
                path.write_bytes(piece.data)
                try:
                    runner = make_runner(path, options, runtime, read_model(path))
                    runner.set([values.get(t) if values.get(t) is not None else random_input(d, rng)
                                for t, d in zip(piece.inputs, runner.inputs)])
                    row["ms"] = median_ms(runner.invoke, min(options.warmup, 3) + 1, options.runs)
                    row.update(how="measured", note=None)
                except (ProfileError, ValueError, RuntimeError) as exc:
                    row["note"] = f"cannot run alone: {first_line(exc)[:160]}"
            rows.append(row)
    return summarise(rows, whole_p50_ms)


def summarise(rows: list[dict], whole_p50_ms: float | None) -> dict:
    """Totals and shares; an op that could not run alone is given the measured ops'
    time per MAC times its MACs (``how``: estimate)."""
    measured = [r for r in rows if r["how"] == "measured"]
    timed_macs = sum(r["macs"] or 0 for r in measured)
    rate = sum(r["ms"] for r in measured) / timed_macs if timed_macs else None
    for row in rows:
        if row["how"] == "estimate" and row["macs"] and rate is not None:
            row["ms"] = row["macs"] * rate
    total = sum(r["ms"] or 0.0 for r in rows)
    for row in rows:
        row["share"] = (row["ms"] or 0.0) / total if total else 0.0
    cheapest = min((r["ms"] for r in measured), default=None)
    return {
        "ops": rows,
        "sum_ms": total,
        "whole_p50_ms": whole_p50_ms,
        "measured_ops": len(measured),
        "estimated_ops": sum(r["how"] == "estimate" for r in rows),
        "folded_ops": sum(r["how"] == "folded" for r in rows),
        "fused_ops": sum(r["how"] == "fused" for r in rows),
        # The cheapest piece's whole time bounds what one invoke costs with no work in it.
        "cheapest_piece_ms": cheapest,
        "note": PER_OP_NOTE,
    }


def explain(per_op: dict) -> str:
    """One line on how the parts compare with the whole."""
    total, whole = per_op["sum_ms"], per_op["whole_p50_ms"]
    if not whole:
        return f"sum of the parts {total:.3f} ms"
    pieces = per_op["measured_ops"]
    cheapest = per_op["cheapest_piece_ms"] or 0.0
    text = (f"sum of the parts {total:.3f} ms against the whole model's median {whole:.3f} ms "
            f"({total / whole:.2f}x)")
    if total > whole:
        return text + (f": each of the {pieces} pieces pays one invoke's fixed cost (at most {cheapest:.4f} ms, "
                       "the cheapest piece), and the runtime cannot fuse ops that run in separate pieces")
    return text + (": alone, each op runs with its inputs and weights already in cache; in the whole model "
                   "the ops between evict them")


def builtin_kernels(runtime: Any) -> dict:
    """Interpreter keywords for TFLite's built-in kernels alone (no XNNPACK), where the runtime has them."""
    resolver = getattr(getattr(runtime.module, "OpResolverType", None), "BUILTIN_WITHOUT_DEFAULT_DELEGATES", None)
    return {} if resolver is None else {"experimental_op_resolver_type": resolver}


def _evaluate(piece: bytes, runtime: Any) -> list[np.ndarray]:
    """The outputs of a one-op model whose inputs are all constants."""
    interpreter = runtime.interpreter(model_content=piece, num_threads=1, **builtin_kernels(runtime))
    interpreter.allocate_tensors()
    interpreter.invoke()
    return [np.array(interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()]


def _capture(model_path: str | Path, info: ModelInfo, runtime: Any,
             options: ProfileOptions) -> tuple[dict[int, list[int]], dict[int, np.ndarray]]:
    """Every tensor's shape and value after one run of the whole model on the built-in
    kernels (a delegate keeps its intermediate tensors to itself). Where a custom op
    needs the default resolver, shapes alone; where nothing runs, the file's shapes."""
    interpreter = _run_whole(model_path, info, runtime, options, builtin_kernels(runtime))
    keep_values = interpreter is not None
    if interpreter is None:
        interpreter = _run_whole(model_path, info, runtime, options, {})
    if interpreter is None:
        return ({t.index: [1 if d < 0 else d for d in t.shape_signature or t.shape] for t in info.main.tensors}, {})
    shapes, values = {}, {}
    for detail in interpreter.get_tensor_details():
        index = detail["index"]
        if index >= len(info.main.tensors):
            continue
        shapes[index] = [int(v) for v in detail["shape"]]
        if not keep_values:
            continue
        try:
            values[index] = np.array(interpreter.get_tensor(index))
        except ValueError:  # tensors without data (unused, or freed by the runtime)
            continue
    return shapes, values


def _run_whole(model_path: str | Path, info: ModelInfo, runtime: Any, options: ProfileOptions,
               resolver: dict) -> Any:
    """The whole model run once, on the first of --inputs or on random inputs, with every
    tensor kept; or None."""
    try:
        with warnings.catch_warnings():
            # LiteRT warns that keeping every tensor costs memory: one run's worth, wanted here.
            warnings.simplefilter("ignore", UserWarning)
            interpreter = runtime.interpreter(model_path=model_path, num_threads=1,
                                              experimental_preserve_all_tensors=True, **resolver)
        resize_dynamic_inputs(interpreter, options.input_shape)
        interpreter.allocate_tensors()
        rng = np.random.default_rng(options.seed)
        details = interpreter.get_input_details()
        feed = input_feeds(details, info, options)[0] if options.inputs_dir else [random_input(d, rng)
                                                                                  for d in details]
        for d, value in zip(details, feed):
            interpreter.set_tensor(d["index"], value)
        interpreter.invoke()
    except Exception:  # noqa: BLE001 - a custom op without a kernel in this resolver
        return None
    return interpreter


def median_ms(invoke: Callable[[], Any], warmup: int, max_runs: int | None = None) -> float:
    """Median milliseconds of ``invoke`` after ``warmup`` untimed calls: at least MIN_RUNS
    runs, more until BUDGET_S has passed or ``max_runs`` are done."""
    for _ in range(warmup):
        invoke()
    samples = []
    deadline = time.perf_counter() + BUDGET_S
    while len(samples) < MIN_RUNS or (time.perf_counter() < deadline
                                      and (max_runs is None or len(samples) < max_runs)):
        start = time.perf_counter_ns()
        invoke()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return float(np.median(samples))


def random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    """Random values of an input's shape and type; integers kept within int8's range, so
    an index or a shape input stays small."""
    dtype, shape = np.dtype(detail["dtype"]), [int(v) for v in detail["shape"]]
    if np.issubdtype(dtype, np.integer):
        bounds = np.iinfo(dtype)
        return rng.integers(max(bounds.min, -128), min(int(bounds.max), 127) + 1, shape).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    return rng.uniform(0.0, 1.0, shape).astype(dtype)


__all__ = ["Piece", "builtin_kernels", "explain", "measure_ops", "median_ms", "random_input", "summarise"]
