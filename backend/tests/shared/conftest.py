"""Two or more "managers" in one process, each with its own shared state over the same store
(a directory, or a PostgreSQL database), as separate processes would have."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab_workspace_manager.shared import SharedState
from lab_workspace_manager.shared.files import FileSharedState
from lab_workspace_manager.shared.postgres import PostgresSharedState

MakeShared = Callable[[], SharedState]


@pytest.fixture(params=["files", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """What the managers of a test share: the directory, or the database (with an instance of
    the test's own, so a schema of its own)."""
    if request.param == "files":
        return str(tmp_path)
    database_url = request.getfixturevalue("database_url")
    return f"{database_url}#t{secrets.token_hex(4)}"


@pytest.fixture
def make_shared(store: str) -> Iterator[MakeShared]:
    """A new manager's shared state over the test's store, each time it is called."""
    made: list[SharedState] = []

    def make() -> SharedState:
        if "#" in store:
            url, instance = store.split("#")
            made.append(PostgresSharedState(url, instance, connections=8))
        else:
            made.append(FileSharedState(Path(store)))
        return made[-1]

    yield make
    for shared in made:
        shared.close()
