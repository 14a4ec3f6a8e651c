"""The API's request and response bodies.

Only the shape of input is checked here (types, lengths, signs). Checks against the configured
limits and option lists live in `validation.py` and run on input only: a response is never
validated against today's limits, so lowering a maximum never breaks listing old workspaces.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .images import ImageOption

# A year (seconds). Longer is "never" (0); beyond about 3e10 s the date it gives cannot be
# computed at all, and every read of the workspace failed with a 500.
IDLE_TIMEOUT_MAX = 366 * 24 * 3600


class WorkspaceStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    TERMINATING = "terminating"
    UNKNOWN = "unknown"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = list(Weekday)  # in the order of `date.weekday()`
CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class Schedule(_Input):
    """When a workspace starts and stops by itself: on `days`, at `start` (if it is not
    running) and at `stop` (if it is), in `timezone`. Idle stop applies as well."""

    timezone: str = Field(
        "UTC",
        min_length=1,
        max_length=64,
        description="An IANA time zone: 'Europe/Berlin' (checked when given, not when read: a "
        "zone a newer tz database drops falls back to SCHEDULE_TIMEZONE).",
    )
    days: list[Weekday] = Field(default_factory=lambda: WEEKDAYS[:5], min_length=1, max_length=7)
    start: str | None = Field(None, pattern=CLOCK_TIME, description="HH:MM, or none.")
    stop: str | None = Field(None, pattern=CLOCK_TIME, description="HH:MM, or none.")

    @field_validator("days")
    @classmethod
    def _in_order(cls, value: list[Weekday]) -> list[Weekday]:
        return [day for day in WEEKDAYS if day in value]

    @model_validator(mode="after")
    def _something_to_do(self) -> Schedule:
        if self.start is None and self.stop is None:
            raise ValueError("a schedule needs a start time, a stop time or both")
        if self.start == self.stop:
            raise ValueError("a schedule cannot start and stop at the same time")
        return self


class WorkspaceCompute(_Input):
    cpus: float | None = Field(None, gt=0, description="CPU cores, fractions allowed (0.5).")
    memory: int | None = Field(None, gt=0, description="Memory limit in MB (MiB).")
    volume_size: int | None = Field(None, gt=0, description="Size of /workspace in MB.")
    gpus: int | None = Field(None, ge=0, description="Number of GPUs.")


class WorkspaceInput(_Input):
    display_name: str | None = Field(
        None, max_length=128, description="Free text, unique among the user's workspaces."
    )
    container_image: str | None = Field(None, max_length=512)
    compute: WorkspaceCompute | None = None
    idle_timeout: int | None = Field(
        None,
        ge=0,
        le=IDLE_TIMEOUT_MAX,
        description="Stop after this many seconds without activity; 0 = never.",
    )
    clear_volume_on_stop: bool | None = None
    schedule: Schedule | None = Field(
        None,
        description="Start and stop by itself at given times. Left out: the administrator's "
        "default schedule, if any; null: none.",
    )
    template: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
        description="Create from this template (GET /templates): its defaults, within its choices.",
    )
    is_stopped: bool = Field(False, description="Create the workspace without starting it.")


class WorkspaceUpdate(_Input):
    """A partial update: fields left out keep their value."""

    display_name: str | None = Field(None, max_length=128)
    container_image: str | None = Field(None, max_length=512)
    compute: WorkspaceCompute | None = None
    idle_timeout: int | None = Field(None, ge=0, le=IDLE_TIMEOUT_MAX)
    clear_volume_on_stop: bool | None = None
    schedule: Schedule | None = Field(None, description="A new schedule; null: none any more.")


class ComputeSpec(BaseModel):
    """Resolved compute settings of a workspace (every value known)."""

    cpus: float
    memory: int
    volume_size: int
    gpus: int = 0

    def threads(self) -> int:
        """For MAX_NUM_THREADS: ml-workspace's "auto" reads only cgroup v1 CPU quotas."""
        return max(1, math.ceil(self.cpus))


class WorkspaceSpec(BaseModel):
    """Everything a workspace is made from, after defaults were applied and input validated."""

    display_name: str
    container_image: str
    compute: ComputeSpec
    idle_timeout: int = 0
    clear_volume_on_stop: bool = False
    schedule: Schedule | None = None
    template: str | None = Field(None, description="The template it was made from.")
    template_version: str | None = None
    # The template's: set on the container (the manager's own variables win).
    environment: dict[str, str] = Field(default_factory=dict)


class Workspace(WorkspaceSpec):
    id: str
    user_id: str
    status: WorkspaceStatus
    status_message: str = Field(description="What is happening, in a sentence a user reads.")
    is_stopped: bool = Field(description="True when the user asked for it to be stopped.")
    access_url: str | None = Field(None, description="Path of the workspace while it runs.")
    created_at: datetime
    stops_at: datetime | None = Field(
        None, description="When idle stop or the maximum lifetime will stop it, at the earliest."
    )
    stop_reason: str | None = Field(None, description="Why it will stop then.")
    stop_postponable: bool = Field(
        False, description="That stop is its schedule's, and `:postpone` can move it."
    )
    starts_at: datetime | None = Field(
        None, description="When its schedule will start it next (while it is not running)."
    )
    template_status: str | None = Field(
        None,
        description="Of its template: 'current', 'outdated' (a newer version can be applied), "
        "'deprecated' or 'removed'; None without one.",
    )


