"""The runtime side must never import TensorFlow: a Raspberry Pi installs only LiteRT."""

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        check=True, capture_output=True, text=True,
    ).stdout
    return set(out.split())


def test_importing_edgekit_does_not_import_tensorflow():
    assert "tensorflow" not in _modules_after("import edgekit")


def test_cli_help_imports_neither_tensorflow_nor_matplotlib():
    code = (
        "from edgekit.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='edgekit')\nexcept SystemExit:\n    pass\n"
        "try:\n    cli(['build', '--help'], prog_name='edgekit')\nexcept SystemExit:\n    pass\n"
    )
    modules = _modules_after(code)
    assert "tensorflow" not in modules and "matplotlib" not in modules


def test_predict_runs_a_tflite_without_tensorflow(tmp_path):
    # A float model written by the converter in a separate process, then run here without TF.
    model = tmp_path / "m.tflite"
    subprocess.run([sys.executable, "-c", f"""
from edgekit._tf import keras_module
from edgekit.conversion import to_tflite
from edgekit.targets import ConvertSettings
keras = keras_module()
inp = keras.Input((4, 4, 3))
out = keras.layers.Dense(2, activation='softmax')(keras.layers.Flatten()(inp))
open({str(model)!r}, 'wb').write(to_tflite(keras.Model(inp, out), ConvertSettings()))
"""], check=True, capture_output=True)
    code = (
        "import numpy as np, edgekit\n"
        f"scores = edgekit.predict({str(model)!r}, np.zeros((3, 4, 4, 3), np.uint8))\n"
        "assert scores.shape == (3, 2)\n"
    )
    assert "tensorflow" not in _modules_after(code)
