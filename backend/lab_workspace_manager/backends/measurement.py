"""What a backend measured of one workspace."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    """Raw numbers for one workspace; None where not measured this time."""

    cpu_percent: float | None = None  # % of one CPU, as `docker stats`
    memory_used: int | None = None  # MB
    volume_used: int | None = None  # MB
    container_used: int | None = None  # MB
    # The sizes (MB) the engine itself holds them to; None where only measured.
    volume_hard_limit: int | None = None
    container_hard_limit: int | None = None
    # Why nothing could be measured ("" when it was): said to the user instead of zeros.
    not_measured: str = ""
