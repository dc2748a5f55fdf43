"""Optimisation stages (pruning, clustering, quantisation-aware training) and distillation."""

from edgekit.optimize.distill import Distill
from edgekit.optimize.stages import (
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
