"""Detection folders in the three formats people bring, each with a broken box to list."""

import json

import numpy as np
import pytest
from PIL import Image

from edgekit.data.boxes import BoxFormat, detect_format, read_boxes
from edgekit.errors import DataError


def _photo(path, width=64, height=48, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _coco(root):
    _photo(root / "images" / "a.jpg")
    _photo(root / "images" / "b.jpg", seed=1)
    (root / "images" / "c.jpg").write_bytes(b"not a picture")
    (root / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
                   {"id": 2, "file_name": "b.jpg", "width": 64, "height": 48},
                   {"id": 3, "file_name": "c.jpg", "width": 64, "height": 48}],
        "categories": [{"id": 7, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 5, 20, 30]},
            {"id": 2, "image_id": 1, "category_id": 3, "bbox": [40, 10, 0, 10]},  # zero width
            {"id": 3, "image_id": 2, "category_id": 3, "bbox": [30, 20, 40, 10]},  # past the right edge
            {"id": 4, "image_id": 2, "category_id": 9, "bbox": [1, 1, 5, 5]},  # unknown category
            {"id": 5, "image_id": 3, "category_id": 7, "bbox": [1, 1, 5, 5]},  # unreadable image
        ]}))
    return root


def test_a_coco_folder_is_read_with_its_category_names_and_each_bad_box_listed(tmp_path):
    data = read_boxes(_coco(tmp_path / "coco"))
    assert data.format == BoxFormat.COCO
    # Category names in the order of their ids.
    assert data.class_names == ("dog", "cat")
    a, b = data.images
    assert [(box.label, box.x0, box.y0, box.x1, box.y1) for box in a.boxes] == [(1, 10.0, 5.0, 30.0, 35.0)]
    assert (a.width, a.height) == (64, 48) and b.boxes == ()
    reasons = sorted(bad.reason for bad in data.bad)
    assert reasons == ["image missing or unreadable", "outside the 64x48 image", "unknown class 'category id 9'",
                       "zero area"]
    assert data.box_counts() == {"dog": 0, "cat": 1}


def test_strict_makes_the_first_bad_box_an_error_naming_its_file(tmp_path):
    with pytest.raises(DataError, match=r"bad box in annotations.json \(images/a.jpg\): box \[40.0, 10.0, 40.0, "
                                        r"20.0\] zero area \(drop --strict"):
        read_boxes(_coco(tmp_path / "coco"), strict=True)


def test_a_pascal_voc_folder_is_read_in_0_based_pixels_and_an_unknown_class_listed(tmp_path):
    root = tmp_path / "voc"
    _photo(root / "JPEGImages" / "one.jpg", width=100, height=80)
    (root / "Annotations").mkdir()
    (root / "labels.txt").write_text("face\n")
    (root / "Annotations" / "one.xml").write_text("""<annotation><filename>one.jpg</filename>
      <size><width>100</width><height>80</height><depth>3</depth></size>
      <object><name>face</name><bndbox><xmin>1</xmin><ymin>11</ymin><xmax>100</xmax><ymax>40</ymax></bndbox></object>
      <object><name>hand</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>
    </annotation>""")
    (root / "Annotations" / "two.xml").write_text("<annotation><object><name>face")
    data = read_boxes(root)
    assert detect_format(root) == BoxFormat.VOC and data.class_names == ("face",)
    [image] = data.images
    # VOC's 1-based xmin 1..xmax 100 covers the whole 100-pixel width.
    assert [(b.x0, b.y0, b.x1, b.y1) for b in image.boxes] == [(0.0, 10.0, 100.0, 40.0)]
    lines = sorted(bad.line() for bad in data.bad)
    assert lines == ["Annotations/one.xml (JPEGImages/one.jpg): box [4.0, 4.0, 9.0, 9.0] unknown class 'hand'",
                     "Annotations/two.xml (JPEGImages/two.jpg): not a VOC annotation (ParseError)"]


def test_a_yolo_folder_is_read_from_fractions_with_names_from_data_yaml(tmp_path):
    root = tmp_path / "yolo"
    _photo(root / "images" / "x.png", width=200, height=100)
    _photo(root / "images" / "empty.png", width=200, height=100, seed=2)
    (root / "labels").mkdir()
    (root / "labels" / "x.txt").write_text("1 0.5 0.5 0.2 0.4\n0 0.95 0.5 0.3 0.2\n")
    (root / "data.yaml").write_text("names:\n  0: person\n  1: bicycle\n")
    data = read_boxes(root)
    assert data.format == BoxFormat.YOLO and data.class_names == ("person", "bicycle")
    empty, x = data.images
    assert empty.boxes == ()
    [box] = x.boxes
    assert (box.label, box.x0, box.y0, box.x1, box.y1) == pytest.approx((1, 80.0, 30.0, 120.0, 70.0))
    [bad] = data.bad
    assert bad.annotation == "labels/x.txt" and bad.reason == "outside the 200x100 image"


def test_a_folder_of_no_known_layout_fails_in_one_line_naming_the_layouts(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="holds no detection data: expected annotations.json"):
        read_boxes(tmp_path / "plain")
    yolo = tmp_path / "yolo"
    (yolo / "images").mkdir(parents=True)
    (yolo / "labels").mkdir()
    with pytest.raises(DataError, match="needs its class names in classes.txt"):
        read_boxes(yolo)
