"""Server-sent events: what is happening to a workspace (or to all of a user's), live.

`/users/{u}/workspace/{id}/events` replays the workspace's recent phases, then follows it until
it is ready, failed, stopped or deleted; a workspace with nothing going on gets one event with
its current state. `/users/{u}/events` follows all of the user's workspaces: subscribe before
a create to see its image pull as it happens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ...events import TERMINAL, EventBus, WorkspaceEvent
from ...models import ShareAccess, WorkspaceStatus
from ..deps import (
    CurrentIdentity,
    EventsDep,
    OpenerOf,
    ServiceDep,
    SharesDep,
    UserId,
    WorkspaceId,
)

router = APIRouter(tags=["events"])

Timeout = Annotated[
    float | None, Query(gt=0, le=3600, description="Follow for at most this many seconds.")
]

KEEPALIVE_SECONDS = 15


class EventStream(StreamingResponse):
    """A StreamingResponse that says it is SSE, so OpenAPI files the model under that type."""

    media_type = "text/event-stream"


# Each event's `data` is a WorkspaceEvent as JSON; its `event` field is the phase. Declaring
# the model puts it in the OpenAPI document, so the web app's generated types include it
# ("object" replaces the plain "string" FastAPI assumes for a non-JSON response).
SSE = {
    200: {
        "model": WorkspaceEvent,
        "content": {"text/event-stream": {"schema": {"type": "object"}}},
        "description": "A stream of events: `event: <phase>`, `data: <WorkspaceEvent JSON>`.",
    }
}
PHASE_OF = {
    WorkspaceStatus.RUNNING: "ready",
    WorkspaceStatus.STOPPED: "stopped",
    WorkspaceStatus.FAILED: "failed",
}


def _sse(event: WorkspaceEvent) -> str:
    return f"event: {event.phase}\ndata: {event.model_dump_json()}\n\n"


async def _follow(
    request: Request,
    bus: EventBus,
    key: str,
    queue: asyncio.Queue[WorkspaceEvent],
    seconds: float | None,
) -> AsyncIterator[WorkspaceEvent | None]:
    """Events from `queue` as they come, None after each quiet spell (for keep-alives),
    for `seconds` at most (an EventSource reconnects by itself)."""
    end = time.monotonic() + seconds if seconds else None
    try:
        while not await request.is_disconnected():
            wait = (
                KEEPALIVE_SECONDS if end is None else min(KEEPALIVE_SECONDS, end - time.monotonic())
            )
            if wait <= 0:
                return
            try:
                yield await asyncio.wait_for(queue.get(), timeout=wait)
            except TimeoutError:
                yield None
    finally:
        bus.unsubscribe(key, queue)


@router.get(
    "/users/{user_id}/workspace/{workspace_id}/events",
    response_class=EventStream,
    responses=SSE,  # type: ignore[arg-type]
    operation_id="followWorkspace",
)
async def workspace_events(
    user_id: OpenerOf,
    workspace_id: WorkspaceId,
    service: ServiceDep,
    identity: CurrentIdentity,
    request: Request,
    bus: EventsDep,
    shares: SharesDep,
    timeout: Timeout = None,
) -> StreamingResponse:
    state = await service.get(user_id, workspace_id)  # 404 if it is not theirs
    slot = bus.open_stream(identity.user_id)  # counted for who follows, not whom

    async def stream() -> AsyncIterator[str]:
        # Subscribed before the replay: nothing falls in between. (Here and not before the
        # response: a response never sent leaves no subscription behind.)
        queue = bus.subscribe(workspace_id)
        try:
            history = bus.history(workspace_id)
            seen = {id(e) for e in history}
            for event in history:
                yield _sse(event)
            if not history or history[-1].phase in TERMINAL:
                if state.status in PHASE_OF and (
                    not history or history[-1].phase != PHASE_OF[state.status]
                ):
                    yield _sse(
                        WorkspaceEvent(
                            workspace_id=workspace_id,
                            owner=user_id,
                            phase=PHASE_OF[state.status],
                            message=state.status_message,
                        )
                    )
                if state.status in PHASE_OF:
                    return
            async for live in _follow(request, bus, workspace_id, queue, timeout):
                # A grantee's share may be revoked meanwhile: then the stream ends.
                if not await shares.allows(identity, user_id, workspace_id, ShareAccess.OPEN):
                    return
                if live is None:
                    yield ": keep-alive\n\n"
                elif id(live) not in seen:
                    yield _sse(live)
                    if live.phase in TERMINAL:
                        return
        finally:
            bus.unsubscribe(workspace_id, queue)
            slot.release()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=NO_BUFFERING)


@router.get(
    "/users/{user_id}/events",
    response_class=EventStream,
    responses=SSE,  # type: ignore[arg-type]
    operation_id="followUser",
)
async def user_events(
    user_id: UserId,
    identity: CurrentIdentity,
    request: Request,
    bus: EventsDep,
    timeout: Timeout = None,
) -> StreamingResponse:
    slot = bus.open_stream(identity.user_id)

    async def stream() -> AsyncIterator[str]:
        queue = bus.subscribe("owner:" + user_id)
        try:
            yield ": following\n\n"
            async for event in _follow(request, bus, "owner:" + user_id, queue, timeout):
                yield ": keep-alive\n\n" if event is None else _sse(event)
        finally:
            bus.unsubscribe("owner:" + user_id, queue)
            slot.release()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=NO_BUFFERING)


# nginx must pass events on at once, not collect them.
NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
