"""The table: one row per measure, and benchmarks/results.md."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"
HEADER = ("measure", "manager", "raw engine", "ratio", "goal", "result")


@dataclass
class Row:
    measure: str
    manager: str
    raw: str = "—"
    ratio: str = "—"
    goal: str = "—"
    passed: bool | None = None  # None: no goal to meet

    def cells(self) -> tuple[str, ...]:
        result = "—" if self.passed is None else ("pass" if self.passed else "**miss**")
        return (self.measure, self.manager, self.raw, self.ratio, self.goal, result)


def table(rows: list[Row]) -> str:
    """A Markdown table, readable as plain text too."""
    lines = [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in [HEADER, *lines]) for i in range(len(HEADER))]

    def format_line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([format_line(HEADER), rule, *map(format_line, lines)])


def _output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


LOAD_AT_START = os.getloadavg()


def machine() -> list[str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    load = os.getloadavg()
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- commit: {_output('git', 'rev-parse', '--short', 'HEAD')}",
        f"- machine: {os.cpu_count()} cores ({cpu}), {memory_kb / 1024**2:.0f} GiB memory, "
        f"{platform.system()} {platform.release()}",
        f"- Docker engine: {_output('docker', 'version', '--format', '{{.Server.Version}}')}",
        f"- load average (1, 5, 15 min) at the start: "
        f"{' '.join(f'{x:.2f}' for x in LOAD_AT_START)}; at the end: "
        f"{' '.join(f'{x:.2f}' for x in load)}",
    ]


def write_results(rows: list[Row], notes: list[str], heading: str, command: str) -> str:
    text = "\n".join(
        [
            f"# Benchmark results: {heading}",
            "",
            f"`{command}`",
            "",
            table(rows),
            "",
            *notes,
            "",
            "Machine:",
            "",
            *machine(),
            "",
        ]
    )
    RESULTS.write_text(text)
    return text
