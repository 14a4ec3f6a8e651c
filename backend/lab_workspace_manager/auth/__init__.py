"""Who is calling, and what they may do.

Two ways to sign in, chosen by `create_authenticator` from the settings:
  - standalone (`StandaloneAuth`): an administrator token, and user tokens (JWTs) it issues;
  - ML Lab (`MLLabAuth`): the caller's ML Lab token, verified by ML Lab itself.
Either way the rule is the same: a user acts on their own workspaces; an administrator on all.
"""

from __future__ import annotations

import httpx

from ..settings import Settings
from ..shared import SharedState
from .base import Authenticator, Identity, find_token

__all__ = ["Authenticator", "Identity", "create_authenticator", "find_token"]


def create_authenticator(
    settings: Settings, http: httpx.AsyncClient, shared: SharedState
) -> Authenticator:
    if settings.mllab_mode:
        from .mllab import MLLabAuth

        return MLLabAuth(settings, http)
    from .standalone import StandaloneAuth

    return StandaloneAuth(settings, shared)
