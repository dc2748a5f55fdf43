"""edgekit: build, check and profile small, fast, accurate TensorFlow Lite models for edge devices.

The public API, re-exported here and only here. Importing edgekit never imports
TensorFlow; ``build`` imports it when called.
"""

from edgekit._version import __version__
from edgekit.analyze import CheckReport, check, read_model
from edgekit.builder import BuildResult, build
from edgekit.config import BuildConfig
from edgekit.convert.config import ConvertConfig
from edgekit.convert.pipeline import ConvertResult, convert  # the function; edgekit.convert.* modules still import
from edgekit.data import Augmentation, LabelledImages, from_arrays, load_image_folder
from edgekit.errors import (
    CompilerError,
    ConfigError,
    ConversionError,
    DataError,
    EdgekitError,
    MissingDependencyError,
    ModelFormatError,
    OptionError,
    ProfileError,
    TrainingError,
    WeightsError,
)
from edgekit.evaluation import Evaluation, evaluate
from edgekit.inference import predict
from edgekit.models.backbones import Backbone
from edgekit.optimize.api import OptimizeResult, optimize  # the function; edgekit.optimize.* modules still import
from edgekit.profiler import Measurement, profile
from edgekit.recipe import dump_recipe, load_recipe
from edgekit.targets import TargetProfile, load_target, shipped_targets

__all__ = [
    "Augmentation",
    "Backbone",
    "BuildConfig",
    "BuildResult",
    "CheckReport",
    "CompilerError",
    "ConvertConfig",
    "ConvertResult",
    "ConfigError",
    "ConversionError",
    "DataError",
    "EdgekitError",
    "Evaluation",
    "LabelledImages",
    "Measurement",
    "MissingDependencyError",
    "ModelFormatError",
    "OptimizeResult",
    "OptionError",
    "ProfileError",
    "TargetProfile",
    "TrainingError",
    "WeightsError",
    "__version__",
    "build",
    "check",
    "convert",
    "dump_recipe",
    "evaluate",
    "from_arrays",
    "load_image_folder",
    "load_recipe",
    "optimize",
    "load_target",
    "predict",
    "profile",
    "read_model",
    "shipped_targets",
]
