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


class ModelFormatError(EdgekitError):
    """The file is not a readable .tflite flatbuffer."""


class CompilerError(EdgekitError):
    """edgetpu_compiler ran and failed."""


class ProfileError(EdgekitError):
    """The model could not be loaded or run on this machine with these options."""


class TrainingError(EdgekitError):
    """Training or an optimisation stage gave a model that did not learn from the data."""


class OptionError(ConfigError):
    """One option (a recipe or profile key, a keyword argument) has a bad value; names its key."""

    def __init__(self, key: str, problem: str, *, template: str | None = None) -> None:
        self.key, self.problem, self.template = key, problem, template
        if template is not None:
            text = template.format(key=repr(key), problem=problem)
        else:
            text = f"{key!r} {problem}" if key else problem
        super().__init__(text)

    def within(self, prefix: str) -> "OptionError":
        """The same problem, keyed from an enclosing table (``profile.threads``)."""
        if not prefix:
            return self
        return OptionError(f"{prefix}.{self.key}" if self.key else prefix, self.problem, template=self.template)


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-blank line of an exception from a library (TensorFlow's run to pages)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:limit]
