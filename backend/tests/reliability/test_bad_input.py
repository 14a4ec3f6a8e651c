"""Hand-written bad input: names, sizes, images, unknown fields and ids, on the in-memory
backend. Every answer is a clear 4xx with `{"detail": ...}` (never a 5xx), and nothing is
created by a refused request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.apiclient import Api, open_api
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with open_api(make_settings()) as api:
        yield api


async def refused(api: Api, body: object, code: int = 422, raw: str | None = None) -> str:
    if raw is not None:
        response = await api.client.post(
            api.path(), content=raw, headers={"Content-Type": "application/json"}
        )
    else:
        response = await api.client.post(api.path(), json=body)
    assert response.status_code == code, (body, raw, response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail, response.text
    assert await api.names() == []
    return detail


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "x" * 129,
        "bad\x00name",
        "tab\there",
        "\u202eevil",  # right-to-left override: makes a name read differently
        "zero\u200bwidth",
    ],
)
async def test_bad_names_are_refused(api: Api, name: str) -> None:
    assert "display_name" in await refused(api, {"display_name": name})


@pytest.mark.parametrize(
    "name",
    ["x" * 128, "Übung für Müller", "日本語のノート", "مساحة العمل", "עבודה", "🚀 go", "../etc"],
)
async def test_unusual_but_fine_names_are_kept_as_typed(api: Api, name: str) -> None:
    made = await api.create(display_name=name, is_stopped=True)
    assert made["display_name"] == name
    assert await api.names() == [name]
    # The same name again (also as another Unicode spelling of it) is taken.
    await api.create(expect=409, display_name=name)


@pytest.mark.parametrize(
    "compute",
    [
        {"cpus": 0},
        {"cpus": -1},
        {"cpus": 1e308},
        {"cpus": 0.05},
        {"cpus": "lots"},
        {"memory": 0},
        {"memory": -100},
        {"memory": 10**30},
        {"memory": 512.5},
        {"memory": [512]},
        {"volume_size": 0},
        {"volume_size": -1},
        {"volume_size": 10**12},
        {"gpus": -1},
        {"gpus": 3},
        {"gpus": 0.5},
        {"unknown": 1},
    ],
)
async def test_bad_sizes_are_refused(api: Api, compute: dict[str, object]) -> None:
    assert "compute" in await refused(api, {"display_name": "w", "compute": compute})


@pytest.mark.parametrize(
    "raw",
    [
        '{"display_name": "w", "compute": {"cpus": NaN}}',
        '{"display_name": "w", "compute": {"cpus": Infinity}}',
        '{"display_name": "w", "compute": {"cpus": -Infinity}}',
        '{"display_name": "w", "compute": {"memory": NaN}}',
        '{"display_name": "w", "compute": {"memory": 1e400}}',
        '{"display_name": "w", "idle_timeout": Infinity}',
    ],
)
async def test_not_a_number_and_infinity_are_refused(api: Api, raw: str) -> None:
    """Regression: the 422 answer repeated the invalid input, and JSON cannot hold NaN or
    infinity, so these were answered with a 500."""
    await refused(api, None, raw=raw)


@pytest.mark.parametrize(
    "raw", ["", "{", "[]", "null", '"text"', '{"display_name": "w"} trailing', "\xff\xfe"]
)
async def test_bodies_that_are_not_an_object_are_refused(api: Api, raw: str) -> None:
    await refused(api, None, raw=raw)


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": "w", "container_image": "docker.io/library/alpine:latest"},
        {"display_name": "w", "container_image": "lwm-test-workspace:latest@sha256:" + "0" * 64},
        {"display_name": "w", "container_image": ""},
        {"display_name": "w", "container_image": "x" * 513},
        {"display_name": "w", "is_admin": True},
        {"display_name": "w", "user_id": "someone-else"},
        {"display_name": "w", "privileged": True},
        {"display_name": "w", "idle_timeout": -1},
        {"display_name": "w", "idle_timeout": 1.5},
    ],
)
async def test_images_and_unknown_fields_are_refused(api: Api, body: dict[str, object]) -> None:
    await refused(api, body)


async def test_updates_are_checked_like_creates(api: Api) -> None:
    made = await api.create(display_name="w", is_stopped=True)
    for body in (
        {"display_name": ""},
        {"display_name": "a\x00b"},
        {"compute": {"memory": -1}},
        {"container_image": "alpine"},
        {"id": "other"},
        {"status": "running"},
    ):
        response = await api.client.patch(api.path(made["id"]), json=body)
        assert response.status_code == 422, (body, response.text)
    response = await api.client.patch(
        api.path(made["id"]),
        content='{"compute": {"cpus": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert (await api.get(made["id"])).json()["display_name"] == "w"


@pytest.mark.parametrize(
    "path",
    [
        "/users/{me}/workspace/..%2F..%2Fetc%2Fpasswd",
        "/users/{me}/workspace/%2e%2e",
        "/users/{me}/workspace/abc%00defgh",
        "/users/{me}/workspace/ABCDEFGHIJ",
        "/users/{me}/workspace/" + "a" * 200,
        "/users/..%2F{me}/workspace",
        "/users/%00/workspace",
        "/users/{me}%00/workspace",
        "/users/{me}/workspace/abcdefghij/..%2F..%2F..%2Fhealthz",
    ],
)
async def test_odd_ids_in_paths_are_refused(api: Api, path: str) -> None:
    response = await api.client.get(path.replace("{me}", api.user))
    assert response.status_code in (403, 404, 422), (path, response.status_code, response.text)
    assert response.json()["detail"]


async def test_query_values_out_of_range_are_refused(api: Api) -> None:
    made = await api.create(display_name="w", is_stopped=True)
    for path, params in (
        (api.path(made["id"]) + "/logs", {"tail": "0"}),
        (api.path(made["id"]) + "/logs", {"tail": "NaN"}),
        (api.path(made["id"]) + "/logs", {"tail": str(10**30)}),
        (api.path(), {"wait": "maybe"}),
        (api.user_path("events"), {"timeout": "inf"}),
        (api.user_path("events"), {"timeout": "nan"}),
        (api.user_path("events"), {"timeout": "-1"}),
        ("/workspaces", {"limit": "-1"}),
    ):
        method = "POST" if path == api.path() else "GET"
        response = await api.client.request(method, path, params=params, json={})
        assert response.status_code in (403, 422), (path, params, response.text)


@pytest.mark.parametrize("seconds", [10**20, 366 * 24 * 3600 + 1])
async def test_an_idle_timeout_beyond_a_year_is_refused(api: Api, seconds: int) -> None:
    """Regression (found by schemathesis): an idle timeout of 1e20 s was stored, and every read
    of the workspace, its list included, failed with a 500 (its stop date overflows)."""
    assert "idle_timeout" in await refused(api, {"display_name": "w", "idle_timeout": seconds})
    made = await api.create(display_name="w")
    response = await api.client.patch(api.path(made["id"]), json={"idle_timeout": seconds})
    assert response.status_code == 422, response.text
    year = await api.client.patch(api.path(made["id"]), json={"idle_timeout": 366 * 24 * 3600})
    assert year.status_code == 200, year.text
    assert (await api.client.get(api.path())).status_code == 200
