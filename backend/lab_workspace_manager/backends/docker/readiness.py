"""Whether a running workspace answers HTTP yet: the difference between `pending` and `running`.

A container that has started is not a workspace a user can open: Jupyter needs a moment (or
minutes, for a big image). For each running container the tracker probes the workspace's base
URL in the background until it answers with anything below 500; status reads only look up the
result, so no request waits on a probe. The results are derived state: after a manager restart
they are simply probed again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from ...untrusted_replies import status_of

log = logging.getLogger(__name__)

# Most workspaces answer within this many seconds of starting: until then they are probed
# every `interval`, so `running` (and `?wait=true`, and the "ready" event) follows within a
# twentieth of a second of the first answer (a refused connection costs the probe little).
# Slower ones are probed less and less often.
FAST_SECONDS = 30.0
SLOWEST = 5.0  # seconds between probes at most
PROBE_SECONDS = 2.0  # for one probe, all of it


def next_delay(waited: float, delay: float, interval: float) -> float:
    """Seconds until the next probe, `waited` seconds after the container started."""
    if waited < FAST_SECONDS:
        return interval
    return min(delay * 1.5, SLOWEST)


@dataclass
class _Probe:
    container_id: str
    url: str
    started: float = field(default_factory=time.monotonic)
    ready: bool = False
    task: asyncio.Task[None] | None = None
    on_ready: Callable[[], None] | None = None


class ReadinessTracker:
    def __init__(self, timeout: float, interval: float = 0.05) -> None:
        self._timeout = timeout
        self._interval = interval
        self._probes: dict[str, _Probe] = {}
        self._client = httpx.AsyncClient(
            timeout=PROBE_SECONDS, follow_redirects=False, trust_env=False
        )

    def check(
        self, container_id: str, url: str, on_ready: Callable[[], None] | None = None
    ) -> tuple[bool, float]:
        """(answers HTTP, seconds we have been waiting); starts probing if nobody is, and
        calls `on_ready` once when it first answers."""
        probe = self._probes.get(container_id)
        if probe is None or probe.url != url:
            probe = self._probes[container_id] = _Probe(container_id, url, on_ready=on_ready)
        if not probe.ready and (probe.task is None or probe.task.done()):
            probe.task = asyncio.create_task(self._run(probe))
        return probe.ready, time.monotonic() - probe.started

    def forget(self, container_id: str) -> None:
        """The container stopped or is being replaced: its next start is probed afresh.
        (Called from worker threads too: a forgotten probe stops by itself, see `_run`.)"""
        self._probes.pop(container_id, None)

    async def _run(self, probe: _Probe) -> None:
        deadline = time.monotonic() + self._timeout
        delay = self._interval
        while time.monotonic() < deadline and self._probes.get(probe.container_id) is probe:
            # The status only: the body (the workspace's to choose) is never read.
            status = await status_of(self._client, probe.url, PROBE_SECONDS)
            if status is not None and status < 500:
                if self._probes.get(probe.container_id) is probe:
                    probe.ready = True
                    if probe.on_ready:
                        probe.on_ready()
                return
            await asyncio.sleep(delay)
            delay = next_delay(time.monotonic() - probe.started, delay, self._interval)
        log.info("workspace at %s still not answering after %.0f s", probe.url, self._timeout)

    async def close(self) -> None:
        for probe in list(self._probes.values()):
            if probe.task and not probe.task.done():
                probe.task.cancel()
        self._probes.clear()
        await self._client.aclose()
