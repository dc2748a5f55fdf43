"""One measurement, in this process: load, first inference, warm-up, timed runs, memory.

Runs inside the child process that ``isolate`` starts, so a crashing delegate or a
malformed model cannot take the caller down. Needs only a TFLite runtime and numpy.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.analyze import ModelInfo, read_model
from edgekit.analyze.shapes import require_input_shape, resize_dynamic_inputs
from edgekit.errors import ConfigError, ProfileError, first_line
from edgekit.files import file_facts
from edgekit.inference import quantize
from edgekit.profiler.options import ProfileOptions
from edgekit.profiler.stats import latency_stats
from edgekit.profiler.system import conditions, rss_bytes, warnings_for
from edgekit.runtime import find_runtime

_EDGETPU_LIBRARY = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
_EDGETPU_OP = "edgetpu-custom-op"


def measure(model_path: str | Path, options: ProfileOptions) -> dict:
    info = read_model(model_path)
    _require_size(info, options)
    runtime = find_runtime(options.runtime)
    # After the runtime's import, so growth is what the model costs, not the library.
    baseline_rss, _ = rss_bytes()
    start = time.perf_counter()
    runner = make_runner(model_path, options, runtime, info)
    load_ms = (time.perf_counter() - start) * 1000
    loaded_rss, _ = rss_bytes()

    feeds = input_feeds(runner.inputs, info, options)
    runner.set(feeds[0])
    start = time.perf_counter()
    runner.invoke()
    first_ms = (time.perf_counter() - start) * 1000
    for i in range(options.warmup):
        runner.set(feeds[i % len(feeds)])
        runner.invoke()

    samples = []
    deadline = time.perf_counter() + options.duration if options.duration else None
    i = 0
    while True:
        runner.set(feeds[i % len(feeds)])
        start = time.perf_counter_ns()
        runner.invoke()
        samples.append((time.perf_counter_ns() - start) / 1e6)
        i += 1
        if deadline is None and i >= options.runs:
            break
        if deadline is not None and time.perf_counter() >= deadline:
            break
    current_rss, peak_rss = rss_bytes()
    system = conditions()
    facts = file_facts(model_path)
    stats = latency_stats(samples)
    return {
        "model": str(model_path),
        "file_bytes": facts["bytes"],
        "gzip_bytes": facts["gzip_bytes"],
        "sha256": facts["sha256"],
        "runtime": {"name": runtime.name, "version": runtime.version, "api": runner.api},
        "delegate": runner.delegate,
        "accelerator": options.accelerator,
        "gpu_f32": options.gpu_f32,
        "fully_accelerated": runner.fully_accelerated,
        "threads": options.threads,
        "inputs": [{"name": d["name"], "shape": list(d["shape"]), "dtype": d["dtype"]} for d in runner.inputs],
        "input_source": options.inputs_dir or "random",
        "load_ms": load_ms,
        "first_inference_ms": first_ms,
        "warmup": options.warmup,
        "runs": len(samples),
        "latency_ms": stats,
        # Every timed run in order, for a histogram or a drift check.
        "samples_ms": [round(v, 5) for v in samples],
        "throughput_per_s": 1000.0 / stats["mean"] if stats["mean"] > 0 else None,
        "memory": {
            "baseline_rss_bytes": baseline_rss,
            "loaded_rss_bytes": loaded_rss,
            "final_rss_bytes": current_rss,
            "peak_rss_bytes": peak_rss,
            "growth_bytes": (peak_rss - baseline_rss) if peak_rss and baseline_rss else None,
        },
        "system": system,
        "ops": op_table(info),
        "ops_note": "MACs are estimates from tensor shapes, not measured per op",
        "warnings": warnings_for(system),
    }


def make_runner(model_path: str | Path, options: ProfileOptions, runtime: Any, info: ModelInfo) -> Any:
    """The Interpreter, or LiteRT's CompiledModel for an accelerator, loaded and allocated."""
    if options.accelerator:
        return _CompiledRunner(model_path, options)
    return _InterpreterRunner(model_path, options, runtime, info)


def op_table(info: ModelInfo) -> list[dict]:
    rows: dict[str, dict] = {}
    for op in info.ops:
        row = rows.setdefault(op.opcode, {"op": op.opcode, "count": 0, "macs": 0, "macs_known": True})
        row["count"] += 1
        if op.macs is None:
            row["macs_known"] = False
        else:
            row["macs"] += op.macs
    total = sum(r["macs"] for r in rows.values()) or 1
    out = []
    for row in sorted(rows.values(), key=lambda r: -r["macs"]):
        out.append({
            "op": row["op"],
            "count": row["count"],
            "estimated_macs": row["macs"] if row["macs_known"] or row["macs"] else None,
            "share": row["macs"] / total,
        })
    return out


