"""SSD anchors, matching and decoding: numpy only."""

import numpy as np

from edgekit.models.anchors import ANCHORS_PER_CELL, anchors_for, corners, decode, detect, encode, iou, match


def test_anchors_cover_each_map_cell_by_cell_with_scales_growing_per_level():
    anchors = anchors_for([(4, 4), (2, 2)])
    assert anchors.shape == ((16 + 4) * ANCHORS_PER_CELL, 4)
    first, second = anchors[:16 * ANCHORS_PER_CELL], anchors[16 * ANCHORS_PER_CELL:]
    # Centres at the middle of each cell, row by row.
    assert np.allclose(first[0, :2], [0.125, 0.125]) and np.allclose(first[ANCHORS_PER_CELL, :2], [0.125, 0.375])
    # The square anchor of aspect ratio 1 is MIN_SCALE on the first map, MAX_SCALE on the last.
    assert np.allclose(first[0, 2:], [0.2, 0.2]) and np.allclose(second[0, 2:], [0.9, 0.9])


def test_encoding_then_decoding_gives_the_box_back():
    anchors = anchors_for([(3, 3)])
    boxes = np.tile([[0.1, 0.2, 0.5, 0.9]], (len(anchors), 1)).astype(np.float32)
    np.testing.assert_allclose(decode(encode(boxes, anchors), anchors), boxes, atol=1e-5)


def test_each_true_box_claims_its_best_anchor_even_below_the_positive_overlap():
    anchors = anchors_for([(2, 2)])
    tiny = np.array([[0.0, 0.0, 0.05, 0.05]], np.float32)
    matched = match(anchors, tiny, np.array([1]))
    best = iou(corners(anchors), tiny)[:, 0].argmax()
    assert iou(corners(anchors), tiny).max() < 0.4
    assert list(np.flatnonzero(matched.positive)) == [best] and matched.classes[best] == 1
    # Everything else is background: no anchor overlaps it enough to be ignored.
    assert (np.delete(matched.classes, best) == -1).all()


def test_greedy_nms_keeps_the_best_of_overlapping_boxes_across_classes():
    anchors = np.array([[0.5, 0.5, 0.4, 0.4], [0.52, 0.5, 0.4, 0.4], [0.1, 0.1, 0.1, 0.1]], np.float32)
    scores = np.array([[0.9, 0.0], [0.0, 0.8], [0.3, 0.0]], np.float32)
    found = detect(np.zeros((3, 4), np.float32), scores, anchors, max_detections=10, score_threshold=0.2,
                   iou_threshold=0.5)
    assert list(found.classes) == [0, 0] and np.allclose(found.scores, [0.9, 0.3])
