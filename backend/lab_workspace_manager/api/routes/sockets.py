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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ...auth import Authenticator, Identity
from ...backends import WorkspaceBackend
from ...errors import BackendUnavailable, ManagerError
from ...policies.idle import ActivityLog
from ...settings import Settings
from ..origins import browser_host
from .proxy import caller_of_workspace, located, requested_workspace

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

RECHECK_SECONDS = 5.0
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

AccessCheck = Callable[[str, Identity], Awaitable[str]]


@dataclass(eq=False)
class Bridge:
    workspace_id: str
    identity: Identity
    expires: float | None  # the session's end, if it came from one
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""


class Sockets:
    """The WebSockets this process bridges, and their periodic check."""

    def __init__(self, authenticator: Authenticator, backend: WorkspaceBackend) -> None:
        self.open: set[Bridge] = set()
        self._authenticator = authenticator
        self._backend = backend

    def count(self, workspace_id: str) -> int:
        return sum(1 for bridge in self.open if bridge.workspace_id == workspace_id)

    async def recheck(self) -> None:
        """All at once, each with a time limit: one slow answer (ML Lab) holds up no other."""
        bridges = list(self.open)
        reasons = await asyncio.gather(
            *(self._recheck_one(bridge) for bridge in bridges), return_exceptions=True
        )
        for bridge, reason in zip(bridges, reasons, strict=True):
            if isinstance(reason, str) and reason:
                bridge.reason = reason
                bridge.ended.set()

    async def _recheck_one(self, bridge: Bridge) -> str:
        if bridge.expires is not None and bridge.expires <= time.time():
            return "Your session for this workspace expired: open it again from the web app."
        try:
            return await asyncio.wait_for(
                self.refusal(bridge.workspace_id, bridge.identity), RECHECK_SECONDS
            )
        except TimeoutError:
            return ""  # cannot be decided now: ask again next time

    async def refusal(self, workspace_id: str, identity: Identity) -> str:
        """Why this caller would not get through to this workspace now; "" if they would."""
        try:
            now = await self._authenticator.identify(identity.token)
        except BackendUnavailable:
            return ""  # cannot be decided now: ask again next time
        except ManagerError:
            return "Your sign-in ended: open the workspace again from the web app."
        if now.user_id != identity.user_id:
            return "Your sign-in ended: open the workspace again from the web app."
        location = await self._backend.locate(workspace_id)
        if location is None or not now.may_act_for(location[0]):
            return "The workspace stopped, or you may no longer open it."
        return ""


def upstream_path(uri: str, settings: Settings) -> str:
    """Where the socket goes in the workspace: the path asked for on its own origin; under the
    prefix that ML Lab strips when workspaces share the manager's origin."""
    if settings.unsafe_workspaces_on_manager_origin:
        return settings.workspace_public_prefix + uri
    return uri


def forwarded_cookies(header: str) -> str:
    """The Cookie header without the manager's credentials."""
    kept = [
        part.strip()
        for part in header.split(";")
        if part.strip() and part.split("=", 1)[0].strip() not in CREDENTIAL_COOKIES
    ]
    return "; ".join(kept)


@router.websocket("/auth/workspace-socket")
async def workspace_socket(client: WebSocket) -> None:
    """nginx hands every WebSocket of a workspace here (with X-Workspace-Id or, on the
    manager's origin, X-Original-URI), instead of an access check."""
    state = client.app.state
    settings: Settings = state.settings
    try:
        workspace_id = requested_workspace(client, settings)
        caller = await caller_of_workspace(client, settings, workspace_id)
        location = await located(client, state.backend, workspace_id, fresh=False)
    except ManagerError as exc:
        log.info("a WebSocket was refused: %s", exc.message)
        await client.close(code=POLICY_VIOLATION, reason=exc.message[:120])
        return
    if location is None or not caller.identity.may_act_for(location[0]):
        await client.close(
            code=POLICY_VIOLATION, reason="This workspace is not running, or it is not yours."
        )
        return
    sockets: Sockets = state.sockets
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
            await _pump(client, upstream, bridge, state.activity)
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
