"""The embedded warehouse: one DuckDB file, one ``events`` table, idempotent on event id.

Every event is stored whole (``payload`` is its exact JSON) next to the columns reports filter
on. Each new event also fills a row of its family's typed table (``turns``, ``tool_calls``,
``reviews``, …; see :mod:`agentlytics.warehouse.schema`) in the same transaction, extracted by
DuckDB from the JSON: reports then scan typed columns instead of parsing JSON. A file of an
older layout is upgraded when it is opened for writing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from agentlytics.events.envelope import Envelope
from agentlytics.warehouse.schema import (
    EVENTS_DDL,
    FAMILY_TABLES,
    SCHEMA_VERSION,
    SCHEMA_VERSION_DDL,
    THREAD_PROJECTS_DDL,
    duckdb_fill_sql,
    family_ddl,
)
from agentlytics.warehouse.typed import typed_tables

DEFAULT_PATH = Path("agentlytics.duckdb")

#: WAL size that triggers a checkpoint. DuckDB's default (16 MiB, about 15k events here) makes
#: a writer that commits often — the collector — checkpoint so often that the cost per event
#: grows with the table (measured 18 → 28 → 50 µs/event over three 85k-event rounds); at
#: 256 MiB it stays flat (about 14 µs/event, checkpoints included). The WAL is durable either
#: way; a restart after a crash replays at most this much.
CHECKPOINT_THRESHOLD = "256MB"

#: DuckDB's memory by component: ``ART_INDEX`` (the ``event_id`` key index: held in memory,
#: never evicted, about 120 bytes per stored event), ``IN_MEMORY_TABLE`` (rows appended since
#: the last checkpoint, about the WAL's size; spilled to the temporary directory when pressed),
#: ``BASE_TABLE`` (cached blocks of the file: evicted as needed). docs/configuration.md.
MEMORY_SQL = (
    "SELECT tag, memory_usage_bytes AS bytes, temporary_storage_bytes AS temp_bytes "
    "FROM duckdb_memory()"
)
_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's ``memory_limit`` in bytes (DuckDB prints it rounded: ``953.6 MiB``)."""
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    match = re.fullmatch(r"([\d.]+)\s*(bytes|[KMGT]iB)", str(row[0]) if row else "")
    if match is None:
        raise ValueError(f"unexpected memory_limit {row!r}")
    return int(float(match[1]) * _UNITS[match[2]])


