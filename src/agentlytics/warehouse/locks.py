"""Opening a DuckDB warehouse for writing while readers come and go.

DuckDB lets one process write a file, and a process that has the file open read-only keeps a
writer out just as a writer keeps readers out. Readers of a warehouse here (the dashboard,
``report``) hold the file only for the queries of one answer — well under a second — so a
writer that finds it held waits for the lock to go instead of failing: reading never breaks
the writer. Anything else (a second writer holding the file for good) still fails, after
:data:`WAIT_SECONDS`.
"""

from __future__ import annotations

import time

import duckdb

#: How long a writer waits for readers to let go of the file.
WAIT_SECONDS = 10.0
_RETRY_SECONDS = 0.02


def connect_for_writing(path: str, *, wait_s: float = WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect(path)``, waiting up to ``wait_s`` while another process holds it."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return duckdb.connect(path)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(_RETRY_SECONDS)
