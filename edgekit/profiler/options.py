"""How to profile: one frozen record, passed as JSON to the child process and to a remote host."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from edgekit._compat import StrEnum
from edgekit.errors import ConfigError
from edgekit.targets import ProfileSettings


class Accelerator(StrEnum):
    """LiteRT's CompiledModel hardware accelerators."""

    CPU = "cpu"
    GPU = "gpu"
    NPU = "npu"


ACCELERATORS = tuple(a.value for a in Accelerator)


@dataclass(frozen=True)
class ProfileOptions(ProfileSettings):
    """A target's [profile] settings (threads, warm-up, runs, delegate, device, accelerator:
    targets.ProfileSettings, defined there once), plus what one measurement adds."""

    # Run for this many seconds instead of a fixed number of runs (at least one run).
    duration: float | None = None
    # The GPU accelerator in float32 arithmetic (GpuOptions.enforce_f32). Its default float16
    # arithmetic was measured losing basic-pitch's outputs entirely (tools/bench_gpu_accuracy.py).
    gpu_f32: bool = False
    # Concrete shape for dynamic inputs, e.g. (1, 16000); without it only a dynamic batch is
    # allowed, taken as 1 (analyze.shapes).
    input_shape: tuple[int, ...] | None = None
    # A folder of images fed as inputs instead of random values.
    inputs_dir: str | None = None
    # Force a runtime: ai_edge_litert, tflite_runtime or tensorflow.
    runtime: str | None = None
    # Seconds before a hung load or run is killed.
    timeout: float = 300.0
    seed: int = 0
    # Also time each op alone (profiler.per_op).
    per_op: bool = False

    def validate(self) -> "ProfileOptions":
        if self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")
        if self.runs < 1 or self.warmup < 0:
            raise ConfigError(f"runs must be at least 1 and warmup not negative, got {self.runs} and {self.warmup}")
        if self.duration is not None and self.duration <= 0:
            raise ConfigError(f"duration must be positive, got {self.duration}")
        if self.accelerator is not None and self.accelerator not in ACCELERATORS:
            raise ConfigError(f"accelerator must be one of {', '.join(ACCELERATORS)}, got {self.accelerator!r}")
        if self.gpu_f32 and self.accelerator != "gpu":
            raise ConfigError("--gpu-f32 applies to the GPU accelerator: add --accelerator gpu")
        if self.accelerator and self.delegate:
            raise ConfigError("choose either a delegate (Interpreter API) or an accelerator (CompiledModel API)")
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {self.timeout}")
        return self

    @classmethod
    def from_target(cls, target: Any) -> "ProfileOptions":
        """The settings of a target profile's ``[profile]`` section."""
        return cls(**dataclasses.asdict(target.profile))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ProfileOptions":
        data = dict(data)
        if data.get("input_shape") is not None:
            data["input_shape"] = tuple(int(d) for d in data["input_shape"])
        return cls(**data)
