"""TFLite metadata: written with flatbuffers, read back, never changing the model's arithmetic."""

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import edgekit
from edgekit.cli import cli
from edgekit.flatbuffer import schema
from edgekit.inference import predict
from edgekit.metadata import METADATA_NAME, _flatbuffer_part, attach, classifier_info, read_metadata


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_digits_dir):
    out = tmp_path_factory.mktemp("md") / "o"
    return edgekit.build(small_digits_dir, target="edgetpu", out=out, backbone="small_cnn", image_size=16,
                         epochs=4, max_accuracy_drop=1.0, model_author="The team", model_license="MIT",
                         progress=False)


def _tree(data):
    s = schema()
    return s.ModelT.InitFromObj(s.Model.GetRootAsModel(_flatbuffer_part(data), 0))


@pytest.mark.slow
def test_every_build_carries_metadata_a_client_reads(built):
    info = read_metadata(built.tflite_path)
    assert info.name.endswith("small_cnn") and info.author == "The team" and info.license == "MIT"
    assert info.min_parser_version == "1.0.0" and "10 classes" in info.description
    [image], [scores] = info.inputs, info.outputs
    assert image.color_space == "RGB" and image.size == (16, 16) and image.mean is None  # uint8: no normalisation
    assert scores.labels == tuple(str(d) for d in range(10)) and (scores.score_min, scores.score_max) == (0.0, 1.0)
    assert info.files["labels.txt"] == built.labels_path.read_bytes()


def test_attaching_changes_no_operator_tensor_or_weight(built, small_digits_dir):
    data = built.tflite_path.read_bytes()
    without = _tree(data)
    without.metadata = [m for m in without.metadata if m.name != METADATA_NAME]
    relabelled = attach(data, classifier_info(data, name="renamed", labels=[f"d{i}" for i in range(10)]))
    again = _tree(relabelled)
    assert read_metadata(relabelled).name == "renamed"
    # The flatbuffer it was given is there byte for byte, behind the new root and metadata.
    base = _flatbuffer_part(data)
    start = _flatbuffer_part(relabelled).find(base)
    assert start > 0 and start % 16 == 0 and _flatbuffer_part(relabelled)[start:] == base
    # Operators, tensors and every buffer but the metadata's are the same objects' values.
    metadata_buffer = next(m.buffer for m in again.metadata if m.name == METADATA_NAME)
    for a, b in zip(_tree(data).subgraphs[0].operators, again.subgraphs[0].operators):
        assert (a.opcodeIndex, list(a.inputs), list(a.outputs)) == (b.opcodeIndex, list(b.inputs), list(b.outputs))
    assert [t.name for t in _tree(data).subgraphs[0].tensors] == [t.name for t in again.subgraphs[0].tensors]
    for i, (a, b) in enumerate(zip(_tree(data).buffers, again.buffers)):
        if i != metadata_buffer:
            assert np.array_equal(np.asarray(a.data if a.data is not None else []),
                                  np.asarray(b.data if b.data is not None else [])), i
    images = np.random.default_rng(0).integers(0, 256, (20, 16, 16, 3)).astype(np.uint8)
    assert np.array_equal(predict(data, images), predict(relabelled, images))


def test_metadata_command_prints_adds_and_replaces(built, tmp_path):
    model = tmp_path / "m.tflite"
    shutil.copy(built.tflite_path, model)
    shown = CliRunner().invoke(cli, ["metadata", str(model)])
    assert shown.exit_code == 0 and "10 labels: 0, 1, 2" in shown.output and "RGB image 16x16" in shown.output
    (tmp_path / "names.txt").write_text("".join(f"digit {i}\n" for i in range(10)))
    changed = CliRunner().invoke(cli, ["metadata", str(model), "--labels", str(tmp_path / "names.txt"),
                                       "--name", "Digits", "--json"])
    assert changed.exit_code == 0, changed.output
    info = read_metadata(model)
    assert info.name == "Digits" and info.outputs[0].labels[3] == "digit 3" and info.author == "The team"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite", "names.txt"]
    (tmp_path / "short.txt").write_text("a\nb\n")
    wrong = CliRunner().invoke(cli, ["metadata", str(model), "--labels", str(tmp_path / "short.txt")])
    assert wrong.exit_code == 2 and "2 labels for a model with 10 class scores" in wrong.stderr
    assert read_metadata(model).name == "Digits"


def test_eval_takes_class_names_from_the_model_without_labels_txt(built, small_digits_dir, tmp_path):
    model = tmp_path / "alone.tflite"
    shutil.copy(built.tflite_path, model)
    result = edgekit.evaluate(model, small_digits_dir)
    assert result.class_names == tuple(str(d) for d in range(10))
    assert result.top1 == edgekit.evaluate(built.tflite_path, small_digits_dir).top1


def test_check_says_what_a_client_will_make_of_the_io(built):
    from edgekit.analyze import check

    notes = check(built.tflite_path, "edgetpu", compile=False).notes
    assert any(n.startswith("metadata: ") and "10 class names" in n for n in notes)


def test_an_int8_input_is_flagged_for_mediapipe(tmp_path):
    from edgekit._tf import keras_module
    from edgekit.analyze import check
    from edgekit.conversion import to_tflite
    from edgekit.targets import ConvertSettings, Quantization, TensorType

    keras = keras_module()
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    settings = ConvertSettings(quantization=Quantization.INT8, input_type=TensorType.INT8, output_type=TensorType.INT8)
    data = to_tflite(model, settings, representative=np.random.default_rng(0).uniform(0, 255, (8, 8, 8, 3)))
    (tmp_path / "bare.tflite").write_bytes(data)
    assert any(n.startswith("no TFLite metadata") for n in check(tmp_path / "bare.tflite", "cpu").notes)
    data = attach(data, classifier_info(data, name="x", labels=["a", "b", "c"]))
    (tmp_path / "int8.tflite").write_bytes(data)
    notes = check(tmp_path / "int8.tflite", "cpu").notes
    assert any(n.startswith("int8 input: MediaPipe Tasks takes uint8 or float32") for n in notes)
