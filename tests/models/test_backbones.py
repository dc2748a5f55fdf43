import numpy as np
import pytest

from edgekit.errors import ConfigError, WeightsError
from edgekit.models import Backbone, WeightsKind, WeightsSpec, build_backbone, build_classifier


@pytest.mark.parametrize("backbone", list(Backbone))
def test_every_backbone_builds_and_maps_pixels_to_features(backbone):
    alpha = 1.0 if backbone == Backbone.EFFICIENTNET_B0 else 0.35
    if backbone == Backbone.MOBILENET_V3_LARGE_MINIMALISTIC or backbone == Backbone.MOBILENET_V3_SMALL_MINIMALISTIC:
        alpha = 0.35
    model = build_backbone(backbone, (32, 32), alpha=alpha, weights=WeightsSpec.parse("none"))
    assert model.name == "backbone"
    features = model(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32))
    assert features.shape[0] == 2 and np.all(np.isfinite(features.numpy()))


def test_too_small_input_is_a_config_error():
    with pytest.raises(ConfigError, match="at least 32x32"):
        build_backbone(Backbone.MOBILENET_V2, (16, 16), alpha=0.35, weights=WeightsSpec.parse("none"))


def test_imagenet_offline_says_how_to_pass_local_weights(tmp_path, monkeypatch):
    # An empty Keras cache: the weights must be fetched, which this network refuses.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    try:
        build_backbone(Backbone.MOBILENET_V2, (96, 96), alpha=0.35, weights=WeightsSpec.parse("imagenet"))
    except WeightsError as exc:
        assert "could not get the ImageNet weights for mobilenet_v2" in str(exc)
        assert "--weights PATH" in str(exc) and "--weights none" in str(exc)
    else:
        pytest.skip("ImageNet weights were downloaded: this machine is online")


def test_small_cnn_has_no_imagenet_weights():
    with pytest.raises(WeightsError, match="small_cnn has no ImageNet weights"):
        build_backbone(Backbone.SMALL_CNN, (32, 32), alpha=1.0, weights=WeightsSpec.parse("imagenet"))


def test_h5_weights_file_is_loaded_into_the_backbone(tmp_path):
    source = build_backbone(Backbone.MOBILENET_V2, (32, 32), alpha=0.35, weights=WeightsSpec.parse("none"))
    base = source.layers[-1]
    path = tmp_path / "mobilenet_v2_035.weights.h5"
    base.save_weights(path)
    loaded = build_backbone(Backbone.MOBILENET_V2, (32, 32), alpha=0.35, weights=WeightsSpec.parse(path))
    for a, b in zip(base.get_weights(), loaded.layers[-1].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_mismatched_weights_file_names_the_file(tmp_path):
    other = build_backbone(Backbone.SMALL_CNN, (32, 32), alpha=1.0, weights=WeightsSpec.parse("none"))
    path = tmp_path / "small.weights.h5"
    other.layers[-1].save_weights(path)
    with pytest.raises(WeightsError, match=str(path)):
        build_backbone(Backbone.MOBILENET_V2, (32, 32), alpha=0.35, weights=WeightsSpec.parse(path))


def test_saved_keras_classifier_serves_as_backbone(tmp_path):
    backbone = build_backbone(Backbone.SMALL_CNN, (16, 16), alpha=0.5, weights=WeightsSpec.parse("none"))
    classifier = build_classifier(backbone, 3)
    path = tmp_path / "model.keras"
    classifier.save(path)
    spec = WeightsSpec.parse(path)
    assert spec.kind == WeightsKind.MODEL
    reused = build_backbone(Backbone.SMALL_CNN, (16, 16), alpha=0.5, weights=spec)
    for a, b in zip(backbone.get_weights(), reused.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="takes 16x16 images"):
        build_backbone(Backbone.SMALL_CNN, (32, 32), alpha=0.5, weights=spec)


@pytest.mark.parametrize("value, message", [("missing.h5", "does not exist"), ("weights.txt", "expected a .h5")])
def test_bad_weights_argument(tmp_path, value, message):
    (tmp_path / "weights.txt").write_text("x")
    with pytest.raises(WeightsError, match=message):
        WeightsSpec.parse(tmp_path / value)
