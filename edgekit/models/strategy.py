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
        _tf_config(raw)
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(kind: Strategy | str) -> bool:
    """Whether this process writes the build's output: always, except on a multiworker
    cluster's workers other than the chief (``chief`` task, else ``worker`` 0), as
    tf.distribute's own checkpointing does. Every worker trains and converts; one writes."""
    raw = os.environ.get("TF_CONFIG")
    if kind != Strategy.MULTIWORKER or not raw:
        return True  # (a missing TF_CONFIG is make_strategy's error to report)
    config = _tf_config(raw)
    task = config.get("task", {})
    role, index = task.get("type"), task.get("index", 0)
    return role in (None, "chief") or (role == "worker" and index == 0 and "chief" not in config["cluster"])


def _tf_config(raw: str) -> dict:
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise ConfigError('TF_CONFIG needs a "cluster" table of task lists and this process\'s "task" '
                          '(see tf.distribute.MultiWorkerMirroredStrategy)')
    return config


def describe(strategy: Any) -> dict:
    return {"name": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync)}
