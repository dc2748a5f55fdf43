"""Errors a user can act on.

The CLI prints these as one line and exits non-zero; anything else is a bug and
keeps its traceback.
"""


class EdgekitError(Exception):
    """A problem with the user's input or environment, with a message saying what to do."""


class DataError(EdgekitError):
    """The data set is missing, empty, unreadable or unusable for training."""


class ConfigError(EdgekitError):
    """An option, recipe or target profile is invalid."""


class WeightsError(EdgekitError):
    """Backbone weights could not be obtained or do not fit the model."""


class ConversionError(EdgekitError):
    """The TFLite converter failed or produced a model that does not match the Keras one."""


class MissingDependencyError(EdgekitError):
    """An optional dependency (e.g. the build extras) is not installed."""


class TrainingError(EdgekitError):
    """Training or an optimisation stage gave a model that did not learn from the data."""
