"""The DuckDB warehouse as a sink: stores each event once, keyed by its id."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentlytics.events.envelope import Envelope
from agentlytics.protocol.wire import ThreadRepo
from agentlytics.warehouse.projects import store_thread_projects
from agentlytics.warehouse.reads import ReadServer, open_for_writing
from agentlytics.warehouse.store import DEFAULT_PATH, Prepared, Warehouse


class DuckDBSink:
    """Writes batches into a warehouse file; ``stored`` counts rows that were new."""

    def __init__(self, path: Path | str = DEFAULT_PATH) -> None:
        self.warehouse = open_for_writing(lambda: Warehouse(path))
        self.stored = 0
        # While it holds the file, reports in other processes read through it (warehouse/reads).
        self._reads = ReadServer(self.warehouse.con, path) if str(path) != ":memory:" else None
        if self._reads is not None:
            self._reads.start()

    def write(self, batch: Sequence[Envelope]) -> None:
        self.stored += self.warehouse.insert(batch)

    def write_prepared(self, prepared: Prepared) -> None:
        """A batch whose Arrow tables are already built (``replay --jobs``: by the workers)."""
        new = self.warehouse.insert_prepared(prepared)
        self.stored += prepared.events.num_rows if new is None else len(new)

    def write_thread_projects(self, repos: list[ThreadRepo]) -> None:
        """The local-only ``thread_projects`` rows of the threads a capture recorded."""
        store_thread_projects(self.warehouse.con, repos)

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()
        self.warehouse.close()
