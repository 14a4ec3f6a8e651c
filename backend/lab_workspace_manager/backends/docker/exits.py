"""What a workspace printed, and why its container ended: read within bounds.

A list of workspaces shows why each crashed one ended (exit code, out of memory, its last log
lines). Reading that costs two engine calls, so it is read once per end of a container and
remembered until the engine reports anything new about that container, not on every list.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import docker
import docker.errors

from ...settings import MIB
from .inventory import Inventory
from .status import ExitInfo

MAX_LOG_BYTES = 1024 * 1024  # of a workspace's logs, read at once
EXIT_LOG_LINES = 5  # shown with a crashed workspace's status
EXIT_LOG_BYTES = 4096
REMEMBERED_EXITS = 4096


def read_logs(
    client: docker.DockerClient, container_id: str, tail: int, max_bytes: int = MAX_LOG_BYTES
) -> str:
    """The last `tail` lines, and of them the last `max_bytes` at most: one line may be
    megabytes long, and the engine keeps up to 30 MB per workspace."""
    kept = bytearray()
    cut = False
    chunks = client.api.logs(
        container_id, stdout=True, stderr=True, tail=tail, stream=True, follow=False
    )
    for chunk in chunks:
        kept += chunk
        if len(kept) > 2 * max_bytes:
            del kept[: len(kept) - max_bytes]
            cut = True
    if len(kept) > max_bytes:
        del kept[: len(kept) - max_bytes]
        cut = True
    text = bytes(kept).decode(errors="replace")
    if cut:
        shown = f"{max_bytes // MIB} MB" if max_bytes >= MIB else f"{max_bytes} bytes"
        text = f"[earlier output cut: the last {shown} are shown]\n" + text
    return text


class ExitReader:
    def __init__(self, client: docker.DockerClient, inventory: Inventory) -> None:
        self._client = client
        self._inventory = inventory
        # container id -> (what was read, when reading began); reads run in several threads
        self._read: OrderedDict[str, tuple[ExitInfo | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, container: dict[str, Any]) -> ExitInfo | None:
        container_id = container["Id"]
        with self._lock:
            remembered = self._read.get(container_id)
            if remembered and self._inventory.quiet_since(container_id, remembered[1]):
                self._read.move_to_end(container_id)
                return remembered[0]
        began = time.monotonic()
        info = self._read_exit(container_id)
        with self._lock:
            self._read[container_id] = (info, began)
            self._read.move_to_end(container_id)
            while len(self._read) > REMEMBERED_EXITS:
                self._read.popitem(last=False)
        return info

    def _read_exit(self, container_id: str) -> ExitInfo | None:
        try:
            state = self._client.api.inspect_container(container_id)["State"]
        except docker.errors.NotFound:
            return None
        log_tail = ""
        if state.get("ExitCode") and not state.get("OOMKilled"):
            log_tail = read_logs(self._client, container_id, EXIT_LOG_LINES, EXIT_LOG_BYTES)
        return ExitInfo(
            exit_code=int(state.get("ExitCode") or 0),
            oom_killed=bool(state.get("OOMKilled")),
            finished_at=parse_time(state.get("FinishedAt")),
            error=state.get("Error") or "",
            log_tail=log_tail,
        )


def parse_time(value: str | None) -> datetime | None:
    """Docker reports UTC ("...Z") with nanoseconds; seconds are precise enough here."""
    if not value or value.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(value[:19]).replace(tzinfo=UTC)
    except ValueError:
        return None
