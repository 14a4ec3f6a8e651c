"""Reading a workspace's replies within bounds (untrusted_replies), against a real local server
that answers as a hostile workspace may: endlessly, hugely, slowly, or with nonsense."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from lab_workspace_manager.policies.idle import _activities
from lab_workspace_manager.untrusted_replies import body_of, status_of

pytestmark = pytest.mark.anyio

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    path = request.split(b" ")[1]
    try:
        if path == b"/endless":
            writer.write(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
            while True:
                writer.write(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")
                await writer.drain()
        elif path == b"/slow":
            writer.write(HEAD + b"Content-Length: 10\r\n\r\n[")
            await writer.drain()
            await asyncio.sleep(30)
        else:
            body = b'[{"execution_state": "idle", "last_activity": "2026-01-01T00:00:00Z"}]'
            writer.write(HEAD + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[str]:
    listening = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}"
        listening.close()


async def test_an_endless_or_slow_reply_is_cut_off_within_its_time(server: str) -> None:
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        assert await body_of(client, server + "/endless", 5, max_bytes=1_000_000) is None
        assert time.monotonic() - started < 5  # stopped at the size limit, not the deadline
        started = time.monotonic()
        assert await body_of(client, server + "/slow", 1) is None
        assert time.monotonic() - started < 3
        assert await body_of(client, server + "/ok", 5) is not None
        # The readiness probe: the status, without reading an endless body.
        started = time.monotonic()
        assert await status_of(client, server + "/endless", 5) == 200
        assert time.monotonic() - started < 2
        assert await status_of(client, "http://127.0.0.1:9/", 1) is None


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"a": 1}', b"[1, 2]", b'"text"', b"", b'[{"last_activity": 7}]', None],
)
def test_nonsense_from_jupyter_is_no_activity(body: bytes | None) -> None:
    assert all(last is None and not busy for busy, last in _activities(body))


def test_jupyters_answer_is_read() -> None:
    body = b'[{"execution_state": "busy", "last_activity": "2026-12-01T10:00:00Z"}, {}]'
    (busy, last), (idle, none) = _activities(body)
    assert busy and last == 1796119200.0
    assert not idle and none is None
