"""The DuckDB warehouse as a sink: stores each event once, keyed by its id."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentlytics.events.envelope import Envelope
from agentlytics.protocol.wire import ThreadRepo
from agentlytics.warehouse.projects import store_thread_projects
from agentlytics.warehouse.store import DEFAULT_PATH, Warehouse


class DuckDBSink:
    """Writes batches into a warehouse file; ``stored`` counts rows that were new."""

    def __init__(self, path: Path | str = DEFAULT_PATH) -> None:
        self.warehouse = Warehouse(path)
        self.stored = 0

    def write(self, batch: Sequence[Envelope]) -> None:
        self.stored += self.warehouse.insert(batch)

    def write_thread_projects(self, repos: list[ThreadRepo]) -> None:
        """The local-only ``thread_projects`` rows of the threads a capture recorded."""
        store_thread_projects(self.warehouse.con, repos)

    def close(self) -> None:
        self.warehouse.close()
