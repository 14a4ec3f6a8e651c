"""A real Prometheus (Debian's `prometheus`, the binary run here without systemd) scrapes the
built image at `/api/metrics` through its nginx with `METRICS_TOKEN`, every second; its query
API then has the series a workspace's life moved."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.support.images import ECHO_IMAGE, OOM_IMAGE, TEST_IMAGE
from tests.support.manager_image import Manager, free_port, start_manager, stop_manager

from .test_image import create_running

DASHBOARD = Path(__file__).resolve().parents[3] / "docker" / "grafana-dashboard.json"
METRICS_TOKEN = "metrics-" + secrets.token_hex(12)
JOB = "lab-workspace-manager"
WRONG_TOKEN_JOB = "wrong-token"
CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: {job}
    metrics_path: /api/metrics
    authorization:
      type: Bearer
      credentials_file: {token_file}
    static_configs:
      - targets: ["{target}"]
  - job_name: {wrong_job}
    metrics_path: /api/metrics
    authorization:
      type: Bearer
      credentials: not-the-metrics-token
    static_configs:
      - targets: ["{target}"]
"""


@pytest.fixture(scope="module")
def scraped(engine: docker.DockerClient) -> Iterator[Manager]:
    images = json.dumps([ECHO_IMAGE, OOM_IMAGE])
    manager = start_manager(
        engine, {"METRICS_TOKEN": METRICS_TOKEN, "WORKSPACE_IMAGE_OPTIONS": images}
    )
    yield manager
    stop_manager(engine, manager)


