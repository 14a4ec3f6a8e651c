"""How soon a workspace that starts answering is seen as running."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import time

import pytest

from lab_workspace_manager.backends.docker.readiness import (
    FAST_SECONDS,
    SLOWEST,
    ReadinessTracker,
    next_delay,
)


def test_probes_often_while_most_workspaces_start_then_less_often() -> None:
    assert next_delay(0.0, 0.1, 0.1) == 0.1
    assert next_delay(FAST_SECONDS - 1, 0.1, 0.1) == 0.1
    assert next_delay(FAST_SECONDS + 1, 0.1, 0.1) == pytest.approx(0.15)
    assert next_delay(FAST_SECONDS + 60, 4.0, 0.1) == SLOWEST


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.anyio
async def test_running_follows_the_first_answer_within_a_fraction_of_a_second() -> None:
    # A port nothing listens on yet; the "workspace" starts answering there after 2 s. (The
    # old schedule, 0.2 s growing by half, probed at 1.6 s and 2.6 s: 0.6 s late.)
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    server: http.server.HTTPServer | None = None
    answering_since: list[float] = []

    def start_answering() -> None:
        nonlocal server
        server = http.server.HTTPServer(("127.0.0.1", port), _Quiet)
        answering_since.append(time.monotonic())
        server.serve_forever(poll_interval=0.05)

    timer = threading.Timer(2.0, start_answering)
    timer.start()
    tracker = ReadinessTracker(timeout=30)
    try:
        seen: list[float] = []
        tracker.check("c1", f"http://127.0.0.1:{port}/", lambda: seen.append(time.monotonic()))
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert seen, "the tracker never saw the workspace answer"
        assert seen[0] - answering_since[0] < 0.45
    finally:
        timer.cancel()
        await tracker.close()
        if server is not None:
            server.shutdown()
            server.server_close()
