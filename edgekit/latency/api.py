"""``calibrate()``: measure a device (here or over SSH), fit its cost model, write a profile."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomli_w

from edgekit.errors import ConfigError, ProfileError
from edgekit.files import atomic_file
from edgekit.latency.cost_model import to_toml
from edgekit.latency.suite import Fit, fit, measure_suite, suite
from edgekit.progress import Progress
from edgekit.targets import load_target


@dataclass(frozen=True)
class Calibration:
    measured: dict  # runtime, threads, invoke_ms and one row per micro-benchmark
    fit: Fit
    host: str
    system: dict

    @property
    def median_error(self) -> float:
        return float(np.median(np.abs(list(self.fit.errors.values()))))

    @property
    def worst_error(self) -> float:
        return float(np.max(np.abs(list(self.fit.errors.values()))))

    def to_dict(self) -> dict:
        return {"host": self.host, "system": self.system, "measured": self.measured,
                "leave_one_out_errors": self.fit.errors, "median_error": self.median_error,
                "worst_error": self.worst_error, "cost_model": dataclasses.asdict(self.fit.model)}


def calibrate(*, threads: int = 1, quick: bool = False, remote: str | None = None, ssh=None,
              runtime: str | None = None, timeout: float = 900.0,
              progress: bool | Progress = False) -> Calibration:
    """Time the micro-benchmark suite with ``threads`` threads, here or on ``remote``
    (``user@host[:port]``, edgekit installed there), and fit the cost model.
    ``quick``: two sizes per op class instead of all (a check, not a calibration)."""
    if threads < 1:
        raise ConfigError(f"threads must be at least 1, got {threads}")
    if remote is None:
        from edgekit.profiler.system import conditions

        measured = measure_suite(suite(limit=2 if quick else None), threads, runtime, progress)
        system, host = conditions(), "this machine"
    else:
        from edgekit.profiler.remote import SshSettings, run_remote

        args = ["calibrate", "--print-measurements", "--threads", str(threads)] + (["--quick"] if quick else [])
        out, host = run_remote(args, remote, ssh or SshSettings(), what="calibrate", timeout=timeout)
        try:
            answer = json.loads(out)
        except json.JSONDecodeError:
            raise ProfileError(f"{remote}: calibrate answered {out.strip()[:100]!r}") from None
        measured, system = answer["measured"], answer["system"]
    where = system.get("board") or system.get("cpu") or system.get("machine") or "unknown CPU"
    date = _dt.date.today().isoformat()
    source = (f"edgekit calibrate on {host} ({where}), {measured['runtime']}, {threads} thread(s), "
              f"{len(measured['rows'])} micro-benchmarks, {date}")
    from edgekit.profiler.system import machine_id

    fitted = fit(measured, source)
    fitted = dataclasses.replace(fitted, model=dataclasses.replace(fitted.model, machine=machine_id(system)))
    return Calibration(measured, fitted, host, system)


def write_profile(calibration: Calibration, out: str | Path, *, profile_id: str | None = None,
                  inherits: str = "cpu", description: str | None = None) -> Path:
    """A target profile file: ``inherits`` a profile (conversion and checks from it) and
    holds the fitted ``[cost_model]``; written whole or not at all."""
    out = Path(out)
    load_target(inherits)  # a parent that does not load would make the file unusable
    profile_id = profile_id or out.stem
    where = calibration.system.get("board") or calibration.system.get("cpu") or calibration.host
    threads = calibration.measured["threads"]
    lines = [
        f"# Written by edgekit calibrate: {len(calibration.measured['rows'])} micro-benchmarks timed on",
        f"# {calibration.host} ({where}). Leave-one-out error of the fit: median "
        f"{calibration.median_error:.1%}, worst {calibration.worst_error:.1%}.",
        tomli_w.dumps({"id": profile_id, "inherits": inherits,
                       "description": description or f"{where}, calibrated with {threads} thread(s)"}).rstrip(),
        "",
        "[profile]",
        f"threads = {threads}",
        "",
        to_toml(calibration.fit.model),
    ]
    with atomic_file(out, suffix=".toml") as partial:
        partial.write_text("\n".join(lines), encoding="utf-8")
        # Read back as --target will read it (inherits resolves beside the file).
        load_target(str(partial))
    return out
