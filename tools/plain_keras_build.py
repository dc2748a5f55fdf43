"""A hand-written Keras + TFLiteConverter build of an image folder: the baseline bench_build.py times.

What a user writes without edgekit, doing the same work as the sample recipe: a 0.2
validation split, the same small CNN at 32x32 from scratch, the same augmentation,
N epochs, full-integer int8 conversion with uint8 I/O from 200 training images, then
int8 accuracy on the validation images in the LiteRT interpreter. Prints one JSON line.

    python tools/plain_keras_build.py DATA_DIR OUT_DIR --epochs 25
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


def small_cnn(num_classes):
    layers = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    for i, filters in enumerate((32, 32, 64, 128)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if i in (1, 2):
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=25)
    args = parser.parse_args()
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    common = dict(validation_split=0.2, seed=0, image_size=(32, 32), batch_size=32, label_mode="int")
    train = keras.utils.image_dataset_from_directory(args.data, subset="training", **common)
    val = keras.utils.image_dataset_from_directory(args.data, subset="validation", shuffle=False, **common)
    augment = keras.Sequential([
        keras.layers.RandomRotation(0.04, fill_mode="reflect"),
        keras.layers.RandomZoom(0.08, fill_mode="reflect"),
        keras.layers.RandomTranslation(0.08, 0.08, fill_mode="reflect"),
        keras.layers.RandomContrast(0.1),
    ])
    train_aug = train.cache().map(lambda x, y: (augment(x, training=True), y)).prefetch(tf.data.AUTOTUNE)
    val = val.cache().prefetch(tf.data.AUTOTUNE)

    model = small_cnn(len(train.class_names))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(train_aug, validation_data=val, epochs=args.epochs, verbose=0)
    val_x = np.concatenate([x.numpy() for x, _ in val])
    val_y = np.concatenate([y.numpy() for _, y in val])
    keras_acc = float(np.mean(model.predict(val_x, verbose=0).argmax(1) == val_y))

    train_x = np.concatenate([x.numpy() for x, _ in train])
    rep = train_x[np.random.default_rng(0).permutation(len(train_x))[:200]]
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec([1, 32, 32, 3]))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in rep)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    tflite = converter.convert()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "model.tflite"), "wb") as f:
        f.write(tflite)

    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero = inp["quantization"]
    correct = 0
    for x, y in zip(val_x, val_y):
        q = np.clip(np.rint(x / scale + zero), 0, 255).astype(np.uint8)
        interpreter.set_tensor(inp["index"], q[None])
        interpreter.invoke()
        correct += int(interpreter.get_tensor(out["index"])[0].argmax() == y)
    print(json.dumps({
        "keras_accuracy": keras_acc,
        "tflite_accuracy": correct / len(val_y),
        "tflite_bytes": len(tflite),
        "seconds": time.perf_counter() - start,
    }))


if __name__ == "__main__":
    main()
