"""The query layer's PostgreSQL backend: reports over a team store (``postgresql://…``).

The reports' SQL is shared with DuckDB (see :mod:`agentlytics.query.dialect`); this backend
only runs it. Reads happen in a read-only transaction on one connection, which never takes a
lock that stops the collectors (MVCC: a report sees the rows committed when its query starts).

Numbers come back as DuckDB gives them: ``sum`` of an integer column is ``numeric`` here, read
as an ``int``; ``numeric`` with a fraction (an average, a cost) as a ``float``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.adapt import Loader

from agentlytics.query.dialect import Dialect, PostgresDialect
from agentlytics.query.pricing import PriceTable, bundled
from agentlytics.query.store import StoreError
from agentlytics.warehouse import postgres


class _NumericLoader(Loader):
    """``numeric`` text → int when it has no fraction (a sum), else float (like DuckDB)."""

    def load(self, data: Any) -> int | float:
        text = bytes(data)
        if b"." in text or b"e" in text or b"N" in text:  # a fraction, an exponent, NaN
            return float(text)
        return int(text)


class PostgresStore:
    """A PostgreSQL store opened for reports (``read_only``) or for upgrades."""

    dialect: Dialect = PostgresDialect()

    def __init__(self, url: str, *, read_only: bool = True, prices: PriceTable | None = None):
        self.location = postgres.redact(url)
        self.prices = bundled() if prices is None else prices
        try:
            if not read_only:
                postgres.migrate_url(url)
            self.con = postgres.connect(url, autocommit=True)
        except postgres.StoreError as exc:
            raise StoreError(str(exc)) from None
        self.con.adapters.register_loader("numeric", _NumericLoader)
        try:
            found = postgres.schema_version(self.con)
        except psycopg.Error as exc:
            self.con.close()
            raise StoreError(f"cannot read {self.location}: {postgres.first_line(exc)}") from None
        if found != postgres.SCHEMA_VERSION:
            self.con.close()
            if found == 0:
                raise StoreError(
                    f"{self.location} has no agentlytics schema: run `agentlytics migrate "
                    "--store URL` (or start a collector on it)"
                )
            newer = found > postgres.SCHEMA_VERSION
            raise StoreError(
                f"{self.location} has store schema {found}, "
                + (
                    f"newer than this agentlytics ({postgres.SCHEMA_VERSION}): upgrade agentlytics"
                    if newer
                    else f"older than this agentlytics ({postgres.SCHEMA_VERSION}): "
                    "run `agentlytics migrate --store URL`"
                )
            )

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one query (``%s`` placeholders: the dialect has rewritten ``?``)."""
        try:
            with self.con.transaction(), self.con.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                cur.execute(sql.encode(), list(params))
                return cur.fetchall()
        except psycopg.Error as exc:
            raise StoreError(
                f"query failed on {self.location}: {postgres.first_line(exc)}"
            ) from None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_postgres(
    location: str, *, read_only: bool = True, prices: PriceTable | None = None
) -> PostgresStore:
    """What :func:`agentlytics.query.open_store` calls for a ``postgresql://`` URL."""
    return PostgresStore(location, read_only=read_only, prices=prices)
