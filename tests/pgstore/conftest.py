"""A real PostgreSQL cluster for the team-store tests, started once per session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from ..pg_server import PgServer, available

_names = itertools.count()


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    if not available():
        pytest.fail("PostgreSQL is not installed: run .ci/run (it installs Debian's postgresql)")
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg: PgServer) -> str:
    """A fresh, empty database on the session's server."""
    return pg.create_database(f"t{next(_names)}")
