"""`edgekit build --task detect` against a careful hand-written Keras SSD, on the same data.

Data (tools/detection_data.py): ``digits``, composite (real digit scans on real photos),
and ``nuclei``, real (the stardist wheel's nuclei image, its exact instance boxes, cut
into crops from three bands that never overlap). Both sides train on train/, stop on
val/, and are scored on test/, which neither touched:

    (e) edgekit  `edgekit build TRAIN --task detect --val-dir VAL --target edgetpu --backbone small_cnn
                 --image-size S`, nothing else set
    (s) script   tools/plain_keras_ssd.py on the same folders (the same small CNN layers, from scratch)

With --distill, distillation on the same anchors: a teacher twice as wide (--alpha 2), a
student half as wide (--alpha 0.5) alone, and the student with --distill-from the teacher.
With --self-distill, the stages (--prune 0.5 --qat) alone and taught by the trained detector.

Reported: int8 .tflite mAP@.5 and mAP@[.5:.95] on test (pycocotools), the float model's
beside it, size, latency on this machine (`edgekit profile`), and the Edge TPU check.

    python tools/bench_detect.py --sets digits,nuclei --json build/bench_detect/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import detection_data  # noqa: E402
from bench_accuracy import _run  # noqa: E402

SIZE = 96


def _edgekit(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgekit", *args]


def placement(tflite: Path) -> dict:
    # Exit status 1 is the verdict "does not run fully on the target", not a failure to check.
    done = subprocess.run(_edgekit("check", str(tflite), "--target", "edgetpu", "--json"), capture_output=True,
                          text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"edgekit check {tflite} exited {done.returncode}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    off = [op["opcode"] for op in report["ops"] if op["placement"] != "target"]
    return {"fully_supported": report["fully_supported"], "off_the_edge_tpu": off}


def latency(tflite: Path) -> float:
    out, _ = _run(_edgekit("profile", str(tflite), "--json"))
    answer = json.loads(out)
    return (answer[0] if isinstance(answer, list) else answer)["latency_ms"]["p50"]


def float_map(folder: Path, test: Path) -> dict:
    """The Keras model of an edgekit build, scored on test as its .tflite is."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from edgekit._tf import keras_module
    from edgekit.conversion.postprocess import PostProcess
    from edgekit.models.detector import anchors_of
    from edgekit.progress import Progress
    from edgekit.tasks import detection

    model = keras_module().models.load_model(folder / "model.keras", compile=False)
    size = tuple(model.input_shape[1:3])
    data = detection.read_data(test, size, val_split=0.5, seed=0, strict=False, say=Progress(), val_dir=test)
    found = detection.keras_detections(model, data.val.images, anchors_of(model),
                                       PostProcess(classes=len(data.val.class_names)))
    scored = detection.score(data.val.truth, found, data.val.class_names)
    return {"map": scored.map, "map50": scored.map50}


def edgekit_row(root: Path, out: Path, *extra: str) -> dict:
    if not (out / "report.json").is_file():
        _, wall = _run(_edgekit("build", str(root / "train"), "--task", "detect", "--val-dir", str(root / "val"),
                                "--target", "edgetpu", "--backbone", "small_cnn", "--image-size", str(SIZE),
                                "--out", str(out), "--quiet", *extra))
    else:
        wall = json.loads((out / "report.json").read_text())["wall_seconds"]
    evaluation, _ = _run(_edgekit("eval", str(out / "model.tflite"), str(root / "test"), "--json"))
    scored = json.loads(evaluation)
    return {"int8": {"map": scored["map"], "map50": scored["map50"]}, "float": float_map(out, root / "test"),
            "bytes": (out / "model.tflite").stat().st_size, "wall_seconds": round(wall, 1),
            "latency_ms": latency(out / "model.tflite"), "edgetpu": placement(out / "model.tflite")}


def script_row(root: Path, out: Path) -> dict:
    if not (out / "result.json").is_file():
        _run([sys.executable, str(HERE / "plain_keras_ssd.py"), str(root), str(out), "--size", str(SIZE)])
    result = json.loads((out / "result.json").read_text())
    return {**result, "latency_ms": latency(out / "model.tflite"), "edgetpu": placement(out / "model.tflite")}


def line(name: str, kind: str, row: dict) -> str:
    tpu = row["edgetpu"]
    off = ", ".join(sorted(set(tpu["off_the_edge_tpu"]))) or "none"
    return (f"{name:7s} {kind:8s} int8 mAP@.5 {row['int8']['map50']:.4f} mAP {row['int8']['map']:.4f} | float "
            f"mAP@.5 {row['float']['map50']:.4f} mAP {row['float']['map']:.4f} | {row['bytes'] / 1000:6.0f} KB "
            f"{row['latency_ms']:6.3f} ms | edgetpu check {'pass' if tpu['fully_supported'] else 'FAIL'} "
            f"(off the TPU: {off}) | {row['wall_seconds']:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="digits,nuclei")
    parser.add_argument("--work", default="build/bench_detect")
    parser.add_argument("--json", default=None)
    parser.add_argument("--distill", action="store_true",
                        help="Also: a wide teacher (small_cnn alpha 2), a narrow student (alpha 0.5) alone, and the "
                             "same student distilled from the teacher (--distill-from), all on the same anchors.")
    parser.add_argument("--self-distill", action="store_true",
                        help="Also: the edgekit build with --prune 0.5 --qat, alone and taught by the trained "
                             "detector (--distill-from self).")
    args = parser.parse_args()
    work = Path(args.work)
    results = {}
    for name in args.sets.split(","):
        root = detection_data.SETS[name](work / "data")
        results[name] = {"edgekit": edgekit_row(root, work / "out" / name / "edgekit"),
                         "script": script_row(root, work / "out" / name / "script")}
        if args.distill:
            out = work / "out" / name
            results[name]["teacher"] = edgekit_row(root, out / "teacher", "--alpha", "2")
            results[name]["student"] = edgekit_row(root, out / "student", "--alpha", "0.5")
            results[name]["distilled"] = edgekit_row(root, out / "distilled", "--alpha", "0.5", "--distill-from",
                                                     str(out / "teacher" / "model.keras"))
        if args.self_distill:
            out = work / "out" / name
            results[name]["staged"] = edgekit_row(root, out / "staged", "--prune", "0.5", "--qat")
            results[name]["staged+self"] = edgekit_row(root, out / "staged-self", "--prune", "0.5", "--qat",
                                                        "--distill-from", "self")
        for kind, row in results[name].items():
            print(line(name, kind, row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