def input_feeds(details: list[dict], info: ModelInfo, options: ProfileOptions) -> list[list[np.ndarray]]:
    """Feeds for every run: random values, or the images of a folder or the samples of an
    .npy/.npz file, cycled through."""
    main = info.main
    quant = [main.tensors[i].quantization for i in main.inputs]
    if options.inputs_dir and Path(options.inputs_dir).suffix.lower() in (".npy", ".npz"):
        return _array_inputs(details, quant, options.inputs_dir)
    if options.inputs_dir:
        return _image_inputs(details, quant, options.inputs_dir)
    rng = np.random.default_rng(options.seed)
    feeds = []
    for _ in range(4):
        feed = []
        for d in details:
            dtype = np.dtype(d["dtype"])
            if np.issubdtype(dtype, np.integer):
                info_ = np.iinfo(dtype)
                feed.append(rng.integers(info_.min, int(info_.max) + 1, d["shape"], dtype=dtype))
            elif dtype == np.bool_:
                feed.append(rng.integers(0, 2, d["shape"]).astype(bool))
            else:
                feed.append(rng.uniform(0.0, 1.0, d["shape"]).astype(dtype))
        feeds.append(feed)
    return feeds


def _array_inputs(details: list[dict], quant: list, path: str) -> list[list[np.ndarray]]:
    """Samples of an .npy (one input) or .npz (arrays named as the inputs, or arr_0,
    arr_1... in input order), already scaled as the model's float inputs expect: real
    values matter where random ones do not run (a division by an input's zero point)."""
    try:
        loaded = np.load(path, allow_pickle=False)
        arrays = {"arr_0": loaded} if isinstance(loaded, np.ndarray) else {k: loaded[k] for k in loaded.files}
    except (OSError, ValueError) as exc:
        raise ProfileError(f"--inputs {path}: cannot read it as .npy/.npz arrays: {first_line(exc)}") from None
    chosen = []
    for position, detail in enumerate(details):
        names = [detail["name"], _plain_name(detail["name"]), f"arr_{position}"]
        if len(details) == len(arrays) == 1:
            names.append(next(iter(arrays)))
        key = next((n for n in names if n in arrays), None)
        if key is None:
            raise ProfileError(f"--inputs {path}: no array for input {_plain_name(detail['name'])!r} "
                               f"(arrays: {', '.join(sorted(arrays))})")
        values, shape = arrays[key], tuple(detail["shape"])
        if values.ndim != len(shape) or tuple(values.shape[1:]) != shape[1:] or len(values) < 1:
            raise ProfileError(f"--inputs {path}: array {key!r} has shape {tuple(values.shape)}; input "
                               f"{_plain_name(detail['name'])!r} takes samples of shape {shape}")
        chosen.append((values, detail, quant[position]))
    batch = max(1, chosen[0][1]["shape"][0])
    count = min(64, *(len(v) for v, _, _ in chosen))
    feeds = []
    for start in range(0, count - batch + 1, batch):
        feeds.append([quantize(values[start:start + batch].astype(np.float32), _scaling(detail, q))
                      for values, detail, q in chosen])
    if not feeds:
        raise ProfileError(f"--inputs {path}: fewer samples than the model's batch")
    return feeds


def _scaling(detail: dict, q) -> dict:
    """What ``quantize`` needs of an input: its type, and its scale and zero point (none for float)."""
    return {"dtype": np.dtype(detail["dtype"]).type,
            "quantization": (q.scales[0], q.zero_points[0]) if q else (0.0, 0)}


def _plain_name(name: str) -> str:
    """An input's name as the model's author gave it: serving_default_pixels:0 -> pixels."""
    return name.removeprefix("serving_default_").split(":")[0]


def _image_inputs(details: list[dict], quant: list, folder: str) -> list[list[np.ndarray]]:
    from edgekit.data.images import ImageDecodeError, is_image_file, load_image

    if len(details) != 1 or len(details[0]["shape"]) != 4 or details[0]["shape"][-1] != 3:
        raise ProfileError("--inputs takes images only for a model with one (1, H, W, 3) input")
    detail = details[0]
    _, height, width, _ = detail["shape"]
    paths = sorted(p for p in Path(folder).rglob("*") if is_image_file(p))[:64]
    if not paths:
        raise ProfileError(f"input folder {folder} has no images")
    feeds = []
    tensor_detail = _scaling(detail, quant[0])
    for path in paths:
        try:
            pixels = load_image(path, (height, width)).astype(np.float32)[None]
        except ImageDecodeError as exc:
            raise ProfileError(f"cannot read input image {path}: {exc}") from None
        feeds.append([quantize(pixels, tensor_detail)])
    return feeds


def _require_size(info: ModelInfo, options: ProfileOptions) -> None:
    """A dynamic input size is never guessed: one line naming the input and --input-shape."""
    try:
        require_input_shape(info, options.input_shape, "a measurement")
    except ConfigError as exc:
        raise ProfileError(f"{info.source}: {exc}") from None


