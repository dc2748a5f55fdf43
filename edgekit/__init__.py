"""edgekit: build, check and profile small, fast, accurate TensorFlow Lite models for edge devices.

The public API, re-exported here and only here. Importing edgekit never imports
TensorFlow; ``build`` imports it when called.
"""

from edgekit._version import __version__
from edgekit.analyze import CheckReport, check, read_model
from edgekit.builder import BuildResult, build
from edgekit.config import BuildConfig
from edgekit.conversion.config import ConvertConfig
from edgekit.conversion.pipeline import ConvertResult, convert
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
from edgekit.latency.api import Calibration, calibrate
from edgekit.latency.estimator import Estimate, estimate
from edgekit.models.backbones import Backbone
from edgekit.optimization.api import OptimizeResult, optimize
from edgekit.profiler import Measurement, profile, profile_all
from edgekit.profiler.options import Accelerator
from edgekit.recipe import dump_recipe, load_recipe
from edgekit.runtime import RuntimeName
from edgekit.targets import TargetProfile, load_target, shipped_targets
from edgekit.tuning import TrialRow, TuneConfig, TuneResult, tune
from edgekit.verification import Verification, verify

__all__ = [
    "Augmentation",
    "Accelerator",
    "Backbone",
    "BuildConfig",
    "BuildResult",
    "Calibration",
    "CheckReport",
    "CompilerError",
    "ConfigError",
    "ConversionError",
    "ConvertConfig",
    "ConvertResult",
    "DataError",
    "EdgekitError",
    "Estimate",
    "Evaluation",
    "LabelledImages",
    "Measurement",
    "MissingDependencyError",
    "ModelFormatError",
    "OptimizeResult",
    "OptionError",
    "ProfileError",
    "RuntimeName",
    "TargetProfile",
    "TrainingError",
    "TrialRow",
    "TuneConfig",
    "TuneResult",
    "Verification",
    "WeightsError",
    "__version__",
    "build",
    "calibrate",
    "check",
    "convert",
    "dump_recipe",
    "estimate",
    "evaluate",
    "from_arrays",
    "load_image_folder",
    "load_recipe",
    "load_target",
    "optimize",
    "predict",
    "profile",
    "profile_all",
    "read_model",
    "shipped_targets",
    "tune",
    "verify",
]
