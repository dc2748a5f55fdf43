"""The conditions a measurement was taken under, so two numbers can be compared honestly."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").replace("\x00", "").strip() or None
    except OSError:
        return None


def cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine()


def conditions() -> dict:
    """Board, CPU, governor and temperature (None where the machine does not expose them)."""
    governor = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    temperature = _read("/sys/class/thermal/thermal_zone0/temp")
    return {
        # Raspberry Pi and Coral boards name themselves in the device tree (pycoral's benchmarks do the same).
        "board": _read("/proc/device-tree/model"),
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "governor": governor,
        "temperature_c": (round(int(temperature) / 1000, 1)
                          if temperature and temperature.lstrip("-").isdigit() else None),
        "os": platform.platform(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
    }


def machine_id(system: dict | None = None) -> str:
    """Which machine ``system`` (default: this one) is: host name, CPU and cores. A
    calibration records it, so that one copied to another machine is not taken for a
    measurement there."""
    system = conditions() if system is None else system
    if not system.get("host"):
        return ""
    where = system.get("board") or system.get("cpu") or system.get("machine") or "unknown CPU"
    return f"{system['host']}, {where}, {system.get('cores')} cores"


def warnings_for(system: dict) -> list[str]:
    out = []
    governor = system.get("governor")
    if governor and governor != "performance":
        out.append(f"CPU governor is '{governor}', not 'performance': clock changes make latency vary "
                   "(set it with: echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor)")
    temperature = system.get("temperature_c")
    if temperature is not None and temperature >= 80:
        out.append(f"SoC at {temperature} C: a Raspberry Pi throttles from 80 C, so latency may be inflated")
    return out


def rss_bytes() -> tuple[int | None, int | None]:
    """(current, peak) resident memory of this process."""
    status = _read("/proc/self/status")
    if status:
        fields = {}
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        if "VmRSS" in fields:
            return fields["VmRSS"], fields.get("VmHWM")
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None, None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return None, peak if platform.system() == "Darwin" else peak * 1024
