"""Server-side rules for what a user may ask for, checked against the configured limits.

`resolve_input` turns a create request into a complete `WorkspaceSpec` (defaults applied);
`apply_update` merges a partial update into an existing spec. Both raise `InvalidInput` with a
message that names the field, the value and what is allowed. Only the fields a request sets are
checked, so an existing workspace never becomes invalid because an administrator lowered a limit.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from functools import cache
from typing import TypeVar
from zoneinfo import available_timezones

from .errors import InvalidInput
from .models import (
    ComputeSpec,
    Schedule,
    WorkspaceCompute,
    WorkspaceInput,
    WorkspaceSpec,
    WorkspaceUpdate,
)
from .settings import Settings

T = TypeVar("T")

DISPLAY_NAME_MAX = 128


def resolve_input(request: WorkspaceInput, settings: Settings) -> WorkspaceSpec:
    compute = request.compute or WorkspaceCompute()
    spec = WorkspaceSpec(
        display_name=settings.display_name_default,
        container_image=settings.workspace_image_default,
        compute=ComputeSpec(
            cpus=settings.cpus_default,
            memory=settings.memory_default,
            volume_size=settings.volume_size_default,
            gpus=settings.gpus_default,
        ),
        idle_timeout=settings.idle_timeout_default,
        clear_volume_on_stop=settings.always_clear_volume_on_stop,
    )
    update = WorkspaceUpdate(
        display_name=request.display_name,
        container_image=request.container_image,
        compute=compute,
        idle_timeout=request.idle_timeout,
        clear_volume_on_stop=request.clear_volume_on_stop,
        # Left out: the administrator's default; null: none.
        schedule=request.schedule
        if "schedule" in request.model_fields_set
        else settings.schedule_default,
    )
    return apply_update(spec, update, settings)


def apply_update(spec: WorkspaceSpec, update: WorkspaceUpdate, settings: Settings) -> WorkspaceSpec:
    """Return `spec` with the fields `update` sets, each checked against the settings."""
    changes: dict[str, object] = {}
    if update.display_name is not None:
        changes["display_name"] = check_display_name(update.display_name)
    if update.container_image is not None:
        changes["container_image"] = check_image(update.container_image, settings)
    if update.idle_timeout is not None:
        changes["idle_timeout"] = check_idle_timeout(update.idle_timeout, settings)
    if update.clear_volume_on_stop is not None:
        changes["clear_volume_on_stop"] = update.clear_volume_on_stop
    if settings.always_clear_volume_on_stop:
        changes["clear_volume_on_stop"] = True
    if update.compute is not None:
        changes["compute"] = _apply_compute(spec.compute, update.compute, settings)
    if "schedule" in update.model_fields_set:  # (null: no schedule any more)
        changes["schedule"] = update.schedule and check_schedule(update.schedule, settings)
    return spec.model_copy(update=changes)


def check_schedule(schedule: Schedule, settings: Settings) -> Schedule:
    if schedule.timezone not in time_zones():
        raise InvalidInput(
            f"schedule.timezone: '{schedule.timezone[:64]}' is not a time zone: give an IANA "
            "name such as 'Europe/Berlin' or 'UTC'."
        )
    latest = settings.schedule_stop_latest
    # (Comparable only in the latest stop's own time zone; elsewhere it holds anyway.)
    if latest and schedule.timezone == settings.schedule_timezone:
        if schedule.stop and schedule.stop > latest:
            raise InvalidInput(
                f"schedule.stop: workspaces stop by {latest} ({settings.schedule_timezone}) at "
                f"the latest here (the administrator's setting); choose {latest} or earlier."
            )
        if schedule.start and schedule.start >= latest:
            raise InvalidInput(
                f"schedule.start: workspaces stop at {latest} ({settings.schedule_timezone}) "
                "here; choose an earlier start."
            )
    return schedule


@cache
def time_zones() -> frozenset[str]:
    """The IANA names users may choose: not the tz database's aliases for its own files."""
    return frozenset(
        zone
        for zone in available_timezones()
        if not zone.startswith(("posix/", "right/")) and zone not in ("localtime", "Factory")
    )


def _apply_compute(
    current: ComputeSpec, update: WorkspaceCompute, settings: Settings
) -> ComputeSpec:
    values = current.model_dump()
    if update.cpus is not None:
        values["cpus"] = check_cpus(update.cpus, settings)
    if update.memory is not None:
        values["memory"] = check_memory(update.memory, settings)
    if update.volume_size is not None:
        values["volume_size"] = check_volume_size(update.volume_size, settings)
    if update.gpus is not None:
        values["gpus"] = check_gpus(update.gpus, settings)
    return ComputeSpec(**values)


