import json

import pytest
from pydantic import ValidationError

from lab_workspace_manager.settings import Settings
from tests.support.settings import make_settings


def env(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return Settings()


@pytest.mark.parametrize(
    "names",
    [
        # the original manager's names
        ("WORKSPACE_MEMORY_MB_MAX", "WORKSPACE_CPUS_MAX", "WORKSPACE_CONTAINER_SIZE"),
        # the names its README and ML Lab's compose file use
        ("WORKSPACE_MAX_MEMORY_MB", "WORKSPACE_MAX_CPUS", "WORKSPACE_MAX_CONTAINER_SIZE"),
    ],
)
def test_both_spellings_are_read(monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]) -> None:
    memory, cpus, container = names
    s = env(monkeypatch, **{memory: "3000", cpus: "3", container: "900"})
    assert (s.memory_max, s.cpus_max, s.container_size) == (3000, 3, 900)


def test_volume_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    s = env(monkeypatch, WORKSPACE_VOLUME_SIZE="700", WORKSPACE_MAX_VOLUME_SIZE="6000")
    assert (s.volume_size_default, s.volume_size_max) == (700, 6000)


def test_lists_accept_json_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    s = env(
        monkeypatch,
        WORKSPACE_MEMORY_MB_OPTIONS="[500, 1000]",
        WORKSPACE_CPUS_OPTIONS="0.5, 1,2",
        BACKEND_CORS_ORIGINS="http://a:3000,http://b",
    )
    assert s.memory_options == [500, 1000]
    assert s.cpus_options == [0.5, 1, 2]
    assert s.backend_cors_origins == ["http://a:3000", "http://b"]


def test_image_options_accept_names_and_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    s = env(
        monkeypatch,
        WORKSPACE_IMAGE_DEFAULT="img:1",
        WORKSPACE_IMAGE_OPTIONS='["img:2", {"image": "img:3", "display_name": "Three"}, "img:1"]',
    )
    assert [(o.image, o.display_name) for o in s.allowed_images] == [
        ("img:1", "ML Workspace (minimal)"),
        ("img:2", "img:2"),
        ("img:3", "Three"),
    ]


def test_volume_max_defaults_to_the_default_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env(monkeypatch, WORKSPACE_VOLUME_SIZE="800").volume_size_max == 800


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WORKSPACE_CPUS_DEFAULT", "9", "CPU settings"),
        ("WORKSPACE_MEMORY_MB_DEFAULT", "10", "memory settings"),
        ("WORKSPACE_PUBLIC_PREFIX", "no-slash", "must be a path"),
        ("WORKSPACE_MANAGER_INSTANCE", "Bad_Name", "lowercase"),
    ],
)
def test_inconsistent_settings_fail_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        env(monkeypatch, **{name: value})


def test_empty_secrets_mean_generate_and_short_ones_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = env(monkeypatch, ADMIN_TOKEN="", JWT_SECRET="  ")
    assert (s.admin_token, s.jwt_secret) == (None, None)
    with pytest.raises(ValidationError, match="at least 16 characters"):
        env(monkeypatch, JWT_SECRET="short")


@pytest.mark.parametrize(
    "reference",
    [
        "mltooling/ml-workspace-minimal:0.13.2",
        "debian",
        "localhost:5000/team/ml_workspace:v1.2-rc.3",
        "registry.example.org/a/b/c@sha256:" + "ab" * 32,
        "ghcr.io/org/image:tag@sha256:" + "0f" * 32,
        "[::1]:5000/image",
        "Registry.Example:5000/lower",
    ],
)
def test_valid_image_references_are_taken(monkeypatch: pytest.MonkeyPatch, reference: str) -> None:
    options = json.dumps([reference])
    s = env(monkeypatch, WORKSPACE_IMAGE_DEFAULT=reference, WORKSPACE_IMAGE_OPTIONS=options)
    assert s.workspace_image_default == reference
    assert [o.image for o in s.workspace_image_options] == [reference]


