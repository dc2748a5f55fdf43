"""A careful hand-written Keras SSD, the baseline tools/bench_detect.py sets edgekit against.

What a practitioner writes from the SSD paper and the TFLite docs, without edgekit: a
small CNN backbone (the same layers as edgekit's small_cnn), SSD's extra feature map and
per-map heads, softmax over the classes plus background with 3:1 hard-negative mining
and smooth-L1 box loss (Liu et al. 2016), Adam with early stopping on validation loss,
then post-training int8 quantisation with uint8 input, ending in the
TFLite_Detection_PostProcess op through the converter's experimental_implements route.
Scored with pycocotools on the test folder, float and int8.

    python tools/plain_keras_ssd.py DATA_ROOT OUT --size 96     # DATA_ROOT holds train/ val/ test/ COCO folders
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

SCALES = (10.0, 10.0, 5.0, 5.0)


def read_coco(folder: Path, size: int):
    data = json.loads((folder / "annotations.json").read_text())
    cats = sorted(data["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(cats)}
    boxes = {i["id"]: [] for i in data["images"]}
    for a in data["annotations"]:
        x, y, w, h = a["bbox"]
        boxes[a["image_id"]].append((y, x, y + h, x + w, index[a["category_id"]]))
    images, truth = [], []
    base = folder / "images" if (folder / "images").is_dir() else folder
    for info in data["images"]:
        picture = Image.open(base / info["file_name"]).convert("RGB").resize((size, size))
        images.append(np.asarray(picture))
        b = np.asarray(boxes[info["id"]], np.float32).reshape(-1, 5)
        b[:, [0, 2]] /= info["height"]
        b[:, [1, 3]] /= info["width"]
        truth.append((info["width"], info["height"], b))
    return np.stack(images), truth, [c["name"] for c in cats]


def make_anchors(sizes):
    rows = []
    scales = np.linspace(0.2, 0.8, len(sizes)).tolist() + [1.0]
    for level, (h, w) in enumerate(sizes):
        s, nxt = scales[level], scales[level + 1]
        shapes = [(s, s), (s / np.sqrt(2), s * np.sqrt(2)), (s * np.sqrt(2), s / np.sqrt(2)), (np.sqrt(s * nxt),) * 2]
        for y in (np.arange(h) + 0.5) / h:
            for x in (np.arange(w) + 0.5) / w:
                rows.extend((y, x, a, b) for a, b in shapes)
    return np.asarray(rows, np.float32)


def iou(a, b):
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=-1)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter + 1e-9)


def corner(anchors):
    y, x, h, w = anchors.T
    return np.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], -1)


def encode_targets(anchors, truth, classes):
    n = len(anchors)
    loc = np.zeros((len(truth), n, 4), np.float32)
    cls = np.zeros((len(truth), n), np.int32)  # 0: background
    for i, (_, _, b) in enumerate(truth):
        if not len(b):
            continue
        overlaps = iou(corner(anchors), b[:, :4])
        best = overlaps.argmax(1)
        positive = overlaps.max(1) >= 0.5
        claimed = overlaps.argmax(0)
        best[claimed] = np.arange(len(b))
        positive[claimed] = True
        g = b[best]
        h, w = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
        cy, cx = g[:, 0] + h / 2, g[:, 1] + w / 2
        ay, ax, ah, aw = anchors.T
        enc = np.stack([(cy - ay) / ah * SCALES[0], (cx - ax) / aw * SCALES[1],
                        np.log(np.maximum(h, 1e-6) / ah) * SCALES[2], np.log(np.maximum(w, 1e-6) / aw) * SCALES[3]], -1)
        loc[i][positive] = enc[positive]
        cls[i][positive] = g[positive, 4].astype(np.int32) + 1
    return loc, np.eye(classes + 1, dtype=np.float32)[cls]


def build(size, classes, keras):
    layers = keras.layers
    inputs = keras.Input((size, size, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    for i, f in enumerate((32, 32, 64, 128)):
        x = layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
        # Momentum 0.9 (PyTorch's default): with a few hundred images an epoch is ~20 steps, and
        # Keras' 0.99 leaves the moving statistics far from the data for most of the run.
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        if i < 3:
            x = layers.MaxPooling2D()(x)
    maps = [x, layers.ReLU(6.0)(layers.Conv2D(128, 3, strides=2, padding="same")(x))]
    locs, confs = [], []
    for m in maps:
        locs.append(layers.Reshape((-1, 4))(layers.Conv2D(16, 3, padding="same")(m)))
        confs.append(layers.Reshape((-1, classes + 1))(layers.Conv2D(4 * (classes + 1), 3, padding="same")(m)))
    loc = layers.Concatenate(axis=1, name="loc")(locs)
    conf = layers.Softmax(name="conf")(layers.Concatenate(axis=1)(confs))
    return keras.Model(inputs, [loc, conf]), [(int(m.shape[1]), int(m.shape[2])) for m in maps]


def losses(tf):
    def conf_loss(y, p):
        ce = -tf.reduce_sum(y * tf.math.log(tf.clip_by_value(p, 1e-7, 1.0)), -1)
        pos = 1.0 - y[..., 0]
        n_pos = tf.reduce_sum(pos, -1)
        neg_ce = ce * (1 - pos)
        k = tf.cast(tf.minimum(3 * n_pos + 1, tf.cast(tf.shape(ce)[1], tf.float32) - n_pos), tf.int32)
        ranked = tf.sort(neg_ce, axis=-1, direction="DESCENDING")
        kth = tf.gather(ranked, tf.maximum(k - 1, 0), batch_dims=1)
        hard = tf.cast(neg_ce >= kth[:, None], tf.float32) * (1 - pos)
        return tf.reduce_sum(ce * (pos + hard)) / tf.maximum(1.0, tf.reduce_sum(pos))

    return conf_loss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=80)
    args = parser.parse_args()
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    train_x, train_t, names = read_coco(args.data / "train", args.size)
    val_x, val_t, _ = read_coco(args.data / "val", args.size)
    test_x, test_t, _ = read_coco(args.data / "test", args.size)
    model, sizes = build(args.size, len(names), keras)
    anchors = make_anchors(sizes)
    val_y = encode_targets(anchors, val_t, len(names))
    conf_loss = losses(tf)
    positives = lambda y: tf.maximum(1.0, tf.reduce_sum(tf.cast(tf.reduce_any(y != 0, -1), tf.float32)))  # noqa: E731

    def loc_loss(y, p):
        mask = tf.cast(tf.reduce_any(y != 0, -1), tf.float32)
        return tf.reduce_sum(tf.reduce_sum(tf.keras.losses.huber(y[..., None], p[..., None]), -1) * mask) / positives(y)

    model.compile(keras.optimizers.Adam(1e-3), loss=[loc_loss, conf_loss])
    flip = np.concatenate([train_x, train_x[:, :, ::-1]])
    flipped_t = [(w, h, np.stack([b[:, 0], 1 - b[:, 3], b[:, 2], 1 - b[:, 1], b[:, 4]], -1) if len(b) else b)
                 for w, h, b in train_t]
    fy = encode_targets(anchors, train_t + flipped_t, len(names))
    model.fit(flip.astype(np.float32), list(fy), validation_data=(val_x.astype(np.float32), list(val_y)),
              epochs=args.epochs, batch_size=32, verbose=int(os.environ.get("SSD_VERBOSE", "0")),
              callbacks=[keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True),
                         keras.callbacks.ReduceLROnPlateau(patience=4, factor=0.3)])
    args.out.mkdir(parents=True, exist_ok=True)

    attrs = [("max_detections", "i", 25), ("max_classes_per_detection", "i", 1), ("detections_per_class", "i", 25),
             ("use_regular_nms", "b", "false"), ("nms_score_threshold", "f", 0.05), ("nms_iou_threshold", "f", 0.5),
             ("y_scale", "f", SCALES[0]), ("x_scale", "f", SCALES[1]), ("h_scale", "f", SCALES[2]),
             ("w_scale", "f", SCALES[3]), ("num_classes", "i", len(names))]
    signature = " ".join(['name: "TFLite_Detection_PostProcess"']
                         + [f'attr {{ key: "{k}" value {{ {t}: {v} }} }}' for k, t, v in attrs])

    @tf.function(experimental_implements=signature)
    def post(box, scores, anchor):
        return tuple(tf.constant(0.0) for _ in range(4))

    @tf.function(input_signature=[tf.TensorSpec([1, args.size, args.size, 3], tf.float32)])
    def serve(image):
        loc, conf = model(image, training=False)
        b, c, s, n = post(loc, conf, tf.constant(anchors))
        return {"boxes": b, "classes": c, "scores": s, "count": n}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None].astype(np.float32)] for x in train_x[:100])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.allow_custom_ops = True
    path = args.out / "model.tflite"
    path.write_bytes(converter.convert())
    wall = time.perf_counter() - start

    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    detail = runner.get_input_details()
    name = next(iter(detail))
    scale, zero = detail[name]["quantization"]
    found = []
    for x in test_x:
        out = runner(**{name: np.clip(np.round(x[None] / scale + zero), 0, 255).astype(np.uint8)})
        n = int(out["count"][0])
        found.append((out["boxes"][0, :n], out["classes"][0, :n], out["scores"][0, :n]))
    int8 = coco_map(test_t, found, names)
    loc, conf = model.predict(test_x.astype(np.float32), verbose=0)
    float_found = [decode(lc, cf, anchors) for lc, cf in zip(loc, conf)]
    result = {"int8": int8, "float": coco_map(test_t, float_found, names), "bytes": path.stat().st_size,
              "wall_seconds": round(wall, 1)}
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


def decode(loc, conf, anchors, keep=25, threshold=0.05):
    ay, ax, ah, aw = anchors.T
    y, x = loc[:, 0] / SCALES[0] * ah + ay, loc[:, 1] / SCALES[1] * aw + ax
    h, w = np.exp(loc[:, 2] / SCALES[2]) * ah, np.exp(loc[:, 3] / SCALES[3]) * aw
    boxes = np.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], -1)
    cls, score = conf[:, 1:].argmax(1), conf[:, 1:].max(1)
    order = [i for i in np.argsort(-score) if score[i] >= threshold]
    kept = []
    while order and len(kept) < keep:
        i = order.pop(0)
        kept.append(i)
        order = [j for j in order if iou(boxes[i][None], boxes[j][None])[0, 0] <= 0.5]
    return boxes[kept], cls[kept], score[kept]


def coco_map(truth, found, names):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, ((w, h, b), (boxes, classes, scores)) in enumerate(zip(truth, found), 1):
        images.append({"id": i, "width": w, "height": h})
        for y0, x0, y1, x1, c in b:
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c) + 1, "iscrowd": 0,
                         "bbox": [x0 * w, y0 * h, (x1 - x0) * w, (y1 - y0) * h], "area": (x1 - x0) * w * (y1 - y0) * h})
        for (y0, x0, y1, x1), c, s in zip(np.clip(boxes, 0, 1), classes, scores):
            dets.append({"image_id": i, "category_id": int(c) + 1, "score": float(s),
                         "bbox": [float(x0 * w), float(y0 * h), float((x1 - x0) * w), float((y1 - y0) * h)]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": i + 1, "name": n}
                                                                        for i, n in enumerate(names)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if not dets:
            return {"map": 0.0, "map50": 0.0}
        e = COCOeval(gt, gt.loadRes(dets), "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return {"map": max(0.0, float(e.stats[0])), "map50": max(0.0, float(e.stats[1]))}


if __name__ == "__main__":
    sys.exit(main())
