"""Prometheus metrics of one manager, for the people who run it: how long workspaces take to
answer, how changes end and why they fail, what runs, the proxy's access checks, the engine's
calls and the open event streams. `GET /metrics` serves them (`api/routes/metrics.py`).

Each runtime has a registry of its own, not prometheus_client's global one: several apps in one
process (the tests make many) count apart. No series has a label per workspace or per user:
every label value is a series of its own, and ids would grow with the installation. Labels take
their values from short fixed lists; the image label only the administrator's allowed images
(anything else, a template's own image say, is "other").

Counters count what this process did. With several managers (replicas) Prometheus scrapes each
and sums; nothing is counted twice, because each manager counts only what it did itself (events
relayed from the others end only time-to-ready measurements that this one began).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from .backends.base import WorkspaceState
from .errors import (
    BackendUnavailable,
    Forbidden,
    ManagerError,
    QuotaExceeded,
    ResourceUnavailable,
    Unauthenticated,
)
from .events import WorkspaceEvent
from .models import WorkspaceStatus

log = logging.getLogger(__name__)

# No `_created` series (when each counter and histogram was made) beside every one: they would
# double what Prometheus stores and say only when the manager started. (A switch of the
# library's, for the whole process: it has no registry but ours.)
disable_created_metrics()  # type: ignore[no-untyped-call]

PREFIX = "lab_workspace_manager_"
# The text format every Prometheus reads (Debian 12's 2.42 too); our names need none of
# 1.0.0's escaping.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

OPERATIONS = ("create", "start", "stop", "restart", "delete")
RESULTS = ("ok", "failed")
FAILURE_REASONS = ("image", "quota", "oom", "engine", "other")
AUTOMATIC_STOP_REASONS = ("idle", "lifetime", "disk", "schedule")
ACCESS_RESULTS = ("allowed", "unauthenticated", "forbidden", "error")
ENGINE_CALL_KINDS = ("changes", "reads", "logs", "access", "background")
READY_OUTCOMES = ("ready", "failed")
OTHER_IMAGE = "other"

# Seconds: from a second (a small image on a fast host) to the half hour a big pull may take.
READY_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
# The proxy's access check answers in milliseconds; seconds mean it is in trouble.
ACCESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
ENGINE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

# How status.py words a workspace the kernel killed for its memory limit (the engine reports
# it with the container's exit: nothing publishes an event of it, a listing shows it).
OUT_OF_MEMORY = "(out of memory)"
# A failed change that published "failed" as it failed was counted as it failed: its event
# (published just before, or by the schedule just after) is not counted again.
SETTLE_SECONDS = 30.0
# Starts whose end has not been seen yet, at most (a workspace that never answers is dropped
# with the oldest).
STARTS_KEPT = 10_000


def automatic_stop_reason(policy: str, reason: str) -> str:
    """Which automatic stop `reason` (the text that completes "Stopped ...") is: the idle
    watcher also stops at the maximum running time (policies/idle.py says so)."""
    if policy == "idle" and "maximum running time" in reason:
        return "lifetime"
    return policy


def failure_reason(exc: BaseException) -> str | None:
    """Why a change failed; None where it was refused for what was asked (a name taken, a
    value out of range, another change under way): that is the caller's, not a failure."""
    if isinstance(exc, QuotaExceeded):
        return "quota"
    if isinstance(exc, ResourceUnavailable):
        return "image" if "image" in exc.message.lower() else "other"
    if isinstance(exc, BackendUnavailable):
        return "engine"
    if isinstance(exc, ManagerError):
        # 500: the engine (or ML Lab) refused in a way we did not foresee.
        return "engine" if exc.status_code >= 500 else None
    return "other"


def event_failure_reason(event: WorkspaceEvent, previous_phase: str | None) -> str:
    """Why a workspace failed where no change was under way (an image pull in the
    background, the build after it)."""
    if previous_phase == "pulling" or "image" in event.message.lower():
        return "image"
    if OUT_OF_MEMORY in event.message:
        return "oom"
    if "engine" in event.message.lower():
        return "engine"
    return "other"


@dataclass
class _Start:
    began: float  # time.monotonic()
    image: str
    phase: str | None = None  # the last one seen


