"""edgekit profile on this machine: figures, isolation, errors, and no TensorFlow."""

import json
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edgekit.cli import cli
from edgekit.profiler import Measurement, ProfileError, profile, render


def test_profile_path_never_imports_tensorflow_or_matplotlib(small_float_model):
    code = textwrap.dedent(f"""
        import sys
        from edgekit.cli import cli
        try:
            cli(["profile", {str(small_float_model)!r}, "--runs", "5", "--json"], prog_name="edgekit")
        except SystemExit as exit:
            assert exit.code in (0, None), exit.code
        from edgekit.profiler.measure import measure
        from edgekit.profiler.options import ProfileOptions
        measure({str(small_float_model)!r}, ProfileOptions(runs=3))
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        assert "matplotlib" not in sys.modules, "matplotlib was imported without --html"
        print("clean")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("clean")


def test_figures_are_sane(small_float_model):
    m = profile(small_float_model, runs=60, warmup=5, threads=2)
    assert isinstance(m, Measurement)
    lat = m.latency_ms
    assert 0 < lat.min <= lat.p50 <= lat.p90 <= lat.p99 <= lat.max
    assert lat.min <= lat.mean <= lat.max and lat.std >= 0
    assert m.runs == 60 and m.warmup == 5 and m.threads == 2
    assert len(m.samples_ms) == 60 and max(m.samples_ms) == pytest.approx(lat.max, abs=1e-5)
    assert m.file_bytes == small_float_model.stat().st_size and 0 < m.gzip_bytes
    assert m.throughput_per_s == pytest.approx(1000 / lat.mean)
    assert m.load_ms > 0 and m.first_inference_ms > 0
    assert m.memory["peak_rss_bytes"] >= m.memory["loaded_rss_bytes"] > 0
    assert m.runtime["name"] == "ai_edge_litert" and m.runtime["api"] == "interpreter"
    assert m.inputs == [{"name": m.inputs[0]["name"], "shape": [1, 24, 24, 3], "dtype": "float32"}]
    assert m.system["cores"] >= 1 and m.system["cpu"]
    ops = {row["op"]: row for row in m.ops}
    assert ops["CONV_2D"]["count"] == 2 and ops["CONV_2D"]["share"] > 0.9
    assert "estimates" in m.ops_note


def test_time_budget_runs_until_the_deadline(small_float_model):
    start = time.perf_counter()
    m = profile(small_float_model, duration=0.5, warmup=0)
    assert m.runs > 10
    assert time.perf_counter() - start < 30


def test_dynamic_batch_is_resized_before_allocation(dynamic_batch_int8):
    assert profile(dynamic_batch_int8, runs=5).inputs[0]["shape"] == [1, 8, 8, 3]
    assert profile(dynamic_batch_int8, runs=5, input_shape=(3, 8, 8, 3)).inputs[0]["shape"] == [3, 8, 8, 3]


def test_real_images_as_inputs(leaky_relu_int8, tmp_path):
    for i in range(3):
        Image.fromarray(np.full((40, 30, 3), 60 * i, np.uint8)).save(tmp_path / f"{i}.png")
    m = profile(leaky_relu_int8, runs=6, inputs_dir=tmp_path)
    assert m.input_source == str(tmp_path) and m.inputs[0]["dtype"] == "uint8"


@pytest.fixture(scope="module")
def ratio_int8(tmp_path_factory):
    """An int8 model that divides one half of its input by the other: random inputs hit the
    divisor's zero point, which the DIV kernel refuses; real samples (divisor in [1, 2]) run."""
    from edgekit._tf import keras_module
    from edgekit.conversion import to_tflite
    from edgekit.targets import load_target

    keras = keras_module()
    pair = keras.Input((16,), name="pair")
    model = keras.Model(pair, keras.layers.Lambda(lambda t: t[:, :8] / t[:, 8:], name="ratio")(pair))
    rng = np.random.default_rng(0)
    samples = np.concatenate([rng.uniform(-1, 1, (16, 8)), rng.uniform(1, 2, (16, 8))], 1).astype(np.float32)
    folder = tmp_path_factory.mktemp("ratio")
    (folder / "ratio.tflite").write_bytes(to_tflite(model, load_target("cpu").convert, batch_size=1,
                                                    representative=samples))
    np.save(folder / "samples.npy", samples)
    return folder


def test_samples_from_an_array_file_run_a_model_that_random_inputs_cannot(ratio_int8):
    model = ratio_int8 / "ratio.tflite"
    with pytest.raises(ProfileError, match="DIV"):
        profile(model, runs=5)
    np.savez(ratio_int8 / "named.npz", pair=np.load(ratio_int8 / "samples.npy"))
    for source in ("samples.npy", "named.npz"):
        m = profile(model, runs=5, inputs_dir=ratio_int8 / source, per_op=True)
        assert m.input_source == str(ratio_int8 / source) and m.latency_ms.p50 > 0
        assert [r["how"] for r in m.per_op["ops"] if r["opcode"] == "DIV"] == ["measured"]


def test_an_array_file_that_does_not_fit_the_inputs_is_one_line_naming_the_array(ratio_int8):
    model = ratio_int8 / "ratio.tflite"
    np.savez(ratio_int8 / "other.npz", pixels=np.zeros((4, 16), np.float32), extra=np.zeros(3))
    np.save(ratio_int8 / "short.npy", np.zeros((4, 15), np.float32))
    for source, message in (("other.npz", "' (arrays: extra, pixels)"),
                            ("short.npy", "array 'arr_0' has shape (4, 15); input '"),
                            ("missing.npz", "cannot read it as .npy/.npz arrays")):
        done = CliRunner().invoke(cli, ["profile", str(model), "--inputs", str(ratio_int8 / source), "--runs", "3"])
        assert done.exit_code != 0 and message in done.output, done.output
        assert "Traceback" not in done.output


def test_compiled_model_api_on_the_cpu(small_float_model):
    m = profile(small_float_model, runs=10, accelerator="cpu")
    assert m.runtime["api"] == "compiled_model" and m.accelerator == "cpu"
    assert m.latency_ms.p50 > 0


def _has_gpu() -> bool:
    # Told apart from the machine, not from edgekit's answer: a GPU driver's device nodes.
    from pathlib import Path

    return Path("/dev/nvidia0").exists() or Path("/dev/dri").is_dir() and any(Path("/dev/dri").glob("renderD*"))


def test_gpu_accelerator_measures_on_a_gpu_and_says_why_not_without_one(small_float_model):
    if _has_gpu():
        m = profile(small_float_model, runs=5, accelerator="gpu")
        assert m.accelerator == "gpu" and m.latency_ms.p50 > 0
    else:
        with pytest.raises(ProfileError, match="gpu accelerator cannot run the model here"):
            profile(small_float_model, runs=5, accelerator="gpu")


def test_gpu_f32_reaches_the_gpu_accelerator_or_says_why_not(small_float_model):
    if _has_gpu():
        m = profile(small_float_model, runs=5, accelerator="gpu", gpu_f32=True)
        assert m.gpu_f32 and "gpu accelerator in float32" in render(m)
    else:
        with pytest.raises(ProfileError, match="gpu accelerator cannot run the model here"):
            profile(small_float_model, runs=5, accelerator="gpu", gpu_f32=True)


def test_gpu_f32_without_the_gpu_accelerator_is_a_one_line_error(small_float_model):
    result = CliRunner().invoke(cli, ["profile", str(small_float_model), "--gpu-f32", "--runs", "5"])
    assert result.exit_code == 2
    assert result.stderr == "Error: --gpu-f32 applies to the GPU accelerator: add --accelerator gpu\n"


def test_a_measurement_from_an_older_edgekit_reads_as_the_gpus_default_precision(small_float_model):
    data = profile(small_float_model, runs=5, accelerator="cpu").to_dict()
    assert data["gpu_f32"] is False
    del data["gpu_f32"]
    assert Measurement.from_dict(data).gpu_f32 is False


def test_several_models_are_compared(small_float_model, leaky_relu_int8):
    result = CliRunner().invoke(cli, ["profile", str(small_float_model), str(leaky_relu_int8), "--runs", "10"])
    assert result.exit_code == 0, result.output
    assert "ratios are to the first model" in result.stdout
    table = result.stdout.split("p50 x")[1].splitlines()
    assert table[1].split()[-2:] == ["1.00", "1.00"]
    as_json = json.loads(CliRunner().invoke(cli, ["profile", str(small_float_model), str(leaky_relu_int8),
                                                  "--runs", "5", "--json"]).stdout)
    assert [m["model"] for m in as_json] == [str(small_float_model), str(leaky_relu_int8)]


@pytest.mark.parametrize("case", ["empty", "random", "truncated", "text"])
def test_bad_files_exit_2_with_one_line(tmp_path, small_float_model, case):
    path = tmp_path / "bad.tflite"
    data = {"empty": b"", "random": np.random.default_rng(0).bytes(3000), "text": b"model",
            "truncated": small_float_model.read_bytes()[:600]}[case]
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["profile", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and str(path) in result.stderr


def test_unavailable_custom_op_exits_2(flex_model):
    result = CliRunner().invoke(cli, ["profile", str(flex_model)])
    assert result.exit_code == 2
    assert "the runtime cannot load the model" in result.stderr and result.stderr.count("\n") == 1


def test_missing_edgetpu_delegate_exits_2(small_float_model):
    result = CliRunner().invoke(cli, ["profile", str(small_float_model), "--delegate", "edgetpu", "--device", "usb"])
    assert result.exit_code == 2
    assert "libedgetpu" in result.stderr and "install the Edge TPU runtime" in result.stderr


def _delegate_library(tmp_path, body: str):
    """A real shared library with the external-delegate entry point, doing ``body``."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build a test delegate")
    source = tmp_path / "delegate.c"
    source.write_text(textwrap.dedent(f"""
        #include <stdlib.h>
        #include <unistd.h>
        void* tflite_plugin_create_delegate(char** keys, char** values, size_t n, void (*report)(const char*)) {{
            {body}
            return NULL;
        }}
        void tflite_plugin_destroy_delegate(void* d) {{}}
    """))
    library = tmp_path / "libcrash.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def test_a_crashing_delegate_does_not_kill_the_caller(small_float_model, tmp_path):
    library = _delegate_library(tmp_path, "abort();")
    with pytest.raises(ProfileError, match=r"crashed \(SIGABRT\)"):
        profile(small_float_model, delegate=str(library))


def test_a_hanging_delegate_is_stopped_by_the_timeout(small_float_model, tmp_path):
    library = _delegate_library(tmp_path, "pause();")
    start = time.perf_counter()
    with pytest.raises(ProfileError, match="did not finish within 3s"):
        profile(small_float_model, delegate=str(library), timeout=3)
    assert time.perf_counter() - start < 20


def test_a_target_gives_its_profile_settings_and_flags_override_them(small_float_model):
    from edgekit.targets import load_target

    rpi4 = load_target("rpi4").profile
    measured = json.loads(CliRunner().invoke(cli, ["profile", str(small_float_model), "--target", "rpi4",
                                                   "--json"]).stdout)
    assert measured["threads"] == rpi4.threads == 4
    assert measured["runs"] == rpi4.runs
    overridden = profile(small_float_model, target="rpi4", threads=2, runs=5)
    assert overridden.threads == 2 and overridden.runs == 5


def test_a_coral_target_loads_the_edgetpu_delegate_on_its_device(small_float_model):
    # coral-usb.toml names the delegate and the USB device; without the Edge TPU runtime
    # installed, loading that delegate is what fails.
    result = CliRunner().invoke(cli, ["profile", str(small_float_model), "--target", "coral-usb"])
    assert result.exit_code == 2
    assert "libedgetpu" in result.stderr and result.stderr.count("\n") == 1
