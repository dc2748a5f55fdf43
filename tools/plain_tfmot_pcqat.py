"""The PCQAT recipe written directly against tensorflow-model-optimization, as its guides do.

prune (PolynomialDecay to 50%) -> strip -> cluster (16, k-means++, preserve_sparsity)
-> strip -> quantize_annotate_model + quantize_apply(Default8BitClusterPreserveQuantizeScheme)
-> int8 with uint8 I/O. Same small CNN, training and validation folders, epochs and
learning rates as edgekit's recipe. ``--layers inner`` prunes and clusters what edgekit
does by default (not the first conv, not the classifier); ``--layers all`` does the
whole model, as the guides do. Prints one JSON line; ``--out`` keeps the .tflite.

    python tools/plain_tfmot_pcqat.py TRAIN_DIR VAL_DIR --epochs 25 --seed 0
"""

import argparse
import gzip
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))


def small_cnn(num_classes):
    # Pixels arrive scaled to [0, 1]: tfmot's quantize_annotate_model rejects a Rescaling layer.
    layers = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for i, filters in enumerate((32, 32, 64, 128)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if i in (1, 2):
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax", name="classifier")(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("val")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", choices=("inner", "all"), default="inner")
    parser.add_argument("--out")
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    common = dict(seed=args.seed, image_size=(32, 32), batch_size=32, label_mode="int")
    train = keras.utils.image_dataset_from_directory(args.train, **common)
    val = keras.utils.image_dataset_from_directory(args.val, shuffle=False, **common)
    scale = lambda x, y: (x / 255.0, y)  # noqa: E731
    augment = keras.Sequential([keras.layers.RandomRotation(0.04, fill_mode="reflect"),
                                keras.layers.RandomZoom(0.08, fill_mode="reflect"),
                                keras.layers.RandomTranslation(0.08, 0.08, fill_mode="reflect"),
                                keras.layers.RandomContrast(0.1)])
    train_ds = train.cache().map(lambda x, y: (augment(x, training=True), y)).map(scale).prefetch(2)
    val_ds = val.map(scale).cache()
    steps = len(train)

    model = small_cnn(len(train.class_names))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, verbose=0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    inner = {"conv1", "conv2", "conv3"} | ({"conv0", "classifier"} if args.layers == "all" else set())

    schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, 0.5, 0, steps * 5, frequency=max(1, steps * 5 // 10))
    pruned = keras.models.clone_model(model, clone_function=lambda layer: tfmot.sparsity.keras.prune_low_magnitude(
        layer, pruning_schedule=schedule) if layer.name in inner else layer)
    pruned.compile(keras.optimizers.Adam(5e-4), "sparse_categorical_crossentropy", ["accuracy"])
    pruned.fit(train_ds, validation_data=val_ds, epochs=6, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)

    clustering = tfmot.clustering.keras
    clustered = keras.models.clone_model(stripped, clone_function=lambda layer: clustering.cluster_weights(
        layer, number_of_clusters=16, cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
        preserve_sparsity=True) if layer.name in inner else layer)
    clustered.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", ["accuracy"])
    clustered.fit(train_ds, validation_data=val_ds, epochs=3, verbose=0)
    stripped = clustering.strip_clustering(clustered)

    annotated = tfmot.quantization.keras.quantize_annotate_model(stripped)
    scheme = tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    pcqat = tfmot.quantization.keras.quantize_apply(annotated, scheme)
    pcqat.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", ["accuracy"])
    pcqat.fit(train_ds, validation_data=val_ds, epochs=3, verbose=0)

    train_x = np.concatenate([x.numpy() for x, _ in train.map(scale)])
    rep = train_x[np.random.default_rng(args.seed).permutation(len(train_x))[:200]]
    fn = tf.function(lambda x: pcqat(x, training=False)).get_concrete_function(tf.TensorSpec([1, 32, 32, 3]))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], pcqat)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in rep)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    tflite = converter.convert()

    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    s, z = inp["quantization"]
    correct = total = 0
    for x, y in val_ds.unbatch():
        q = np.clip(np.rint(x.numpy() / s + z), 0, 255).astype(np.uint8)
        interpreter.set_tensor(inp["index"], q[None])
        interpreter.invoke()
        correct += int(interpreter.get_tensor(out["index"])[0].argmax() == int(y))
        total += 1
    if args.out:
        with open(args.out, "wb") as f:
            f.write(tflite)
    print(json.dumps({"tflite_accuracy": correct / total, "bytes": len(tflite),
                      "gzip_bytes": len(gzip.compress(tflite, compresslevel=9, mtime=0))}))


if __name__ == "__main__":
    main()
