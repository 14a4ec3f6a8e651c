"""Measuring helpers: statistics, the HTTP readiness probe, and wrk."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

import httpx

PROBE_INTERVAL = 0.02  # seconds between readiness probes: the resolution of "time to ready"


def median_spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def wait_answers(url: str, headers: dict[str, str] | None = None, timeout: float = 180) -> float:
    """Poll `url` until it answers 200; the monotonic time it first did. The same probe is used
    for the manager's proxy and for a raw container, so both sides are measured alike."""
    deadline = time.monotonic() + timeout
    with httpx.Client(headers=headers, timeout=5, trust_env=False) as client:
        while True:
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
            time.sleep(PROBE_INTERVAL)


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors plus non-2xx/3xx answers


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """The numbers of `wrk --latency` output."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M))
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s+(\d+) requests in", output, re.M)
    if not (rate and total and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        requests=int(total.group(1)),
        errors=errors,
    )


def wrk(
    url: str,
    seconds: float,
    connections: int,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    authorizations: list[str] | None = None,
) -> WrkResult:
    """`authorizations`: Authorization headers to take turns with, request by request, so
    that nginx's per-caller limit (API_RATE_LIMIT) does not cap what is measured."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (Debian's package)")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if authorizations:
            quoted = ", ".join(json.dumps(a) for a in authorizations)
            script.write(
                f"local turns = {{{quoted}}}\n"
                "local n = 0\n"
                "request = function()\n"
                "  n = n + 1\n"
                '  wrk.headers["Authorization"] = turns[(n % #turns) + 1]\n'
                "  return wrk.format()\n"
                "end\n"
            )
            script.flush()
            command += ["-s", script.name]
        done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)
