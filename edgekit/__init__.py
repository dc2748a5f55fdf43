"""edgekit: build, check and profile small, fast, accurate TensorFlow Lite models for edge devices.

The public API, re-exported here and only here. Importing edgekit never imports
TensorFlow; ``build`` imports it when called.
"""

from edgekit._version import __version__
from edgekit.analyze import CheckReport, ModelFormatError, check, read_model
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
from edgekit.evaluation import Evaluation, evaluate
from edgekit.inference import predict
from edgekit.models.backbones import Backbone
from edgekit.profiler import Measurement, ProfileError, profile
from edgekit.targets import TargetProfile, load_target, shipped_targets

__all__ = [
    "Augmentation",
    "Backbone",
    "BuildResult",
    "CheckReport",
    "ConfigError",
    "ConversionError",
    "DataError",
    "EdgekitError",
    "Evaluation",
    "LabelledImages",
    "Measurement",
    "MissingDependencyError",
    "ModelFormatError",
    "ProfileError",
    "TargetProfile",
    "WeightsError",
    "__version__",
    "build",
    "check",
    "evaluate",
    "from_arrays",
    "load_image_folder",
    "load_target",
    "predict",
    "profile",
    "read_model",
    "shipped_targets",
]