class _InterpreterRunner:
    api = "interpreter"

    def __init__(self, model_path, options: ProfileOptions, runtime: Any, info: ModelInfo):
        delegates = []
        self.delegate = None
        if options.delegate:
            delegates.append(self._load_delegate(runtime, options))
        try:
            self.interpreter = runtime.interpreter(model_path=model_path, num_threads=options.threads,
                                                   experimental_delegates=delegates or None)
            resize_dynamic_inputs(self.interpreter, options.input_shape)
            self.interpreter.allocate_tensors()
        except ProfileError:
            raise
        except Exception as exc:  # noqa: BLE001 - runtimes raise ValueError/RuntimeError with their log
            raise ProfileError(f"{model_path}: the runtime cannot load the model: {first_line(exc)}") from None
        self.inputs = [
            {"index": d["index"], "name": d["name"], "shape": [int(v) for v in d["shape"]],
             "dtype": np.dtype(d["dtype"]).name}
            for d in self.interpreter.get_input_details()
        ]
        edgetpu_ops = sum(op.opcode == _EDGETPU_OP for op in info.ops)
        if options.delegate == "edgetpu":
            # A model not compiled by edgetpu_compiler runs wholly on the CPU, delegate or not.
            self.fully_accelerated = edgetpu_ops == len(info.ops) if info.ops else False
        else:
            self.fully_accelerated = None

    def _load_delegate(self, runtime: Any, options: ProfileOptions) -> Any:
        load = getattr(runtime.module, "load_delegate", None)
        if load is None:
            raise ProfileError(f"the {runtime.name} runtime cannot load external delegates")
        if options.delegate == "edgetpu":
            library = _EDGETPU_LIBRARY.get(platform.system(), "libedgetpu.so.1")
            delegate_options = {"device": options.device} if options.device else {}
            hint = ("install the Edge TPU runtime (apt-get install libedgetpu1-std from Coral's package "
                    "repository) and connect the accelerator")
        else:
            library, delegate_options = options.delegate, {}
            hint = "check the path and that the library matches this runtime"
        try:
            delegate = load(library, delegate_options)
        except Exception as exc:  # noqa: BLE001 - OSError for a missing library, ValueError for a failed init
            raise ProfileError(f"delegate {library} could not be loaded ({first_line(exc)}): {hint}") from None
        self.delegate = options.delegate if options.delegate == "edgetpu" else library
        if options.device:
            self.delegate += f" ({options.device})"
        return delegate

    def set(self, feed: list[np.ndarray]) -> None:
        for detail, value in zip(self.inputs, feed):
            self.interpreter.set_tensor(detail["index"], value)

    def invoke(self) -> None:
        self.interpreter.invoke()


class _CompiledRunner:
    """LiteRT's CompiledModel API: the way to the GPU and NPU accelerators."""

    api = "compiled_model"
    delegate = None

    def __init__(self, model_path, options: ProfileOptions):
        try:
            from ai_edge_litert.compiled_model import CompiledModel
            from ai_edge_litert.hardware_accelerator import HardwareAccelerator
            from ai_edge_litert.options import CpuOptions, GpuOptions, Options
        except ImportError as exc:
            raise ProfileError(f"--accelerator needs ai-edge-litert's CompiledModel API: {exc}") from None
        accel = HardwareAccelerator[options.accelerator.upper()]
        if options.accelerator != "cpu":
            # With the CPU beside it, ops the accelerator lacks fall back instead of failing,
            # and is_fully_accelerated() says whether any did.
            accel = HardwareAccelerator(accel | HardwareAccelerator.CPU)
        settings = Options(hardware_accelerators=accel, cpu_options=CpuOptions(num_threads=options.threads),
                           gpu_options=GpuOptions(enforce_f32=options.gpu_f32))
        try:
            self.model = CompiledModel.from_file(str(model_path), options=settings)
            signature = next(iter(self.model.get_signature_list()))
            details = self.model.get_input_tensor_details(signature)
            for index, d in enumerate(details.values()):
                if any(v < 0 for v in d["shape"]):
                    shape = (list(options.input_shape) if options.input_shape
                             else [1 if v < 0 else v for v in d["shape"]])
                    self.model.resize_input_tensor(index, shape)
            details = self.model.get_input_tensor_details(signature)
            self.in_buffers = self.model.create_input_buffers(0)
            self.out_buffers = self.model.create_output_buffers(0)
        except StopIteration:
            raise ProfileError(f"{model_path}: the CompiledModel API needs a model with a signature") from None
        except Exception as exc:  # noqa: BLE001 - RuntimeError with LiteRT's status trace
            raise ProfileError(f"{model_path}: the {options.accelerator} accelerator cannot run the model here: "
                               f"{first_line(exc)}") from None
        self.inputs = [{"name": name, "shape": [int(v) for v in d["shape"]], "dtype": np.dtype(d["dtype"]).name}
                       for name, d in details.items()]
        # The CPU is not an accelerator: LiteRT answers False for it, which says nothing.
        self.fully_accelerated = self.model.is_fully_accelerated() if options.accelerator != "cpu" else None

    def set(self, feed: list[np.ndarray]) -> None:
        for buffer, value in zip(self.in_buffers, feed):
            buffer.write(np.ascontiguousarray(value))

    def invoke(self) -> None:
        self.model.run_by_index(0, self.in_buffers, self.out_buffers)


