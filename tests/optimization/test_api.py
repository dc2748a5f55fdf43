"""edgekit.optimization on a model the test defines, with its own data, loss and metrics; then edgekit.conversion."""

import numpy as np
import pytest

import edgekit
from edgekit._tf import keras_module, tensorflow
from edgekit.analyze.weights import kernel_stats


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images[..., None] * (255.0 / 16.0)).astype(np.float32)
    return x[:1400], digits.target[:1400], x[1400:], digits.target[1400:]


def _nested_model(keras):
    """A classifier whose feature extractor is a nested model, as users' models often are."""
    inner_in = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(keras.layers.Rescaling(1 / 255.0)(inner_in))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(h)
    features = keras.Model(inner_in, keras.layers.Flatten()(h), name="features")
    inputs = keras.Input((8, 8, 1), name="pixels")
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="digit")(features(inputs)))


@pytest.mark.slow
def test_prune_and_qat_on_a_users_model_keep_zeros_and_accuracy_in_the_tflite(tmp_path):
    keras = keras_module()
    keras.utils.set_random_seed(0)
    x, y, vx, vy = _digits()
    model = _nested_model(keras)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)

    result = edgekit.optimize(model, train=(x, y), validation=(vx, vy),
                              stages=[{"kind": "prune", "sparsity": 0.5, "epochs": 3, "ramp_epochs": 2},
                                      {"kind": "qat", "epochs": 2}])
    assert [s.name for s in result.stages] == ["prune", "qat"]
    assert result.before["accuracy"] > 0.85
    assert result.after["accuracy"] >= result.before["accuracy"] - 0.05

    converted = edgekit.convert(result.model, target="cpu", calibration=vx[:150], verify_samples=50,
                                out=tmp_path / "o", progress=False)
    [digit] = converted.report["verification"]["outputs"]
    assert digit["top1_agreement"] >= 0.95
    # The pruned kernels: the second convolution (the first stays dense by default).
    convs = [k for k in kernel_stats(converted.tflite_path) if k.opcode == "CONV_2D"]
    assert len(convs) == 2 and convs[1].dtype == "INT8"
    assert convs[1].zero_fraction >= 0.45 and convs[0].zero_fraction < 0.1


def test_a_model_without_accuracy_is_judged_on_its_loss():
    keras = keras_module()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype(np.float32)
    y = (x @ rng.normal(size=(6, 1))).astype(np.float32)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(16, activation="relu")(inputs)))
    model.compile("adam", "mse")
    model.fit(x, y, epochs=30, verbose=0)
    tf = tensorflow()
    train = tf.data.Dataset.from_tensor_slices((x[:200], y[:200])).batch(32)
    result = edgekit.optimize(model, train=train, validation=(x[200:], y[200:]), loss="mse", metrics=[],
                              stages=[{"kind": "prune", "sparsity": 0.5, "epochs": 2, "ramp_epochs": 1,
                                       "exclude_last_dense": False}])
    assert set(result.after) == {"loss"} and np.isnan(result.stages[0].val_accuracy)
    assert result.after["loss"] < 2 * result.before["loss"] + 0.05
    # Judged on validation loss: the stage ends on its lowest-loss epoch, whichever epoch that is.
    stage = result.stages[0]
    losses = stage.history["val_loss"]
    assert stage.best_epoch == 1 + int(np.argmin(losses))
    assert result.after["loss"] == pytest.approx(min(losses), rel=1e-2)


def test_a_keras3_model_is_refused_in_one_line_saying_what_to_do():
    tensorflow()
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(edgekit.ConfigError, match="build it with tf_keras") as err:
        edgekit.optimize(model, train=(np.zeros((4, 4)), np.zeros(4)), validation=(np.zeros((4, 4)), np.zeros(4)),
                         stages=[{"kind": "qat"}])
    assert "\n" not in str(err.value)
