"""Training under tf.distribute: MirroredStrategy on two logical CPU devices, and two workers over TF_CONFIG."""

import json
import subprocess
import sys
import textwrap

import pytest

from edgekit.errors import ConfigError
from edgekit.models.strategy import make_strategy
from tests.conftest import free_ports


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
                               stages=[{{"kind": "prune", "sparsity": 0.5, "epochs": 2}},
                                       {{"kind": "qat", "epochs": 1}}])
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


@pytest.mark.slow
def test_two_worker_build_over_tf_config_trains_in_step_and_the_chief_writes(tmp_path, small_digits_dir):
    import os

    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    out = tmp_path / "shared-out"  # one folder, as on a shared file system
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        command = [sys.executable, "-m", "edgekit", "build", str(small_digits_dir), "--target", "edgetpu",
                   "--backbone", "small_cnn", "--weights", "none", "--image-size", "16", "--epochs", "3",
                   "--fine-tune-epochs", "0", "--augment", "none", "--max-accuracy-drop", "1",
                   "--prune", "0.5", "--qat", "--strategy", "multiworker", "--out", str(out), "--json"]
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, stderr) in zip(workers, results):
        assert worker.returncode == 0, stderr[-3000:]
    reports = [json.loads(stdout) for stdout, _ in results]
    for report in reports:
        assert report["training"]["strategy"]["replicas"] == 2
    # Gradients were all-reduced every step, so both workers converted the same model.
    assert reports[0]["tflite"]["sha256"] == reports[1]["tflite"]["sha256"]
    assert "the chief worker writes" in results[1][1]
    written = json.loads((out / "report.json").read_text())
    assert written["tflite"]["sha256"] == reports[0]["tflite"]["sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared-out"]  # nothing half-written beside it


def test_chief_is_the_chief_task_or_worker_zero(monkeypatch):
    from edgekit.models.strategy import is_chief

    cluster = {"worker": ["a:1", "b:2"]}
    for task, chief in (({"type": "worker", "index": 0}, True), ({"type": "worker", "index": 1}, False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        assert is_chief("multiworker") is chief
        assert is_chief("default") is True
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": dict(cluster, chief=["c:3"]),
                                                "task": {"type": "worker", "index": 0}}))
    assert is_chief("multiworker") is False
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {}}))
    with pytest.raises(ConfigError, match="cluster"):
        is_chief("multiworker")
