import pytest

from lab_workspace_manager.errors import InvalidInput
from lab_workspace_manager.models import WorkspaceCompute, WorkspaceInput, WorkspaceUpdate
from lab_workspace_manager.validation import apply_update, resolve_input
from tests.support.images import OOM_IMAGE, TEST_IMAGE
from tests.support.settings import make_settings


def test_defaults_fill_an_empty_request() -> None:
    spec = resolve_input(WorkspaceInput(), make_settings())
    assert spec.model_dump() == {
        "display_name": "my-workspace",
        "container_image": TEST_IMAGE,
        "compute": {"cpus": 0.5, "memory": 256, "volume_size": 500, "gpus": 0},
        "idle_timeout": 0,
        "clear_volume_on_stop": False,
        "schedule": None,
        "template": None,
        "template_version": None,
        "environment": {},
    }


def test_values_are_kept_and_names_trimmed() -> None:
    request = WorkspaceInput(
        display_name="  Données 1 ",
        container_image=OOM_IMAGE,
        compute=WorkspaceCompute(cpus=0.3, memory=512, volume_size=1000),
        idle_timeout=3600,
        clear_volume_on_stop=True,
    )
    spec = resolve_input(request, make_settings())
    assert spec.display_name == "Données 1"
    assert spec.compute.cpus == 0.3
    assert (spec.container_image, spec.idle_timeout, spec.clear_volume_on_stop) == (
        OOM_IMAGE,
        3600,
        True,
    )


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"display_name": "   "}, "cannot be empty"),
        ({"display_name": "tab\there"}, "control"),
        ({"container_image": "evil/miner:latest"}, "not an allowed image"),
        ({"compute": {"cpus": 2.5}}, "outside the allowed range 0.1 to 2 CPUs"),
        ({"compute": {"cpus": 0.25}}, "not a multiple of 0.1"),
        ({"compute": {"memory": 16}}, "outside the allowed range 32 to 2000 MB"),
        ({"compute": {"volume_size": 5000}}, "outside the allowed range 100 to 2000 MB"),
        ({"compute": {"gpus": 1}}, "no GPUs are offered"),
    ],
)
def test_out_of_bounds_requests_are_refused(request_fields: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        resolve_input(WorkspaceInput(**request_fields), make_settings())


def test_option_lists_restrict_values() -> None:
    settings = make_settings(
        cpus_options=[0.5, 1], memory_options=[256, 512], idle_timeout_options=[0, 600]
    )
    with pytest.raises(InvalidInput, match="not one of the offered values"):
        resolve_input(WorkspaceInput(compute=WorkspaceCompute(cpus=0.7)), settings)
    with pytest.raises(InvalidInput, match="512 MB"):
        resolve_input(WorkspaceInput(compute=WorkspaceCompute(memory=300)), settings)
    with pytest.raises(InvalidInput, match="idle_timeout"):
        resolve_input(WorkspaceInput(idle_timeout=60), settings)
    spec = resolve_input(WorkspaceInput(compute=WorkspaceCompute(cpus=1, memory=512)), settings)
    assert (spec.compute.cpus, spec.compute.memory) == (1, 512)


def test_always_clear_volume_on_stop_wins() -> None:
    settings = make_settings(always_clear_volume_on_stop=True)
    spec = resolve_input(WorkspaceInput(clear_volume_on_stop=False), settings)
    assert spec.clear_volume_on_stop is True


def test_update_checks_only_what_it_changes() -> None:
    """Lowering a maximum must not make an unrelated update of an old workspace fail."""
    spec = resolve_input(WorkspaceInput(compute=WorkspaceCompute(memory=2000)), make_settings())
    lowered = make_settings(memory_max=500, memory_default=256)
    renamed = apply_update(spec, WorkspaceUpdate(display_name="renamed"), lowered)
    assert (renamed.display_name, renamed.compute.memory) == ("renamed", 2000)
    with pytest.raises(InvalidInput, match="32 to 500 MB"):
        apply_update(spec, WorkspaceUpdate(compute=WorkspaceCompute(memory=1000)), lowered)


def test_partial_compute_update_keeps_other_values() -> None:
    spec = resolve_input(
        WorkspaceInput(compute=WorkspaceCompute(cpus=1, memory=512)), make_settings()
    )
    updated = apply_update(spec, WorkspaceUpdate(compute=WorkspaceCompute(cpus=2)), make_settings())
    assert (updated.compute.cpus, updated.compute.memory) == (2, 512)
