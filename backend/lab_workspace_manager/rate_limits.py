"""Token buckets by key: at most `burst` at once, refilled at `per_second`, for a bounded
number of keys (the least recently used are forgotten, which only ever makes a key freer)."""

from __future__ import annotations

import time
from collections import OrderedDict


class Buckets:
    def __init__(self, burst: float, per_second: float, keys: int = 10_000) -> None:
        self._burst = burst
        self._rate = per_second
        self._keys = keys
        self._levels: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (level, at)

    def left(self, key: str) -> bool:
        """Whether `key` has one left (nothing is taken)."""
        return self._level(key, time.monotonic()) >= 1

    def take(self, key: str) -> None:
        """Take one for `key` (to zero at least)."""
        now = time.monotonic()
        self._levels[key] = (max(0.0, self._level(key, now) - 1), now)
        self._levels.move_to_end(key)
        while len(self._levels) > self._keys:
            self._levels.popitem(last=False)

    def _level(self, key: str, now: float) -> float:
        level, at = self._levels.get(key, (self._burst, now))
        return min(self._burst, level + (now - at) * self._rate)