@pytest.mark.parametrize(
    "reference",
    [
        "Bad Image!",
        "UPPER/case:1",
        "image:",
        "image:tag with space",
        "-lead",
        "a//b",
        ":1",
        "image@sha256:short",
        '{"image": "x:1"',
    ],
)
def test_invalid_image_references_stop_the_start_naming_variable_and_value(
    monkeypatch: pytest.MonkeyPatch, reference: str
) -> None:
    with pytest.raises(ValidationError, match="WORKSPACE_IMAGE_DEFAULT") as default:
        env(monkeypatch, WORKSPACE_IMAGE_DEFAULT=reference)
    assert repr(reference) in str(default.value)
    monkeypatch.delenv("WORKSPACE_IMAGE_DEFAULT")
    options = json.dumps(["fine:1", {"image": reference, "display_name": "x"}])
    with pytest.raises(ValidationError, match="not a Docker image reference") as option:
        env(monkeypatch, WORKSPACE_IMAGE_OPTIONS=options)
    assert "WORKSPACE_IMAGE_OPTIONS.1.image" in str(option.value)


def test_the_default_image_may_be_given_as_an_option_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """The form WORKSPACE_IMAGE_OPTIONS takes; it was once taken as an image *name*."""
    s = env(monkeypatch, WORKSPACE_IMAGE_DEFAULT='{"image": "x:1", "display_name": "X"}')
    assert (s.workspace_image_default, s.workspace_image_default_display_name) == ("x:1", "X")
    assert [(o.image, o.display_name) for o in s.allowed_images] == [("x:1", "X")]
    # Without a display name there, the display name setting still applies.
    s = env(
        monkeypatch,
        WORKSPACE_IMAGE_DEFAULT='{"image": "y:2"}',
        WORKSPACE_IMAGE_DEFAULT_DISPLAY_NAME="Y",
    )
    assert (s.workspace_image_default, s.workspace_image_default_display_name) == ("y:2", "Y")


@pytest.mark.parametrize("value", ['{"image": 1}', '{"image": "x:1", "extra": 2}', "[1]"])
def test_a_default_image_of_another_shape_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ValidationError, match="WORKSPACE_IMAGE_DEFAULT"):
        env(monkeypatch, WORKSPACE_IMAGE_DEFAULT=value)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("{id}.localhost", "{id}.localhost"),
        ("{id}.WS.Example.org", "{id}.ws.example.org"),
        ("{id}.ws.example.org:8443", "{id}.ws.example.org:8443"),
    ],
)
def test_a_workspace_host_template_is_taken(
    monkeypatch: pytest.MonkeyPatch, value: str, kept: str
) -> None:
    assert env(monkeypatch, WORKSPACE_HOST=value).workspace_host == kept


@pytest.mark.parametrize(
    "value",
    [
        "localhost",
        "ws-{id}.example.org",
        "{id}",
        "{id}.",
        "{id}.exa mple.org",
        "{id}.a:0",
        "x.{id}.org",
    ],
)
def test_a_workspace_host_without_its_own_label_for_the_id_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ValidationError, match=r"WORKSPACE_HOST must be '\{id\}\.' followed by"):
        env(monkeypatch, WORKSPACE_HOST=value)


def test_an_empty_quota_means_no_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-compose.yml sets quotas by default; `USER_QUOTA_CPUS=` turns one off."""
    s = env(monkeypatch, USER_QUOTA_CPUS="", USER_QUOTA_RUNNING="3")
    assert (s.quota_cpus, s.quota_running) == (None, 3)


def test_the_client_address_is_the_one_nginx_saw() -> None:
    from starlette.requests import Request

    from lab_workspace_manager.api.origins import client_address

    def request(peer: str, forwarded: str | None) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return Request({"type": "http", "client": (peer, 5000), "headers": headers})

    settings = make_settings()
    # Behind nginx: its entry, the last; what the client wrote before it does not count.
    assert client_address(request("127.0.0.1", "6.6.6.6, 10.1.2.3"), settings) == "10.1.2.3"
    assert client_address(request("127.0.0.1", None), settings) == "127.0.0.1"
    # Not from nginx: the header is the caller's own to write, and ignored.
    assert client_address(request("10.9.9.9", "1.1.1.1"), settings) == "10.9.9.9"
    # One proxy in front of nginx (ML Lab's): the entry it added.
    behind = make_settings(forwarded_proxies=1)
    assert client_address(request("127.0.0.1", "6.6.6.6, 10.1.2.3, 10.0.0.2"), behind) == (
        "10.1.2.3"
    )
