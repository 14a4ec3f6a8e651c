"""nginx's configuration as rendered from the settings (nginx itself reads it in the image
tests: a config it refuses stops the manager's start)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab_workspace_manager.proxy_config import render
from tests.support.settings import make_settings

TEMPLATES = Path(__file__).resolve().parents[3] / "docker" / "nginx"


def rendered(**overrides: object) -> str:
    return render(make_settings(**overrides), 8081, TEMPLATES)


def test_every_placeholder_is_filled_in() -> None:
    for config in (rendered(), rendered(unsafe_workspaces_on_manager_origin=True)):
        assert not re.findall(r"\$\{[A-Z_]+\}", config)
        assert "server 127.0.0.1:8081;" in config


def test_by_default_workspaces_have_hosts_of_their_own_and_the_manager_none() -> None:
    config = rendered(workspace_host="{id}.ws.example.org:8443")
    assert (
        r'server_name "~^(?<workspace_host_id>[a-z][a-z0-9]{5,19})\.ws\.example\.org$";' in config
    )
    assert "location = /_workspace_manager/handoff" in config
    # The manager's own server answers /workspaces/ with where they are now, not a workspace.
    manager = config.split("listen 8080 default_server;")[1].split("\n    server {")[0]
    assert "auth_request" not in manager
    assert "Workspaces are served on addresses of their own" in manager
    # The web app may frame a workspace's origin ("Open here"), and only those.
    assert "frame-src 'self' *.ws.example.org:8443;" in config


@pytest.mark.parametrize("prefix", ["", "/projects/p/services/s/access/8080"])
def test_the_unsafe_way_serves_workspaces_under_the_managers_paths(prefix: str) -> None:
    config = rendered(unsafe_workspaces_on_manager_origin=True, workspace_public_prefix=prefix)
    assert "server_name" not in config
    assert f"proxy_pass http://workspace{prefix}$path_for_workspace" in config
    assert "frame-src 'self' ;" in config


def test_a_local_start_sends_browsers_at_localhost_to_the_workspaces_parent_domain() -> None:
    """`localhost` is a top-level domain to browsers: the app at lab.localhost and its
    workspaces at <id>.lab.localhost are of one site ("Open here" needs that)."""
    config = rendered()
    assert "return 302 $scheme://lab.localhost$port_of_request$request_uri;" in config
    assert "$app_at_loopback_name) {" not in rendered(workspace_host="{id}.ws.example.org")


def test_api_request_limits_follow_the_setting() -> None:
    from lab_workspace_manager.proxy_config import api_rate_limits

    limited = api_rate_limits(20)
    assert "rate=20r/s" in limited["API_RATE_ZONES"]
    assert "burst=40 nodelay" in limited["API_RATE_LIMITS"]
    assert api_rate_limits(0) == {"API_RATE_ZONES": "", "API_RATE_LIMITS": ""}
