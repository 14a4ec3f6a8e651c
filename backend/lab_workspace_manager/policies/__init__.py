"""Rules that act on workspaces over time (idle stop, maximum lifetime, disk limits).

They read through the backend and stop through `Stop`: the service, acting as the manager,
so that a policy's stop is followed up like anyone's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

# stop(owner, workspace id, reason): reason completes "Stopped ..." for the user.
Stop = Callable[[str, str, str], Awaitable[object]]
