"""On-device profiling with only a TFLite runtime installed (never TensorFlow)."""

from edgekit.errors import ProfileError
from edgekit.profiler.api import profile, profile_all
from edgekit.profiler.options import ProfileOptions
from edgekit.profiler.remote import SshSettings
from edgekit.profiler.result import Latency, Measurement, render, render_comparison

__all__ = [
    "Latency",
    "Measurement",
    "ProfileError",
    "ProfileOptions",
    "SshSettings",
    "profile",
    "profile_all",
    "render",
    "render_comparison",
]
