"""A device's cost model: per op class and type, milliseconds from MACs and bytes.

It lives in a target profile's ``[cost_model]`` section, so a ``--target`` file
inherits it from its parent like any other setting::

    [cost_model]
    source = "edgekit calibrate on raspberrypi (Raspberry Pi 4 Model B Rev 1.4), 4 threads"
    threads = 4
    invoke_ms = 0.012          # one invoke's fixed cost, paid once per inference
    band = 0.15                # the estimate's relative half-width

    [cost_model.float32.conv1x1]
    fixed_ms = 0.004           # per op
    per_mmac_ms = 0.031        # per million multiply-accumulates
    per_mb_ms = 0.22           # per megabyte of activations and weights moved
    per_mrow_ms = 0.8          # per million output rows (positions, each of all channels)
    channel_tile = 8           # output channels a kernel computes at once
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import tomli_w

from edgekit._compat import StrEnum
from edgekit.errors import OptionError
from edgekit.tables import check_fields, check_non_negative

if TYPE_CHECKING:  # ops reads models (edgekit.analyze), which reads target profiles, which hold this
    from edgekit.latency.ops import OpCost


class OpClass(StrEnum):
    CONV1X1 = "conv1x1"
    CONV = "conv"
    # Transposed convolutions (TRANSPOSE_CONV, MediaPipe's Convolution2DTransposeBias):
    # XNNPACK runs them as deconvolutions, whose cost follows the output's positions.
    TRANSPOSE_CONV = "transpose_conv"
    DEPTHWISE = "depthwise"
    FULLY_CONNECTED = "fully_connected"
    POOL = "pool"
    ELEMENTWISE = "elementwise"
    MOVEMENT = "movement"


class DType(StrEnum):
    INT8 = "int8"
    FLOAT32 = "float32"


@dataclass(frozen=True)
class Coefficients:
    fixed_ms: float = 0.0
    per_mmac_ms: float = 0.0
    per_mb_ms: float = 0.0
    # Kernels restart their inner loop over channels at every output position, so a
    # tensor of few channels costs more per element than its bytes say.
    per_mrow_ms: float = 0.0
    # GEMM kernels compute output channels in tiles (XNNPACK's NR: 8 or 16 on most CPUs),
    # so a convolution with one output channel costs as much as one with a whole tile.
    channel_tile: int = 1

    def __post_init__(self) -> None:
        check_fields(self)
        check_non_negative(self)
        if self.channel_tile < 1:
            raise OptionError("channel_tile", f"must be at least 1, got {self.channel_tile}")

    def predict(self, macs: int, moved: int, rows: int = 0, channels: int = 0) -> float:
        return (self.fixed_ms + self.per_mmac_ms * padded_macs(macs, channels, self.channel_tile) / 1e6
                + self.per_mb_ms * moved / 1e6 + self.per_mrow_ms * rows / 1e6)


def padded_macs(macs: int, channels: int, tile: int) -> float:
    """The MACs a kernel does when it computes ``channels`` outputs in whole tiles."""
    if tile <= 1 or channels <= 0:
        return float(macs)
    return macs * (-(-channels // tile) * tile) / channels


@dataclass(frozen=True)
class ClassCosts:
    """One set of coefficients per op class; a class left out borrows elementwise's, and
    transposed convolutions (added later to the suite) borrow convolutions' first."""

    conv1x1: Coefficients | None = None
    conv: Coefficients | None = None
    transpose_conv: Coefficients | None = None
    depthwise: Coefficients | None = None
    fully_connected: Coefficients | None = None
    pool: Coefficients | None = None
    elementwise: Coefficients | None = None
    movement: Coefficients | None = None

    def __post_init__(self) -> None:
        check_fields(self)

    def for_class(self, op_class: OpClass) -> Coefficients | None:
        own = getattr(self, op_class.value)
        if own is None and op_class == OpClass.TRANSPOSE_CONV:
            own = self.conv
        return own or self.elementwise


@dataclass(frozen=True)
class EdgeTpuCosts:
    """The Edge TPU: ops it runs cost MACs at its rate; parameters that do not fit its
    on-chip memory stream from the host on every inference."""

    fixed_ms: float = 0.0
    per_mmac_ms: float = 0.0
    # Parameters beyond the on-chip memory, per megabyte, per inference.
    off_chip_per_mb_ms: float = 0.0

    def __post_init__(self) -> None:
        check_fields(self)
        check_non_negative(self)


