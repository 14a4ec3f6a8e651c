"""Talking to a workspace's Jupyter the way a browser does: REST for kernels, a WebSocket
for running code."""

from __future__ import annotations

import json
import socket
import uuid

import httpx
from websockets.sync.client import ClientConnection, connect


def start_kernel(base_url: str, client: httpx.Client) -> str:
    """A new kernel; `base_url` ends with the workspace's base path ("/workspaces/<id>/")."""
    client.get(base_url + "tree")  # Jupyter sets its _xsrf cookie
    response = client.post(
        base_url + "api/kernels", headers={"X-XSRFToken": client.cookies["_xsrf"]}
    )
    response.raise_for_status()
    return str(response.json()["id"])


def open_channels(
    base_url: str, kernel_id: str, headers: dict[str, str], through: str | None = None
) -> ClientConnection:
    """`through`: "host:port" to connect to instead of the URL's host (a workspace's own host
    on *.localhost, which only browsers resolve), which still goes in the Host header."""
    url = base_url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
    sock = None
    if through:
        host, port = through.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=30)
    return connect(url, additional_headers=headers, open_timeout=30, sock=sock)


def execute(socket: ClientConnection, code: str, wait: bool = True) -> str:
    """Run `code`; with `wait`, return what it printed once the kernel is idle again."""
    message_id = uuid.uuid4().hex
    socket.send(
        json.dumps(
            {
                "header": {
                    "msg_id": message_id,
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "msg_type": "execute_request",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                },
            }
        )
    )
    printed = ""
    while wait:
        reply = json.loads(socket.recv(timeout=60))
        if reply.get("parent_header", {}).get("msg_id") != message_id:
            continue
        if reply["msg_type"] == "stream":
            printed += reply["content"]["text"]
        if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
            break
    return printed
