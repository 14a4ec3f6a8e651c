"""ML Lab's proxy, reduced to what the web app and the workspaces depend on: the manager is
reached under a path prefix, which the proxy strips before forwarding. Responses stream (the
app's event streams stay open), WebSockets are bridged (Jupyter's kernels and terminals), and
the browser's host and scheme go along as X-Forwarded-Host / -Proto, as proxies report them.
Requests outside the prefix are refused and remembered: an absolute URL in the app would break
behind ML Lab, and shows up here."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Hop-by-hop, or wrong once the body is re-streamed.
DROPPED = {b"host", b"connection", b"transfer-encoding", b"keep-alive", b"content-length"}
# What a WebSocket handshake carries on to the upstream (the rest is the handshake's own).
WEBSOCKET_HEADERS = {"cookie", "origin", "authorization", "ct_token", "user-agent"}


def proxy_app(target: str, prefix: str, outside: list[str]) -> Starlette:
    client = httpx.AsyncClient(base_url=target, trust_env=False, timeout=None)

    async def forward(request: Request) -> Response:
        path = request.url.path
        if not path.startswith(prefix + "/"):
            outside.append(path)
            return PlainTextResponse("Not under the prefix.", status_code=404)
        upstream = client.build_request(
            request.method,
            path.removeprefix(prefix),
            params=request.query_params,
            headers=[(k, v) for k, v in request.headers.raw if k.lower() not in DROPPED]
            + forwarded(request.headers.get("host", "")),
            content=await request.body(),
        )
        answer = await client.send(upstream, stream=True)
        response = StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            background=BackgroundTask(answer.aclose),
        )
        response.raw_headers = [(k, v) for k, v in answer.headers.raw if k.lower() not in DROPPED]
        return response

    async def bridge(websocket: WebSocket) -> None:
        path = websocket.url.path
        if not path.startswith(prefix + "/"):
            outside.append(path)
            await websocket.close(code=1008)
            return
        query = f"?{websocket.url.query}" if websocket.url.query else ""
        url = target.replace("http", "ws", 1) + path.removeprefix(prefix) + query
        headers = [(k, v) for k, v in websocket.headers.items() if k in WEBSOCKET_HEADERS]
        protocols = websocket.headers.get("sec-websocket-protocol")
        async with connect(
            url,
            additional_headers=headers + forwarded(websocket.headers.get("host", "")),
            subprotocols=[p.strip() for p in protocols.split(",")] if protocols else None,
            max_size=None,
            compression=None,
        ) as upstream:
            await websocket.accept(subprotocol=upstream.subprotocol)

            async def down() -> None:
                async for message in upstream:
                    if isinstance(message, bytes):
                        await websocket.send_bytes(message)
                    else:
                        await websocket.send_text(message)

            async def up() -> None:
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        return
                    await upstream.send(message.get("bytes") or message.get("text") or "")

            async with anyio.create_task_group() as tasks:

                async def run_then_end(part: Any) -> None:
                    with contextlib.suppress(ConnectionClosed, WebSocketDisconnect):
                        await part()
                    tasks.cancel_scope.cancel()  # one side ended: so does the other

                tasks.start_soon(run_then_end, down)
                tasks.start_soon(run_then_end, up)
        with contextlib.suppress(RuntimeError):  # already closed by the browser
            await websocket.close()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()  # its connections to the manager, in the loop that made them

    return Starlette(
        routes=[
            Route("/{path:path}", forward, methods=METHODS),
            WebSocketRoute("/{path:path}", bridge),
        ],
        lifespan=lifespan,
    )


def forwarded(host: str) -> list[tuple[str, str]]:
    """What the browser asked for, as a proxy in front tells the next one."""
    return [("x-forwarded-host", host), ("x-forwarded-proto", "http")]


@contextmanager
def prefix_proxy(
    target: str, prefix: str, host: str = "127.0.0.1"
) -> Iterator[tuple[str, list[str]]]:
    """(the proxy's URL including the prefix, the paths requested outside the prefix).
    `host`: the address to listen on, e.g. the Docker bridge's gateway so that containers can
    reach a server that listens on the host's loopback only."""
    outside: list[str] = []
    listener = socket.socket()
    listener.bind((host, 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        proxy_app(target, prefix, outside),
        log_level="warning",
        loop="asyncio",
        http="h11",
        ws="websockets-sansio",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the prefix proxy did not start")
            time.sleep(0.05)
        yield f"http://{host}:{port}{prefix}", outside
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