class Metrics:
    def __init__(self, images: Iterable[str], lists_workspaces: bool = True) -> None:
        """`images`: the allowed ones (the image label's values). `lists_workspaces`: the
        backend can list everyone's workspaces (not ML Lab's): else the workspace gauges are
        not exported at all, rather than stay at 0."""
        self.registry = CollectorRegistry()
        self.lists_workspaces = lists_workspaces
        self._images = frozenset(images)
        registry = self.registry
        self.time_to_ready = Histogram(
            PREFIX + "time_to_ready_seconds",
            "Seconds from a create, start or restart being asked for until the workspace "
            "answered HTTP (outcome ready) or failed.",
            ["image", "outcome"],
            buckets=READY_BUCKETS,
            registry=registry,
        )
        self.operations = Counter(
            PREFIX + "operations",
            "Creates, starts, stops, deletes and restarts by result.",
            ["operation", "result"],
            registry=registry,
        )
        self.failures = Counter(
            PREFIX + "failures",
            "Workspaces that failed to be made or to run, by reason.",
            ["reason"],
            registry=registry,
        )
        self.automatic_stops = Counter(
            PREFIX + "automatic_stops",
            "Stops the manager made by itself, by reason.",
            ["reason"],
            registry=registry,
        )
        self.access_checks = Counter(
            PREFIX + "proxy_access_checks",
            "Access checks of the workspace proxy (nginx's auth_request) by result; nginx "
            "reuses a yes for 5 s without asking.",
            ["result"],
            registry=registry,
        )
        self.access_check_seconds = Histogram(
            PREFIX + "proxy_access_check_duration_seconds",
            "How long the workspace proxy's access check took.",
            buckets=ACCESS_BUCKETS,
            registry=registry,
        )
        self.engine_call_seconds = Histogram(
            PREFIX + "engine_call_duration_seconds",
            "How long work in the Docker engine's worker threads took (calls to the engine, "
            "and reads of its remembered listing), by kind (the pool it ran in).",
            ["kind"],
            buckets=ENGINE_BUCKETS,
            registry=registry,
        )
        self.engine_errors = Counter(
            PREFIX + "engine_errors",
            "Calls to the Docker engine that failed (unreachable, timed out, refused), by kind.",
            ["kind"],
            registry=registry,
        )
        listed = registry if lists_workspaces else None
        self.workspaces = Gauge(
            PREFIX + "workspaces",
            "Workspaces by status, as last listed (at the scrape).",
            ["status"],
            registry=listed,
        )
        self.users_running = Gauge(
            PREFIX + "users_with_running_workspaces",
            "Users with at least one running workspace, as last listed (at the scrape).",
            registry=listed,
        )
        self.event_streams = Gauge(
            PREFIX + "event_streams_open",
            "Server-sent event streams open (/events).",
            registry=registry,
        )
        # Every labelled series exists from the start (at 0), so that rate() and alerts see
        # its first increase.
        for operation in OPERATIONS:
            for result in RESULTS:
                self.operations.labels(operation, result)
        for reason in FAILURE_REASONS:
            self.failures.labels(reason)
        for reason in AUTOMATIC_STOP_REASONS:
            self.automatic_stops.labels(reason)
        for result in ACCESS_RESULTS:
            self.access_checks.labels(result)
        for kind in ENGINE_CALL_KINDS:
            self.engine_call_seconds.labels(kind)
            self.engine_errors.labels(kind)
        for status in WorkspaceStatus:
            self.workspaces.labels(status.value)
        self._starts: OrderedDict[str, _Start] = OrderedDict()
        self._settling: dict[str, float] = {}  # workspace id -> until when (monotonic)
        self._out_of_memory: set[str] | None = None  # None: not listed yet

    def image_label(self, image: str) -> str:
        return image if image in self._images else OTHER_IMAGE

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- changes ----------------------------------------------------------------------------
    @contextmanager
    def operation(self, name: str, workspace_id: str) -> Iterator[None]:
        """Count the change `name` of the workspace by how it ends (and why, if it fails)."""
        self._settling[workspace_id] = math.inf
        try:
            yield
        except Exception as exc:
            self.operations.labels(name, "failed").inc()
            reason = failure_reason(exc)
            if reason is not None:
                self.failures.labels(reason).inc()
            self._settle(workspace_id, time.monotonic() + SETTLE_SECONDS)
            self._starts.pop(workspace_id, None)
            raise
        except BaseException:  # cancelled: it neither succeeded nor failed
            self._settle(workspace_id, None)
            raise
        self.operations.labels(name, "ok").inc()
        self._settle(workspace_id, None)

    def _settle(self, workspace_id: str, until: float | None) -> None:
        now = time.monotonic()
        self._settling = {k: v for k, v in self._settling.items() if v > now}
        if until is None:
            self._settling.pop(workspace_id, None)
        else:
            self._settling[workspace_id] = until

    def starting(self, workspace_id: str, image: str) -> None:
        """A create, start or restart of the workspace was asked for now: its time to ready
        runs from here."""
        self._starts[workspace_id] = _Start(time.monotonic(), self.image_label(image))
        self._starts.move_to_end(workspace_id)
        while len(self._starts) > STARTS_KEPT:
            self._starts.popitem(last=False)

    def stopped_automatically(self, policy: str, reason: str) -> None:
        self.automatic_stops.labels(automatic_stop_reason(policy, reason)).inc()

    # --- events (on the event loop, see EventBus.watch) -------------------------------------
    def saw(self, event: WorkspaceEvent, own: bool) -> None:
        start = self._starts.get(event.workspace_id)
        if event.phase == "failed" and own:
            settling = self._settling.get(event.workspace_id, 0.0)
            if settling < time.monotonic():
                previous = start.phase if start else None
                self.failures.labels(event_failure_reason(event, previous)).inc()
        if event.phase == "deleted":
            self._starts.pop(event.workspace_id, None)
        if start is None:
            return
        if event.phase in READY_OUTCOMES:
            del self._starts[event.workspace_id]
            seconds = time.monotonic() - start.began
            self.time_to_ready.labels(start.image, event.phase).observe(seconds)
        else:
            start.phase = event.phase

    # --- the engine (in its worker threads, see backends/docker/engine.py) ------------------
    def engine_call(self, kind: str, seconds: float, error: ManagerError | None) -> None:
        self.engine_call_seconds.labels(kind).observe(seconds)
        # Not found and conflicts are answers; the engine failed where it could not answer.
        if error is not None and (
            isinstance(error, BackendUnavailable) or error.status_code >= 500
        ):
            self.engine_errors.labels(kind).inc()

    # --- the proxy --------------------------------------------------------------------------
    @contextmanager
    def access_check(self) -> Iterator[None]:
        began = time.perf_counter()
        result = "error"
        try:
            yield
            result = "allowed"
        except Unauthenticated:
            result = "unauthenticated"
            raise
        except Forbidden:
            result = "forbidden"
            raise
        finally:
            self.access_checks.labels(result).inc()
            self.access_check_seconds.observe(time.perf_counter() - began)

    # --- at the scrape ----------------------------------------------------------------------
    def count_streams(self, open_streams: Callable[[], int]) -> None:
        self.event_streams.set_function(open_streams)

    def listed(self, states: list[WorkspaceState]) -> None:
        """Set the gauges from everyone's workspaces as just listed, and count the workspaces
        the kernel killed for memory since the last listing: once as they come to say so
        (the engine's restarts after it included), again only after a listing saw them without
        it; what was out of memory before the first listing is not counted."""
        counts = dict.fromkeys(WorkspaceStatus, 0)
        users = set()
        out_of_memory = set()
        for state in states:
            counts[state.status] += 1
            if state.status is WorkspaceStatus.RUNNING:
                users.add(state.owner)
            if OUT_OF_MEMORY in state.status_message:
                out_of_memory.add(state.id)
        for status, count in counts.items():
            self.workspaces.labels(status.value).set(count)
        self.users_running.set(len(users))
        if self._out_of_memory is not None:
            for _ in out_of_memory - self._out_of_memory:
                self.failures.labels("oom").inc()
        self._out_of_memory = out_of_memory
