"""Wall time of each named step of an action, for its report."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class Timings:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block under ``name``; a step entered twice adds up."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def rounded(self) -> dict[str, float]:
        return {name: round(seconds, 2) for name, seconds in self.seconds.items()}

    def wall(self) -> float:
        return round(time.perf_counter() - self.started, 2)
