"""Asking a workspace something. Its owner is root in it and controls every byte of its replies:
a reply may be slow, endless, huge or nonsense. What is read from a workspace is read here, with
a deadline for the whole exchange and a limit on the bytes kept."""

from __future__ import annotations

import asyncio

import httpx

MAX_REPLY_BYTES = 1024 * 1024


async def status_of(client: httpx.AsyncClient, url: str, seconds: float) -> int | None:
    """The status a GET of `url` answers with, without reading the body; None if there is
    none within `seconds`."""

    async def ask() -> int:
        async with client.stream("GET", url) as response:
            return response.status_code

    try:
        return await asyncio.wait_for(ask(), seconds)
    except (httpx.HTTPError, TimeoutError):
        return None


async def body_of(
    client: httpx.AsyncClient, url: str, seconds: float, max_bytes: int = MAX_REPLY_BYTES
) -> bytes | None:
    """The body of a 200 reply to a GET of `url`; None for any other status, no answer within
    `seconds`, or a body longer than `max_bytes`."""

    async def ask() -> bytes | None:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                return None
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > max_bytes:
                    return None
            return bytes(body)

    try:
        return await asyncio.wait_for(ask(), seconds)
    except (httpx.HTTPError, TimeoutError):
        return None
