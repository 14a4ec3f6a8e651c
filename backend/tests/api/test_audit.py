"""The audit log at the API, on the in-memory backend with its SQLite store in DATA_DIR: what
is written (who, what, which workspace, from where, how it ended), what administrators and
users read of it, the CSV export, retention, and that no secret is ever written.

The same store on a real PostgreSQL: tests/docker/test_records_postgres.py."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lab_workspace_manager import audit as audit_module
from lab_workspace_manager.app import create_app
from lab_workspace_manager.audit import mask_secrets
from lab_workspace_manager.store import SQLITE_FILE
from lab_workspace_manager.store.schema import audit_entries
from tests.api.test_workspace_origins import LocatingBackend, bearer, new_workspace
from tests.support.apiclient import app_client
from tests.support.settings import ADMIN_TOKEN, make_settings

pytestmark = pytest.mark.anyio

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def client(records: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(**records), LocatingBackend())
    async with app_client(app) as client:
        yield client


async def entries(client: httpx.AsyncClient, **filters: str) -> list[dict]:
    page = await client.get("/audit", params={"limit": 500, **filters}, headers=ADMIN)
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


async def test_changes_are_written_with_who_what_where_and_how_they_ended(
    client: httpx.AsyncClient,
) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    stopped = await client.post(f"/users/alice/workspace/{workspace_id}:stop", headers=alice)
    assert stopped.status_code == 200
    shared = await client.put(
        f"/users/alice/workspace/{workspace_id}/shares/bob", json={"access": "open"}, headers=alice
    )
    assert shared.status_code == 200
    # Bob may open it, not delete it: refused, and written as refused.
    bob = bearer(client, "bob")
    refused = await client.delete(f"/users/alice/workspace/{workspace_id}", headers=bob)
    assert refused.status_code == 403
    deleted = await client.delete(f"/users/alice/workspace/{workspace_id}", headers=alice)
    assert deleted.status_code == 204

    about = await entries(client, workspace_id=workspace_id)
    assert [e["action"] for e in reversed(about)] == [
        "createWorkspace",
        "stopWorkspace",
        "shareWorkspace",
        "deleteWorkspace",
        "deleteWorkspace",
    ]
    created = about[-1]
    assert created["actor"] == "alice" and created["owner"] == "alice"
    assert created["result"] == "ok" and created["status"] == 201
    assert created["address"] == "127.0.0.1"
    assert "ws-" in created["detail"]  # its name
    assert datetime.fromisoformat(created["at"]) > datetime.now(UTC) - timedelta(minutes=1)
    shared_entry = next(e for e in about if e["action"] == "shareWorkspace")
    assert shared_entry["detail"].startswith("grantee_id bob")
    bobs = next(e for e in about if e["actor"] == "bob")
    assert bobs["result"] == "failed" and bobs["status"] == 403
    assert "can only manage your own" in bobs["detail"]  # why it was refused

    # Filters: by result, actor, owner, action; pages with a total.
    assert [e["actor"] for e in await entries(client, result="failed")] == ["bob"]
    assert {e["action"] for e in await entries(client, actor="alice")} >= {"stopWorkspace"}
    page = await client.get(
        "/audit", params={"owner": "alice", "limit": 2, "offset": 1}, headers=ADMIN
    )
    assert page.json()["total"] == 5 and len(page.json()["items"]) == 2
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert await entries(client, since=later) == []
    assert len(await entries(client, until=later, owner="alice")) == 5


async def test_sign_in_tokens_and_the_managers_own_actions_are_written(
    client: httpx.AsyncClient,
) -> None:
    issued = await client.post(
        "/auth/tokens", json={"user_id": "carol", "description": "for carol"}, headers=ADMIN
    )
    assert issued.status_code == 201
    token, token_id = issued.json()["token"], issued.json()["id"]
    csrf = {"X-Requested-With": "test"}
    signed_in = await client.post("/auth/login", json={"token": token}, headers=csrf)
    assert signed_in.status_code == 200
    refused = await client.post("/auth/login", json={"token": "x" * 40}, headers=csrf)
    assert refused.status_code == 401
    revoked = await client.delete(f"/auth/tokens/{token_id}", headers=ADMIN)
    assert revoked.status_code == 204

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    carol = bearer(client, "carol")
    workspace_id = await new_workspace(client, "carol", carol)
    await runtime.stop_for_policy("carol", workspace_id, "after 30 min without activity")

    logged = await entries(client)
    issue = next(e for e in logged if e["action"] == "issueToken")
    assert issue["actor"] == "admin" and issue["actor_is_admin"] and issue["owner"] == "carol"
    assert token_id in issue["detail"]
    logins = [e for e in logged if e["action"] == "login"]
    assert {(e["actor"], e["result"]) for e in logins} == {("carol", "ok"), (None, "failed")}
    revoke = next(e for e in logged if e["action"] == "revokeToken")
    assert revoke["detail"] == f"token_id {token_id}" and revoke["result"] == "ok"
    automatic = next(e for e in logged if e["action"] == "automaticStop")
    # Requests with no credential to tell them by change nothing and are not written (anyone
    # could fill the log with them); refused sign-ins are.
    client.cookies.clear()  # (the sign-in above left its cookie)
    anonymous = await client.post("/users/carol/workspace", json={})
    assert anonymous.status_code == 401
    assert not [
        e
        for e in await entries(client)
        if e["actor"] is None and e["status"] == 401 and e["action"] != "login"
    ]
    assert automatic["actor"] is None and automatic["workspace_id"] == workspace_id
    assert automatic["detail"] == "stopped after 30 min without activity"


async def test_a_user_reads_what_concerns_their_own_workspaces_only(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    mine = await new_workspace(client, "alice", alice)
    await new_workspace(client, "bob", bob)
    await client.put(
        f"/users/alice/workspace/{mine}/shares/bob", json={"access": "operate"}, headers=alice
    )
    assert (await client.post(f"/users/alice/workspace/{mine}:stop", headers=bob)).is_success

    own = await client.get("/users/alice/audit", headers=alice)
    assert own.status_code == 200
    items = own.json()["items"]
    assert {e["owner"] for e in items} == {"alice"}
    by_bob = next(e for e in items if e["actor"] == "bob")
    assert by_bob["action"] == "stopWorkspace"
    assert by_bob["address"] is None  # bob's address is not alice's to see
    assert next(e for e in items if e["actor"] == "alice")["address"] == "127.0.0.1"
    # Not bob's log, not the whole log.
    assert (await client.get("/users/bob/audit", headers=alice)).status_code == 403
    assert (await client.get("/audit", headers=alice)).status_code == 403
    assert (await client.get("/audit.csv", headers=alice)).status_code == 403


async def test_the_csv_export_has_every_matching_entry_and_no_formulas(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = bearer(client, "alice")
    made = await client.post(
        "/users/alice/workspace", json={"display_name": "=HYPERLINK(1)"}, headers=alice
    )
    assert made.status_code == 201
    for _ in range(3):
        await client.post(f"/users/alice/workspace/{made.json()['id']}:stop", headers=alice)
    monkeypatch.setattr(audit_module, "CSV_BATCH", 1)  # (read an entry at a time)
    exported = await client.get("/audit.csv", params={"owner": "alice"}, headers=ADMIN)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["action"] for r in rows] == ["createWorkspace"] + ["stopWorkspace"] * 3
    assert rows[0]["detail"].startswith("'")  # not run as a formula by a spreadsheet
    assert rows[0]["workspace_id"] == made.json()["id"]


async def test_no_secret_is_ever_written(client: httpx.AsyncClient, tmp_path: Path) -> None:
    """Searched for in what the store holds: the SQLite file's bytes, or every row of the
    PostgreSQL table."""
    issued = await client.post("/auth/tokens", json={"user_id": "dave"}, headers=ADMIN)
    token = issued.json()["token"]
    dave = {"Authorization": f"Bearer {token}"}
    csrf = {"X-Requested-With": "test"}
    await client.post("/auth/login", json={"token": token}, headers=csrf)
    await client.post("/auth/login", json={"token": token + "x"}, headers=csrf)
    workspace_id = await new_workspace(client, "dave", dave)
    opened = await client.post(f"/users/dave/workspace/{workspace_id}:open", headers=dave)
    assert opened.status_code == 200
    await client.post(f"/users/dave/workspace/{workspace_id}:stop?ct_token={token}", headers=dave)
    await client.delete(f"/auth/tokens/{issued.json()['id']}", headers=ADMIN)
    exported = (await client.get("/audit.csv", headers=ADMIN)).text

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    await runtime.audit.flush()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob(SQLITE_FILE + "*"))
    with runtime.store.reading() as connection:
        stored += repr(connection.execute(sa.select(audit_entries)).all()).encode()
    assert b"issueToken" in stored
    code = opened.json()["url"].rsplit("=", 1)[-1]
    for secret in (token, ADMIN_TOKEN, code):
        assert secret not in exported
        assert secret.encode() not in stored
    assert "login" in exported  # (the log was there to search)


def test_credentials_in_a_detail_are_masked() -> None:
    assert mask_secrets("sent Authorization: Bearer abc.def") == "sent Authorization: Bearer ***"
    assert mask_secrets("Basic dXNlcjpwYXNz=") == "Basic ***"
    assert mask_secrets("jwt eyJhbGciOi.eyJzdWIi.sig here") == "jwt *** here"
    assert mask_secrets("?ct_token=secret&x=1") == "?ct_token=***&x=1"
    assert mask_secrets('{"token": "abc", "password":"p"}') == '{"token": "***", "password":"***"}'
    assert mask_secrets("ct_token%3Dabc api_key=k") == "ct_token%3D*** api_key=***"
    assert mask_secrets("token_id abc1") == "token_id abc1"  # an id, not a token
    assert len(mask_secrets("x" * 2000)) == 500


async def test_forged_paths_and_anonymous_requests_write_nothing_and_odd_values_are_cleaned(
    client: httpx.AsyncClient,
) -> None:
    """Anyone may send any path: what nobody signed in to is not written (but for sign-in),
    and what a signed-in user's path says is kept only where it is a valid id."""
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    for method, path in (
        ("PUT", f"/users/alice/workspace/{workspace_id}:stop"),  # 405, nobody signed in
        ("POST", f"/users/{'a' * 300}/workspace/{workspace_id}:stop"),
        ("POST", "/users/alice/workspace/ab%00cd:stop"),
    ):
        await client.request(method, path, headers={"Cookie": "ct_token=x"})
    forged = await client.post("/users/alice/workspace/ab%00cd:stop", headers=alice)
    assert forged.status_code in (404, 422)
    long_owner = await client.post(
        f"/users/{'a' * 300}/workspace/{workspace_id}:stop", headers=alice
    )
    assert long_owner.status_code >= 400
    logged = await entries(client)
    assert [e["actor"] for e in logged if e["action"] == "stopWorkspace"] == ["alice", "alice"]
    # The 300 characters are no user id, the NUL no workspace id: not kept as either.
    assert {e["owner"] for e in logged if e["action"] == "stopWorkspace"} == {"alice", None}
    assert {e["workspace_id"] for e in logged if e["action"] == "stopWorkspace"} <= {
        None,
        workspace_id,
    }
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.audit.record("odd\x00", actor="a\nb", owner="o" * 500, detail="d\x00")
    await runtime.audit.flush()
    odd = next(e for e in await entries(client) if e["action"] == "odd?")
    assert odd["actor"] == "a?b" and odd["owner"] == "o" * 200 and odd["detail"] == "d?"


