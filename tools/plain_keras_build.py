"""A careful hand-written Keras + TFLiteConverter image classifier: the baseline edgekit must match.

What an experienced user writes in a few minutes for small images: three conv blocks
with BatchNorm (momentum 0.9, so the moving statistics settle within a few hundred
steps), Adam 1e-3, up to 25 epochs with early stopping on validation accuracy
(patience 6, best weights restored), no augmentation, then full-integer int8
post-training quantisation (float32 I/O, like edgekit's `cpu` target) calibrated on 200
training images. The int8 model is scored in the LiteRT interpreter on TEST (or on the
validation images without --test). Prints one JSON line.

    python tools/plain_keras_build.py TRAIN_DIR OUT_DIR --val VAL_DIR --test TEST_DIR
    python tools/plain_keras_build.py DATA_DIR OUT_DIR          # 0.2 validation split
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402


def three_blocks(size, num_classes):
    layers = keras.layers
    inputs = keras.Input((size, size, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def arrays(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--val", default=None)
    parser.add_argument("--test", default=None)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=25)
    args = parser.parse_args()
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    common = dict(seed=0, image_size=(args.image_size,) * 2, batch_size=32, label_mode="int")
    if args.val:
        train = keras.utils.image_dataset_from_directory(args.data, **common)
        val = keras.utils.image_dataset_from_directory(args.val, shuffle=False, **common)
    else:
        train = keras.utils.image_dataset_from_directory(args.data, validation_split=0.2, subset="training", **common)
        val = keras.utils.image_dataset_from_directory(args.data, validation_split=0.2, subset="validation",
                                                       shuffle=False, **common)
    test = keras.utils.image_dataset_from_directory(args.test, shuffle=False, **common) if args.test else val
    classes = len(train.class_names)
    train, val = train.cache().prefetch(tf.data.AUTOTUNE), val.cache().prefetch(tf.data.AUTOTUNE)

    model = three_blocks(args.image_size, classes)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=6, restore_best_weights=True)
    model.fit(train, validation_data=val, epochs=args.epochs, verbose=0, callbacks=[stop])
    test_x, test_y = arrays(test)
    keras_acc = float(np.mean(model.predict(test_x, verbose=0).argmax(1) == test_y))

    train_x, _ = arrays(train)
    rep = train_x[np.random.default_rng(0).permutation(len(train_x))[:200]]
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, args.image_size, args.image_size, 3]))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in rep)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    tflite = converter.convert()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "model.tflite"), "wb") as f:
        f.write(tflite)

    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    correct = 0
    for x, y in zip(test_x, test_y):
        interpreter.set_tensor(inp["index"], x[None].astype(np.float32))
        interpreter.invoke()
        correct += int(interpreter.get_tensor(out["index"])[0].argmax() == y)
    print(json.dumps({
        "keras_accuracy": keras_acc,
        "tflite_accuracy": correct / len(test_y),
        "tflite_bytes": len(tflite),
        "seconds": time.perf_counter() - start,
    }))


if __name__ == "__main__":
    main()
