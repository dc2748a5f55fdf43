"""``profile()``: latency, size and memory of .tflite models, here or on another machine."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from edgekit.errors import ConfigError, ProfileError
from edgekit.profiler.isolate import measure_isolated
from edgekit.profiler.options import Accelerator, ProfileOptions
from edgekit.profiler.remote import RemoteHost, SshSettings, profile_remote
from edgekit.profiler.result import Measurement
from edgekit.runtime import RuntimeName
from edgekit.targets import TargetProfile, load_target


def profile(model: str | Path, target: str | Path | TargetProfile | None = None, **options) -> Measurement:
    """Measure ``model`` here (or on ``remote``), in a child process after a warm-up.

    A malformed model or a crashing delegate raises :class:`~edgekit.errors.ProfileError`
    instead of killing the caller; a file that is not a .tflite raises
    :class:`~edgekit.errors.ModelFormatError`, as ``check`` does. ``target``: a profile whose
    ``[profile]`` section (threads, warm-up, runs, delegate, device, accelerator) gives the
    settings not passed here. The options are :func:`profile_all`'s.
    """
    if not isinstance(model, (str, Path)):
        raise ConfigError("profile takes one model; profile_all takes several and compares them")
    return profile_all([model], target=target, **options)[0]


def profile_all(
    models: Sequence[str | Path],
    target: str | Path | TargetProfile | None = None,
    *,
    threads: int | None = None,
    warmup: int | None = None,
    runs: int | None = None,
    duration: float | None = None,
    delegate: str | None = None,
    device: str | None = None,
    accelerator: Accelerator | str | None = None,
    gpu_f32: bool = False,
    input_shape: Sequence[int] | str | None = None,
    inputs_dir: str | Path | None = None,
    runtime: RuntimeName | str | None = None,
    timeout: float = 300.0,
    per_op: bool = False,
    remote: str | None = None,
    ssh: SshSettings | None = None,
) -> list[Measurement]:
    """Measure several models, in order, with the same settings (see :func:`profile`).

    With ``remote="user@host[:port]"`` the models are copied over SSH and measured there.
    ``gpu_f32``: the GPU accelerator computes in float32 rather than its default float16.
    ``per_op``: also time each op alone (``Measurement.per_op``). ``input_shape`` sizes
    dynamic inputs (see analyze.shapes).
    """
    from edgekit.analyze import read_model
    from edgekit.analyze.shapes import parse_shape

    paths = list(models)
    if remote:
        RemoteHost.parse(remote)  # a malformed user@host fails before anything is read
    for path in paths:
        read_model(path)  # not a .tflite: ModelFormatError, before any child starts
    base = ProfileOptions() if target is None else ProfileOptions.from_target(load_target(target))
    given = {"threads": threads, "warmup": warmup, "runs": runs, "delegate": delegate, "device": device,
             "accelerator": _choice(Accelerator, accelerator, "accelerator")}
    shape = parse_shape(input_shape)
    options = dataclasses.replace(
        base, **{k: v for k, v in given.items() if v is not None}, duration=duration,
        input_shape=shape, inputs_dir=str(inputs_dir) if inputs_dir else None,
        runtime=_choice(RuntimeName, runtime, "runtime"), timeout=timeout, per_op=per_op, gpu_f32=gpu_f32,
    ).validate()
    if remote:
        return [Measurement.from_dict(r) for r in profile_remote(paths, options, remote, ssh or SshSettings())]
    return [Measurement.from_dict(_measure_here(path, options)) for path in paths]


def _choice(enum: type, value: object, name: str) -> str | None:
    """An enum member or its string, as the string the child process and the remote host take."""
    if value is None:
        return None
    try:
        return enum(str(getattr(value, "value", value))).value
    except ValueError:
        raise ConfigError(f"{name} must be one of {', '.join(m.value for m in enum)}, got {value!r}") from None


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
