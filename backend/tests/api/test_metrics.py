"""`GET /metrics`: who may read them, that they parse, that they count what happened, and that
no series names a workspace or a user (in-memory backend; the real Prometheus scrapes the
image in tests/image/test_prometheus.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends.memory import InMemoryBackend
from tests.api.test_workspace_origins import LocatingBackend
from tests.support.apiclient import Api, open_api, running
from tests.support.images import TEST_IMAGE
from tests.support.settings import ADMIN_TOKEN, make_settings

pytestmark = pytest.mark.anyio

METRICS_TOKEN = "metrics-token-for-the-tests"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    settings = make_settings(metrics_token=METRICS_TOKEN, quota_running=2)
    async with open_api(settings, LocatingBackend()) as api:
        yield api


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def scrape(api: Api, token: str = METRICS_TOKEN) -> str:
    response = await api.client.get("/metrics", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def samples(text: str) -> Samples:
    """Every sample by (name, labels), as Prometheus' own parser reads the text."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def test_who_may_read_the_metrics(api: Api) -> None:
    anonymous = await api.client.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert "Sign in first" in anonymous.json()["detail"]
    user = await api.client.get("/metrics")  # a signed-in user who is no administrator
    assert user.status_code == 403
    assert user.json() == {"detail": "Only administrators may do this."}
    admin = await api.client.get("/metrics", headers=bearer(ADMIN_TOKEN))
    assert admin.status_code == 200
    assert "lab_workspace_manager_operations_total" in admin.text
    assert "lab_workspace_manager_operations_total" in await scrape(api)
    for wrong in (METRICS_TOKEN + "x", METRICS_TOKEN[:-1], METRICS_TOKEN.upper()):
        refused = await api.client.get("/metrics", headers=bearer(wrong))
        assert refused.status_code == 401, wrong
    # The metrics token reads the metrics, nothing else, and only as a bearer token.
    other = await api.client.get("/workspaces", headers=bearer(METRICS_TOKEN))
    assert other.status_code == 401
    in_query = await api.client.get(
        "/metrics", params={"ct_token": METRICS_TOKEN}, headers={"Authorization": ""}
    )
    assert in_query.status_code == 401


async def test_without_a_metrics_token_only_administrators_read_them() -> None:
    async with open_api(make_settings(), InMemoryBackend()) as api:
        refused = await api.client.get("/metrics", headers=bearer(METRICS_TOKEN))
        assert refused.status_code == 401
        assert (await api.client.get("/metrics", headers=bearer(ADMIN_TOKEN))).status_code == 200


async def test_in_ml_lab_mode_the_metrics_token_is_never_asked_of_ml_lab() -> None:
    """ML Lab is not reachable here: a token it were asked about would be answered 503."""
    settings = make_settings(
        contaxy_api_endpoint="http://127.0.0.1:9/api",
        metrics_token=METRICS_TOKEN,
        workspace_backend="memory",
    )
    async with (
        running(create_app(settings, InMemoryBackend())) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):
        for _ in range(40):  # more than ML Lab sign-in lets one address bring unknown tokens
            response = await client.get("/metrics", headers=bearer(METRICS_TOKEN))
            assert response.status_code == 200, response.text
        asked = await client.get("/metrics", headers=bearer(METRICS_TOKEN + "x"))
        assert asked.status_code == 503


async def test_the_metrics_count_what_happened_and_name_no_workspace_or_user(api: Api) -> None:
    bob = api.as_user()
    alices = [await api.create_running(display_name=f"a{n}") for n in range(2)]
    bobs = await bob.create_running(display_name="b")
    stopped = await bob.create(display_name="c", is_stopped=True)
    await bob.action(bobs["id"], "restart")
    await bob.action(stopped["id"], "stop")
    # A third running workspace of alice's is beyond her quota.
    await api.create(expect=409, display_name="a3")
    await api.client.delete(api.path(alices[1]["id"]))
    # The proxy's access check (by the token in a header, as scripts do): once let through,
    # once without credentials.
    let_through = await api.client.get(
        "/auth/workspace-access", headers={"X-Workspace-Id": alices[0]["id"]}
    )
    assert let_through.status_code == 204, let_through.text
    anonymous = await api.client.get(
        "/auth/workspace-access",
        headers={"X-Workspace-Id": alices[0]["id"], "Authorization": ""},
    )
    assert anonymous.status_code == 401
    runtime = api.app.state.runtime  # type: ignore[union-attr]
    stream = runtime.events.open_stream(bob.user)
    await runtime._stopping("idle")(
        bob.user, bobs["id"], "after reaching the maximum running time of 1 h"
    )

    text = await scrape(api)
    stream.release()
    found = samples(text)
    operations = "lab_workspace_manager_operations_total"
    assert value(found, operations, operation="create", result="ok") == 4
    assert value(found, operations, operation="create", result="failed") == 1
    assert value(found, operations, operation="restart", result="ok") == 1
    assert value(found, operations, operation="stop", result="ok") == 2
    assert value(found, operations, operation="delete", result="ok") == 1
    assert value(found, operations, operation="start", result="failed") == 0
    failures = "lab_workspace_manager_failures_total"
    assert value(found, failures, reason="quota") == 1
    assert value(found, failures, reason="engine") == 0
    gauge = "lab_workspace_manager_workspaces"
    assert value(found, gauge, status="running") == 1  # alice's first
    assert value(found, gauge, status="stopped") == 2  # bob's
    assert value(found, "lab_workspace_manager_users_with_running_workspaces") == 1
    assert value(found, "lab_workspace_manager_event_streams_open") == 1
    stops = "lab_workspace_manager_automatic_stops_total"
    assert value(found, stops, reason="lifetime") == 1
    assert value(found, stops, reason="idle") == 0
    ready = "lab_workspace_manager_time_to_ready_seconds_count"
    # Three creates that started and a restart; image is the allowed image's name.
    assert value(found, ready, image=TEST_IMAGE, outcome="ready") == 4
    checks = "lab_workspace_manager_proxy_access_checks_total"
    assert value(found, checks, result="allowed") == 1
    assert value(found, checks, result="unauthenticated") == 1
    assert value(found, "lab_workspace_manager_proxy_access_check_duration_seconds_count") == 2

    # No label names a workspace or a user.
    ids = {api.user, bob.user, stopped["id"], bobs["id"]} | {w["id"] for w in alices}
    label_values = {v for (_, labels) in found for (_, v) in labels}
    assert not ids & label_values
    assert not any(i in text for i in ids)
    assert all(name.startswith("lab_workspace_manager_") for (name, _) in found)
    assert not any(name.endswith("_created") for (name, _) in found)  # (no series doubled)

    # Streams closed show as closed at the next scrape.
    assert value(samples(await scrape(api)), "lab_workspace_manager_event_streams_open") == 0


async def test_an_image_not_in_the_allowed_list_is_other(api: Api) -> None:
    metrics = api.app.state.runtime.metrics  # type: ignore[union-attr]
    assert metrics.image_label(TEST_IMAGE) == TEST_IMAGE
    assert metrics.image_label("someone/else:1") == "other"
