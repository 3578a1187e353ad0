"""Stores the reports run on: :func:`open_store` picks the backend from the location.

A store answers SQL with rows; the reports (:mod:`agentlytics.query.reports`) hold the SQL.
The DuckDB backend reads a local warehouse file; a ``postgresql://`` URL is served by the
PostgreSQL backend (``agentlytics.query.postgres``) when it is installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb

from agentlytics.query.dialect import Dialect, DuckDBDialect
from agentlytics.query.pricing import PriceTable, bundled
from agentlytics.warehouse.reads import FileReader, ReadRefused
from agentlytics.warehouse.schema import SCHEMA_VERSION
from agentlytics.warehouse.store import SchemaError, ensure_schema, schema_version


class StoreError(Exception):
    """A store that cannot be opened or read; the message is one line for the user."""


class Store(Protocol):
    """An opened store: SQL in, rows out, in its own dialect."""

    location: str
    dialect: Dialect
    prices: PriceTable

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one query (``?`` placeholders) and return every row."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...


class DuckDBStore:
    """A warehouse file (or ``:memory:``) opened for reports."""

    dialect: Dialect = DuckDBDialect()
    _reader: FileReader | None = None
    #: The connection belongs to someone else (:meth:`on_connection`): never closed here.
    _borrowed: bool = False

    def __init__(
        self, path: str, *, read_only: bool = True, prices: PriceTable | None = None
    ) -> None:
        self.location = path
        self.prices = bundled() if prices is None else prices
        memory = path == ":memory:"
        if not memory and not Path(path).exists():
            raise StoreError(f"no warehouse at {path} (replay or collect events into it first)")
        if not memory and Path(path).is_dir():
            raise StoreError(f"{path} is a directory, not a warehouse file")
        # Interface 5: a file that a collector/tap writes is read through the writer, and a
        # read-only store holds no lock between queries (warehouse/reads.py says why).
        self._reader = FileReader(path) if read_only and not memory else None
        self.con: duckdb.DuckDBPyConnection | None = None
        if self._reader is not None:
            self._check_version(self._reader_version())
            return
        try:
            self.con = duckdb.connect(path)
        except duckdb.Error as exc:
            raise StoreError(_open_error(path, exc)) from None
        try:
            self._check(False)
        except BaseException:
            self.con.close()
            raise

    @classmethod
    def on_connection(
        cls, con: duckdb.DuckDBPyConnection, location: str, *, prices: PriceTable | None = None
    ) -> DuckDBStore:
        """Reports over a connection a writer already holds (``replay``'s own warehouse, at
        the current layout); closing the store leaves the connection open."""
        store = cls.__new__(cls)
        store.location = location
        store.prices = bundled() if prices is None else prices
        store.con = con
        store._borrowed = True
        return store

    def _reader_version(self) -> int | None:
        assert self._reader is not None
        try:
            tables = {r[0] for r in self._reader.rows("SELECT table_name FROM duckdb_tables()", [])}
            if "events" not in tables:
                return None
            if "schema_version" not in tables:
                return 1
            row = self._reader.rows("SELECT max(version) FROM schema_version", [])
        except (duckdb.Error, ReadRefused) as exc:
            raise StoreError(_open_error(self.location, exc)) from None
        return int(row[0][0]) if row and row[0][0] is not None else 1

    def _check(self, read_only: bool) -> None:
        assert self.con is not None
        try:
            if not read_only:
                ensure_schema(self.con)
                return
            found = schema_version(self.con)
        except SchemaError as exc:
            raise StoreError(f"{self.location}: {exc}") from None
        except duckdb.Error as exc:
            raise StoreError(f"cannot read {self.location}: {_first_line(exc)}") from None
        self._check_version(found)

    def _check_version(self, found: int | None) -> None:
        if found is None:
            raise StoreError(
                f"{self.location} is a DuckDB file but not an agentlytics warehouse "
                "(it has no events table)"
            )
        if found < SCHEMA_VERSION:
            raise StoreError(
                f"{self.location} has warehouse schema {found}, older than this agentlytics "
                f"({SCHEMA_VERSION}): upgrade it with `agentlytics migrate --warehouse "
                f"{self.location}` (any write, such as replay or collect, also upgrades it)"
            )
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.location} has warehouse schema {found}, newer than this agentlytics "
                f"({SCHEMA_VERSION}): upgrade agentlytics"
            )

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            if self._reader is not None:
                return self._reader.rows(sql, list(params))
            assert self.con is not None
            return self.con.execute(sql, list(params)).fetchall()
        except (duckdb.Error, ReadRefused) as exc:
            raise StoreError(f"query failed on {self.location}: {_first_line(exc)}") from exc

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self.con is not None and not self._borrowed:
            self.con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open_error(path: str, exc: Exception) -> str:
    text = str(exc)
    if "lock" in text.lower():
        return f"{path} is open for writing by another process: {_first_line(exc)}"
    if "not a valid DuckDB database file" in text or "Unable to open" in text:
        return f"{path} is not a DuckDB warehouse file"
    return f"cannot open {path}: {_first_line(exc)}"


def open_store(location: str, *, read_only: bool = True, prices: PriceTable | None = None) -> Store:
    """Open the store at ``location``: a DuckDB file path, or a ``postgresql://`` URL.

    ``read_only`` stores refuse an older warehouse layout with a message saying how to upgrade
    it; a writable open upgrades it in place. Raises :class:`StoreError` (one line) on failure.
    """
    if location.startswith(("postgresql://", "postgres://")):
        try:
            backend = importlib.import_module("agentlytics.query.postgres")
        except ImportError:
            raise StoreError(
                "PostgreSQL stores need the PostgreSQL backend (agentlytics.query.postgres), "
                "which is not installed"
            ) from None
        store: Store = backend.open_postgres(location, read_only=read_only, prices=prices)
        return store
    return DuckDBStore(location, read_only=read_only, prices=prices)
