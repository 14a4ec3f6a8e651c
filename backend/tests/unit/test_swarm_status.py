"""The Swarm backend's pure parts: the service it asks for, and the status it reads from
tasks and nodes (what the swarm reports, in the user's words)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lab_workspace_manager.backends.swarm import spec as build
from lab_workspace_manager.backends.swarm.nodes import NodeEngines
from lab_workspace_manager.backends.swarm.spec import Record
from lab_workspace_manager.backends.swarm.tasks import Node, observe
from lab_workspace_manager.errors import Conflict
from lab_workspace_manager.models import WorkspaceSpec, WorkspaceStatus
from tests.support.settings import make_settings

SPEC = WorkspaceSpec.model_validate(
    {
        "display_name": "w",
        "container_image": "img:1",
        "compute": {"cpus": 1.5, "memory": 2048, "volume_size": 500, "gpus": 1},
    }
)
NODES = {
    "n1": Node("n1", "node1", "10.0.0.2", "ready", "active", 2, 4000),
    "n2": Node("n2", "node2", "10.0.0.3", "down", "active", 2, 4000),
    "n3": Node("n3", "node3", "10.0.0.4", "ready", "drain", 2, 4000),
}
NETWORK = "net-alice"


def task(state: str, index: int = 1, node: str = "n1", err: str = "", **status: Any) -> dict:
    return {
        "ID": f"task{index}",
        "Version": {"Index": index},
        "CreatedAt": datetime.now(UTC).isoformat(),
        "DesiredState": "running",
        "NodeID": node,
        "Status": {"State": state, "Err": err, "Timestamp": "2026-12-01T10:00:00Z", **status},
        "NetworksAttachments": [
            {"Network": {"Spec": {"Name": NETWORK}}, "Addresses": ["10.232.1.7/24"]}
        ],
    }


def seen(record: Record, tasks: list[dict], answers: bool = True, waited: float = 1.0):
    return observe(record, tasks, NODES, NETWORK, 8080, lambda t, a: (answers, waited), 60)


def test_a_service_reserves_and_limits_what_the_workspace_asked_for() -> None:
    settings = make_settings(shm_size=256, pids_limit=500)
    record = Record.new("alice", "ws1", SPEC, True)
    config = build.service_config(settings, record)
    template = config["task_template"]
    resources = {"NanoCPUs": 1_500_000_000, "MemoryBytes": 2048 * 2**20}
    assert template["Resources"]["Limits"] == {**resources, "Pids": 500}
    assert template["Resources"]["Reservations"] == {
        **resources,
        "GenericResources": [{"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 1}}],
    }
    shm = template["ContainerSpec"]["Mounts"][1]
    assert shm == {
        "Type": "tmpfs",
        "Target": "/dev/shm",
        "TmpfsOptions": {"SizeBytes": 256 * 2**20, "Mode": 0o1777},
    }
    assert template["Placement"] == {"Constraints": []}  # not placed yet
    assert config["mode"] == {"Replicated": {"Replicas": 1}}
    assert config["endpoint_spec"] == {"Mode": "dnsrr", "Ports": []}  # nothing published

    placed = record.changed(node_id="n1", node_name="node1", desired="stopped")
    config = build.service_config(settings, placed)
    assert config["task_template"]["Placement"] == {"Constraints": ["node.id==n1"]}
    assert config["mode"] == {"Replicated": {"Replicas": 0}}
    assert Record.from_labels(config["labels"]) == placed


def test_running_only_once_it_answers() -> None:
    record = Record.new("alice", "ws1", SPEC, True)
    waiting = seen(record, [task("running")], answers=False)
    assert (waiting.status, waiting.message) == (
        WorkspaceStatus.PENDING,
        "Started on node node1; waiting for it to answer.",
    )
    running = seen(record, [task("running")])
    assert (running.status, running.address) == (WorkspaceStatus.RUNNING, "10.232.1.7:8080")
    assert running.message == "Running on node node1."
    # Its task runs and holds its reservation: pending (counted, stopped when idle), never
    # "failed" while it runs.
    silent = seen(record, [task("running")], answers=False, waited=61)
    assert silent.status is WorkspaceStatus.PENDING
    assert "has not answered HTTP on port 8080 within 60 s" in silent.message


def test_no_room_is_said_plainly() -> None:
    record = Record.new("alice", "ws1", SPEC, True)
    err = "no suitable node (insufficient resources on 3 nodes)"
    nowhere = seen(record, [task("pending", err=err, node="")])
    assert nowhere.status is WorkspaceStatus.PENDING
    assert nowhere.message.startswith("No node has 1.5 CPUs and 2048 MB of memory free now")
    at_home = seen(record.changed(node_id="n1", node_name="node1"), [task("pending", err=err)])
    assert at_home.message.startswith(
        "Node node1, where its data is, has not got 1.5 CPUs and 2048 MB of memory free now"
    )


def test_a_workspace_whose_node_is_away_says_where_its_data_is() -> None:
    record = Record.new("alice", "ws1", SPEC, True)
    err = "no suitable node (scheduling constraints not satisfied on 3 nodes)"
    down = seen(record.changed(node_id="n2", node_name="node2"), [task("pending", err=err)])
    assert down.message.startswith("Its data is on node node2, which is down")
    drained = seen(record.changed(node_id="n3", node_name="node3"), [task("pending", err=err)])
    assert drained.message.startswith("Its data is on node node3, which is drained")
    gone = seen(record.changed(node_id="n9", node_name="node9"), [task("pending", err=err)])
    assert gone.message.startswith("Its data is on node node9, which has left the cluster")


def test_a_crash_is_retried_then_reported() -> None:
    record = Record.new("alice", "ws1", SPEC, True)
    later = (record.changed_at + timedelta(seconds=1)).isoformat()
    crashed = []
    for index in range(1, 5):
        failed = task(
            "failed", index, err="task: non-zero exit (3)", ContainerStatus={"ExitCode": 3}
        )
        failed["DesiredState"] = "shutdown"
        failed["CreatedAt"] = later
        crashed.append(failed)
        state = seen(record, crashed)
        if index <= build.MAX_RESTARTS:
            assert state.status is WorkspaceStatus.PENDING
            assert state.message.startswith("Starting again: It exited with code 3")
    assert state.status is WorkspaceStatus.FAILED
    # Pinned to its node after they began (its first task was placed, then crashed): the
    # crashes still count from its start, not from the pin.
    started = replace(record, changed_at=record.changed_at - timedelta(seconds=10))
    before_pin = [
        {**t, "CreatedAt": (record.changed_at - timedelta(seconds=5)).isoformat()} for t in crashed
    ]
    assert seen(started.pinned("n1", "node1"), before_pin).status is WorkspaceStatus.FAILED
    assert state.message == (
        "It exited with code 3 (task: non-zero exit (3)). It was not started again."
    )


def test_stopped_is_stopped_with_its_reason() -> None:
    record = Record.new("alice", "ws1", SPEC, False)
    assert seen(record, []).message == "Stopped by its user."
    idle = record.changed(reason="after 30 min without activity")
    assert seen(idle, [task("running")]).status is WorkspaceStatus.STOPPED


@pytest.mark.parametrize(
    "template",
    ["tcp://{address}:2375", "http://{address}:2375", "{address}:2375", " TCP://{address}:2375"],
)
def test_a_nodes_engine_on_tcp_is_only_reached_with_tls(template: str) -> None:
    engines = NodeEngines(make_settings(swarm_node_docker_host=template))
    with pytest.raises(Conflict, match="only reached with TLS"):
        engines.client(NODES["n1"])


def test_what_a_node_says_of_itself_cannot_bend_the_template() -> None:
    engines = NodeEngines(make_settings(swarm_node_docker_host="unix:///run/e/{hostname}.sock"))
    evil = Node("n9", "../../var/run/docker", "10.0.0.9", "ready", "active", 2, 4000)
    with pytest.raises(Conflict, match="host name the manager does not use"):
        engines.client(evil)
    odd = Node("n8", "node8", "10.0.0.8; rm", "ready", "active", 2, 4000)
    with pytest.raises(Conflict, match="no usable address"):
        NodeEngines(make_settings(swarm_node_docker_host="tcp://{address}:2376")).client(odd)
    unknown = NodeEngines(make_settings(swarm_node_docker_host="unix:///run/{secret}.sock"))
    with pytest.raises(Conflict, match="may only use"):
        unknown.client(NODES["n1"])
    assert engines.client(NODES["n1"]).api.base_url == "http+docker://localhost"
    engines.close()
