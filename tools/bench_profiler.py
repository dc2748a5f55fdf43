"""edgekit profile against the runtime's own benchmark and a bare invoke() loop, interleaved.

Same model, same threads, same number of runs; each tool runs in its own process, in
turn, for several rounds, and the medians of each are compared. Also times the start-up
a user feels: `edgekit profile --help`, and a full 100-run profile of a small model.

    python tools/bench_profiler.py [--model M.tflite] [--threads 2] [--runs 200] [--rounds 3]

Without --model, a MobileNetV2 (224x224, float32, untrained weights: latency does not
depend on them) is converted first, which needs the build extras.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_LOOP = """
import sys, time, json, numpy as np
from ai_edge_litert.interpreter import Interpreter
path, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
it = Interpreter(model_path=path, num_threads=threads)
it.allocate_tensors()
d = it.get_input_details()[0]
it.set_tensor(d["index"], np.random.default_rng(0).uniform(0, 1, d["shape"]).astype(d["dtype"]))
for _ in range(10):
    it.invoke()
times = []
for _ in range(runs):
    t = time.perf_counter_ns(); it.invoke(); times.append((time.perf_counter_ns() - t) / 1e6)
print(json.dumps({"median_ms": float(np.median(times))}))
"""


def make_mobilenet(folder: Path) -> Path:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgekit._tf import keras_module
    from edgekit.conversion import to_tflite
    from edgekit.targets import ConvertSettings

    keras = keras_module()
    model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    path = folder / "mobilenet_v2_224_f32.tflite"
    path.write_bytes(to_tflite(model, ConvertSettings(), batch_size=1))
    return path


def run_json(cmd: list[str]) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def edgekit_p50(model: Path, threads: int, runs: int, accelerator: str | None = None) -> float:
    cmd = [sys.executable, "-m", "edgekit", "profile", str(model), "--threads", str(threads), "--runs", str(runs),
           "--warmup", "10", "--json"]
    if accelerator:
        cmd += ["--accelerator", accelerator]
    return run_json(cmd)["latency_ms"]["p50"]


def litert_benchmark_median(model: Path, threads: int, runs: int, scratch: Path) -> float:
    out = scratch / "bench.json"
    subprocess.run([sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", f"--model={model}",
                    f"--num_threads={threads}", f"--num_runs={runs}", "--warmup_runs=10", f"--result_json={out}"],
                   capture_output=True, text=True, check=True)
    # Its JSON rounds to 0.01 ms: fine for a model that takes milliseconds.
    return float(json.loads(out.read_text())["latency"]["median_ms"])


def bare_median(model: Path, threads: int, runs: int) -> float:
    return run_json([sys.executable, "-c", BARE_LOOP, str(model), str(threads), str(runs)])["median_ms"]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--small-model", type=Path, default=Path("build/demo/cpu/model.tflite"),
                        help="model for the start-up timing (default: the demo's CPU build)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        model = args.model or make_mobilenet(scratch)
        print(f"model {model} ({model.stat().st_size:,} bytes), {args.threads} threads, {args.runs} runs, "
              f"{args.rounds} interleaved rounds", flush=True)
        tools = {
            "edgekit profile (interpreter)": lambda: edgekit_p50(model, args.threads, args.runs),
            "edgekit profile --accelerator cpu": lambda: edgekit_p50(model, args.threads, args.runs, "cpu"),
            "benchmark_litert_model": lambda: litert_benchmark_median(model, args.threads, args.runs, scratch),
            "bare invoke() loop": lambda: bare_median(model, args.threads, args.runs),
        }
        samples: dict[str, list[float]] = {name: [] for name in tools}
        for r in range(args.rounds):
            for name, fn in tools.items():
                samples[name].append(fn())
                print(f"round {r + 1} {name:36s} median {samples[name][-1]:8.3f} ms", flush=True)
        med = {name: statistics.median(v) for name, v in samples.items()}
        print()
        for name, value in med.items():
            print(f"{name:36s} {value:8.3f} ms")
        e = med["edgekit profile (interpreter)"]
        bare = med["bare invoke() loop"]
        print(f"edgekit (interpreter) / bare invoke loop:          {e / bare:.3f} (target 0.95-1.05)")
        print(f"edgekit (interpreter) / benchmark_litert_model:    {e / med['benchmark_litert_model']:.3f}")
        ec = med["edgekit profile --accelerator cpu"]
        print(f"edgekit (CompiledModel) / benchmark_litert_model:  {ec / med['benchmark_litert_model']:.3f} "
              "(same API; target 0.95-1.05)")

        help_times = [wall([sys.executable, "-m", "edgekit", "profile", "--help"]) for _ in range(5)]
        edgekit_bin = Path(sys.executable).with_name("edgekit")
        help_cli = [wall([str(edgekit_bin), "profile", "--help"]) for _ in range(5)] if edgekit_bin.exists() else []
        print(f"\n`python -m edgekit profile --help`: median {statistics.median(help_times):.3f} s (target < 1 s)")
        if help_cli:
            print(f"`edgekit profile --help`:           median {statistics.median(help_cli):.3f} s")
        if args.small_model.is_file():
            full = [wall([sys.executable, "-m", "edgekit", "profile", str(args.small_model), "--runs", "100"])
                    for _ in range(3)]
            print(f"full 100-run profile of {args.small_model}: median {statistics.median(full):.3f} s wall "
                  "(target < 3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
