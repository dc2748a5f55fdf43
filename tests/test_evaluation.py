"""edgekit eval on a real build output: quantised uint8 I/O, labels.txt, confusion matrix."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import edgekit
from edgekit.cli import cli
from edgekit.data import load_image_folder
from edgekit.evaluation import evaluate
from edgekit.runtime import find_runtime


@pytest.fixture(scope="module")
def tpu_build(tmp_path_factory, small_digits_dir):
    out = tmp_path_factory.mktemp("eval") / "tpu"
    return edgekit.build(small_digits_dir, target="edgetpu", out=out, backbone="small_cnn", image_size=16,
                         epochs=6, fine_tune_epochs=0, augment="none", learning_rate=3e-3, progress=False,
                         max_accuracy_drop=1.0)


def test_accuracy_matches_a_hand_run_interpreter(tpu_build, small_digits_dir):
    result = evaluate(tpu_build.tflite_path, small_digits_dir)
    assert result.images == 300 and result.class_names == tuple(str(d) for d in range(10))

    # The same figure by hand: uint8 pixels straight in (scale 1, zero point 0), argmax out.
    data = load_image_folder(small_digits_dir, (16, 16))
    interpreter = find_runtime().interpreter(model_path=tpu_build.tflite_path)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.uint8
    correct = 0
    for image, label in zip(data.images, data.labels):
        interpreter.set_tensor(inp["index"], image[None])
        interpreter.invoke()
        correct += int(interpreter.get_tensor(out["index"])[0].argmax() == label)
    assert result.top1 == pytest.approx(correct / 300)

    confusion = np.array(result.confusion)
    assert confusion.sum() == 300 and np.trace(confusion) == correct
    assert result.top5 >= result.top1
    assert all(row["images"] == 30 for row in result.per_class.values())


def test_cli_eval_reads_labels_beside_the_model(tpu_build, small_digits_dir):
    result = CliRunner().invoke(cli, ["eval", str(tpu_build.tflite_path), str(small_digits_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["class_names"] == [str(d) for d in range(10)] and report["images"] == 300
    text = CliRunner().invoke(cli, ["eval", str(tpu_build.tflite_path), str(small_digits_dir)]).stdout
    assert "top-1" in text and "confusion matrix" in text


def test_wrong_labels_exit_2(tpu_build, small_digits_dir, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    result = CliRunner().invoke(cli, ["eval", str(tpu_build.tflite_path), str(small_digits_dir),
                                      "--labels", str(labels)])
    assert result.exit_code == 2 and "classes outside the known ones (cat, dog)" in result.stderr


def test_missing_data_exits_2(tpu_build, tmp_path):
    result = CliRunner().invoke(cli, ["eval", str(tpu_build.tflite_path), str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "does not exist" in result.stderr
