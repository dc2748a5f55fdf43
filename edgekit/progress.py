"""Progress of long work (loading, epochs, conversion, evaluation), as lines on a stream."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Silent base: the Python API's ``progress=False``. Subclass to route lines elsewhere."""

    def log(self, message: str) -> None:
        pass

    def epoch(self, phase: str, epoch: int, epochs: int, **metrics: float | None) -> None:
        pass

    def count(self, what: str, done: int, total: int) -> None:
        pass


class ConsoleProgress(Progress):
    """Timestamped lines on stderr, so stdout stays free for ``--json``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._start = time.perf_counter()

    def _emit(self, text: str) -> None:
        elapsed = time.perf_counter() - self._start
        print(f"[{elapsed:7.1f}s] {text}", file=self._stream, flush=True)

    def log(self, message: str) -> None:
        self._emit(message)

    def epoch(self, phase: str, epoch: int, epochs: int, **metrics: float | None) -> None:
        shown = []
        for key, value in metrics.items():
            if value is None:
                continue
            shown.append(f"{key} {value:.1f}s" if key == "seconds" else f"{key} {value:.4f}")
        self._emit(f"{phase} epoch {epoch}/{epochs}: " + ", ".join(shown))

    def count(self, what: str, done: int, total: int) -> None:
        self._emit(f"{what}: {done}/{total}")


def resolve(progress: bool | Progress | None) -> Progress:
    if isinstance(progress, Progress):
        return progress
    return ConsoleProgress() if progress else Progress()
