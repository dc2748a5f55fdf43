"""Target profiles: what a device needs from the converter, its limits, and how to profile it.

Profiles are data (``targets/*.toml``, shipped inside the wheel as ``edgekit.targets``)
loaded into frozen dataclasses. Unknown keys and wrong types are rejected with the
file and key named, so a typo in a board file never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from edgekit._compat import StrEnum, tomllib
from edgekit.errors import ConfigError
from edgekit.latency.cost_model import CostModel
from edgekit.tables import check_fields, check_non_negative, from_table


class TargetKind(StrEnum):
    """Which converter backend and checker a profile selects."""

    CPU = "cpu"
    GPU = "gpu"
    EDGETPU = "edgetpu"


class Quantization(StrEnum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    DYNAMIC_RANGE = "dynamic"
    INT8 = "int8"
    # int16 activations, int8 weights: far closer to the float model than int8 where
    # int8's rounding adds up, but on TFLite's built-in kernels (XNNPACK has no int16
    # activations) and with float input and output.
    INT16X8 = "int16x8"

    @property
    def calibrated(self) -> bool:
        """Full-integer schemes: activation ranges come from representative samples."""
        return self in (Quantization.INT8, Quantization.INT16X8)


class TensorType(StrEnum):
    FLOAT32 = "float32"
    INT8 = "int8"
    UINT8 = "uint8"


@dataclass(frozen=True)
class ConvertSettings:
    quantization: Quantization = Quantization.FLOAT32
    input_type: TensorType = TensorType.FLOAT32
    output_type: TensorType = TensorType.FLOAT32
    # Calibration images drawn from the training split for full-integer quantisation.
    representative_samples: int = 200
    # Let int8 conversion keep float kernels for ops without an int8 one.
    allow_float_ops: bool = False

    def __post_init__(self) -> None:
        check_fields(self)
        check_non_negative(self)


@dataclass(frozen=True)
class Limits:
    # 0 keeps a dynamic batch dimension; accelerators need a fixed one.
    batch_size: int = 1
    max_model_bytes: int | None = None
    # Edge TPU: SRAM that caches parameters; what does not fit streams from the host.
    on_chip_memory_bytes: int | None = None
    # Edge TPU: the runtime (libedgetpu) version on the board; the compiler's -m.
    edgetpu_runtime: int | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        check_non_negative(self)


@dataclass(frozen=True)
class ProfileSettings:
    threads: int = 1
    warmup: int = 10
    runs: int = 100
    delegate: str | None = None
    # Which delegate device: usb, usb:N, pci:N for the Edge TPU.
    device: str | None = None
    accelerator: str | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        check_non_negative(self)


@dataclass(frozen=True)
class TargetProfile:
    id: str
    kind: TargetKind
    description: str = ""
    inherits: str | None = None
    convert: ConvertSettings = field(default_factory=ConvertSettings)
    limits: Limits = field(default_factory=Limits)
    profile: ProfileSettings = field(default_factory=ProfileSettings)
    # What ops cost on this device (edgekit calibrate, or fitted to published figures).
    cost_model: CostModel | None = None
    # Where the profile was read from; not a TOML key.
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def shipped(self) -> bool:
        """Read from the profiles inside edgekit, so its id alone names it."""
        return self.source.startswith(_SHIPPED_PREFIX)


_NOT_KEYS = {"source"}
# targets/ at the top of the repository, mapped into the wheel under this name.
_PACKAGE = "edgekit._target_files"
# How a shipped profile's source reads; a user's file at targets/x.toml is not one.
_SHIPPED_PREFIX = "edgekit:targets/"


def shipped_targets() -> list[str]:
    """Ids of the profiles shipped with edgekit, sorted."""
    folder = resources.files(_PACKAGE)
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_target(target: str | Path | TargetProfile) -> TargetProfile:
    """Load a profile by shipped id (``"edgetpu"``) or from a ``.toml`` file path."""
    if isinstance(target, TargetProfile):
        return target
    table, source = _read_with_parents(str(target), seen=())
    # A profile file without an id is named after the file, as shipped ones are.
    table.setdefault("id", Path(source).stem)
    try:
        profile = from_table(TargetProfile, table, skip=_NOT_KEYS)
    except ConfigError as exc:
        raise ConfigError(f"target profile {source}: {exc}") from None
    return dataclasses.replace(profile, source=source)


def _locate(name: str, relative_to: Path | None) -> tuple[str, bytes]:
    looks_like_path = name.endswith(".toml") or "/" in name or "\\" in name
    if looks_like_path:
        path = Path(name).expanduser()
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.is_file():
            raise ConfigError(f"target profile {path}: no such file")
        return str(path), path.read_bytes()
    resource = resources.files(_PACKAGE) / f"{name}.toml"
    if not resource.is_file():
        known = ", ".join(shipped_targets())
        raise ConfigError(f"unknown target {name!r}: use one of {known}, or a path to a .toml file")
    return f"{_SHIPPED_PREFIX}{name}.toml", resource.read_bytes()


def _read_with_parents(name: str, seen: tuple[str, ...], relative_to: Path | None = None) -> tuple[dict, str]:
    source, raw = _locate(name, relative_to)
    if source in seen:
        raise ConfigError(f"target profile {source}: 'inherits' forms a cycle: {' -> '.join(seen + (source,))}")
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"target profile {source}: not valid TOML: {exc}") from None
    parent_name = table.get("inherits")
    if parent_name is None:
        return table, source
    if not isinstance(parent_name, str):
        raise ConfigError(f"target profile {source}: key 'inherits' must be a string")
    here = Path(source).parent if Path(source).is_file() else None
    try:
        parent, _ = _read_with_parents(parent_name, seen + (source,), here)
    except ConfigError as exc:
        raise ConfigError(f"target profile {source}: parent {parent_name!r}: {exc}") from None
    return _merge(parent, table), source


def _merge(parent: dict, child: dict) -> dict:
    merged = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(parent.get(key), dict):
            merged[key] = _merge(parent[key], value)
        else:
            merged[key] = value
    # id and description describe the child alone: a child without an id is not its parent.
    for key in ("id", "description"):
        if key not in child:
            merged.pop(key, None)
    return merged
