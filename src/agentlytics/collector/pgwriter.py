"""The collector's writer for a PostgreSQL store: a connection pool, a group per transaction.

No child process: PostgreSQL does the inserting in its own processes, and the collector only
prepares the batch's columns. :meth:`PostgresWriter.submit` starts a group on a pooled
connection of its own and returns a future, so the collector keeps up to ``CONNECTIONS`` groups
in flight and answers each as it commits, in any order (``Store`` in ``app.py``); requests that
arrive while every connection is busy gather into the next group (group commit).

Outages: a group that fails (server down, connection lost, pool exhausted) raises
:class:`~agentlytics.collector.writer.WriterError`; the collector answers 503 and the client
retries from its spool. Connections are checked as they leave the pool and replaced in the
background, so the collector recovers when the server comes back without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import psycopg_pool

from agentlytics.events.envelope import Envelope
from agentlytics.warehouse import postgres
from agentlytics.warehouse.store import batch_columns

from .writer import WriterError


class PostgresWriter:
    """Groups of events into a PostgreSQL store, ``connections`` transactions at a time."""

    #: Seconds a group waits for a connection before it fails (and its requests get a 503).
    CONNECT_TIMEOUT = 3.0
    #: Groups in flight at once (each its own connection and transaction): a group's time is
    #: partly its commit's WAL flush, and concurrent commits share one flush.
    CONNECTIONS = 4

    def __init__(self, url: str, *, connections: int = CONNECTIONS) -> None:
        self.url = url
        self.connections = connections
        # Fail at start with one clear line (bad URL, wrong password, no such database), and
        # bring the schema up to date before any connection writes.
        postgres.migrate_url(url)
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=connections,
            kwargs={"connect_timeout": max(1, round(self.CONNECT_TIMEOUT)), "autocommit": True},
            check=psycopg_pool.ConnectionPool.check_connection,
            # Give up re-opening a lost connection soon: the next request then opens a fresh one
            # at once, where the pool's doubling back-off would keep a long outage's end waiting.
            reconnect_timeout=5.0,
            timeout=self.CONNECT_TIMEOUT,
            name="agentlytics-collector",
            open=False,
        )
        self._pool.open(wait=False)
        self._executor = ThreadPoolExecutor(connections, thread_name_prefix="collector-pg")

    def _store(self, batch: Sequence[Envelope]) -> set[str]:
        try:
            with self._pool.connection() as con:
                return set(postgres.insert_columns(con, batch_columns(batch)))
        except psycopg_pool.PoolTimeout:
            raise WriterError(f"no connection to {postgres.redact(self.url)}") from None
        except psycopg.Error as exc:
            raise WriterError(f"PostgreSQL: {postgres.first_line(exc)}") from None

    def submit(self, batch: Sequence[Envelope]) -> Future[set[str]]:
        """Start storing a batch in one transaction: the ids of the rows it added, or
        :class:`WriterError` if it was not stored."""
        return self._executor.submit(self._store, batch)

    def insert_new_ids(self, batch: Sequence[Envelope]) -> set[str]:
        """Store a batch in one transaction; the ids of the rows it added."""
        return self.submit(batch).result() if batch else set()

    def close(self) -> float | None:
        """Finish what was submitted and close the pool (nothing to checkpoint: None)."""
        self._executor.shutdown(wait=True)
        self._pool.close(timeout=5)
        return None