def check_display_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise InvalidInput("display_name: a workspace needs a name; it cannot be empty.")
    if len(name) > DISPLAY_NAME_MAX:
        raise InvalidInput(
            f"display_name: at most {DISPLAY_NAME_MAX} characters are allowed, got {len(name)}."
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput(
            "display_name: control or invisible formatting characters are not allowed."
        )
    return name


def check_image(image: str, settings: Settings) -> str:
    image = image.strip()
    allowed = [option.image for option in settings.allowed_images]
    if image not in allowed:
        raise InvalidInput(
            f"container_image: '{image}' is not an allowed image. "
            f"Choose one of: {', '.join(allowed)}."
        )
    return image


def check_cpus(cpus: float, settings: Settings) -> float:
    if settings.cpus_options:
        if not any(math.isclose(cpus, option) for option in settings.cpus_options):
            raise InvalidInput(
                f"compute.cpus: {cpus:g} is not one of the offered values "
                f"({', '.join(f'{o:g}' for o in settings.cpus_options)})."
            )
        return cpus
    if not settings.cpus_min <= cpus <= settings.cpus_max:
        raise InvalidInput(
            f"compute.cpus: {cpus:g} is outside the allowed range "
            f"{settings.cpus_min:g} to {settings.cpus_max:g} CPUs."
        )
    steps = cpus / settings.cpus_step
    if not math.isclose(steps, round(steps), abs_tol=1e-6):
        raise InvalidInput(
            f"compute.cpus: {cpus:g} is not a multiple of {settings.cpus_step:g} CPUs."
        )
    # Drop float noise (0.30000000000000004) so the stored value reads as typed.
    if round(cpus, 6) <= 0:  # (0 would be no limit at all to the engine)
        raise InvalidInput("compute.cpus: a workspace needs more than 0 CPUs.")
    return round(cpus, 6)


def check_memory(memory: int, settings: Settings) -> int:
    if settings.memory_options and memory not in settings.memory_options:
        raise InvalidInput(
            f"compute.memory: {memory} MB is not one of the offered values "
            f"({', '.join(str(o) for o in settings.memory_options)} MB)."
        )
    if not settings.memory_min <= memory <= settings.memory_max:
        raise InvalidInput(
            f"compute.memory: {memory} MB is outside the allowed range "
            f"{settings.memory_min} to {settings.memory_max} MB."
        )
    return memory


def check_volume_size(size: int, settings: Settings) -> int:
    maximum = settings.volume_size_max or settings.volume_size_default
    if not settings.volume_size_min <= size <= maximum:
        raise InvalidInput(
            f"compute.volume_size: {size} MB is outside the allowed range "
            f"{settings.volume_size_min} to {maximum} MB."
        )
    return size


def check_gpus(gpus: int, settings: Settings) -> int:
    if gpus > settings.gpus_max:
        allowed = (
            "no GPUs are offered"
            if settings.gpus_max == 0
            else (f"at most {settings.gpus_max} are allowed")
        )
        raise InvalidInput(f"compute.gpus: {gpus} requested, but {allowed}.")
    return gpus


def check_idle_timeout(seconds: int, settings: Settings) -> int:
    if settings.idle_timeout_options and seconds not in settings.idle_timeout_options:
        raise InvalidInput(
            f"idle_timeout: {seconds} s is not one of the offered values "
            f"({', '.join(str(o) for o in settings.idle_timeout_options)} s)."
        )
    return seconds


def fit_to(spec: WorkspaceSpec, settings: Settings) -> WorkspaceSpec:
    """`spec` within `settings` (a template's rules): each value kept where allowed, else
    the default; what the rules fix is set."""

    def kept(value: T, check: Callable[[T, Settings], T], default: T) -> T:
        try:
            return check(value, settings)
        except InvalidInput:
            return default

    c = spec.compute
    return spec.model_copy(
        update={
            "container_image": kept(
                spec.container_image, check_image, settings.workspace_image_default
            ),
            "compute": ComputeSpec(
                cpus=kept(c.cpus, check_cpus, settings.cpus_default),
                memory=kept(c.memory, check_memory, settings.memory_default),
                volume_size=max(c.volume_size, settings.volume_size_min),  # (never shrunk)
                gpus=kept(c.gpus, check_gpus, settings.gpus_default),
            ),
            "idle_timeout": kept(
                spec.idle_timeout, check_idle_timeout, settings.idle_timeout_default
            ),
            "clear_volume_on_stop": spec.clear_volume_on_stop
            or settings.always_clear_volume_on_stop,
        }
    )
