"""Latency and size of a candidate architecture before anything is trained.

The untrained model is converted for the target by the build's own conversion (its
weights do not change which ops there are, how large they are, or how long they take),
checked op by op, sized, and priced by the target's cost model, or measured on the
device with ``--remote`` where the target has none. A candidate that cannot meet the
limits, even at the fast end of the estimate's band, is rejected without training.
Sizes are kept in a JSON file in the tune folder, so a resumed search and the other
workers on this machine do not convert the same architecture twice.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, first_line
from edgekit.files import atomic_write
from edgekit.progress import Progress
from edgekit.targets import TargetProfile
from edgekit.tuning.space import Architecture


@dataclass(frozen=True)
class Sized:
    """What an untrained architecture costs on the target."""

    key: str
    bytes: int
    fully_supported: bool
    check: str
    estimated_ms: float | None = None
    low_ms: float | None = None
    high_ms: float | None = None
    # On the device (--remote), for a target without a cost model.
    measured_ms: float | None = None
    # How long sizing took: a trained build of it spends a few times that after its last epoch.
    seconds: float | None = None
    # Multiply-adds of one inference, whatever the target: what a training epoch's time tracks.
    macs: int | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def fastest_ms(self) -> float | None:
        """The least latency it could have: the measurement, or the fast end of the band."""
        return self.measured_ms if self.measured_ms is not None else self.low_ms

    def latency_text(self) -> str:
        if self.measured_ms is not None:
            return f"{self.measured_ms:.3f} ms measured on the device"
        if self.estimated_ms is None:
            return "latency unknown"
        return f"{self.estimated_ms:.3f} ms estimated (band {self.low_ms:.3f}-{self.high_ms:.3f})"


def rejection(sized: Sized, *, max_latency_ms: float, max_bytes: float | None, allow_cpu_fallback: bool,
              target: str) -> str | None:
    """Why ``sized`` cannot meet the limits, or None when it may."""
    if not sized.fully_supported and not allow_cpu_fallback:
        return f"does not run fully on {target}: {sized.check}"
    fastest = sized.fastest_ms
    if fastest is not None and fastest > max_latency_ms:
        return f"latency: {sized.latency_text()} > {max_latency_ms:g} ms"
    # The untrained model has no metadata yet: its size is a floor of the trained one's.
    if max_bytes is not None and sized.bytes > max_bytes:
        return f"size: {sized.bytes:,} bytes > {max_bytes:,.0f}"
    return None


class SizeCache:
    """Sized architectures by key, in ``path`` (shared by the workers on one machine)."""

    def __init__(self, path: Path, profile: TargetProfile, classes: int) -> None:
        self.path, self.profile, self.classes = path, profile, classes
        self._prefix = f"{profile.id}/{classes}/"

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def known(self, arch: Architecture) -> Sized | None:
        """``arch`` as sized before, or None: nothing is converted."""
        found = self._read().get(self._prefix + arch.key)
        return None if found is None else Sized(**found)

    def longest_seconds(self) -> float:
        """The longest sizing so far: what the next candidate may take before it can train."""
        return max((entry.get("seconds") or 0.0 for entry in self._read().values()), default=0.0)

    def get(self, arch: Architecture, build: Any, *, remote: str | None = None, ssh: Any = None,
            say: Progress | None = None) -> Sized:
        key = self._prefix + arch.key
        known = self.known(arch)
        if known is not None:
            return known
        sized = size_up(arch, self.profile, self.classes, build, remote=remote, ssh=ssh, key=key)
        if say is not None:
            say.log(f"sized {arch.describe()} untrained: {sized.bytes:,} bytes, {sized.latency_text()}")
        table = self._read()
        table[key] = sized.to_dict()
        atomic_write(self.path, json.dumps(table, indent=1, sort_keys=True) + "\n")
        return sized


def size_up(arch: Architecture, profile: TargetProfile, classes: int, build: Any, *, remote: str | None = None,
            ssh: Any = None, key: str | None = None) -> Sized:
    """Convert ``arch`` untrained for ``profile`` with ``classes`` outputs; check, size and price it."""
    from edgekit._tf import keras_module
    from edgekit.analyze import check
    from edgekit.conversion.target import keras_to_target
    from edgekit.models import build_backbone
    from edgekit.models.backbones import WeightsKind, WeightsSpec
    from edgekit.tasks import classification as task

    started = time.perf_counter()
    keras = keras_module()
    keras.backend.clear_session()
    # Random weights have the ops, shapes and sizes of pretrained ones; only a .keras
    # backbone must be read, as it fixes its own architecture.
    spec = WeightsSpec.parse(arch.weights)
    weights = spec if spec.kind == WeightsKind.MODEL else WeightsSpec(WeightsKind.NONE)
    size = None if arch.image_size is None else (arch.image_size, arch.image_size)
    features = build_backbone(arch.backbone, size, alpha=arch.alpha, weights=weights,
                              trust_model_code=build.trust_model_code)
    model = task.head(features, classes, dropout=0.0)
    pixels = np.random.default_rng(0).uniform(0, 255, (4, *model.input_shape[1:])).astype(np.float32)
    options = dataclasses.replace(build.conversion, bias_correction=False)
    with tempfile.TemporaryDirectory() as scratch:
        path = keras_to_target(model, pixels, profile, Path(scratch) / "candidate.tflite", Progress(),
                               output=task.OUTPUT, options=options).path
        report = check(path, profile, compile=False, name=arch.describe())
        facts: dict[str, Any] = {"bytes": path.stat().st_size, "fully_supported": bool(report.fully_supported),
                                 "check": report.summary(), "macs": _macs(path)}
        if profile.cost_model is not None:
            from edgekit.latency import estimate

            est = estimate(path, profile)
            facts.update(estimated_ms=est.estimated_ms, low_ms=est.low_ms, high_ms=est.high_ms)
        elif remote is not None:
            facts["measured_ms"] = measure_on_device(path, profile, remote, ssh)
    keras.backend.clear_session()
    return Sized(key=key or arch.key, seconds=round(time.perf_counter() - started, 2), **facts)


def _macs(path: Path) -> int:
    from edgekit.analyze import read_model
    from edgekit.latency.ops import op_costs

    return int(sum(op.macs for op in op_costs(read_model(path))))


def measure_on_device(path: Path, profile: TargetProfile, remote: str, ssh: Any = None) -> float:
    """p50 latency of ``path`` on ``remote`` with the target's [profile] settings."""
    from edgekit.profiler import profile as run_profile

    options: dict[str, Any] = {"remote": remote}
    if ssh is not None:
        options["ssh"] = ssh
    measured = run_profile(path, profile, **options)
    return float(measured.latency_ms.p50)


def imagenet_unavailable(arch: Architecture) -> str | None:
    """Why ImageNet weights cannot be had here (offline, say), or None when they load."""
    from edgekit._tf import keras_module
    from edgekit.models import build_backbone
    from edgekit.models.backbones import WeightsKind, WeightsSpec

    try:
        build_backbone(arch.backbone, (arch.image_size, arch.image_size), alpha=arch.alpha,
                       weights=WeightsSpec(WeightsKind.IMAGENET))
    except EdgekitError as exc:
        # edgekit's own one-line message, whole: cut at 300 characters it ended "downloads them
        # on first use into" and lost the advice.
        return first_line(exc, limit=1000)
    finally:
        keras_module().backend.clear_session()
    return None
