"""build.py on a machine that lacks something: it says so first, within seconds, with the
command that fixes it, instead of failing after minutes of building (tools/prerequisites.py).

The real installs (apt on a fresh Debian: docker.io, docker-compose, debootstrap, Chromium,
PostgreSQL, btrfs-progs, docker-registry, Prometheus, and dockerd started by hand) are what
every CI run on a new machine does through `python3 build.py --test`; these tests cover the
refusals, which a root CI machine never meets, and the order of the checks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tools import prerequisites  # noqa: E402
from tools.prerequisites import Missing, Tool  # noqa: E402


@pytest.mark.parametrize("command", ["--run", "--test", "--bench", "--make", "--reliability"])
def test_with_no_engine_every_command_says_so_within_seconds(command: str) -> None:
    """No engine answers at DOCKER_HOST: said before anything is built or installed."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), command],
        env={**os.environ, "DOCKER_HOST": "unix:///run/lwm-no-engine-here.sock"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert result.returncode != 0
    assert "No Docker engine answers at DOCKER_HOST=unix:///run/lwm-no-engine-here.sock" in (
        result.stderr
    ), result.stderr
    assert "+ " not in result.stdout, result.stdout  # no step of the build ran
    assert took < 30, took


def test_a_missing_tool_is_named_with_its_install_command_when_not_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    wrk = Tool("wrk", "wrk", "the throughput benchmarks", lambda: False)
    compose = Tool("Docker Compose", "docker-compose", "starts the manager", lambda: False)
    with pytest.raises(Missing) as refused:
        prerequisites.ensure_tools([wrk, compose])
    message = str(refused.value)
    assert "wrk (the throughput benchmarks)" in message
    assert "Docker Compose (starts the manager)" in message
    assert "apt-get update && apt-get install -y docker-compose wrk" in message


def test_every_command_checks_the_engine_first_then_its_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(prerequisites, "ensure_engine", lambda: calls.append("engine"))
    monkeypatch.setattr(
        prerequisites, "ensure_tools", lambda tools: calls.append(",".join(t.name for t in tools))
    )
    monkeypatch.setattr(prerequisites, "ensure_node", lambda: calls.append("node"))
    prerequisites.ensure("bench")
    assert calls == ["engine", "debootstrap,wrk,iptables", "node"]
    calls.clear()
    prerequisites.ensure("run")
    assert calls == ["engine", "Docker Compose,debootstrap", "node"]
    calls.clear()
    prerequisites.ensure("test")
    assert calls[0] == "engine"
    assert {"Chromium", "PostgreSQL 15", "btrfs-progs", "docker-registry", "Prometheus"} <= set(
        calls[1].split(",")
    )


def test_an_old_node_is_refused_with_what_vite_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prerequisites.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(prerequisites, "_output", lambda *command: "v18.19.0")
    with pytest.raises(Missing, match=r"Node.js 18.19.0 is too old .* needs 20.19 or newer"):
        prerequisites.ensure_node()
