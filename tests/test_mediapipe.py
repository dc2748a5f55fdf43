"""edgekit models in a real app client: MediaPipe Tasks' ImageClassifier, in a venv of its own."""

import importlib.util

import pytest

import edgekit
from tests.conftest import REPO, write_digit_boxes


def _tool():
    spec = importlib.util.spec_from_file_location("mediapipe_check", REPO / "tools" / "mediapipe_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tool = _tool()
    try:
        python = tool.mediapipe_python(tmp_path_factory.mktemp("mediapipe") / "venv")
    except tool.ClientUnavailable as exc:
        pytest.skip(f"MediaPipe could not be installed here: {exc}")
    return tool, python


@pytest.mark.parametrize("target, io", [("edgetpu", ("uint8", "uint8")), ("mediapipe", ("uint8", "float32")),
                                        ("cpu", ("float32", "float32"))])
@pytest.mark.slow
def test_mediapipe_returns_edgekits_class_names_and_top1(client, small_digits_dir, tmp_path, target, io):
    tool, python = client
    result = edgekit.build(small_digits_dir, target=target, out=tmp_path / "o", backbone="small_cnn",
                           image_size=16, epochs=8, max_accuracy_drop=1.0, progress=False)
    lite = result.report["tflite"]
    assert (lite["input"]["dtype"], lite["output"]["dtype"]) == io
    found = tool.compare(python, result.tflite_path, small_digits_dir)
    assert found["class_names_match"] and found["client_names"] == [str(d) for d in range(10)]
    assert found["top1_vs_interpreter"] >= 0.99 and found["top1_vs_signature_runner"] >= 0.99


@pytest.mark.slow
def test_without_metadata_mediapipe_refuses_a_float_model(client, small_digits_dir, tmp_path):
    """What the metadata is for: the same float32-input model without it is refused."""
    import flatbuffers

    from edgekit.flatbuffer import schema
    from edgekit.metadata import METADATA_NAME, _flatbuffer_part

    tool, python = client
    result = edgekit.build(small_digits_dir, target="cpu", out=tmp_path / "o", backbone="small_cnn", image_size=16,
                           epochs=2, max_accuracy_drop=1.0, progress=False)
    s = schema()
    tree = s.ModelT.InitFromObj(s.Model.GetRootAsModel(_flatbuffer_part(result.tflite_path.read_bytes()), 0))
    tree.metadata = [m for m in tree.metadata if m.name != METADATA_NAME]
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(bytes(builder.Output()))
    image = next((small_digits_dir / "3").iterdir())
    assert tool.classify(python, result.tflite_path, [image])[0]["name"] in [str(d) for d in range(10)]
    with pytest.raises(RuntimeError, match="NormalizationOptions"):
        tool.classify(python, bare, [image])


@pytest.mark.slow
def test_mediapipe_object_detector_loads_an_edgekit_detector_names_its_classes_and_finds_its_boxes(client, tmp_path):
    """ObjectDetector reads the metadata, and its detections are LiteRT's: same class names,
    same scores, boxes within a pixel and a half."""
    from edgekit.tasks import detection

    tool, python = client
    write_digit_boxes(tmp_path / "data", images=100)
    result = edgekit.build(tmp_path / "data", task="detect", target="edgetpu", out=tmp_path / "o",
                           backbone="small_cnn", image_size=64, epochs=20, box_copies=0, progress=False)
    labels = result.labels_path.read_text().split("\n")[:-1]
    split = detection.read_data(tmp_path / "data", (64, 64), val_split=0.2, seed=0, strict=False,
                                say=edgekit.progress.Progress())
    found = tool.compare_detections(python, result.tflite_path, split.val.images, labels)
    assert found["detections"] > 0 and found["matched"] == found["detections"]
    assert set(found["client_names"]) <= set(labels) and len(found["client_names"]) >= 2
