"""Training under tf.distribute: MirroredStrategy over two logical CPU devices, in a fresh process."""

import json
import subprocess
import sys
import textwrap

import pytest

from edgekit.errors import ConfigError
from edgekit.models.strategy import make_strategy


@pytest.mark.slow
def test_prune_and_qat_build_under_mirrored_strategy(tmp_path, small_digits_dir):
    # Logical devices must be configured before TensorFlow initialises its runtime,
    # hence a process of its own.
    script = textwrap.dedent(f"""
        import json, os
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
        import edgekit
        result = edgekit.build({str(small_digits_dir)!r}, target="edgetpu", out={str(tmp_path / "out")!r},
                               backbone="small_cnn", image_size=16, epochs=3, fine_tune_epochs=0, augment="none",
                               strategy="mirrored", max_accuracy_drop=1.0, progress=False,
                               stages=[{{"kind": "prune", "sparsity": 0.5, "epochs": 2}}, {{"kind": "qat", "epochs": 1}}])
        print(json.dumps(result.report["training"]["strategy"]))
        print(json.dumps([s["name"] for s in result.report["stages"]]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-2]) == {"name": "MirroredStrategy", "replicas": 2}
    assert json.loads(lines[-1]) == ["prune", "qat"]
    assert (tmp_path / "out" / "model.tflite").is_file()


def test_multiworker_without_tf_config_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs TF_CONFIG"):
        make_strategy("multiworker")
    with pytest.raises(ConfigError, match="unknown strategy 'tpu'"):
        make_strategy("tpu")
