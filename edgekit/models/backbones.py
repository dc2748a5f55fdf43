"""Feature extractors: keras.applications backbones, a small CNN for tiny inputs, or a saved model.

Every backbone takes raw pixels (float 0-255) and does its own preprocessing, so the
converted .tflite takes pixels too and an app never re-implements normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit._compat import StrEnum
from edgekit._tf import keras_module
from edgekit.errors import ConfigError, WeightsError, first_line
from edgekit.model_files import load_keras_model


class Backbone(StrEnum):
    SMALL_CNN = "small_cnn"
    MOBILENET_V2 = "mobilenet_v2"
    MOBILENET_V3_SMALL = "mobilenet_v3_small"
    MOBILENET_V3_LARGE = "mobilenet_v3_large"
    MOBILENET_V3_SMALL_MINIMALISTIC = "mobilenet_v3_small_minimalistic"
    MOBILENET_V3_LARGE_MINIMALISTIC = "mobilenet_v3_large_minimalistic"
    EFFICIENTNET_B0 = "efficientnet_b0"


# Input sizes the ImageNet weights were trained at; the small CNN is for thumbnails.
DEFAULT_IMAGE_SIZE = {b: 224 for b in Backbone} | {Backbone.SMALL_CNN: 32}
# keras.applications rejects smaller inputs for these (stride-32 feature maps).
MIN_IMAGE_SIZE = {b: 32 for b in Backbone} | {Backbone.SMALL_CNN: 8}


class WeightsKind(StrEnum):
    IMAGENET = "imagenet"
    NONE = "none"
    FILE = "file"
    MODEL = "model"


@dataclass(frozen=True)
class WeightsSpec:
    kind: WeightsKind
    path: str | None = None

    @classmethod
    def parse(cls, value: str | Path | None) -> "WeightsSpec":
        if value is None or str(value).lower() == "none":
            return cls(WeightsKind.NONE)
        if str(value).lower() == "imagenet":
            return cls(WeightsKind.IMAGENET)
        path = Path(value).expanduser()
        if not path.is_file():
            raise WeightsError(f"weights file {path} does not exist (use imagenet, none, or a .h5/.keras file)")
        if path.suffix == ".keras":
            return cls(WeightsKind.MODEL, str(path))
        if path.suffix in (".h5", ".hdf5"):
            return cls(WeightsKind.FILE, str(path))
        raise WeightsError(f"weights file {path}: expected a .h5 weights file or a .keras model")

    @property
    def pretrained(self) -> bool:
        return self.kind != WeightsKind.NONE

    def __str__(self) -> str:
        return self.path or self.kind.value


def check_request(backbone: Backbone, image_size: tuple[int, int], *, alpha: float, weights: WeightsSpec) -> None:
    """What can be told wrong about a backbone without TensorFlow or a download."""
    if weights.kind == WeightsKind.MODEL:
        return
    smallest = MIN_IMAGE_SIZE[backbone]
    if min(image_size) < smallest:
        raise ConfigError(f"{backbone} needs images of at least {smallest}x{smallest} pixels, "
                          f"got {image_size[0]}x{image_size[1]}")
    if backbone == Backbone.SMALL_CNN and weights.kind == WeightsKind.IMAGENET:
        raise WeightsError("small_cnn has no ImageNet weights: use --weights none or a weights file")
    if backbone == Backbone.EFFICIENTNET_B0 and alpha != 1.0:
        raise ConfigError("efficientnet_b0 has no width multiplier: use alpha 1.0")


def build_backbone(backbone: Backbone, image_size: tuple[int, int], *, alpha: float, weights: WeightsSpec,
                   trust_model_code: bool = False) -> Any:
    """A model named ``backbone`` mapping (H, W, 3) pixels 0-255 to a feature map."""
    check_request(backbone, image_size, alpha=alpha, weights=weights)
    keras = keras_module()
    if weights.kind == WeightsKind.MODEL:
        return backbone_from_saved_model(weights.path, image_size, trust=trust_model_code)

    shape = (*image_size, 3)
    application_weights = "imagenet" if weights.kind == WeightsKind.IMAGENET else None
    try:
        preprocess, base = _application(keras, backbone, shape, alpha, application_weights)
    except Exception as exc:  # noqa: BLE001 - keras raises bare Exception for download failures
        if application_weights is None:
            raise
        raise _imagenet_error(backbone, exc) from None
    if weights.kind == WeightsKind.FILE:
        try:
            base.load_weights(weights.path)
        except Exception as exc:  # noqa: BLE001 - h5py and Keras raise many types for a mismatched file
            raise WeightsError(f"weights file {weights.path} does not fit {backbone} (alpha={alpha}, {shape}): "
                               f"{first_line(exc)}") from None

    inputs = keras.Input(shape, name="image")
    features = base(preprocess(inputs))
    return keras.Model(inputs, features, name="backbone")


def _application(keras: Any, backbone: Backbone, shape: tuple, alpha: float, weights: str | None):
    apps = keras.applications
    if backbone == Backbone.SMALL_CNN:
        return keras.layers.Rescaling(1.0 / 255.0, name="preprocess"), _small_cnn(keras, shape, alpha)
    if backbone == Backbone.MOBILENET_V2:
        # MobileNetV2 expects [-1, 1] (keras.applications.mobilenet_v2.preprocess_input).
        base = apps.MobileNetV2(input_shape=shape, alpha=alpha, include_top=False, weights=weights)
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess"), base
    if backbone == Backbone.EFFICIENTNET_B0:
        # EfficientNet normalises inside the model; it takes 0-255 pixels.
        base = apps.EfficientNetB0(input_shape=shape, include_top=False, weights=weights)
        return keras.layers.Identity(name="preprocess"), base
    large = backbone in (Backbone.MOBILENET_V3_LARGE, Backbone.MOBILENET_V3_LARGE_MINIMALISTIC)
    minimalistic = backbone.value.endswith("minimalistic")
    factory = apps.MobileNetV3Large if large else apps.MobileNetV3Small
    # include_preprocessing puts MobileNetV3's own Rescaling in the model: it takes 0-255.
    base = factory(
        input_shape=shape, alpha=alpha, minimalistic=minimalistic, include_top=False,
        weights=weights, include_preprocessing=True,
    )
    return keras.layers.Identity(name="preprocess"), base


def _small_cnn(keras: Any, shape: tuple, alpha: float) -> Any:
    """Four 3x3 conv blocks: a fast backbone for thumbnails (8-64 px) that maps fully to int8 accelerators.

    Pooling after each of the first three blocks (while the map is at least 4 px) costs
    a quarter of the multiply-adds of pooling after the middle two only, and on real
    data sets it scored higher too (tools/bench_accuracy.py: MNIST 0.983 against 0.973,
    elpv 0.819 against 0.807), its deeper layers seeing more of the image.
    """
    layers = keras.layers
    inputs = keras.Input(shape)
    x = inputs
    for i, filters in enumerate((32, 32, 64, 128)):
        width = max(8, int(round(filters * alpha)))
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if i < 3 and min(x.shape[1], x.shape[2]) >= 4:
            x = layers.MaxPooling2D(name=f"pool{i}")(x)
    return keras.Model(inputs, x, name="small_cnn")


def backbone_from_saved_model(path: str, image_size: tuple[int, int] | None, *, trust: bool = False) -> Any:
    """Reuse a saved ``.keras`` classifier as a feature extractor.

    An edgekit model has a layer named ``backbone``; any other model is cut before
    its last layer (its classifier). Code in the file is refused unless ``trust``.
    """
    keras = keras_module()
    model = load_keras_model(path, trust=trust, role="--weights")
    try:
        inner = model.get_layer("backbone")
    except ValueError:
        if len(model.layers) < 3:
            raise WeightsError(f"model {path} is too small to serve as a backbone") from None
        inner = keras.Model(model.inputs, model.layers[-2].output, name="backbone")
    shape = tuple(inner.input_shape[1:3])
    if image_size is not None and shape != tuple(image_size):
        raise ConfigError(f"backbone model {path} takes {shape[0]}x{shape[1]} images, "
                          f"not {image_size[0]}x{image_size[1]}")
    if inner.input_shape[-1] != 3:
        raise WeightsError(f"backbone model {path} takes {inner.input_shape[-1]} channels; edgekit feeds RGB")
    return inner


def saved_model_image_size(path: str, *, trust: bool = False) -> tuple[int, int]:
    inner = backbone_from_saved_model(path, None, trust=trust)
    return int(inner.input_shape[1]), int(inner.input_shape[2])


def _imagenet_error(backbone: Backbone, exc: Exception) -> WeightsError:
    reason = first_line(exc)
    if isinstance(exc, ValueError):
        # keras.applications validates alpha / size / minimalistic against the published weights.
        return WeightsError(f"no ImageNet weights for {backbone} with these options: {reason}")
    return WeightsError(
        f"could not get the ImageNet weights for {backbone}: {reason}. Keras downloads them on first use "
        "into ~/.keras/models; offline, copy that file there from a machine that has it, or pass a local "
        "weights file with --weights PATH (.h5 weights of this backbone without its top, or a .keras model), "
        "or train from scratch with --weights none"
    )


