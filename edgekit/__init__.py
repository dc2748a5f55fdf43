"""edgekit: build, check and profile small, fast, accurate TensorFlow Lite models for edge devices.

The public API, re-exported here and only here. Importing edgekit never imports
TensorFlow; ``build`` imports it when called.
"""

from edgekit._version import __version__
from edgekit.builder import BuildResult, build
from edgekit.data import Augmentation, LabelledImages, from_arrays, load_image_folder
from edgekit.errors import (
    ConfigError,
    ConversionError,
    DataError,
    EdgekitError,
    MissingDependencyError,
    WeightsError,
)
from edgekit.models.backbones import Backbone
from edgekit.predict import predict
from edgekit.targets import TargetProfile, load_target, shipped_targets

__all__ = [
    "Augmentation",
    "Backbone",
    "BuildResult",
    "ConfigError",
    "ConversionError",
    "DataError",
    "EdgekitError",
    "LabelledImages",
    "MissingDependencyError",
    "TargetProfile",
    "WeightsError",
    "__version__",
    "build",
    "from_arrays",
    "load_image_folder",
    "load_target",
    "predict",
    "shipped_targets",
]