class KeptVolume(BaseModel):
    """The /workspace of a deleted workspace, kept because its user chose to keep the data."""

    workspace_id: str = Field(description="The id of the workspace it belonged to.")
    user_id: str
    display_name: str = Field(
        description="The workspace's name when the volume was made; empty if not known."
    )
    size: int = Field(
        description="MB it counts toward the disk quota: the size it was given, or what it "
        "holds where that is more."
    )
    used: int | None = Field(None, description="MB it held when last measured; None if not yet.")
    created_at: datetime | None = None


class WorkspaceOpening(BaseModel):
    url: str = Field(
        description="Open this in a browser (a new tab or a frame of the web app). On the "
        "manager's proxy: the workspace's own origin with a code that works once, within a "
        "minute; a path means the workspace is served under the page's own origin."
    )


class WorkspaceStats(BaseModel):
    """The latest measurements (MB, and % of one CPU); None where not measured yet."""

    cpu_percent: float | None = None
    cpu_limit_percent: float
    memory_used: int | None = None
    memory_limit: int
    measured_at: datetime | None = None
    volume_used: int | None = None
    volume_limit: int
    container_used: int | None = None
    container_limit: int
    disk_measured_at: datetime | None = None
    volume_hard_limit: int | None = Field(
        None,
        description="The size /workspace is held to by the engine (writes beyond it fail); "
        "None where its use is only measured.",
    )
    container_hard_limit: int | None = Field(
        None, description="The same for the container's own files (its writable layer)."
    )
    not_measured: str | None = Field(
        None,
        description="Why this workspace is not measured (the engine of the node it is on "
        "cannot be reached, say); None where it is.",
    )
    warnings: list[str] = Field(default_factory=list)


class WorkspacePage(BaseModel):
    items: list[Workspace]
    total: int = Field(description="How many workspaces match, on all pages.")
    limit: int
    offset: int


class WorkspaceConfigOptions(BaseModel):
    """What the UI needs to offer valid choices; the server enforces the same rules."""

    display_name_default: str
    display_name_max_length: int = 128
    container_image_default: ImageOption
    container_image_options: list[ImageOption]
    cpus_default: float
    cpus_min: float
    cpus_max: float
    cpus_step: float
    cpus_options: list[float]
    memory_default: int
    memory_min: int
    memory_max: int
    memory_options: list[int]
    volume_size_default: int
    volume_size_min: int
    volume_size_max: int
    container_size: int
    gpus_default: int = 0
    gpus_max: int
    shm_size: int
    idle_timeout_default: int
    idle_timeout_options: list[int]
    always_clear_volume_on_stop: bool
    container_size_hard: bool = Field(
        False,
        description="The engine holds each container's own files to container_size (writes "
        "beyond it fail); otherwise their use is measured and enforced by stopping.",
    )
    volume_size_hard: bool = Field(
        False, description="The same for /workspace volumes and their volume_size."
    )
    egress_blocked: list[str] = Field(
        default_factory=list,
        description="What workspaces cannot reach: 'metadata' (link-local addresses such as "
        "a cloud's 169.254.169.254) and 'host' (the Docker host's own services). Empty where "
        "nothing is blocked (WORKSPACE_EGRESS_BLOCK, or an engine where it cannot be).",
    )
    schedules_available: bool = Field(
        True,
        description="Workspaces may have schedules here (not on the ML Lab backend, which "
        "starts and stops its services itself).",
    )
    schedule_default: Schedule | None = Field(
        None, description="The schedule a new workspace gets unless it is given another."
    )
    schedule_stop_latest: str | None = Field(
        None,
        description="HH:MM: every running workspace stops then each day (in its schedule's "
        "time zone), and no schedule stops later.",
    )
    schedule_timezone: str = Field(
        "UTC", description="Where the latest stop applies to workspaces without a schedule."
    )
    snapshots_available: bool = Field(
        False,
        description="Downloads, snapshots, restores and clones of /workspace are offered here "
        "(the Docker backend), with SNAPSHOT_MAX_SIZE MB at most each.",
    )
    snapshot_max_size: int = Field(0, description="MB a download or snapshot may hold.")
    sharing_available: bool = Field(
        True,
        description="Workspaces can be shared with other users here (not on the ML Lab "
        "backend, whose proxy decides who opens them, nor with workspaces on the manager's "
        "origin).",
    )
    custom_allowed: bool = Field(
        True,
        description="The caller may create a workspace that follows no template "
        "(WORKSPACE_CUSTOM_ALLOWED; administrators always may).",
    )
    workspaces_on_manager_origin: bool = Field(
        False,
        description="Workspaces are served on the manager's own origin "
        "(UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN): any user's workspace can act as whoever opens "
        "it. The administrator's pages warn about it.",
    )


class ShareAccess(StrEnum):
    """What a share allows: 'open' the workspace (through the proxy; see its status and
    measurements), or also 'operate' it (start, stop, restart, extend, read its logs)."""

    OPEN = "open"
    OPERATE = "operate"


class ShareInput(_Input):
    access: ShareAccess = ShareAccess.OPEN


class Share(BaseModel):
    workspace_id: str
    owner: str = Field(description="The workspace's owner.")
    user_id: str = Field(description="Who it is shared with.")
    access: ShareAccess
    created_at: datetime
    created_by: str = Field(description="Who shared it: the owner or an administrator.")


class SharedWorkspace(BaseModel):
    """A workspace someone else shared with the caller (its `user_id` is the owner)."""

    workspace: Workspace
    access: ShareAccess
    shared_at: datetime


class Health(BaseModel):
    status: str
    backend: str
    auth_mode: str = Field(
        description="'standalone' or 'mllab': how to sign in (public, so a signed-out web app "
        "knows whether to show its own sign-in or send the user to ML Lab)."
    )
    detail: str | None = None
