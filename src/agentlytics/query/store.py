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


class DuckDBStore:
    """A warehouse file (or ``:memory:``) opened for reports."""

    dialect: Dialect = DuckDBDialect()

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
        try:
            self.con = duckdb.connect(path, read_only=read_only and not memory)
        except duckdb.Error as exc:
            raise StoreError(_open_error(path, exc)) from None
        try:
            self._check(read_only and not memory)
        except BaseException:
            self.con.close()
            raise

    def _check(self, read_only: bool) -> None:
        try:
            if not read_only:
                ensure_schema(self.con)
                return
            found = schema_version(self.con)
        except SchemaError as exc:
            raise StoreError(f"{self.location}: {exc}") from None
        except duckdb.Error as exc:
            raise StoreError(f"cannot read {self.location}: {_first_line(exc)}") from None
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
            return self.con.execute(sql, list(params)).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"query failed on {self.location}: {_first_line(exc)}") from exc

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open_error(path: str, exc: duckdb.Error) -> str:
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
