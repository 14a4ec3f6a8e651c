"""The manager in ML Lab mode, end to end: real ML Lab users and tokens, real workspaces."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.contaxy_server import Contaxy

pytestmark = pytest.mark.anyio


async def test_an_ml_lab_user_manages_docker_workspaces(lab_api: Any, contaxy: Contaxy) -> None:
    async with lab_api("docker") as alice:
        me = (await alice.client.get("/users/me")).json()
        assert me == {"id": alice.user, "is_admin": False, "auth_mode": "mllab"}
        workspace = await alice.create_running(display_name="lab work")
        assert workspace["user_id"] == alice.user
        async with lab_api("docker") as bob:
            refused = await bob.client.get(alice.path(workspace["id"]))
            assert refused.status_code == 403
            assert (await bob.client.get(bob.path())).json() == []
        async with lab_api("docker", token=contaxy.admin_token, user="admin") as admin:
            page = (await admin.client.get("/workspaces", params={"user_id": alice.user})).json()
            assert [w["id"] for w in page["items"]] == [workspace["id"]]
            stopped = await admin.client.post(alice.path(workspace["id"]) + ":stop")
            assert stopped.json()["status"] == "stopped"


async def test_tokens_are_issued_by_ml_lab_not_by_us(lab_api: Any, contaxy: Contaxy) -> None:
    async with lab_api("memory", token=contaxy.admin_token, user="admin") as admin:
        # Signed out, the web app learns from /healthz to send people to ML Lab.
        health = await admin.client.get("/healthz", headers={"Authorization": ""})
        assert health.json()["auth_mode"] == "mllab"
        response = await admin.client.post("/auth/tokens", json={"user_id": "x"})
        assert response.status_code == 404
        assert "issued by ML Lab" in response.json()["detail"]


async def test_an_unreachable_ml_lab_gives_503(lab_api: Any) -> None:
    async with lab_api(
        "memory", token="a" * 40, user="someone", contaxy_api_endpoint="http://127.0.0.1:9"
    ) as api:
        response = await api.client.get(api.path())
        assert response.status_code == 503
        assert "ML Lab cannot be reached" in response.json()["detail"]


async def test_made_up_tokens_from_one_address_are_refused_before_ml_lab_is_asked(
    lab_api: Any, contaxy: Contaxy
) -> None:
    """Against the real ML Lab: one address's flood of made-up tokens gets 429 after a
    burst, while a signed-in user from another address (their nginx entry) goes on."""
    from lab_workspace_manager.auth.mllab import UNKNOWN_BURST

    async with lab_api("memory") as alice:
        flood = [
            await alice.client.get(
                "/users/me",
                headers={
                    "Authorization": f"Bearer made-up-{n:040d}",
                    "X-Forwarded-For": "10.6.6.6",
                },
            )
            for n in range(UNKNOWN_BURST + 5)
        ]
        codes = [r.status_code for r in flood]
        assert codes[:UNKNOWN_BURST] == [401] * UNKNOWN_BURST, codes
        assert codes[UNKNOWN_BURST:] == [429] * 5, codes
        assert "Wait a minute" in flood[-1].json()["detail"]
        mine = await alice.client.get("/users/me", headers={"X-Forwarded-For": "10.7.7.7"})
        assert mine.status_code == 200, mine.text
