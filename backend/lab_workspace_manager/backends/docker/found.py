"""What the engine has of each workspace: its containers grouped by workspace id, and what
they say (its record, its container, its leftovers, its address). Pure functions of a
container listing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ... import naming
from ...settings import Settings
from . import labels as L
from .records import Record

Summary = dict[str, Any]


@dataclass
class Found:
    """Every container the engine has for one workspace id."""

    records: list[Summary] = field(default_factory=list)
    container: Summary | None = None
    everything: list[Summary] = field(default_factory=list)

    def newest(self) -> Summary:
        """The newest revision of its record (the one that counts)."""
        return max(self.records, key=lambda c: int(c["Labels"][L.REVISION]))

    def revision(self) -> int:
        """Its newest record's revision; 0 if it has none."""
        return int(self.newest()["Labels"][L.REVISION]) if self.records else 0

    def record(self) -> Record:
        return Record.from_labels(self.newest()["Labels"])


def group(
    summaries: list[Summary], settings: Settings, workspace_id: str | None
) -> dict[str, Found]:
    """The containers of each workspace id (of `workspace_id` only, if given)."""
    found: dict[str, Found] = {}
    for summary in summaries:
        labels = summary.get("Labels") or {}
        if workspace_id and labels.get(L.WORKSPACE) != workspace_id:
            continue
        # Only what the manager makes for workspaces, and never the manager itself (an
        # operator may well give its container the instance label).
        kind = labels.get(L.KIND)
        if kind not in L.WORKSPACE_CONTAINER_KINDS or is_manager(summary, settings):
            continue
        entry = found.setdefault(labels.get(L.WORKSPACE, ""), Found())
        entry.everything.append(summary)
        if kind == L.KIND_RECORD:
            entry.records.append(summary)
        elif kind == L.KIND_WORKSPACE:
            name = naming.container_name(
                settings.instance_id, labels.get(L.OWNER, ""), labels.get(L.WORKSPACE, "")
            )
            if "/" + name in summary.get("Names", []):
                entry.container = summary
    return found


def is_manager(summary: Summary, settings: Settings) -> bool:
    me = settings.manager_container
    if not me:
        return False
    return str(summary.get("Id", "")).startswith(me) or f"/{me}" in summary.get("Names", [])


def address(container: Summary, instance: str) -> str | None:
    """The container's address on its owner's network (a workspace is on that one only;
    one created before user networks got their longer names is on one with the old name)."""
    networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
    current = naming.network_name(instance, container["Labels"][L.OWNER])
    names = [current, *(n for n in networks if n != current and naming.is_network_of(instance, n))]
    for name in names:
        if found := (networks.get(name) or {}).get("IPAddress"):
            return str(found)
    return None


def is_up(container: Summary | None) -> bool:
    return container is not None and container["State"] in ("running", "restarting")


def built_from(container: Summary) -> str:
    return str((container.get("Labels") or {}).get(L.BUILD, ""))


def cleaning(found: Found) -> bool:
    """Whether a cleaner is still emptying the workspace's volume."""
    return any(_is_cleaner_at_work(c) for c in found.everything)


def _is_cleaner_at_work(summary: Summary) -> bool:
    return bool(summary["Labels"].get(L.KIND) == L.KIND_CLEANER and summary["State"] == "running")


def never_started(found: Found) -> bool:
    """Created to run but never started (a create or start cut short by a restart)."""
    return (
        bool(found.records)
        and found.container is not None
        and found.container["State"] == "created"
        and found.record().desired == "running"
    )


def leftovers(found: Found) -> list[Summary]:
    """What of a workspace id's containers no workspace accounts for."""
    keep = set()
    if found.records:
        keep.add(found.newest()["Id"])
        if found.container is not None:
            keep.add(found.container["Id"])
    # A cleaner still emptying a volume finishes (and removes itself) first.
    return [c for c in found.everything if c["Id"] not in keep and not _is_cleaner_at_work(c)]