async def test_an_entry_the_database_refuses_holds_back_no_other(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    await runtime.audit.flush()
    runtime.audit.record("first", actor="a")
    runtime.audit.record("bad", actor="a")
    runtime.audit._held[-1]["result"] = None  # (which the database refuses: NOT NULL)
    runtime.audit.record("last", actor="a")
    await runtime.audit.flush()
    assert {e["action"] for e in await entries(client, actor="a")} == {"first", "last"}


@pytest.mark.parametrize("days", [30, 0])
async def test_entries_past_the_retention_are_removed(tmp_path: Path, days: int) -> None:
    app = create_app(make_settings(data_dir=tmp_path, audit_retention_days=days), LocatingBackend())
    async with app_client(app) as client:
        runtime = app.state.runtime
        old = datetime.now(UTC) - timedelta(days=31)
        with runtime.store.writing() as connection:
            connection.execute(
                audit_entries.insert(),
                [
                    {
                        "at": old,
                        "actor": "x",
                        "actor_is_admin": False,
                        "action": "old",
                        "result": "ok",
                        "detail": "",
                    },
                    {
                        "at": datetime.now(UTC),
                        "actor": "x",
                        "actor_is_admin": False,
                        "action": "new",
                        "result": "ok",
                        "detail": "",
                    },
                ],
            )
        removed = runtime.audit.prune()
        kept = {e["action"] for e in await entries(client, actor="x")}
    if days:
        assert removed == 1 and kept == {"new"}
    else:  # kept forever
        assert removed == 0 and kept == {"old", "new"}


class LeftoversBackend(LocatingBackend):
    async def reconcile(self) -> list[str]:
        return ["container lwm-x-leftover (no workspace)"]


async def test_what_the_reconciler_removes_is_written(records: dict[str, Any]) -> None:
    app = create_app(make_settings(**records), LeftoversBackend())
    async with app_client(app) as client:
        await app.state.runtime.reconcile()
        removal = next(e for e in await entries(client) if e["action"] == "reconcilerRemoval")
    assert removal["actor"] is None
    assert removal["detail"] == "removed container lwm-x-leftover (no workspace)"
