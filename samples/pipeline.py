"""The Python API as a mobile app's build step would call it.

    python samples/pipeline.py samples/digits build/app

Builds the model for the app's CPU path and for a Coral accelerator, fails the
step when quantisation costs more than the app tolerates, and copies what the app
bundles (model + labels) next to its assets.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import edgekit

RECIPE = Path(__file__).with_name("digits.toml")
# What this app accepts: at most 1.5 points of accuracy lost to int8.
MAX_ACCURACY_DROP = 0.015


def main(data: str, out: str) -> int:
    assets = Path(out) / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    for target in ("cpu", "edgetpu"):
        try:
            # The recipe, with this step's target and output folder over it.
            result = edgekit.build(data, target, config=edgekit.load_recipe(RECIPE), out=Path(out) / target,
                                   progress=False)
        except edgekit.EdgekitError as exc:
            print(f"{target}: build failed: {exc}", file=sys.stderr)
            return 1
        lite = result.report["tflite"]
        drop = result.report["keras"]["accuracy"] - lite["accuracy"]
        print(f"{target}: tflite accuracy {lite['accuracy']:.4f} (drop {drop:+.4f}), {lite['bytes']:,} bytes")
        if drop > MAX_ACCURACY_DROP:
            print(f"{target}: int8 conversion lost {drop:.1%}, more than {MAX_ACCURACY_DROP:.1%}", file=sys.stderr)
            return 1
        shutil.copy(result.tflite_path, assets / f"classifier_{target}.tflite")
        shutil.copy(result.labels_path, assets / "labels.txt")
    print(f"app assets in {assets}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:3] if len(sys.argv) >= 3 else ("samples/digits", "build/app"))))
