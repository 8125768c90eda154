"""A hand-driven world clock (µs since the epoch) for tests that control when changes become visible."""

from __future__ import annotations

from rorsync.simulator.world.instants import MICROS_PER_SECOND, now_micros


class FakeClock:
    def __init__(self) -> None:
        self.now = now_micros() - now_micros() % 1000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * MICROS_PER_SECOND)
