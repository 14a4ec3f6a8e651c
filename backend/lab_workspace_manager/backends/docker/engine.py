"""The boundary to the Docker SDK: one client, and its errors translated once.

The SDK blocks, so every call runs in a worker thread (`in_thread`) and never on the event loop.
Engine work has pools of its own, apart from anyio's default one (which FastAPI's sync
dependencies and everything else use), and apart from each other: a flood of changes cannot
take the threads that reads, the proxy's access check or the background jobs need.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import anyio.to_thread
import docker
import docker.errors
import requests.exceptions

from ...errors import BackendUnavailable, Conflict, ManagerError, NotFound

P = ParamSpec("P")
T = TypeVar("T")

# API 1.41 = Docker 20.10, the oldest engine we support (device requests need 1.40). A fixed
# version means creating the client never talks to the engine, so start-up works while it is down.
API_VERSION = "1.41"


def make_client(base_url: str | None, timeout: float = 60) -> docker.DockerClient:
    return docker.DockerClient(
        base_url=base_url or "unix:///var/run/docker.sock",
        version=API_VERSION,
        timeout=timeout,
        # Enough connections for the worker threads that may talk to the engine at once.
        max_pool_size=64,
    )


@contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Translate what escapes SDK calls made while doing `action` ("create the workspace")."""
    try:
        yield
    except docker.errors.NotFound as exc:
        raise NotFound(f"Could not {action}: {_explain(exc)}") from exc
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            raise Conflict(f"Could not {action}: {_explain(exc)}") from exc
        raise ManagerError(f"The Docker engine refused to {action}: {_explain(exc)}") from exc
    except requests.exceptions.Timeout as exc:
        raise BackendUnavailable(
            f"The Docker engine did not answer in time while trying to {action}. "
            "It may be overloaded; try again in a minute."
        ) from exc
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
        raise BackendUnavailable(
            f"The Docker engine is not reachable, so the manager could not {action}. "
            "Check that dockerd is running and its socket is available to the manager."
        ) from exc


def _explain(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    return str(explanation or exc).strip()


# Told of every engine call: its kind (the pool's name), how long it took in its thread
# (seconds, without the wait for a thread) and the error it raised, if any. (The metrics.)
EngineWatch = Callable[[str, float, ManagerError | None], None]


class Pool:
    """Worker threads for engine calls of one kind."""

    def __init__(self, kind: str, threads: int, watchers: list[EngineWatch]) -> None:
        self.kind = kind
        self.limiter = anyio.CapacityLimiter(threads)
        self.watchers = watchers  # (the list all pools of a `Pools` share)


class Pools:
    """How many engine calls of each kind may run at once (each holds a worker thread)."""

    def __init__(self) -> None:
        self._watchers: list[EngineWatch] = []
        # Changes: creates, starts, stops, deletes; each user has at most a few of these.
        self.changes = Pool("changes", 16, self._watchers)
        # Reads: lists, gets.
        self.reads = Pool("reads", 8, self._watchers)
        # Logs, which may be megabytes to read (and each user reads one at a time).
        self.logs = Pool("logs", 2, self._watchers)
        # The proxy's access check, when the inventory has to ask the engine.
        self.access = Pool("access", 4, self._watchers)
        # Measuring, tidying up, pulls in the background.
        self.background = Pool("background", 4, self._watchers)

    def watch(self, watch: EngineWatch) -> None:
        self._watchers.append(watch)


async def in_thread(
    pool: Pool, action: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run a blocking engine call in a worker thread of `pool`, with its errors translated;
    the one place engine calls are timed (for the metrics).

    Every call to the engine has a time limit (the client's timeout, per request); a call
    that may legitimately take longer (a pull, a cleaner) sets its own."""

    def call() -> T:
        began, error = time.perf_counter(), None
        try:
            with engine_errors(action):
                return fn(*args, **kwargs)
        except ManagerError as exc:
            error = exc
            raise
        finally:
            for watch in pool.watchers:
                watch(pool.kind, time.perf_counter() - began, error)

    return await anyio.to_thread.run_sync(call, limiter=pool.limiter)


def remove_container(client: docker.DockerClient, id_or_name: str, volumes: bool = False) -> None:
    """Remove a container, running or not; one that is gone (or going) already is fine.
    `volumes`: its anonymous volumes too (never a named one, such as a workspace's)."""
    try:
        client.api.remove_container(id_or_name, force=True, v=volumes)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        # Being removed already (by the engine, for a container that removes itself):
        # as good as gone.
        if exc.status_code != 409 or "already in progress" not in str(exc.explanation):
            raise
