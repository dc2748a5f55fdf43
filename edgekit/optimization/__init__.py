"""Optimisation stages (pruning, clustering, quantisation-aware training) and distillation."""

from edgekit.optimization.distill import Distill
from edgekit.optimization.stages import (
    QAT,
    CentroidInit,
    Cluster,
    History,
    Prune,
    Schedule,
    Stage,
    stage_config,
    stage_from_config,
    validate_stages,
)

__all__ = [
    "QAT",
    "CentroidInit",
    "Cluster",
    "Distill",
    "History",
    "Prune",
    "Schedule",
    "Stage",
    "stage_config",
    "stage_from_config",
    "validate_stages",
]
