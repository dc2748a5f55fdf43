"""A transform judged against the model it came from, on the same validation images.

Training gives a float model; the optimisation stages change it; the converter turns
the result into a .tflite. Each change is measured against its own input, so a loss
is blamed on the step that caused it and each limit gates one step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edgekit.errors import ConversionError, TrainingError


@dataclass(frozen=True)
class Change:
    """What one step did to validation accuracy: ``before`` is the model it was given."""

    step: str
    before: float
    after: float
    # Top-1 agreement of the two models' predictions (None when only accuracies are known).
    agreement: float | None = None
    max_abs_score_difference: float | None = None
    limit: float | None = None

    @property
    def drop(self) -> float:
        return self.before - self.after

    def to_dict(self) -> dict:
        return {**asdict(self), "drop": self.drop}


def compare(step: str, before_scores: np.ndarray, after_scores: np.ndarray, labels: np.ndarray,
            limit: float | None = None) -> Change:
    """Accuracy of each, agreement and the largest score difference, on the same images."""
    before_pred, after_pred = before_scores.argmax(axis=1), after_scores.argmax(axis=1)
    return Change(
        step=step,
        before=float(np.mean(before_pred == labels)),
        after=float(np.mean(after_pred == labels)),
        agreement=float(np.mean(before_pred == after_pred)),
        # Scores as well as argmax: a float16 conversion that flips a near-tie is fine,
        # one that moves every score by 0.1 is not.
        max_abs_score_difference=float(np.max(np.abs(after_scores.astype(np.float64) - before_scores))),
        limit=limit,
    )


def require_stages_kept(change: Change, stage_names: list[str]) -> None:
    if change.limit is not None and change.drop > change.limit:
        raise TrainingError(
            f"the optimisation stages ({', '.join(stage_names)}) lost {change.drop:.1%} validation accuracy "
            f"(before {change.before:.4f}, after {change.after:.4f}; limit {change.limit:.1%} from "
            "--max-stage-drop); try a lower --prune sparsity, more --cluster clusters, or more stage epochs"
        )


def require_conversion_kept(change: Change, quantization: str) -> None:
    # Judged on accuracy, not agreement: an undertrained model's near-uniform scores
    # flip their argmax under any rounding without the conversion being wrong.
    if change.limit is not None and change.drop > change.limit:
        raise ConversionError(
            f"{quantization} conversion lost {change.drop:.1%} accuracy (keras {change.before:.4f}, "
            f"tflite {change.after:.4f}; limit {change.limit:.1%}); more representative images or a "
            "quantization-friendlier backbone may help"
        )
