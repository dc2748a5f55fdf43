"""Wall time and int8 accuracy: `edgekit build` against a plain Keras + TFLiteConverter script.

edgekit builds the digits sample with its recipe and early stopping off (exactly
--epochs epochs); tools/plain_keras_build.py is the careful hand-written script (its
own docstring says what it does, early stopping included). Both run as separate
processes, alternating, so both pay TensorFlow's import and neither benefits from the
other's warm caches more than once. tools/bench_accuracy.py compares the two on
several real data sets.

    python tools/bench_build.py samples/digits --repeats 2
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

HERE = Path(__file__).resolve().parent
RECIPE = HERE.parent / "samples" / "digits.toml"


def run_edgekit(data: str, out: Path, epochs: int) -> dict:
    cmd = [sys.executable, "-m", "edgekit", "build", data, "--target", "edgetpu", "--out", str(out),
           "--recipe", str(RECIPE), "--epochs", str(epochs), "--patience", "0", "--quiet", "--json"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    report = json.loads(done.stdout)
    return {"wall": wall, "tflite_accuracy": report["tflite"]["accuracy"],
            "keras_accuracy": report["keras"]["accuracy"], "bytes": report["tflite"]["bytes"]}


def run_plain(data: str, out: Path, epochs: int) -> dict:
    cmd = [sys.executable, str(HERE / "plain_keras_build.py"), data, str(out), "--epochs", str(epochs)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall": wall, "tflite_accuracy": result["tflite_accuracy"],
            "keras_accuracy": result["keras_accuracy"], "bytes": result["tflite_bytes"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="samples/digits")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"plain": [], "edgekit": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for name, fn in (("plain", run_plain), ("edgekit", run_edgekit)):
                result = fn(args.data, Path(tmp) / f"{name}{i}", args.epochs)
                runs[name].append(result)
                print(f"run {i + 1} {name:8s} wall {result['wall']:6.1f}s  keras {result['keras_accuracy']:.4f}  "
                      f"int8 tflite {result['tflite_accuracy']:.4f}  {result['bytes']:,} bytes", flush=True)
    med = {name: statistics.median(r["wall"] for r in rs) for name, rs in runs.items()}
    acc = {name: statistics.median(r["tflite_accuracy"] for r in rs) for name, rs in runs.items()}
    ratio = med["edgekit"] / med["plain"]
    print(f"\nmedian wall: plain {med['plain']:.1f}s, edgekit {med['edgekit']:.1f}s, "
          f"ratio {ratio:.3f} (target <= 1.15)")
    print(f"median int8 accuracy: plain {acc['plain']:.4f}, edgekit {acc['edgekit']:.4f} (target: edgekit >= plain)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
