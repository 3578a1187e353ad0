"""How the dashboard reads a store without getting in the writer's way.

Every request opens the store through the query layer's :func:`open_store` (read-only), asks
its questions and closes it again: the dashboard holds nothing open between requests. A DuckDB
file allows one writing process at a time, and a reader's lock keeps a writer out as much as a
writer's keeps the reader out: a file that ``collect``, ``tap`` or ``replay`` writes is read
through that process (the query layer asks it, ``warehouse/reads.py``); a file locked by a
process that answers no reads is retried for a short while and then answered as "busy" (HTTP
503, the page keeps what it shows and tries again on its next poll).

Whether anything changed is first decided without opening the store at all: for a DuckDB file,
by the size and modification time of the file and its write-ahead log (a ``stat``, no lock);
a database (PostgreSQL) is asked for its event count, at most once a second.
The page polls that twice a second, so an idle dashboard never competes with a writer.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from agentlytics.query import StoreError

if TYPE_CHECKING:
    from agentlytics.query import Store

#: How long a request waits for a writer's lock to go before answering "busy".
BUSY_WAIT_SECONDS = 1.5
_RETRY_SECONDS = 0.05
#: How long a database store's change token (its event count) is reused.
DB_TOKEN_SECONDS = 1.0


class StoreBusy(Exception):
    """The store is locked by a writer (or unreachable) for longer than a request waits."""


class StoreMissing(Exception):
    """The DuckDB file does not exist (nothing has been stored yet)."""


def is_file_store(location: str) -> bool:
    """A DuckDB file path, as opposed to a database URL (``postgresql://…``)."""
    return "://" not in location


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text or "open for writing" in text


class Reader:
    """Short-lived, read-only access to one store, with the change token the page polls."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._db_token: tuple[float, str] | None = None
        self._db_lock = threading.Lock()

    def token(self) -> str:
        """What changes whenever the store's content does (the page polls it).

        A file's :meth:`file_token`; for a database, its event count (events are only ever
        added), asked at most once per :data:`DB_TOKEN_SECONDS` however many pages poll.
        """
        token = self.file_token()
        if token is not None:
            return token
        with self._db_lock:
            now = time.monotonic()
            if self._db_token is None or now - self._db_token[0] >= DB_TOKEN_SECONDS:
                from agentlytics.query.reports import event_count

                with self.store() as store:
                    self._db_token = (now, f"events:{event_count(store)}")
            return self._db_token[1]

    def label(self) -> str:
        """What the page shows as the store's name: a file's name, a URL without its password."""
        if is_file_store(self.location):
            return Path(self.location).name
        scheme, _, rest = self.location.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"

    def file_token(self) -> str | None:
        """A token that changes whenever a DuckDB file (or its WAL) is written; None for URLs.

        ``stat`` takes no lock, so polling it never gets in a writer's way.
        """
        if not is_file_store(self.location):
            return None
        parts = []
        for path in (self.location, self.location + ".wal"):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                parts.append("-")
                continue
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        return "/".join(parts)

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The store, opened read-only for the duration of one request.

        A writer's lock is waited out for up to :data:`BUSY_WAIT_SECONDS`, then
        :class:`StoreBusy`; a DuckDB file that does not exist yet is :class:`StoreMissing`;
        anything else the store refuses is the query layer's one-line :class:`StoreError`.
        """
        from agentlytics.query import open_store

        if is_file_store(self.location) and not os.path.exists(self.location):
            raise StoreMissing(self.location)
        deadline = time.monotonic() + BUSY_WAIT_SECONDS
        while True:
            try:
                store = open_store(self.location, read_only=True)
                break
            except StoreError as exc:
                if not _is_lock_error(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(str(exc)) from exc
                time.sleep(_RETRY_SECONDS)
        try:
            yield store
        finally:
            store.close()
