"""Throughput and latency with wrk: the authenticated API, and the workspace proxy against
requests straight to the workspace's own port."""

from __future__ import annotations

from .context import Bench
from .ready import USER
from .tools import WrkResult, wait_answers, wrk

# Enough connections to keep 2 cores busy; wrk's 2 threads share those cores with the server.
CONNECTIONS = 16


def api_reads(bench: Bench, seconds: float) -> dict[str, WrkResult]:
    """GET of the user's own workspace list (a real read: auth, one engine call, JSON) and of
    /users/me (auth and the framework alone)."""
    with bench.client(USER) as client:
        listed = client.get(f"/api/users/{USER}/workspace")
        listed.raise_for_status()
    return {
        "list": wrk(
            f"{bench.url}/api/users/{USER}/workspace",
            seconds,
            CONNECTIONS,
            authorizations=bench.authorizations(USER),
        ),
        "me": wrk(
            f"{bench.url}/api/users/me",
            seconds,
            CONNECTIONS,
            authorizations=bench.authorizations(USER),
        ),
    }


def proxy(bench: Bench, seconds: float) -> dict[str, WrkResult]:
    """A static file of a Jupyter workspace through the proxy, on the workspace's own host with
    the session cookie a browser gets from the hand-off, and straight from the container's
    port. (The echo image is no fair target: Python's http.server speaks HTTP/1.0 with a
    listen backlog of 5, so wrk's connections fail and retry on the direct side.)"""
    with bench.client(USER) as client:
        workspace = bench.create(client, USER, wait=True, display_name="jupyter")
        try:
            path = f"/workspaces/{workspace['id']}/static/base/images/favicon.ico"
            through = bench.url + path
            direct = f"http://{bench.workspace_address(workspace['id'])}:8080{path}"
            wait_answers(
                through, {**bench.auth(USER), "Host": bench.workspace_host(workspace["id"])}
            )
            wait_answers(direct)
            browser = bench.browser_headers(client, USER, workspace["id"])
            # Interleaved halves, so both sides see the same machine.
            half = seconds / 2
            targets = {"proxy": (through, browser), "direct": (direct, {})}
            measured: dict[str, list[WrkResult]] = {"proxy": [], "direct": []}
            for name in ("proxy", "direct", "direct", "proxy"):
                url, headers = targets[name]
                measured[name].append(wrk(url, half, CONNECTIONS, headers=headers))
            combined = {name: _combine(results) for name, results in measured.items()}
            # A script's token in a header: the access check is asked for every request.
            script = {**bench.auth(USER), "Host": bench.workspace_host(workspace["id"])}
            combined["checked"] = wrk(through, half, CONNECTIONS, headers=script)
            return combined
        finally:
            bench.delete(client, USER, workspace["id"])


def _combine(results: list[WrkResult]) -> WrkResult:
    """Two runs of equal length as one: mean rate, the worse percentiles."""
    return WrkResult(
        requests_per_second=sum(r.requests_per_second for r in results) / len(results),
        p50_ms=max(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
    )
