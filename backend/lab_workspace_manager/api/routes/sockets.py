"""A workspace's WebSockets (Jupyter's kernels and terminals), bridged here rather than by nginx,
so that they end when the access they were opened with ends.

nginx checks every HTTP request, but a WebSocket is checked once, when it opens, and may then
stay open for hours. Every socket bridged here is remembered with the credentials it was opened
with, and every `RECHECK_SECONDS` each is checked again as a new request would be: the token
still valid (not revoked or expired), the workspace still running and still the caller's to
open. One that fails is closed (code 1008, with the reason). That is the bound: a revoked token
or a stopped or deleted workspace ends its WebSockets within `RECHECK_SECONDS` (plus, for ML Lab
tokens, the time ML Lab's verdicts are reused: AUTH_CACHE_SECONDS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ...bridges import Bridge
from ...errors import ManagerError
from ...models import ShareAccess
from ...policies.idle import ActivityLog
from ...settings import Settings
from ..deps import ActivityDep, LocationsDep, RuntimeDep, SocketsDep
from ..origins import HOST_ONLY_PREFIX, browser_host
from .proxy import caller_of_workspace, requested_workspace

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

# Bounds, so that one user's sockets cannot take the manager's memory or its event loop: a
# message is held whole while it passes (Jupyter's own limit for messages it receives is
# 10 MiB; outputs it sends may be larger), at most one waits per direction, and a workspace
# has at most this many sockets open through the manager (a notebook uses one per kernel).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_SOCKETS_PER_WORKSPACE = 32
# What of the browser's handshake goes on to the workspace (the rest is the handshake's own,
# or the manager's credentials).
FORWARDED = ("origin", "user-agent", "x-forwarded-for")
CREDENTIAL_COOKIES = ("ct_token", "workspace_session")
POLICY_VIOLATION = 1008  # with the reason: the access it was opened with has ended


def upstream_path(uri: str, settings: Settings) -> str:
    """Where the socket goes in the workspace: the path asked for on its own origin; under the
    prefix that ML Lab strips when workspaces share the manager's origin."""
    if settings.unsafe_workspaces_on_manager_origin:
        return settings.workspace_public_prefix + uri
    return uri


def forwarded_cookies(header: str) -> str:
    """The Cookie header without the manager's credentials, under either name (`ct_token`,
    `__Host-ct_token`, ...): a workspace's root (its owner, or a user it is shared with) would
    otherwise read the sessions of everyone who opens a socket to it."""
    kept = [
        part.strip()
        for part in header.split(";")
        if part.strip()
        and part.split("=", 1)[0].strip().removeprefix(HOST_ONLY_PREFIX) not in CREDENTIAL_COOKIES
    ]
    return "; ".join(kept)


@router.websocket("/auth/workspace-socket")
async def workspace_socket(
    client: WebSocket,
    runtime: RuntimeDep,
    locations: LocationsDep,
    sockets: SocketsDep,
    activity: ActivityDep,
) -> None:
    """nginx hands every WebSocket of a workspace here (with X-Workspace-Id or, on the
    manager's origin, X-Original-URI), instead of an access check."""
    settings = runtime.settings
    try:
        workspace_id = requested_workspace(client, settings)
        caller = await caller_of_workspace(client, runtime, workspace_id)
        location = await locations.locate(workspace_id)
    except ManagerError as exc:
        log.info("a WebSocket was refused: %s", exc.message)
        await client.close(code=POLICY_VIOLATION, reason=exc.message[:120])
        return
    if location is None or not await runtime.shares.allows(
        caller.identity, location[0], workspace_id, ShareAccess.OPEN
    ):
        await client.close(
            code=POLICY_VIOLATION, reason="This workspace is not running, or it is not yours."
        )
        return
    if sockets.count(workspace_id) >= MAX_SOCKETS_PER_WORKSPACE:
        await client.close(
            code=1013,  # try again later
            reason=f"This workspace has {MAX_SOCKETS_PER_WORKSPACE} connections open: close "
            "some of its tabs or kernels.",
        )
        return
    headers = [(name, client.headers[name]) for name in FORWARDED if name in client.headers]
    if cookies := forwarded_cookies(client.headers.get("cookie", "")):
        headers.append(("cookie", cookies))
    uri = client.headers.get("x-original-uri", "/")
    protocols = client.headers.get("sec-websocket-protocol")
    # To the workspace's address, with the Host the browser used: Jupyter refuses a socket
    # whose Origin differs from its Host.
    address, _, port = location[1].rpartition(":")
    try:
        upstream = await connect(
            f"ws://{browser_host(client) or location[1]}{upstream_path(uri, settings)}",
            host=address,
            port=int(port),
            proxy=None,
            additional_headers=headers,
            subprotocols=[p.strip() for p in protocols.split(",")] if protocols else None,  # type: ignore[misc]
            max_size=MAX_MESSAGE_BYTES,
            max_queue=1,
            compression=None,
            open_timeout=10,
            user_agent_header=None,
        )
    except InvalidStatus as exc:
        log.info("workspace %s refused a WebSocket: %s", workspace_id, exc.response.status_code)
        await client.close(code=1011, reason=f"The workspace answered {exc.response.status_code}.")
        return
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        log.info("workspace %s: no WebSocket: %s", workspace_id, exc)
        await client.close(code=1011, reason="The workspace does not answer.")
        return
    bridge = Bridge(workspace_id, caller.identity, caller.expires)
    sockets.open.add(bridge)
    try:
        async with upstream:
            await client.accept(subprotocol=upstream.subprotocol)
            await _pump(client, upstream, bridge, activity)
    finally:
        sockets.open.discard(bridge)
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # closed by the browser
        if bridge.reason:
            await client.close(code=POLICY_VIOLATION, reason=bridge.reason[:120])
        else:
            await client.close()


async def _pump(
    client: WebSocket, upstream: ClientConnection, bridge: Bridge, activity: ActivityLog
) -> None:
    """Both directions, until either side ends or the bridge's access does."""

    async def down() -> None:
        async for message in upstream:
            if isinstance(message, bytes):
                await client.send_bytes(message)
            else:
                await client.send_text(message)

    async def up() -> None:
        while True:
            message = await client.receive()
            if message["type"] == "websocket.disconnect":
                return
            activity.touch(bridge.workspace_id)  # typing in a terminal is activity
            if message.get("bytes") is not None:
                await upstream.send(message["bytes"])
            else:
                await upstream.send(message.get("text") or "")

    async def guarded(part: Callable[[], Awaitable[None]]) -> None:
        with contextlib.suppress(ConnectionClosed, WebSocketDisconnect, RuntimeError):
            await part()

    tasks = [
        asyncio.create_task(guarded(down)),
        asyncio.create_task(guarded(up)),
        asyncio.create_task(bridge.ended.wait()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
