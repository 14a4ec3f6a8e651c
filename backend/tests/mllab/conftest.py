from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.support.apiclient import Api, open_api
from tests.support.contaxy_server import Contaxy
from tests.support.settings import make_settings


@pytest.fixture
def lab_api(contaxy: Contaxy) -> Callable[..., Any]:
    """A manager in ML Lab mode against the real contaxy, as a new ML Lab user."""

    @asynccontextmanager
    async def open_lab_api(
        backend: str = "docker", token: str | None = None, user: str | None = None, **overrides: Any
    ) -> AsyncIterator[Api]:
        overrides.setdefault("contaxy_api_endpoint", contaxy.endpoint)
        settings = make_settings(workspace_backend=backend, **overrides)
        async with open_api(settings, token=token, user=user, sign_up=contaxy.sign_up) as api:
            yield api

    return open_lab_api
