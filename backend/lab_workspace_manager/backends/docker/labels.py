"""The labels that mark what the manager owns on an engine; they are its only stored state.

Every object carries the instance, its kind and its owner; workspace objects also carry the
workspace id. A workspace's settings and the state its user asked for live on its *record*: a
never-started container made from an empty image, replaced by a new revision on every change
(container labels cannot be edited). Reading every workspace of a user is one list call.
"""

from __future__ import annotations

PREFIX = "lwm."
INSTANCE = PREFIX + "instance"
KIND = PREFIX + "kind"
OWNER = PREFIX + "owner"
WORKSPACE = PREFIX + "workspace"
DISPLAY_NAME = PREFIX + "display-name"
SPEC = PREFIX + "spec"
REVISION = PREFIX + "revision"
DESIRED = PREFIX + "desired"
REASON = PREFIX + "reason"
CHANGED_AT = PREFIX + "changed-at"
CREATED_AT = PREFIX + "created-at"
# On a workspace container: a fingerprint of the settings it was created from.
BUILD = PREFIX + "build"
# On a volume: the size (MB) its workspace asked for when it was made.
VOLUME_SIZE = PREFIX + "volume-size"
# On a workspace container whose writable layer the engine limits: that limit (MB).
CONTAINER_SIZE = PREFIX + "container-size"

KIND_WORKSPACE = "workspace"
KIND_RECORD = "record"
KIND_VOLUME = "volume"
KIND_NETWORK = "network"
KIND_CLEANER = "cleaner"  # a short-lived container that empties a volume
KIND_HELPER = "helper"  # a short-lived container of the manager's own (egress rules)
# The kinds of container the manager makes for workspaces (and so may remove).
WORKSPACE_CONTAINER_KINDS = (KIND_WORKSPACE, KIND_RECORD, KIND_CLEANER)


def selector(
    instance: str, kind: str | None = None, owner: str | None = None, workspace: str | None = None
) -> list[str]:
    """The label filter (`filters={"label": ...}`) for this instance's objects, narrowed to a
    kind, an owner and a workspace id where given."""
    wanted = {INSTANCE: instance, KIND: kind, OWNER: owner, WORKSPACE: workspace}
    return [f"{key}={value}" for key, value in wanted.items() if value is not None]
