"""Whether stopping a workspace empties its /workspace: its own choice, or the administrator's
WORKSPACE_ALWAYS_CLEAR_VOLUME_ON_STOP, which applies to existing workspaces too. What the API
reports is this effective value, and a stop the user did not ask for says when it emptied."""

from __future__ import annotations

from ..models import WorkspaceSpec
from ..settings import Settings

EMPTIED = "/workspace was emptied on stopping, as its clear-on-stop setting asks"


def clears_on_stop(spec: WorkspaceSpec, settings: Settings) -> bool:
    return spec.clear_volume_on_stop or settings.always_clear_volume_on_stop


def automatic_stop_reason(reason: str, spec: WorkspaceSpec, settings: Settings) -> str:
    """`reason` (it completes "Stopped ..."), and that the data is gone if it is."""
    return f"{reason}; {EMPTIED}" if clears_on_stop(spec, settings) else reason