@pytest.fixture(scope="module")
def prometheus(scraped: Manager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus' URL; it scrapes `scraped` every second."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: apt-get install prometheus (build.py --test does)"
    folder = tmp_path_factory.mktemp("prometheus")
    token_file = folder / "token"
    token_file.write_text(METRICS_TOKEN)
    token_file.chmod(0o600)
    config = folder / "prometheus.yml"
    config.write_text(
        CONFIG.format(
            job=JOB,
            wrong_job=WRONG_TOKEN_JOB,
            token_file=token_file,
            target=scraped.url.removeprefix("http://"),
        )
    )
    url = f"http://127.0.0.1:{free_port()}"
    log = (folder / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: ready(url), 60, lambda: tail(folder / "prometheus.log"))
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ready(url: str) -> bool:
    try:
        return httpx.get(url + "/-/ready", trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def wait_for(condition: Callable[[], Any], seconds: float, explain: Callable[[], str]) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds} s: {explain()}")
        time.sleep(0.5)


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """The instant vector Prometheus answers for `promql` now."""
    response = httpx.get(
        prometheus + "/api/v1/query", params={"query": promql}, trust_env=False, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def value_of(prometheus: str, promql: str) -> float | None:
    """The one sample `promql` gives, or None while there is none."""
    result = query(prometheus, promql)
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def eventually(prometheus: str, promql: str, holds: Callable[[float], bool]) -> float:
    """The value of `promql` once Prometheus has scraped what makes `holds(value)` true."""

    def check() -> tuple[float] | None:  # (a tuple: a value of 0 is found too)
        found = value_of(prometheus, promql)
        return (found,) if found is not None and holds(found) else None

    explain = f"{promql} = {{}}; targets: {{}}"
    found: tuple[float] = wait_for(
        check,
        60,
        lambda: explain.format(value_of(prometheus, promql), targets(prometheus)),
    )
    return found[0]


def dashboard_expressions() -> list[str]:
    """The dashboard's queries, with Grafana's variables as Grafana would fill them in."""
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {"$job": JOB, "$__rate_interval": "1m", "$__range": "5m"}
    found = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in variables.items():
                expr = expr.replace(name, value)
            found.append(expr)
    return found


def targets(prometheus: str) -> list[tuple[str, str, str]]:
    response = httpx.get(prometheus + "/api/v1/targets", trust_env=False).json()
    return [
        (t["labels"]["job"], t["health"], t["lastError"]) for t in response["data"]["activeTargets"]
    ]


def test_prometheus_scrapes_the_manager_and_sees_a_workspace_live(
    scraped: Manager, prometheus: str
) -> None:
    job = f'job="{JOB}"'
    eventually(prometheus, f"up{{{job}}}", lambda up: up == 1)
    # The wrong token is refused (401): that target is down.
    eventually(prometheus, f'up{{job="{WRONG_TOKEN_JOB}"}}', lambda up: up == 0)
    assert ("wrong-token", "down") in {(j, h) for (j, h, _) in targets(prometheus)}

    alice = scraped.token_for("alice")
    workspace = create_running(scraped, alice, "alice")
    with scraped.workspace_client(workspace["id"], alice) as client:
        assert client.get(f"/workspaces/{workspace['id']}/tree").status_code == 200

    creates = f'lab_workspace_manager_operations_total{{{job},operation="create",result="ok"}}'
    assert eventually(prometheus, creates, lambda n: n >= 1) == 1
    running = f'lab_workspace_manager_workspaces{{{job},status="running"}}'
    assert eventually(prometheus, running, lambda n: n == 1) == 1
    users = f"lab_workspace_manager_users_with_running_workspaces{{{job}}}"
    assert eventually(prometheus, users, lambda n: n == 1) == 1
    ready = (
        f"lab_workspace_manager_time_to_ready_seconds_count"
        f'{{{job},image="{TEST_IMAGE}",outcome="ready"}}'
    )
    assert eventually(prometheus, ready, lambda n: n >= 1) == 1
    # It took more than nothing, and less than the ready timeout.
    seconds = value_of(
        prometheus,
        f'lab_workspace_manager_time_to_ready_seconds_sum{{{job},image="{TEST_IMAGE}"}}',
    )
    assert seconds is not None and 0 < seconds < 300
    allowed = f'lab_workspace_manager_proxy_access_checks_total{{{job},result="allowed"}}'
    assert eventually(prometheus, allowed, lambda n: n >= 1) >= 1
    latency = f"lab_workspace_manager_proxy_access_check_duration_seconds_count{{{job}}}"
    assert eventually(prometheus, latency, lambda n: n >= 1) >= 1
    engine = (
        f'sum(lab_workspace_manager_engine_call_duration_seconds_count{{{job},kind="changes"}})'
    )
    assert eventually(prometheus, engine, lambda n: n >= 1) >= 1
    p95 = (
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(lab_workspace_manager_engine_call_duration_seconds_bucket{{{job}}}[1m])))"
    )
    assert eventually(prometheus, p95, lambda s: s > 0) > 0

    with scraped.client(alice) as client:
        stopped = client.post(f"/api/users/alice/workspace/{workspace['id']}:stop")
        assert stopped.status_code == 200, stopped.text
    stops = f'lab_workspace_manager_operations_total{{{job},operation="stop",result="ok"}}'
    assert eventually(prometheus, stops, lambda n: n >= 1) == 1
    assert eventually(prometheus, running, lambda n: n == 0) == 0
    stopped_gauge = f'lab_workspace_manager_workspaces{{{job},status="stopped"}}'
    assert eventually(prometheus, stopped_gauge, lambda n: n == 1) == 1
    # A workspace the kernel kills for its memory limit is a failure, "oom".
    with scraped.client(alice) as client:
        hog = client.post(
            "/api/users/alice/workspace",
            json={"display_name": "hog", "container_image": OOM_IMAGE, "compute": {"memory": 64}},
        )
        assert hog.status_code == 201, hog.text
    oom = f'lab_workspace_manager_failures_total{{{job},reason="oom"}}'
    assert eventually(prometheus, oom, lambda n: n >= 1) == 1

    # Every expression of the Grafana dashboard is PromQL this Prometheus evaluates, and
    # those over gauges find their series.
    for expr in dashboard_expressions():
        result = query(prometheus, expr)
        if "rate(" not in expr and "increase(" not in expr:
            assert result, expr
    # No series names a workspace or a user.
    everything = query(prometheus, f'{{__name__=~"lab_workspace_manager_.+",{job}}}')
    assert everything
    for series in everything:
        assert workspace["id"] not in series["metric"].values()
        assert "alice" not in series["metric"].values()
