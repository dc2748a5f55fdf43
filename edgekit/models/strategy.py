"""tf.distribute strategies: one machine's CPU or GPU, all its GPUs, or several machines."""

from __future__ import annotations

import json
import os
from typing import Any

from edgekit._compat import StrEnum
from edgekit._tf import tensorflow
from edgekit.errors import ConfigError


class Strategy(StrEnum):
    DEFAULT = "default"
    # Data-parallel over every local GPU (or logical CPU device).
    MIRRORED = "mirrored"
    # Data-parallel over machines, as described by the TF_CONFIG environment variable.
    MULTIWORKER = "multiworker"


def make_strategy(kind: Strategy | str) -> Any:
    tf = tensorflow()
    try:
        kind = Strategy(kind)
    except ValueError:
        raise ConfigError(f"unknown strategy {kind!r}: use one of {', '.join(s.value for s in Strategy)}") from None
    if kind == Strategy.MIRRORED:
        return tf.distribute.MirroredStrategy()
    if kind == Strategy.MULTIWORKER:
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise ConfigError("--strategy multiworker needs TF_CONFIG describing the cluster and this worker's task "
                              "(see tf.distribute.MultiWorkerMirroredStrategy)")
        try:
            json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"TF_CONFIG is not valid JSON: {exc}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def describe(strategy: Any) -> dict:
    return {"name": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync)}
