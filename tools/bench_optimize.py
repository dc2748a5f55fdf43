"""Optimisation recipes side by side on the digits sample, and PCQAT against a direct tfmot script.

Every recipe is a full `edgekit.build` with the same seed, so each starts from the same
float model; latency is `edgekit profile` (LiteRT, 1 thread, 200 runs after warm-up),
measured after all builds so training does not compete with it.

    python tools/bench_optimize.py samples/digits
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import edgekit
from edgekit.recipe import load_recipe

HERE = Path(__file__).resolve().parent
BASE = dict(load_recipe(HERE.parent / "samples" / "digits.toml"), patience=0, progress=False, max_accuracy_drop=1.0)
PRUNE, CLUSTER, QAT = {"kind": "prune", "sparsity": 0.5}, {"kind": "cluster", "clusters": 16}, {"kind": "qat"}
RECIPES = [
    ("float32", "gpu-float32", []),
    ("post-training int8", "edgetpu", []),
    ("QAT", "edgetpu", [QAT]),
    ("prune50 + QAT", "edgetpu", [PRUNE, QAT]),
    ("cluster16 + QAT", "edgetpu", [CLUSTER, QAT]),
    ("prune50 + cluster16 + QAT", "edgetpu", [PRUNE, CLUSTER, QAT]),
]


def main() -> int:
    data = sys.argv[1] if len(sys.argv) > 1 else "samples/digits"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        float_profile = Path(tmp) / "float32.toml"
        float_profile.write_text('id = "float32"\ninherits = "cpu"\n[convert]\nquantization = "float32"\n')
        for name, target, stages in RECIPES:
            target_arg = float_profile if target == "gpu-float32" else target
            result = edgekit.build(data, target=target_arg, out=Path(tmp) / name.replace(" ", ""), stages=stages,
                                   **BASE)
            lite = result.report["tflite"]
            rows.append({"recipe": name, "float": result.report["keras"]["accuracy"], "accuracy": lite["accuracy"],
                         "bytes": lite["bytes"], "gzip": lite["gzip_bytes"], "path": result.tflite_path})
            print(f"built {name}: tflite accuracy {lite['accuracy']:.4f}", flush=True)
        direct = json.loads(subprocess.run([sys.executable, str(HERE / "plain_tfmot_pcqat.py"), data, "--epochs", "25"],
                                           capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        for row in rows:
            row["p50_ms"] = edgekit.profile(row["path"], threads=1, runs=200, warmup=20).latency_ms.p50
    float_row = rows[0]
    print(f"\n{'recipe':<28} {'accuracy':>9} {'bytes':>9} {'gzip':>9} {'p50 ms':>8}  vs float accuracy")
    for row in rows:
        print(f"{row['recipe']:<28} {row['accuracy']:>9.4f} {row['bytes']:>9,} {row['gzip']:>9,} {row['p50_ms']:>8.3f}"
              f"  {row['accuracy'] - float_row['accuracy']:+.4f}")
    print(f"{'direct tfmot PCQAT':<28} {direct['tflite_accuracy']:>9.4f} {direct['bytes']:>9,} {direct['gzip_bytes']:>9,}")
    pcqat = rows[-1]
    print(f"\nint8 recipes within 1 point of float: "
          f"{all(r['accuracy'] >= float_row['accuracy'] - 0.01 for r in rows[1:])}")
    print(f"PCQAT gzip / float32 gzip: {pcqat['gzip'] / float_row['gzip']:.3f} (target <= 0.125)")
    print(f"edgekit PCQAT vs direct tfmot: accuracy {pcqat['accuracy'] - direct['tflite_accuracy']:+.4f} "
          f"(target within 0.005), gzip {pcqat['gzip'] / direct['gzip_bytes']:.3f}x (target within 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
