"""ML Lab token checks, with ML Lab's answers mocked (respx); the real thing is in the
authorisation matrix and tests/mllab."""

from __future__ import annotations

import httpx
import pytest
import respx

from lab_workspace_manager.auth.mllab import MLLabAuth
from lab_workspace_manager.errors import BackendUnavailable, Unauthenticated
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio
LAB = "http://lab.test/api"
TOKEN = "a" * 40


def auth(**overrides: object) -> tuple[MLLabAuth, httpx.AsyncClient]:
    http = httpx.AsyncClient()
    return MLLabAuth(make_settings(contaxy_api_endpoint=LAB, **overrides), http), http


def lab_answers(
    respx_mock: respx.MockRouter, user: str = "u123", admin: bool = False
) -> respx.Route:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("permission") == "*#admin":
            return httpx.Response(200 if admin else 403, json={})
        return httpx.Response(200, json={"authorized_subject": f"users/{user}"})

    return respx_mock.post(f"{LAB}/auth/tokens/verify").mock(side_effect=answer)


@respx.mock
async def test_who_and_whether_admin(respx_mock: respx.MockRouter) -> None:
    lab_answers(respx_mock, "u123", admin=True)
    checker, http = auth()
    identity = await checker.identify(TOKEN)
    assert (identity.user_id, identity.is_admin) == ("u123", True)
    sent = respx_mock.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    await http.aclose()


@respx.mock
async def test_verdicts_are_cached_by_token_hash(respx_mock: respx.MockRouter) -> None:
    route = lab_answers(respx_mock)
    checker, http = auth(auth_cache_seconds=60)
    for _ in range(5):
        await checker.identify(TOKEN)
    assert route.call_count == 2  # who, and whether admin: once
    assert all(TOKEN not in key for key in checker._cache)
    await http.aclose()


@respx.mock
async def test_the_cache_expires(respx_mock: respx.MockRouter) -> None:
    route = lab_answers(respx_mock)
    checker, http = auth(auth_cache_seconds=0)
    await checker.identify(TOKEN)
    await checker.identify(TOKEN)
    assert route.call_count == 4
    await http.aclose()


@respx.mock
async def test_an_unknown_token_is_unauthenticated(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{LAB}/auth/tokens/verify").mock(return_value=httpx.Response(401, json={}))
    checker, http = auth()
    with pytest.raises(Unauthenticated, match="ML Lab does not accept this token"):
        await checker.identify(TOKEN)
    await http.aclose()


@respx.mock
async def test_an_unreachable_lab_is_unavailable(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{LAB}/auth/tokens/verify").mock(side_effect=httpx.ConnectError("refused"))
    checker, http = auth()
    with pytest.raises(BackendUnavailable, match="ML Lab cannot be reached"):
        await checker.identify(TOKEN)
    await http.aclose()


@respx.mock
async def test_a_token_of_something_else_than_a_user_is_refused(
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(f"{LAB}/auth/tokens/verify").mock(
        return_value=httpx.Response(200, json={"authorized_subject": "services/xyz"})
    )
    checker, http = auth()
    with pytest.raises(Unauthenticated, match="not to a user"):
        await checker.identify(TOKEN)
    await http.aclose()
