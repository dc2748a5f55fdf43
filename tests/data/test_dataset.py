import numpy as np
import pytest

from edgekit.data import from_arrays, load_image_folder, stratified_split
from edgekit.errors import DataError
from tests.conftest import write_image_folder


def test_folder_loads_classes_sorted_with_counts(tmp_path):
    write_image_folder(tmp_path, {"dog": 3, "cat": 5})
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path, (8, 8))
    assert data.class_names == ("cat", "dog")
    assert data.counts() == {"cat": 5, "dog": 3}
    assert data.images.shape == (8, 8, 8, 3) and data.images.dtype == np.uint8
    assert data.ignored == 1


def test_corrupt_image_is_skipped_and_listed(tmp_path):
    write_image_folder(tmp_path, {"a": 3, "b": 3})
    bad = tmp_path / "a" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    data = load_image_folder(tmp_path, (8, 8))
    assert len(data) == 6
    assert [s.path for s in data.skipped] == [str(bad)]
    assert data.skipped[0].reason


def test_strict_makes_a_corrupt_image_an_error_naming_it(tmp_path):
    write_image_folder(tmp_path, {"a": 3, "b": 3})
    bad = tmp_path / "b" / "broken.png"
    bad.write_bytes(b"nope")
    with pytest.raises(DataError, match=str(bad)):
        load_image_folder(tmp_path, (8, 8), strict=True)


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", "does not exist"),
        ("file", "is not a folder"),
        ("flat", r"no class sub-folders \(it holds images directly"),
        ("empty_class", "has no images"),
        ("single_class", "single class"),
        ("all_corrupt_class", "has no readable images"),
    ],
)
def test_unusable_folders_are_rejected_naming_the_path(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout == "file":
        root.write_text("x")
    elif layout == "flat":
        write_image_folder(tmp_path, {"data": 2})
    elif layout == "empty_class":
        write_image_folder(root, {"a": 2})
        (root / "b").mkdir()
    elif layout == "single_class":
        write_image_folder(root, {"a": 4})
    elif layout == "all_corrupt_class":
        write_image_folder(root, {"a": 2})
        (root / "b").mkdir()
        (root / "b" / "x.png").write_bytes(b"broken")
    with pytest.raises(DataError, match=message) as err:
        load_image_folder(root, (8, 8))
    assert str(root) in str(err.value)


def test_validation_folder_uses_training_classes(tmp_path):
    write_image_folder(tmp_path / "val", {"b": 2})
    val = load_image_folder(tmp_path / "val", (8, 8), class_names=("a", "b"))
    assert val.class_names == ("a", "b") and set(val.labels.tolist()) == {1}
    write_image_folder(tmp_path / "val2", {"c": 2})
    with pytest.raises(DataError, match=r"classes outside the known ones \(a, b\): c"):
        load_image_folder(tmp_path / "val2", (8, 8), class_names=("a", "b"))


def test_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    data = from_arrays(np.zeros((100, 4, 4), np.uint8), labels)
    train, val = stratified_split(data, 0.2, seed=3)
    assert val.counts() == {"0": 10, "1": 6, "2": 4}
    assert set(train.sources).isdisjoint(val.sources)
    assert len(train) + len(val) == 100
    again_train, again_val = stratified_split(data, 0.2, seed=3)
    assert again_val.sources == val.sources
    _, other = stratified_split(data, 0.2, seed=4)
    assert other.sources != val.sources


def test_split_refuses_a_class_with_one_image():
    data = from_arrays(np.zeros((5, 4, 4), np.uint8), [0, 0, 0, 0, 1])
    with pytest.raises(DataError, match="class '1'.*1 image"):
        stratified_split(data, 0.2, seed=0)


def test_from_arrays_converts_gray_and_resizes_and_names_classes():
    x = np.random.default_rng(0).integers(0, 17, (6, 8, 8)).astype(np.float64) * 15
    data = from_arrays(x, ["odd", "even"] * 3, image_size=(16, 16))
    assert data.images.shape == (6, 16, 16, 3)
    assert data.class_names == ("even", "odd")
    assert data.labels.tolist() == [1, 0, 1, 0, 1, 0]


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((3, 4, 4, 2)), [0, 1, 0], "shape"),
        (np.zeros((3, 4, 4)), [0, 1], "labels must have shape"),
        (np.full((2, 4, 4), 300.0), [0, 1], "0-255"),
        (np.zeros((2, 4, 4)), [1, 1], "single class"),
    ],
)
def test_from_arrays_rejects_bad_input(x, y, message):
    with pytest.raises(DataError, match=message):
        from_arrays(x, y)