@dataclass(frozen=True)
class CostModel:
    # Where the numbers come from: a calibration run, or the published measurements cited.
    source: str = ""
    # The machine calibrated (profiler.system.machine_id): a target whose cost model was fitted
    # on this machine is measured, not estimated, by a build here.
    machine: str = ""
    threads: int = 1
    invoke_ms: float = 0.0
    # Relative half-width of the band: the fit's error on what it was fitted to.
    band: float = 0.25
    # Ops that XNNPACK runs.
    int8: ClassCosts | None = None
    float32: ClassCosts | None = None
    # Ops left on TFLite's built-in kernels (XNNPACK lacks them, or custom ops).
    builtin_int8: ClassCosts | None = None
    builtin_float32: ClassCosts | None = None
    edgetpu: EdgeTpuCosts | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        if self.threads < 1:
            raise OptionError("threads", f"must be at least 1, got {self.threads}")
        check_non_negative(self)
        if self.band >= 1:
            raise OptionError("band", f"must be below 1 (a relative half-width), got {self.band}")
        if all(getattr(self, name) is None for name in _SECTIONS + ("edgetpu",)):
            raise OptionError("", "has no coefficients: give [cost_model.int8], [cost_model.float32] or "
                                  "[cost_model.edgetpu]")

    def coefficients(self, dtype: DType, op_class: OpClass, builtin: bool = False) -> Coefficients | None:
        """The coefficients for an op, in order of preference: its own kernel path and
        type, the other path, the other type (the estimate labels what it borrowed)."""
        for costs in self._preference(dtype, builtin):
            if costs is not None and costs.for_class(op_class) is not None:
                return costs.for_class(op_class)
        return None

    def borrows(self, dtype: DType, builtin: bool = False) -> bool:
        return self._preference(dtype, builtin)[0] is None

    def calibrated_here(self) -> bool:
        """Fitted by ``edgekit calibrate`` on this very machine."""
        from edgekit.profiler.system import machine_id

        return bool(self.machine) and self.machine == machine_id()

    def predict(self, op: "OpCost", builtin: bool = False) -> float | None:
        coefficients = self.coefficients(op.dtype, op.op_class, builtin)
        return None if coefficients is None else coefficients.predict(op.macs, op.bytes, op.rows, op.channels)

    def _preference(self, dtype: DType, builtin: bool) -> list:
        fast = {DType.INT8: self.int8, DType.FLOAT32: self.float32}
        slow = {DType.INT8: self.builtin_int8, DType.FLOAT32: self.builtin_float32}
        other = DType.FLOAT32 if dtype == DType.INT8 else DType.INT8
        first, second = (slow, fast) if builtin else (fast, slow)
        return [first[dtype], second[dtype], first[other], second[other]]


_SECTIONS = ("int8", "float32", "builtin_int8", "builtin_float32")


def to_toml(model: CostModel) -> str:
    """The ``[cost_model]`` section, with every coefficient, for a target profile file."""
    lines = ["[cost_model]", tomli_w.dumps({"source": model.source}).rstrip(),
             *([tomli_w.dumps({"machine": model.machine}).rstrip()] if model.machine else []),
             f"threads = {model.threads}",
             f"invoke_ms = {model.invoke_ms:.6g}", f"band = {model.band:.3g}"]
    for dtype in _SECTIONS:
        costs = getattr(model, dtype)
        if costs is None:
            continue
        for op_class in OpClass:
            c = getattr(costs, op_class.value)
            if c is None:
                continue
            lines += ["", f"[cost_model.{dtype}.{op_class.value}]", f"fixed_ms = {c.fixed_ms:.6g}",
                      f"per_mmac_ms = {c.per_mmac_ms:.6g}", f"per_mb_ms = {c.per_mb_ms:.6g}",
                      f"per_mrow_ms = {c.per_mrow_ms:.6g}", f"channel_tile = {c.channel_tile}"]
    if model.edgetpu is not None:
        e = model.edgetpu
        lines += ["", "[cost_model.edgetpu]", f"fixed_ms = {e.fixed_ms:.6g}", f"per_mmac_ms = {e.per_mmac_ms:.6g}",
                  f"off_chip_per_mb_ms = {e.off_chip_per_mb_ms:.6g}"]
    return "\n".join(lines) + "\n"
