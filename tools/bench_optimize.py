"""Optimisation recipes side by side on the digits sample, and PCQAT against a direct tfmot script.

The sample is split once (edgekit's stratified split, 20% per class) into training and
validation folders that every build and the direct script share, so accuracies are on
the same 359 images. Every recipe is a full `edgekit.build` from the same seed; latency
is `edgekit profile` (LiteRT, 1 thread, 200 runs after warm-up), measured after all
builds so training does not compete with it.

PCQAT is compared with tools/plain_tfmot_pcqat.py over ``--seeds`` seeds (one image is
0.28 points, so one seed cannot tell a 0.5-point difference from noise):
- same recipe: edgekit's defaults (first conv and classifier not pruned or clustered)
  against the same layers written directly against tfmot;
- tfmot's way: every layer pruned and clustered, as the guides do, and edgekit with
  ``shared_codebook = false`` (tfmot's per-channel centroids and ranges): the two
  pipelines doing the same thing should give the same model.

    python tools/bench_optimize.py samples/digits --seeds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import edgekit
from edgekit.analyze.weights import kernel_stats
from edgekit.data.dataset import load_image_folder, stratified_split
from edgekit.recipe import load_recipe

HERE = Path(__file__).resolve().parent
BASE = load_recipe(HERE.parent / "samples" / "digits.toml").replace(patience=0, progress=False, max_accuracy_drop=1.0)
PRUNE, CLUSTER, QAT = {"kind": "prune", "sparsity": 0.5}, {"kind": "cluster", "clusters": 16}, {"kind": "qat"}
ALL_LAYERS = {"exclude_first_conv": False, "exclude_last_dense": False}
RECIPES = [
    ("float32", "float32", []),
    ("post-training int8", "edgetpu", []),
    ("QAT", "edgetpu", [QAT]),
    ("prune50 + QAT", "edgetpu", [PRUNE, QAT]),
    ("cluster16 + QAT", "edgetpu", [CLUSTER, QAT]),
    ("prune50 + cluster16 + QAT", "edgetpu", [PRUNE, CLUSTER, QAT]),
]
PCQAT_TFMOT_WAY = [dict(PRUNE, **ALL_LAYERS), dict(CLUSTER, **ALL_LAYERS), dict(QAT, shared_codebook=False)]


def split_folders(data: Path, root: Path) -> tuple[Path, Path]:
    """train/ and val/ folders of symlinks, split as edgekit splits."""
    images = load_image_folder(data, (8, 8))
    train, val = stratified_split(images, 0.2, seed=0)
    for name, part in (("train", train), ("val", val)):
        for source, label in zip(part.sources, part.labels):
            link = root / name / images.class_names[label] / Path(source).name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(source).resolve())
    return root / "train", root / "val"


def edgekit_row(name, train, val, target, stages, seed, out) -> dict:
    result = edgekit.build(train, BASE, val_dir=val, target=target, out=out, stages=stages, seed=seed)
    lite = result.report["tflite"]
    print(f"built {name} (seed {seed}): tflite accuracy {lite['accuracy']:.4f}, gzip {lite['gzip_bytes']:,}",
          flush=True)
    return {"recipe": name, "seed": seed, "accuracy": lite["accuracy"], "bytes": lite["bytes"],
            "gzip": lite["gzip_bytes"], "path": result.tflite_path}


def direct_row(name, train, val, layers, seed, out) -> dict:
    run = subprocess.run([sys.executable, str(HERE / "plain_tfmot_pcqat.py"), str(train), str(val), "--epochs",
                          str(BASE.training.epochs), "--seed", str(seed), "--layers", layers, "--out", str(out)],
                         capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"plain_tfmot_pcqat.py failed:\n{run.stderr[-3000:]}")
    direct = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"built {name} (seed {seed}): tflite accuracy {direct['tflite_accuracy']:.4f}, "
          f"gzip {direct['gzip_bytes']:,}", flush=True)
    return {"recipe": name, "seed": seed, "accuracy": direct["tflite_accuracy"], "bytes": direct["bytes"],
            "gzip": direct["gzip_bytes"], "path": out}


def kernel_entropy_bytes(path: Path) -> int | None:
    """Bytes the int8 kernels would take coded at their zero-order entropy (None for a float model).

    Set against the gzip column it shows what deflate gives away on pruned and clustered
    kernels: their bytes are close to independent draws, which LZ77 matches code badly.
    """
    from edgekit.analyze import read_model
    from edgekit.analyze.weights import constant_array

    data = path.read_bytes()
    info = read_model(data)
    total = 0.0
    for kernel in kernel_stats(path):
        if kernel.dtype != "INT8":
            return None
        values = constant_array(data, info, 0, info.main.ops[kernel.op_index].inputs[1])
        _, counts = np.unique(values, return_counts=True)
        p = counts / counts.sum()
        total += -(p * np.log2(p)).sum() * values.size / 8
    return int(total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="samples/digits")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train, val = split_folders(Path(args.data), tmp / "data")
        (tmp / "float32.toml").write_text('id = "float32"\ninherits = "cpu"\n[convert]\nquantization = "float32"\n')
        rows = []
        for i, (name, target, stages) in enumerate(RECIPES):
            target = tmp / "float32.toml" if target == "float32" else target
            rows.append(edgekit_row(name, train, val, target, stages, 0, tmp / f"recipe{i}"))
        pcqat = [rows[-1]] + [edgekit_row("edgekit PCQAT", train, val, "edgetpu", RECIPES[-1][2], seed,
                                          tmp / f"pcqat{seed}") for seed in seeds[1:]]
        direct = [direct_row("direct tfmot PCQAT", train, val, "inner", seed, tmp / f"direct{seed}.tflite")
                  for seed in seeds]
        tfmot_way = [edgekit_row("edgekit PCQAT, tfmot's way", train, val, "edgetpu", PCQAT_TFMOT_WAY, seed,
                                 tmp / f"way{seed}") for seed in seeds]
        direct_all = [direct_row("direct tfmot PCQAT, all layers", train, val, "all", seed,
                                 tmp / f"directall{seed}.tflite") for seed in seeds]
        extra = [direct[0], tfmot_way[0], direct_all[0]]
        for row in rows + extra:
            row["p50_ms"] = edgekit.profile(row["path"], threads=1, runs=200, warmup=20).latency_ms.p50
            row["kernel_entropy"] = kernel_entropy_bytes(Path(row["path"]))
            inner = kernel_stats(row["path"])[1:4]
            row["zeros"] = "/".join(f"{k.zero_fraction:.2f}" for k in inner)
            row["codes"] = "/".join(str(k.distinct_values) for k in inner)

    float_row = rows[0]
    print(f"\nseed 0, {Path(args.data).name}: validation 20% per class")
    print(f"{'recipe':<34} {'accuracy':>9} {'bytes':>9} {'gzip':>9} {'p50 ms':>7}  {'vs float':>8}  "
          f"{'conv1-3 zeros':>14} {'codes':>11} {'entropy B':>9}")
    for row in rows + extra:
        print(f"{row['recipe']:<34} {row['accuracy']:>9.4f} {row['bytes']:>9,} {row['gzip']:>9,} "
              f"{row['p50_ms']:>7.3f}  {row['accuracy'] - float_row['accuracy']:>+8.4f}  {row['zeros']:>14} "
              f"{row['codes']:>11} {'-' if row['kernel_entropy'] is None else format(row['kernel_entropy'], ','):>9}")

    def summary(name, group):
        acc = [r["accuracy"] for r in group]
        gz = [r["gzip"] for r in group]
        print(f"{name:<34} accuracy {statistics.mean(acc):.4f} ({' '.join(f'{a:.4f}' for a in acc)})  "
              f"gzip {statistics.mean(gz):,.0f} ({' '.join(f'{g:,}' for g in gz)})")
        return statistics.mean(acc), statistics.mean(gz)

    print(f"\nPCQAT over seeds {seeds}:")
    ours = summary("edgekit PCQAT", pcqat)
    theirs = summary("direct tfmot PCQAT", direct)
    way = summary("edgekit PCQAT, tfmot's way", tfmot_way)
    theirs_all = summary("direct tfmot PCQAT, all layers", direct_all)

    print(f"\nint8 recipes within 1 point of float: "
          f"{all(r['accuracy'] >= float_row['accuracy'] - 0.01 for r in rows[1:])}")
    print(f"PCQAT gzip / float32 gzip: {rows[-1]['gzip'] / float_row['gzip']:.3f} (target <= 0.125); "
          f"mean over seeds {ours[1] / float_row['gzip']:.3f}")
    for label, a, b in (("edgekit PCQAT vs direct tfmot, same layers", ours, theirs),
                        ("edgekit vs direct, both tfmot's way", way, theirs_all)):
        print(f"{label}: accuracy {a[0] - b[0]:+.4f} (target within 0.005), gzip {a[1] / b[1]:.3f}x "
              f"(target within 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
