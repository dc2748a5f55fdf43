"""Did the model learn? Validation accuracy against what always guessing the largest class scores.

A model that learned nothing from its labels (shuffled labels, a learning rate that
diverged, a backbone whose BatchNorm never normalised) still converts and runs, so
without this check a build ships a model that guesses and exits 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgekit.errors import TrainingError

# The chance that a model no better than the majority-class guess scores this well on
# the validation images; above it, the build stops.
SIGNIFICANCE = 0.01


@dataclass(frozen=True)
class LearnedCheck:
    accuracy: float
    majority_baseline: float
    images: int
    p_value: float

    @property
    def learned(self) -> bool:
        return self.accuracy > self.majority_baseline and self.p_value < SIGNIFICANCE

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "majority_baseline": self.majority_baseline, "images": self.images,
                "p_value": self.p_value, "learned": self.learned}


def check_learned(accuracy: float, labels: np.ndarray) -> LearnedCheck:
    """One-sided binomial test of ``accuracy`` on ``labels`` against the majority-class rate."""
    n = int(len(labels))
    baseline = float(np.bincount(labels).max() / n) if n else 1.0
    correct = int(round(accuracy * n))
    return LearnedCheck(accuracy=float(accuracy), majority_baseline=baseline, images=n,
                        p_value=_binomial_tail(correct, n, baseline))


def require_learned(check: LearnedCheck, after: str, advice: str) -> None:
    if check.learned:
        return
    raise TrainingError(
        f"{after}: validation accuracy {check.accuracy:.4f} is not clearly above the {check.majority_baseline:.4f} "
        f"of always guessing the largest class ({check.images} validation images, p={check.p_value:.2g}); "
        f"the model did not learn, so nothing was written. {advice}"
    )


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space so large n does not overflow."""
    if k <= 0:
        return 1.0
    if p >= 1.0:
        return 1.0
    if p <= 0.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))