class SchemaError(Exception):
    """The file is not a warehouse this version can use (too new, or not one at all)."""


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The layout version of an open warehouse: None when it has no ``events`` table."""
    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "events" not in tables:
        return None
    if "schema_version" not in tables:
        return 1
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 1


def ensure_schema(con: duckdb.DuckDBPyConnection) -> int | None:
    """Create the current layout, or upgrade an older one in place; the version found before.

    Version 1 files (``events`` and JSON-extracting views) get their views replaced by the
    typed tables, filled from the stored events in one pass each — one transaction, so an
    interrupted upgrade leaves the file as it was.
    """
    found = schema_version(con)
    if found is not None and found > SCHEMA_VERSION:
        raise SchemaError(
            f"warehouse schema version {found} is newer than this agentlytics "
            f"understands ({SCHEMA_VERSION}); upgrade agentlytics"
        )
    if found == SCHEMA_VERSION:
        return found
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(EVENTS_DDL)
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        for family in FAMILY_TABLES:
            if family.table in views:
                con.execute(f"DROP VIEW {family.table}")
            con.execute(family_ddl(family))
            if found is not None:
                con.execute(duckdb_fill_sql(family, "events"))
        con.execute(THREAD_PROJECTS_DDL)
        con.execute(SCHEMA_VERSION_DDL)
        con.execute("DELETE FROM schema_version")
        con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return found


#: A batch as the five columns of ``events``: ids, types, thread ids, turn ids, payload bytes.
Columns = tuple[list[str], list[str], list[str | None], list[str | None], list[bytes]]


def batch_columns(batch: Sequence[Envelope]) -> Columns:
    """The batch as :data:`Columns` (what :meth:`Warehouse.insert_columns` takes)."""
    return (
        [e.event_id for e in batch],
        [e.event_type for e in batch],
        [e.thread_id for e in batch],
        [e.turn_id for e in batch],
        [e.body for e in batch],
    )


@dataclass(slots=True)
class Prepared:
    """A batch as the Arrow tables an insert reads: ``events`` and each family's typed rows.

    Building them is the Python share of an insert; ``replay --jobs`` has its worker processes
    do it, so the parent that owns the file only runs DuckDB's statements.
    """

    events: pa.Table
    typed: list[tuple[str, pa.Table]]


def prepare_columns(
    event_ids: list[str],
    event_types: list[str],
    thread_ids: list[str | None],
    turn_ids: list[str | None],
    payloads: Sequence[bytes],
) -> Prepared:
    """The batch's Arrow tables (one C conversion per column, read in place by DuckDB, rather
    than Python values one by one)."""
    # The bytes as text, checked UTF-8 in place: a ``cast`` does the same but loads pyarrow's
    # compute kernels on first use (~0.2 s in every process that inserts).
    payload = pa.array(payloads, pa.binary()).view(pa.string())
    payload.validate(full=True)
    events = pa.table(
        {
            "event_id": pa.array(event_ids, pa.string()),
            "event_type": pa.array(event_types, pa.string()),
            "thread_id": pa.array(thread_ids, pa.string()),
            "turn_id": pa.array(turn_ids, pa.string()),
            "payload": payload,
        }
    )
    return Prepared(events, typed_tables(event_ids, event_types, payloads))


def _first_rows_of(
    typed: list[tuple[str, pa.Table]], fresh: set[str]
) -> list[tuple[str, pa.Table]]:
    """The typed rows of the events in ``fresh`` only, once each (a batch may repeat one)."""
    out = []
    for table, rows in typed:
        seen: set[str] = set()
        keep = []
        for i, event_id in enumerate(rows.column("event_id").to_pylist()):
            if event_id in fresh and event_id not in seen:
                seen.add(event_id)
                keep.append(i)
        if keep:
            out.append((table, rows.take(keep)))
    return out


class Warehouse:
    """A DuckDB warehouse file (or ``:memory:``) holding every stored event once."""

    def __init__(
        self,
        path: Path | str = DEFAULT_PATH,
        *,
        read_only: bool = False,
        memory_limit: str = "",
        threads: int = 0,
    ) -> None:
        """``memory_limit`` / ``threads``: DuckDB's settings (empty / 0: DuckDB's defaults, 80%
        of RAM and every core); set at connect, so opening (replaying the WAL) obeys them too."""
        self.path = str(path)
        config: dict[str, str | bool | int | float | list[str]] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        self.con = duckdb.connect(self.path, read_only=read_only, config=config)
        if not read_only:
            self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            ensure_schema(self.con)

    def insert(self, batch: Sequence[Envelope]) -> int:
        """Store a batch; events whose id is already stored are skipped. Returns rows added."""
        return len(self.insert_new_ids(batch))

    def insert_new_ids(self, batch: Sequence[Envelope]) -> set[str]:
        """Store a batch in one statement; the ids of the rows it added (duplicates skipped)."""
        if not batch:
            return set()
        new = self.insert_columns(*batch_columns(batch))
        return {e.event_id for e in batch} if new is None else set(new)

    def insert_columns(
        self,
        event_ids: list[str],
        event_types: list[str],
        thread_ids: list[str | None],
        turn_ids: list[str | None],
        payloads: list[bytes],
    ) -> list[str] | None:
        """Store one batch given as columns: None when every event was new, else the new ids."""
        return self.insert_prepared(
            prepare_columns(event_ids, event_types, thread_ids, turn_ids, payloads)
        )

    def insert_prepared(self, prepared: Prepared) -> list[str] | None:
        """Store a :class:`Prepared` batch: None when every event was new, else the new ids.

        A plain ``INSERT`` first: conflict handling (``OR IGNORE``) costs DuckDB about 3 µs an
        event even when nothing conflicts, and new events are the common case. A duplicate key
        (a retried or replayed batch) fails that statement whole — nothing of it is kept — and
        the batch goes again with ``OR IGNORE``, which also skips repeats within the batch; the
        typed rows of just the events it added follow (the first copy of each).
        """
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            # The relation API spares registering a view per batch (~0.4 ms a statement).
            con.from_arrow(prepared.events).insert_into("events")
        except duckdb.ConstraintException:
            con.execute("ROLLBACK")
        else:
            try:
                self._fill(prepared.typed)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return None
        con.register("batch", prepared.events)
        con.execute("BEGIN TRANSACTION")
        try:
            rows = con.execute(
                "INSERT OR IGNORE INTO events SELECT * FROM batch RETURNING event_id"
            ).fetchall()
            new = [row[0] for row in rows]
            if new:
                self._fill(_first_rows_of(prepared.typed, set(new)))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("batch")
        return new

    def _fill(self, typed: list[tuple[str, pa.Table]]) -> None:
        """Add the typed-table rows of events just stored (see :mod:`.typed`).

        ``typed_rows`` is read by DuckDB's replacement scan (the local Arrow table of that
        name): a third cheaper per statement than ``from_arrow(...).insert_into``.
        """
        for table, typed_rows in typed:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM typed_rows")
            del typed_rows  # read by name by the statement above

    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
