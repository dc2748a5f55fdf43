"""Classifier models: backbones, the head, and two-phase transfer learning."""

from edgekit.models.backbones import DEFAULT_IMAGE_SIZE, Backbone, WeightsKind, WeightsSpec, build_backbone
from edgekit.models.classifier import build_classifier
from edgekit.models.training import PhaseResult, train

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "Backbone",
    "PhaseResult",
    "WeightsKind",
    "WeightsSpec",
    "build_backbone",
    "build_classifier",
    "train",
]
