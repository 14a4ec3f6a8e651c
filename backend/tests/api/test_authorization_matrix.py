"""Every endpoint × every kind of caller, in both sign-in modes.

The routes are read from the app itself, so an endpoint added later is covered (or this test
fails until it is classified). Standalone uses issued tokens; ML Lab mode uses tokens of real
ML Lab users and ML Lab's administrator, verified by a real contaxy.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends.memory import InMemoryBackend
from tests.support.apiclient import issue_token, running
from tests.support.images import TEST_IMAGE
from tests.support.settings import ADMIN_TOKEN, make_settings

pytestmark = pytest.mark.anyio

PUBLIC = {"/healthz", "/auth/logout"}
ADMIN_ONLY = {
    "/workspaces",
    "/kept-volumes",
    "/shares",
    "/templates/{name}",
    "/templates/{name}/workspaces",
    "/auth/tokens",
    "/auth/tokens/{token_id}",
    "/metrics",
    "/audit",
    "/audit.csv",
    "/usage",
    "/usage.csv",
    "/snapshots",
}
EMPTY_ARCHIVE = bytes(10240)  # (a tar archive's end: two blocks of zeros, and padding)
CALLERS = ["none", "bad", "other", "grantee", "operator", "owner", "admin"]
# What a share of the workspace lets its grantee do ("open"; "operate" adds the rest), and
# nothing else of the owner's.
WORKSPACE = "/users/{user_id}/workspace/{workspace_id}"
OPENED = {
    ("GET", WORKSPACE),
    ("POST", WORKSPACE + ":open"),
    ("GET", WORKSPACE + "/stats"),
    ("GET", WORKSPACE + "/events"),
}
OPERATED = OPENED | {
    ("POST", WORKSPACE + ":start"),
    ("POST", WORKSPACE + ":stop"),
    ("POST", WORKSPACE + ":restart"),
    ("POST", WORKSPACE + ":extend"),
    ("POST", WORKSPACE + ":postpone"),
    ("GET", WORKSPACE + "/logs"),
}


@dataclass
class Setup:
    app: FastAPI
    owner: str
    tokens: dict[str, str | None]
    grantees: dict[str, str]  # caller -> their user id


def standalone_setup() -> Setup:
    app = create_app(make_settings(), InMemoryBackend())
    owner = "alice-" + secrets.token_hex(3)
    grantees = {
        "grantee": "gail-" + secrets.token_hex(3),
        "operator": "otto-" + secrets.token_hex(3),
    }
    return Setup(
        app,
        owner,
        {
            "none": None,
            "bad": "not-a-token",
            "other": issue_token(app, "bob-" + secrets.token_hex(3)),
            "grantee": issue_token(app, grantees["grantee"]),
            "operator": issue_token(app, grantees["operator"]),
            "owner": issue_token(app, owner),
            "admin": ADMIN_TOKEN,
        },
        grantees,
    )


def mllab_setup(contaxy: Any) -> Setup:
    settings = make_settings(contaxy_api_endpoint=contaxy.endpoint)
    app = create_app(settings, InMemoryBackend())
    owner, owner_token = contaxy.add_user("alice" + secrets.token_hex(3))
    _, other_token = contaxy.add_user("bob" + secrets.token_hex(3))
    grantee, grantee_token = contaxy.add_user("gail" + secrets.token_hex(3))
    operator, operator_token = contaxy.add_user("otto" + secrets.token_hex(3))
    return Setup(
        app,
        owner,
        {
            "none": None,
            "bad": "0" * 40,
            "other": other_token,
            "grantee": grantee_token,
            "operator": operator_token,
            "owner": owner_token,
            "admin": contaxy.admin_token,
        },
        {"grantee": grantee, "operator": operator},
    )


def body_for(method: str, path: str) -> dict | None:
    bodies: dict[tuple[str, str], Callable[[], dict]] = {
        ("POST", "/users/{user_id}/workspace"): lambda: {
            "display_name": "w" + secrets.token_hex(4),
            "is_stopped": True,
        },
        ("PATCH", "/users/{user_id}/workspace/{workspace_id}"): lambda: {"idle_timeout": 0},
        ("POST", "/auth/tokens"): lambda: {"user_id": "someone"},
        ("POST", "/auth/login"): lambda: {},
        ("PUT", WORKSPACE + "/shares/{grantee_id}"): lambda: {"access": "open"},
        ("POST", WORKSPACE + "/snapshots"): lambda: {"name": "s" + secrets.token_hex(4)},
        ("POST", WORKSPACE + ":clone"): lambda: {
            "display_name": "c" + secrets.token_hex(4),
            "is_stopped": True,
        },
        ("POST", "/users/{user_id}/snapshots/{snapshot_id}:restore"): lambda: {
            "display_name": "r" + secrets.token_hex(4),
            "is_stopped": True,
        },
        ("PUT", "/templates/{name}"): lambda: {
            "display_name": "Small",
            "images": [TEST_IMAGE],
            "cpus": 0.5,
            "memory": 256,
            "volume_size": 500,
        },
    }
    make = bodies.get((method, path))
    return make() if make else None


def expected(method: str, route: str, caller: str) -> Callable[[int], bool]:
    if route in PUBLIC:
        return lambda code: code < 400
    if caller in ("none", "bad"):
        return lambda code: code == 401
    owned = "{user_id}" in route
    shared = OPENED if caller == "grantee" else OPERATED
    if caller in ("grantee", "operator") and (method, route) in shared:
        return lambda code: code < 400 or code in (404, 409)
    if caller in ("other", "grantee", "operator"):
        forbidden = owned or route in ADMIN_ONLY
        return (lambda code: code == 403) if forbidden else (lambda code: code < 400)
    if caller == "owner" and route in ADMIN_ONLY:
        return lambda code: code == 403
    # The rightful caller is let through: success, a 404 for what does not exist, or a 409
    # when the workspace's state does not allow it (extending a stopped one).
    return lambda code: code < 400 or code in (404, 409)


@pytest.fixture(params=["standalone", "mllab"])
def setup(request: pytest.FixtureRequest) -> Setup:
    if request.param == "mllab":
        return mllab_setup(request.getfixturevalue("contaxy"))
    return standalone_setup()


async def test_every_endpoint_for_every_caller(setup: Setup) -> None:
    async with running(setup.app):
        await check_every_operation(setup)


async def check_every_operation(setup: Setup) -> None:
    transport = httpx.ASGITransport(app=setup.app)
    # Every operation the API documents (the same list the web app's client is made from).
    operations = [
        (method.upper(), path)
        for path, item in setup.app.openapi()["paths"].items()
        for method in item
    ]
    assert len(operations) >= 16
    checked: list[str] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://manager") as client:
        owner_headers = {"Authorization": f"Bearer {setup.tokens['owner']}"}
        for method, route in operations:
            for caller in CALLERS:
                path = (
                    route.replace("{user_id}", setup.owner)
                    .replace("{token_id}", "x")
                    .replace("{grantee_id}", "someone")
                    .replace("{name}", "small")
                    .replace("{snapshot_id}", "nosnapshot")
                )
                if "{workspace_id}" in path:
                    # A fresh workspace of the owner's for every call: a delete by one
                    # caller must not turn the next caller's check into a 404.
                    made = await client.post(
                        f"/users/{setup.owner}/workspace",
                        headers=owner_headers,
                        json={"display_name": "m" + secrets.token_hex(4), "is_stopped": True},
                    )
                    assert made.status_code == 201, made.text
                    workspace_id = made.json()["id"]
                    path = path.replace("{workspace_id}", workspace_id)
                    for grantee, access in (("grantee", "open"), ("operator", "operate")):
                        shared = await client.put(
                            f"/users/{setup.owner}/workspace/{workspace_id}/shares/"
                            + setup.grantees[grantee],
                            headers=owner_headers,
                            json={"access": access},
                        )
                        assert shared.status_code == 200, shared.text
                token = setup.tokens[caller]
                headers = {"X-Requested-With": "test"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                # Event streams are followed for a moment only.
                params = {"timeout": "0.2"} if route.endswith("/events") else None
                if route.endswith(":upload"):  # (its body is an archive, its settings a query)
                    response = await client.request(
                        method, path, headers=headers, content=EMPTY_ARCHIVE,
                        params={"workspace": json.dumps(body_for("POST", route[:-7]))},
                    )  # fmt: skip
                else:
                    response = await client.request(
                        method, path, headers=headers, params=params, json=body_for(method, route)
                    )
                assert expected(method, route, caller)(response.status_code), (
                    f"{method} {route} as {caller}: {response.status_code} {response.text[:200]}"
                )
                if "{workspace_id}" in route:  # (its shares count toward the owner's limit)
                    await client.delete(
                        f"/users/{setup.owner}/workspace/{workspace_id}", headers=owner_headers
                    )
                checked.append(f"{method} {route}")
    assert len(checked) == len(operations) * len(CALLERS)
