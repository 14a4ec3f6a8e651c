"""ML Lab token checks, with ML Lab's answers mocked (respx); the real thing is in the
authorisation matrix and tests/mllab."""

from __future__ import annotations

import httpx
import pytest
import respx

from lab_workspace_manager.auth.mllab import MLLabAuth
from lab_workspace_manager.errors import BackendUnavailable, Unauthenticated
from tests.support.settings import make_settings

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


@respx.mock
async def test_an_unknown_token_costs_one_call_and_its_refusal_keeps_nothing_alive(
    respx_mock: respx.MockRouter,
) -> None:
    """Regression (issue 13): a cached refusal was one exception object raised again and again
    (its traceback grew with every request), and an unknown token cost two calls."""
    route = respx_mock.post(f"{LAB}/auth/tokens/verify").mock(
        return_value=httpx.Response(401, json={})
    )
    checker, http = auth(auth_cache_seconds=60)
    raised = []
    for _ in range(3):
        with pytest.raises(Unauthenticated) as caught:
            await checker.identify(TOKEN)
        raised.append(caught.value)
    assert route.call_count == 1
    assert raised[0] is not raised[1]
    assert all(isinstance(verdict, str) for _, verdict in checker._cache.values())
    await http.aclose()


@respx.mock
async def test_the_cache_is_bounded_least_recently_used_first(
    respx_mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lab_workspace_manager.auth.mllab.CACHE_SIZE", 3)
    lab_answers(respx_mock)
    checker, http = auth(auth_cache_seconds=60)
    for token in ("t1", "t2", "t3"):
        await checker.identify(token * 20)
    await checker.identify("t1" * 20)  # used again: kept
    await checker.identify("t4" * 20)
    assert len(checker._cache) == 3
    calls = respx_mock.calls.call_count
    await checker.identify("t1" * 20)
    assert respx_mock.calls.call_count == calls  # still remembered
    await checker.identify("t2" * 20)
    assert respx_mock.calls.call_count == calls + 2  # forgotten: asked again
    await http.aclose()


@respx.mock
async def test_made_up_tokens_are_limited_per_client_address(respx_mock: respx.MockRouter) -> None:
    """One address sending made-up tokens as fast as it can makes ML Lab answer at most
    UNKNOWN_BURST of them at once; other addresses, known tokens and the manager's own
    checks (no address) go on."""
    from lab_workspace_manager.auth import mllab
    from lab_workspace_manager.errors import TooManyRequests

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"Bearer {TOKEN}":
            return httpx.Response(200, json={"authorized_subject": "users/u1"})
        return httpx.Response(401, json={})

    route = respx_mock.post(f"{LAB}/auth/tokens/verify").mock(side_effect=answer)
    checker, http = auth(auth_cache_seconds=600)
    await checker.identify(TOKEN, "10.0.0.9")  # known from here on; valid ones cost nothing
    for n in range(mllab.UNKNOWN_BURST):
        with pytest.raises(Unauthenticated):
            await checker.identify(f"made-up-{n}", "10.0.0.9")
    asked = route.call_count
    with pytest.raises(TooManyRequests, match="Wait a minute"):
        await checker.identify("made-up-more", "10.0.0.9")
    assert route.call_count == asked  # ML Lab was not asked
    assert (await checker.identify(TOKEN, "10.0.0.9")).user_id == "u1"  # cached: no question
    with pytest.raises(Unauthenticated):
        await checker.identify("made-up-elsewhere", "10.0.0.10")
    with pytest.raises(Unauthenticated):
        await checker.identify("made-up-recheck")
    # An IPv6 host has its /64: another address in it is the same client.
    for n in range(mllab.UNKNOWN_BURST):
        with pytest.raises(Unauthenticated):
            await checker.identify(f"v6-{n}", "2001:db8:1:2::10")
    with pytest.raises(TooManyRequests):
        await checker.identify("v6-more", "2001:db8:1:2::ffff")
    await http.aclose()


@respx.mock
async def test_valid_tokens_from_one_address_are_never_limited(
    respx_mock: respx.MockRouter,
) -> None:
    """Many users behind one address (a NAT, ML Lab's proxy), each token checked afresh."""
    from lab_workspace_manager.auth import mllab

    lab_answers(respx_mock)
    checker, http = auth(auth_cache_seconds=0)
    for n in range(3 * mllab.UNKNOWN_BURST):
        assert (await checker.identify(f"valid-{n}", "10.0.0.1")).user_id == "u123"
    await http.aclose()
