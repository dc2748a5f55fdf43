"""report.json read into typed, frozen objects: the one place that knows its keys.

The HTML pages (build_page, convert_page, sections) read these objects' fields, never
the JSON's keys, so a renamed key breaks here, in one reader, with the key named
(``write_html`` turns a KeyError into one line). Figures take plain sequences, which
the objects hand them (``Kernel.plain``, ``Validation.per_class``...).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Port:
    """One input or output of the .tflite."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @classmethod
    def read(cls, d: dict) -> "Port":
        return cls(d["name"], d["dtype"], tuple(d["shape"]), float(d["scale"]), int(d["zero_point"]))


@dataclass(frozen=True)
class Tflite:
    bytes: int
    gzip_bytes: int
    quantization: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    # A build's: the .tflite's validation accuracy, agreement and how many images it ran on.
    accuracy: float | None = None
    agreement: float | None = None
    evaluated_on: int | None = None

    @classmethod
    def read(cls, d: dict) -> "Tflite":
        return cls(d["bytes"], d["gzip_bytes"], d["quantization"], tuple(Port.read(p) for p in d.get("inputs", [])),
                   tuple(Port.read(p) for p in d.get("outputs", [])), d.get("accuracy"), d.get("agreement"),
                   d.get("evaluated_on"))


@dataclass(frozen=True)
class Change:
    """Validation accuracy before and after one step, against the model the step was given."""

    step: str
    before: float
    after: float
    drop: float
    limit: float | None

    @classmethod
    def read(cls, d: dict) -> "Change":
        return cls(d["step"], d["before"], d["after"], d["drop"], d.get("limit"))


@dataclass(frozen=True)
class Size:
    """A Keras model's weights in float32: bytes, and bytes after gzip -9."""

    bytes: int | None
    gzip_bytes: int | None

    @classmethod
    def read(cls, d: dict | None) -> "Size | None":
        return cls(d.get("bytes"), d.get("gzip_bytes")) if d else None


@dataclass(frozen=True)
class Phase:
    """A training phase or an optimisation stage, epoch by epoch."""

    name: str
    epochs_run: int
    epochs_max: int
    best_epoch: int
    learning_rate: float
    # None in a refit, which holds no images out.
    val_accuracy: float | None
    seconds: float
    history: dict
    # A stage's weights, when it has its own.
    weights: Size | None = None

    @classmethod
    def read(cls, d: dict, *, stage: bool = False) -> "Phase":
        return cls(f"stage {d['name']}" if stage else d["name"], d["epochs_run"], d["epochs"] if stage
                   else d["epochs_max"], d["best_epoch"], d["learning_rate"], d["val_accuracy"], d["seconds"],
                   d.get("history") or {}, Size.read(d.get("weights")) if stage else None)

    def segment(self) -> dict:
        """What plots.training_curves draws of it."""
        return {"name": self.name, "history": self.history, "best_epoch": self.best_epoch,
                "epochs_run": self.epochs_run, "epochs_max": self.epochs_max}


@dataclass(frozen=True)
class Mistake:
    image: str | None
    true: str
    predicted: str
    score: float
    source: str | None

    @classmethod
    def read(cls, d: dict) -> "Mistake":
        return cls(d.get("image"), d["true"], d["predicted"], d["score"], d.get("source"))


@dataclass(frozen=True)
class Validation:
    errors: int
    confusion: tuple
    per_class: dict
    mistakes: tuple[Mistake, ...]

    @classmethod
    def read(cls, d: dict | None) -> "Validation | None":
        if not d:
            return None
        return cls(d["errors"], tuple(d["confusion"]), d["per_class"], tuple(Mistake.read(m) for m in d["mistakes"]))


@dataclass(frozen=True)
class Kernel:
    """One convolution or dense kernel of the .tflite: its zeros and distinct values."""

    op_index: int
    layer: str | None
    tensor: str
    shape: tuple[int, ...]
    dtype: str
    zero_fraction: float
    distinct_values: int
    max_distinct_per_channel: int | None
    plain: dict

    @classmethod
    def read(cls, d: dict) -> "Kernel":
        return cls(d["op_index"], d.get("layer"), d["tensor"], tuple(d["shape"]), d["dtype"], d["zero_fraction"],
                   d["distinct_values"], d.get("max_distinct_per_channel"), d)


