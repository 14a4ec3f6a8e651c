"""ML Lab's proxy, reduced to what the web app depends on: the manager is reached under a path
prefix, which the proxy strips before forwarding. Responses stream (the app's event streams
stay open). Requests outside the prefix are refused and remembered: an absolute URL in the app
would break behind ML Lab, and shows up here."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Hop-by-hop, or wrong once the body is re-streamed.
DROPPED = {b"host", b"connection", b"transfer-encoding", b"keep-alive", b"content-length"}


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
            headers=[(k, v) for k, v in request.headers.raw if k.lower() not in DROPPED],
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

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()  # its connections to the manager, in the loop that made them

    return Starlette(routes=[Route("/{path:path}", forward, methods=METHODS)], lifespan=lifespan)


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
        ws="none",
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
