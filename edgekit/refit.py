"""What a refit replays and what it leaves honest.

A refit trains the model that ships again on the training plus validation images, each
phase and stage for the epochs validation chose in a first run on the split (this build's
own, or a build folder of the same recipe). Nothing is held out from the refit, so the
figures that estimate accuracy on new images are the first run's: :class:`HeldOut`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from edgekit.errors import ConfigError
from edgekit.models.training import Replay


@dataclass(frozen=True)
class HeldOut:
    """The first run's figures on the validation images it never trained on."""

    images: int
    keras_accuracy: float
    # After the stages, when there were any (else the trained model's).
    staged_accuracy: float
    tflite_accuracy: float
    source: str

    def to_dict(self) -> dict:
        return {"images": self.images, "keras_accuracy": self.keras_accuracy,
                "staged_accuracy": self.staged_accuracy, "tflite_accuracy": self.tflite_accuracy,
                "source": self.source}


@dataclass(frozen=True)
class Replays:
    """Each training phase (by name) and each stage (in order) as the first run chose them."""

    phases: dict[str, Replay]
    stages: tuple[Replay, ...]

    @classmethod
    def of(cls, phases: Sequence[Any], stages: Sequence[Any]) -> "Replays":
        return cls({p.name: Replay.of(p.best_epoch, p.epochs_run, p.history) for p in phases},
                   tuple(Replay.of(s.best_epoch, s.epochs_run, s.history) for s in stages))

    def describe(self) -> str:
        parts = [f"{name} {r.epochs}" for name, r in self.phases.items()]
        parts += [f"stage {i + 1} {r.epochs}" for i, r in enumerate(self.stages)]
        return ", ".join(parts) + " epochs"


def from_build(folder: str | Path, recipe: dict) -> tuple[Replays, HeldOut]:
    """The replays and held-out figures a build folder recorded; its recipe must be ``recipe``
    (refit aside), or the epochs it chose belong to another model."""
    path = Path(folder) / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"refit_from: cannot read {path}: {exc}") from None
    theirs = {k: v for k, v in report.get("recipe", {}).items() if k != "refit"}
    ours = {k: v for k, v in json.loads(json.dumps(recipe)).items() if k != "refit"}
    if theirs != ours:
        differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise ConfigError(f"refit_from: {path} was built with another recipe (it differs in {', '.join(differ)})")
    if report.get("refit"):
        raise ConfigError(f"refit_from: {path} is itself a refit; give the build it replayed")
    phases = [_Recorded(p["name"], p["best_epoch"], p["epochs_run"], p.get("history", {}))
              for p in report["training"]["phases"]]
    stages = [_Recorded(s["name"], s["best_epoch"], s["epochs_run"], s.get("history", {}))
              for s in report.get("stages", [])]
    staged = report["stages"][-1]["val_accuracy"] if report.get("stages") else report["keras"]["accuracy"]
    held = HeldOut(images=report["tflite"]["evaluated_on"], keras_accuracy=report["keras"]["accuracy"],
                   staged_accuracy=staged, tflite_accuracy=report["tflite"]["accuracy"], source=str(folder))
    return Replays.of(phases, stages), held


@dataclass(frozen=True)
class _Recorded:
    name: str
    best_epoch: int
    epochs_run: int
    history: dict
