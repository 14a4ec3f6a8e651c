import re

from lab_workspace_manager import naming


def test_workspace_ids_are_random_and_match_the_route_pattern() -> None:
    ids = {naming.new_workspace_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(naming.WORKSPACE_ID_PATTERN, i) for i in ids)


def test_names_are_dns_safe_and_short() -> None:
    owner = "Jean.Dupont@Example.COM" + "x" * 100
    names = [
        naming.container_name("lwm-prod-0001", owner, "abcdefghij"),
        naming.volume_name("lwm-prod-0001", owner, "a" * 20),
        naming.network_name("lwm-prod-0001", owner),
    ]
    for name in names:
        assert re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", name), name
        assert len(name) <= 63


def test_network_names_differ_for_ids_with_the_same_slug() -> None:
    assert naming.slug("Alice") == naming.slug("alice")
    assert naming.network_name("lwm", "Alice") != naming.network_name("lwm", "alice")


def test_network_names_carry_96_bits_of_the_user_id() -> None:
    """Regression: 8 hex digits let a user who may choose their id find one (about 2^32
    tries) whose network name was another user's."""
    name = naming.network_name("lwm", "alice")
    assert re.fullmatch(r"lwm-net-alice-[0-9a-f]{24}", name), name
    assert naming.is_network_of("lwm", name)
    assert naming.is_network_of("lwm", "lwm-net-alice-2bd806c9")  # named as before
    assert not naming.is_network_of("lwm", "other-net-alice-2bd806c9")


def test_slug_is_never_empty() -> None:
    assert naming.slug("@@@") == "x"


def test_workspace_path_has_the_prefix() -> None:
    assert naming.workspace_path("", "abc123") == "/workspaces/abc123/"
    assert naming.workspace_path("/lab/ext", "abc123") == "/lab/ext/workspaces/abc123/"
