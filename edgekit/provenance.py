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
    found = {"python": platform.python_version(), "edgekit": _version("edgekit")}
    for name in _DISTRIBUTIONS:
        found[name.replace("-", "_")] = _version(name)
    if runtime is not None:
        found["runtime"] = f"{runtime.name} {runtime.version}"
    found["platform"] = platform.platform()
    return found


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
