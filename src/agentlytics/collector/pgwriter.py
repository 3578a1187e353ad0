"""The collector's writer for a PostgreSQL store: a connection pool, a group per transaction.

It has the interface of :class:`~agentlytics.collector.writer.WarehouseProcess` (``send`` a
group, ``receive`` the answers in order), so the collector's group commit works unchanged. No
child process: PostgreSQL does the inserting in its own processes, and the collector only
prepares the batch's columns. Each group sent runs on a pooled connection of its own, so the
groups the collector keeps in flight (``GROUPS_IN_FLIGHT``) are stored concurrently.

Outages: a group that fails (server down, connection lost, pool exhausted) raises
:class:`~agentlytics.collector.writer.WriterError`; the collector answers 503 and the client
retries from its spool. Connections are checked as they leave the pool and replaced in the
background, so the collector recovers when the server comes back without a restart.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import psycopg_pool

from agentlytics.events.envelope import Envelope
from agentlytics.warehouse import postgres
from agentlytics.warehouse.store import Columns, batch_columns

from .writer import WriterError


class PostgresWriter:
    """Groups of events into a PostgreSQL store, ``connections`` transactions at a time."""

    #: Seconds a group waits for a connection before it fails (and its requests get a 503).
    CONNECT_TIMEOUT = 3.0
    #: Groups the collector may have in flight (each its own connection and transaction): a
    #: group's time is mostly its commit's WAL flush, and concurrent commits share one flush.
    GROUPS_IN_FLIGHT = 4

    def __init__(self, url: str, *, connections: int = GROUPS_IN_FLIGHT) -> None:
        self.url = url
        # Fail at start with one clear line (bad URL, wrong password, no such database), and
        # bring the schema up to date before any connection writes.
        postgres.migrate_url(url)
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=connections,
            kwargs={"connect_timeout": max(1, round(self.CONNECT_TIMEOUT))},
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
        self._sent: deque[Future[list[str]]] = deque()

    def _store(self, columns: Columns) -> list[str]:
        with self._pool.connection() as con:
            return postgres.insert_columns(con, columns)

    @property
    def in_flight(self) -> int:
        return len(self._sent)

    def insert_new_ids(self, batch: Sequence[Envelope]) -> set[str]:
        """Store a batch in one transaction; the ids of the rows it added."""
        if not batch:
            return set()
        self.send(batch)
        return self.receive()

    def send(self, batch: Sequence[Envelope]) -> None:
        """Start storing a non-empty batch on a pooled connection (answer: :meth:`receive`)."""
        self._sent.append(self._executor.submit(self._store, batch_columns(batch)))

    def receive(self) -> set[str]:
        """The ids the oldest sent batch added; :class:`WriterError` if it was not stored."""
        future = self._sent.popleft()
        try:
            return set(future.result())
        except psycopg_pool.PoolTimeout:
            raise WriterError(f"no connection to {postgres.redact(self.url)}") from None
        except psycopg.Error as exc:
            raise WriterError(f"PostgreSQL: {postgres.first_line(exc)}") from None

    def close(self) -> float | None:
        """Finish what was sent and close the pool (nothing to checkpoint: None)."""
        self._executor.shutdown(wait=True)
        self._pool.close(timeout=5)
        return None