@dataclass(frozen=True)
class Op:
    subgraph: int
    index: int
    opcode: str
    placement: str
    layer: str | None
    reason: str | None
    macs: int | None
    detail: str | None
    follows_fallback: bool

    @classmethod
    def read(cls, d: dict) -> "Op":
        return cls(d["subgraph"], d["index"], d["opcode"], d["placement"], d.get("layer"), d.get("reason"),
                   d.get("macs"), d.get("detail"), bool(d.get("follows_fallback")))


@dataclass(frozen=True)
class Check:
    target: str
    ops: tuple[Op, ...]
    fully_supported: bool
    model_issues: tuple[str, ...]
    notes: tuple[str, ...]
    compiler: dict | None

    @classmethod
    def read(cls, d: dict) -> "Check":
        return cls(d["target"], tuple(Op.read(op) for op in d["ops"]), bool(d.get("fully_supported")),
                   tuple(d.get("model_issues", [])), tuple(d.get("notes", [])), d.get("compiler"))

    def on_target(self) -> int:
        return sum(op.placement == "target" for op in self.ops)


@dataclass(frozen=True)
class Estimated:
    target: str
    estimated_ms: float
    low_ms: float
    high_ms: float
    source: str
    left_out: int
    op_count: int

    @classmethod
    def read(cls, d: dict | None) -> "Estimated | None":
        if not d:
            return None
        return cls(d["target"], d["estimated_ms"], d["low_ms"], d["high_ms"], d["source"], d.get("left_out") or 0,
                   len(d.get("ops", [])))


@dataclass(frozen=True)
class Latency:
    """A build's latency step: measured on the build machine, and the target's estimate."""

    measured_on: str
    p50_ms: float
    threads: int
    estimate: Estimated | None
    # Each op timed alone (profiler.per_op's result, which its explain() reads), or why not.
    per_op_error: str | None
    per_op_ops: tuple
    per_op: dict

    @classmethod
    def read(cls, d: dict | None) -> "Latency | None":
        if not d:
            return None
        per_op = d.get("per_op") or {}
        return cls(d["measured_on"], d["p50_ms"], d["threads"], Estimated.read(d.get("estimate")),
                   per_op.get("error"), tuple(per_op.get("ops") or ()), per_op)


@dataclass(frozen=True)
class Provenance:
    edgekit_version: str
    created: str
    wall_seconds: float
    timings: dict
    versions: dict

    @classmethod
    def read(cls, d: dict) -> "Provenance":
        return cls(d.get("edgekit_version", "?"), d.get("created", "?"), d.get("wall_seconds", 0.0),
                   d.get("timings_seconds") or {}, d.get("versions") or {})


@dataclass(frozen=True)
class OutputCheck:
    """The verification of one output against the model it was converted from."""

    name: str
    snr_db: float
    cosine: float
    max_abs_error: float
    mean_abs_error: float
    top1_agreement: float | None

    @classmethod
    def read(cls, d: dict) -> "OutputCheck":
        return cls(d["name"], d["snr_db"], d["cosine"], d["max_abs_error"], d["mean_abs_error"], d["top1_agreement"])


@dataclass(frozen=True)
class Shared:
    """What every action's report holds (report.header)."""

    target_id: str
    tflite: Tflite
    outputs: tuple[OutputCheck, ...]
    min_snr_db: float | None
    kernels: tuple[Kernel, ...]
    check: Check
    provenance: Provenance

    @classmethod
    def read(cls, d: dict) -> "Shared":
        verification = d.get("verification") or {}
        return cls(d["target"]["id"], Tflite.read(d["tflite"]),
                   tuple(OutputCheck.read(o) for o in verification.get("outputs", [])),
                   verification.get("min_snr_db"), tuple(Kernel.read(k) for k in d.get("weights", [])),
                   Check.read(d["check"]), Provenance.read(d))


