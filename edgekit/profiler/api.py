"""``profile()``: latency, size and memory of .tflite models, here or on another machine."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from edgekit.errors import ProfileError
from edgekit.profiler.isolate import measure_isolated
from edgekit.profiler.options import ProfileOptions
from edgekit.profiler.remote import SshSettings, profile_remote
from edgekit.profiler.result import Measurement
from edgekit.targets import TargetProfile, load_target


def profile(
    models: str | Path | Sequence[str | Path],
    *,
    target: str | Path | TargetProfile | None = None,
    threads: int | None = None,
    warmup: int | None = None,
    runs: int | None = None,
    duration: float | None = None,
    delegate: str | None = None,
    device: str | None = None,
    accelerator: str | None = None,
    gpu_f32: bool = False,
    input_shape: Sequence[int] | None = None,
    inputs_dir: str | Path | None = None,
    runtime: str | None = None,
    timeout: float = 300.0,
    per_op: bool = False,
    remote: str | None = None,
    ssh: SshSettings | None = None,
) -> Measurement | list[Measurement]:
    """Measure one model (returns a Measurement) or several (a list, in order).

    Each model is loaded and run in a child process, so a malformed model or a crashing
    delegate raises :class:`~edgekit.profiler.ProfileError` instead of killing the caller.
    With ``remote="user@host[:port]"`` the models are copied over SSH and measured there.
    ``target``: a profile whose ``[profile]`` section (threads, warm-up, runs, delegate,
    device, accelerator) gives the settings not passed here. ``gpu_f32``: the GPU accelerator
    computes in float32 rather than its default float16. ``per_op``: also time each op
    alone (``Measurement.per_op``).
    """
    single = isinstance(models, (str, Path))
    paths = [models] if single else list(models)
    base = ProfileOptions() if target is None else ProfileOptions.from_target(load_target(target))
    given = {"threads": threads, "warmup": warmup, "runs": runs, "delegate": delegate, "device": device,
             "accelerator": accelerator}
    options = dataclasses.replace(
        base, **{k: v for k, v in given.items() if v is not None}, duration=duration,
        input_shape=tuple(input_shape) if input_shape else None,
        inputs_dir=str(inputs_dir) if inputs_dir else None, runtime=runtime, timeout=timeout, per_op=per_op,
        gpu_f32=gpu_f32,
    ).validate()
    if remote:
        results = [Measurement.from_dict(r) for r in profile_remote(paths, options, remote, ssh or SshSettings())]
    else:
        results = [Measurement.from_dict(_measure_here(path, options)) for path in paths]
    return results[0] if single else results


def _measure_here(path: str | Path, options: ProfileOptions) -> dict:
    result = measure_isolated(path, options)
    if options.per_op:
        # A child of its own: an op that crashes the runtime when run alone costs the
        # per-op table, not the whole-model figures.
        try:
            result["per_op"] = measure_isolated(path, options, task="per_op",
                                                whole_p50_ms=result["latency_ms"]["p50"])
        except ProfileError as exc:
            result["per_op"] = {"error": str(exc)}
    return result
