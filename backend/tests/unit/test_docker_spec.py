"""The pure builders of what the Docker backend creates, compared with exact dictionaries."""

from docker.types import DeviceRequest, LogConfig, Mount

from lab_workspace_manager.backends.base import DiskLimits
from lab_workspace_manager.backends.docker import spec as build
from lab_workspace_manager.backends.docker.facts import EngineFacts
from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec
from tests.support.settings import make_settings

SPEC = WorkspaceSpec(
    display_name="Mon espace",
    container_image="lwm-test-workspace:latest",
    compute=ComputeSpec(cpus=1.5, memory=1000, volume_size=500, gpus=0),
)
NONE = EngineFacts()  # an engine without hard disk limits
HARD = EngineFacts(DiskLimits(hard_container_size=True, hard_volume_size=True))
HARD_COUNTING_IMAGE = EngineFacts(HARD.disk_limits, limit_counts_image=True)


def test_container_config_is_exactly_what_was_asked() -> None:
    settings = make_settings(instance_id="lwm", workspace_public_prefix="/lab")
    config = build.container_config(settings, "alice", "abcdefghij", SPEC, start=True, facts=NONE)
    assert config == {
        "name": "lwm-alice-abcdefghij",
        "image": "lwm-test-workspace:latest",
        "hostname": "abcdefghij",
        "detach": True,
        "environment": {
            "WORKSPACE_BASE_URL": "/lab/workspaces/abcdefghij/",
            "MAX_NUM_THREADS": "2",
            "SHARED_LINKS_ENABLED": "false",
        },
        "labels": {
            "lwm.instance": "lwm",
            "lwm.kind": "workspace",
            "lwm.owner": "alice",
            "lwm.workspace": "abcdefghij",
            "lwm.display-name": "Mon espace",
            "lwm.spec": SPEC.model_dump_json(),
            "lwm.build": build.build_fingerprint(SPEC),
        },
        "nano_cpus": 1_500_000_000,
        "mem_limit": 1000 * 1024 * 1024,
        "memswap_limit": 1000 * 1024 * 1024,
        "shm_size": 512 * 1024 * 1024,
        "pids_limit": 4096,
        "privileged": False,
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["NET_RAW", "MKNOD"],
        "mounts": [Mount(target="/workspace", source="lwm-alice-abcdefghij-data", type="volume")],
        "network": "lwm-net-alice-2bd806c97f0e00af1a1fc332",
        "restart_policy": {"Name": "on-failure", "MaximumRetryCount": 3},
        "log_config": LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"}),
    }


def test_a_stopped_workspace_is_never_restarted_by_the_engine() -> None:
    config = build.container_config(
        make_settings(), "alice", "abcdefghij", SPEC, start=False, facts=NONE
    )
    assert config["restart_policy"] == {"Name": "no", "MaximumRetryCount": 0}


def test_gpus_become_a_device_request() -> None:
    spec = SPEC.model_copy(update={"compute": SPEC.compute.model_copy(update={"gpus": 2})})
    config = build.container_config(
        make_settings(), "alice", "abcdefghij", spec, start=True, facts=NONE
    )
    assert config["device_requests"] == [DeviceRequest(count=2, capabilities=[["gpu"]])]


def test_fingerprint_changes_only_with_what_needs_a_new_container() -> None:
    renamed = SPEC.model_copy(update={"display_name": "other", "idle_timeout": 60})
    assert build.build_fingerprint(renamed) == build.build_fingerprint(SPEC)
    bigger = SPEC.model_copy(update={"compute": SPEC.compute.model_copy(update={"memory": 2000})})
    assert build.build_fingerprint(bigger) != build.build_fingerprint(SPEC)


def test_volume_network_and_record_configs() -> None:
    settings = make_settings(instance_id="lwm")
    assert build.volume_config(settings, "alice", "abcdefghij", SPEC, NONE) == {
        "name": "lwm-alice-abcdefghij-data",
        "driver": "local",
        "labels": {
            "lwm.instance": "lwm",
            "lwm.kind": "volume",
            "lwm.owner": "alice",
            "lwm.workspace": "abcdefghij",
            "lwm.display-name": SPEC.display_name,
            "lwm.volume-size": str(SPEC.compute.volume_size),
        },
    }
    network = build.network_config(settings, "alice")
    assert network["driver"] == "bridge"
    assert network["labels"] == {"lwm.instance": "lwm", "lwm.kind": "network", "lwm.owner": "alice"}
    # A bridge name the egress rules know by its prefix (15 characters at most).
    bridge = network["options"]["com.docker.network.bridge.name"]
    assert bridge.startswith("lwm") and len(bridge) == 15
    assert (
        bridge != build.network_config(settings, "bob")["options"]["com.docker.network.bridge.name"]
    )
    labels = {"lwm.owner": "alice", "lwm.workspace": "abcdefghij", "lwm.revision": "7"}
    assert build.record_config(settings, labels) == {
        "name": "lwm-alice-abcdefghij-r7",
        "image": "lwm-record:1",
        "command": ["record"],
        "network_mode": "none",
        "labels": labels,
    }


def test_a_hard_container_limit_adds_the_storage_option_and_its_label() -> None:
    settings = make_settings(instance_id="lwm", container_size=3000)
    plain = build.container_config(settings, "alice", "abcdefghij", SPEC, start=True, facts=NONE)
    held = build.container_config(settings, "alice", "abcdefghij", SPEC, True, facts=HARD)
    on_btrfs = build.container_config(
        settings, "alice", "abcdefghij", SPEC, True, facts=HARD_COUNTING_IMAGE, image_size=400
    )
    assert "storage_opt" not in plain and "lwm.container-size" not in plain["labels"]
    assert held == {
        **plain,
        "storage_opt": {"size": "3000M"},
        "labels": {**plain["labels"], "lwm.container-size": "3000"},
    }
    # btrfs counts the image's files too: the workspace still gets its full size.
    assert on_btrfs == {**held, "storage_opt": {"size": "3400M"}}


def test_a_hard_volume_limit_is_the_local_drivers_size_option() -> None:
    settings = make_settings(instance_id="lwm")
    assert build.volume_config(settings, "alice", "abcdefghij", SPEC, HARD) == {
        **build.volume_config(settings, "alice", "abcdefghij", SPEC, NONE),
        "driver_opts": {"size": "500M"},
    }
