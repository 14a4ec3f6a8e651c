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

    def take(self, key: str) -> bool:
        """Take one for `key` if there is one left."""
        now = time.monotonic()
        level, at = self._levels.get(key, (self._burst, now))
        level = min(self._burst, level + (now - at) * self._rate)
        allowed = level >= 1
        self._levels[key] = (level - 1 if allowed else level, now)
        self._levels.move_to_end(key)
        while len(self._levels) > self._keys:
            self._levels.popitem(last=False)
        return allowed
