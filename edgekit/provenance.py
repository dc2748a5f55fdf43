"""What made an output: the versions of Python, the platform and each library involved."""

from __future__ import annotations

import platform
from importlib import metadata

# Distributions whose version changes what a build or conversion produces.
_DISTRIBUTIONS = ("numpy", "tensorflow", "tf-keras", "keras", "tensorflow-model-optimization", "ai-edge-litert",
                  "pillow", "matplotlib")


def versions(runtime: object | None = None) -> dict:
    """Installed versions by distribution name (None where absent), read from package
    metadata so that nothing is imported; ``runtime``: the inference runtime used."""
    found = {"python": platform.python_version(), "edgekit": installed_version("edgekit")}
    for name in _DISTRIBUTIONS:
        found[name.replace("-", "_")] = installed_version(name)
    if runtime is not None:
        found["runtime"] = f"{runtime.name} {runtime.version}"
    found["platform"] = platform.platform()
    return found


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (its pip name), or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