@dataclass(frozen=True)
class BuildReport:
    shared: Shared
    source: str
    classes: tuple[str, ...]
    train_images: int
    validation_images: int
    backbone: str
    weights: str
    input_size: tuple[int, int]
    keras_accuracy: float
    # The float model's weights, when recorded.
    keras_weights: Size | None
    changes: tuple[Change, ...]
    phases: tuple[Phase, ...]
    stages: tuple[Phase, ...]
    validation: Validation | None
    latency: Latency | None
    refit: Refit | None = None


@dataclass(frozen=True)
class Refit:
    """A model refit on every image, with its first run's held-out figures."""

    images: int
    held_out_images: int
    keras_accuracy: float
    staged_accuracy: float
    tflite_accuracy: float
    source: str
    shipped_measured_on: str

    @classmethod
    def read(cls, d: dict | None) -> "Refit | None":
        if not d:
            return None
        held = d["held_out"]
        return cls(d["images"], held["images"], held["keras_accuracy"], held["staged_accuracy"],
                   held["tflite_accuracy"], held["source"], d["shipped_measured_on"])


@dataclass(frozen=True)
class Calibration:
    verified_on: int
    data: str
    calibrated_on: int


@dataclass(frozen=True)
class BiasCorrection:
    corrected: int
    weight_ops: int
    samples: int

    @classmethod
    def read(cls, d: dict | None) -> "BiasCorrection | None":
        return cls(d["corrected"], d["weight_ops"], d["samples"]) if d else None


@dataclass(frozen=True)
class FloatFrontEnd:
    float_ops: int
    ops: int
    log_ops: int

    @classmethod
    def read(cls, d: dict | None) -> "FloatFrontEnd | None":
        return cls(d["float_ops"], d["ops"], d["log_ops"]) if d else None


@dataclass(frozen=True)
class ConvertReport:
    shared: Shared
    source_path: str
    source_kind: str
    source_inputs: tuple[tuple[str, Any], ...]
    source_outputs: tuple[tuple[str, Any], ...]
    calibration: Calibration
    # What the one conversion did, when it did it: bias correction, the float front end,
    # constants kept float32.
    bias_correction: BiasCorrection | None
    float_front_end: FloatFrontEnd | None
    float16_kept_float32: int | None


def read_build(d: dict) -> BuildReport:
    data, model, keras = d["data"], d["model"], d["keras"]
    return BuildReport(
        shared=Shared.read(d), source=data["source"], classes=tuple(data["classes"]),
        train_images=data["train_images"], validation_images=data["validation_images"],
        backbone=model["backbone"], weights=model["weights"], input_size=tuple(model["input_size"]),
        keras_accuracy=keras["accuracy"], keras_weights=Size.read(keras.get("weights")),
        changes=tuple(Change.read(c) for c in d.get("changes", [])),
        phases=tuple(Phase.read(p) for p in d["training"]["phases"]),
        stages=tuple(Phase.read(s, stage=True) for s in d.get("stages", [])),
        validation=Validation.read(d.get("validation")), latency=Latency.read(d.get("latency")),
        refit=Refit.read(d.get("refit")))


def read_convert(d: dict) -> ConvertReport:
    source, calibration = d["source"], d["calibration"]
    return ConvertReport(
        shared=Shared.read(d), source_path=source["path"], source_kind=source["kind"],
        source_inputs=tuple((p["name"], p["shape"]) for p in source["inputs"]),
        source_outputs=tuple((p["name"], p["shape"]) for p in source["outputs"]),
        calibration=Calibration(calibration["verified_on"], calibration["data"], calibration["calibrated_on"]),
        bias_correction=BiasCorrection.read(d.get("bias_correction")),
        float_front_end=FloatFrontEnd.read(d.get("float_front_end")),
        float16_kept_float32=d.get("float16_kept_float32"))


def plain(obj: Any) -> Any:
    """A typed object back as plain data, for a figure."""
    return dataclasses.asdict(obj)
