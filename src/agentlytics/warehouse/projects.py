"""The local warehouse's ``thread_projects`` side table: which repo each thread worked in.

Filled from capture metadata lines (``dir: meta``, kind ``thread_repo``) during replay and
from the tap's own lookups while it records. It is local only — no event carries a repo name
or branch, and nothing here is ever delivered over HTTP. The DDL is the one the query layer
creates too (``CREATE TABLE IF NOT EXISTS``), so either side may make it first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import duckdb

from agentlytics.protocol.wire import ThreadRepo

THREAD_PROJECTS_DDL = """
CREATE TABLE IF NOT EXISTS thread_projects (
    thread_id VARCHAR PRIMARY KEY,
    repo_hash VARCHAR,
    repo_name VARCHAR,
    branch VARCHAR
)
"""


def store_thread_projects(con: duckdb.DuckDBPyConnection, repos: Iterable[ThreadRepo]) -> int:
    """Upsert one row per thread (the latest recording of a thread wins); rows written."""
    rows = [(r.thread_id, r.repo_hash, r.repo_name, r.branch) for r in repos]
    con.execute(THREAD_PROJECTS_DDL)
    if rows:
        con.executemany("INSERT OR REPLACE INTO thread_projects VALUES (?, ?, ?, ?)", rows)
    return len(rows)


@runtime_checkable
class ProjectSink(Protocol):
    """A sink that also keeps ``thread_projects`` (the local DuckDB warehouse)."""

    def write_thread_projects(self, repos: list[ThreadRepo]) -> None: ...
