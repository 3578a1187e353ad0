"""observe → reduce → seal: the one path every source (capture, tap, library) goes through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agentlytics.drops import Drops
from agentlytics.events.envelope import Envelope, Sealer
from agentlytics.facts import Fact
from agentlytics.families import FAMILIES, Family
from agentlytics.observe.deferred import ClosedConnection, Deferred
from agentlytics.observe.edge import WireObserver
from agentlytics.reducer.core import Reducer
from agentlytics.vocabulary import RpcTransport


class Pipeline:
    """Facts in, sealed events out; owns the reducer and the id sealer for one stream."""

    def __init__(self, families: Sequence[Family] = FAMILIES) -> None:
        #: The event families every connection's observer and the reducer are built from.
        self.families = tuple(families)
        self.reducer = Reducer(self.families)
        self.sealer = Sealer()
        self.drops = Drops()
        self._next_connection = 0
        self.events = 0
        #: The observers of library connections, by connection id (their records name it).
        self.library_observers: dict[int, WireObserver] = {}

    def connection(self, rpc_transport: RpcTransport = "stdio") -> WireObserver:
        """A wire observer for a new connection (one capture file, or one tapped child)."""
        observer = WireObserver(
            self._next_connection, self.drops, rpc_transport, families=self.families
        )
        self._next_connection += 1
        return observer

    def library_observer(self, record: Deferred) -> WireObserver:
        """The observer of a library record's connection, made on its first record."""
        observer = self.library_observers.get(record.connection)
        if observer is None:
            observer = WireObserver(
                record.connection, self.drops, record.rpc_transport, families=self.families
            )
            observer.source = "library"
            self.library_observers[record.connection] = observer
        return observer

    def ingest(self, facts: Iterable[Fact | Deferred]) -> list[Envelope]:
        """Reduce and seal; a library call's deferred edge work is expanded into facts here."""
        out: list[Envelope] = []
        self.ingest_into(facts, out)
        return out

    def ingest_into(self, facts: Iterable[Fact | Deferred], out: list[Envelope]) -> None:
        """:meth:`ingest` appending to ``out``: if a fact raises, what the facts before it made
        is already there, and an iterator of facts stops just past the one that raised."""
        start = len(out)
        reduce, seal = self.reducer.ingest, self.sealer.seal
        try:
            for item in facts:
                if isinstance(item, Deferred):  # library calls; facts from captures go straight on
                    observer = self.library_observers.get(item.connection)
                    if observer is None:
                        observer = self.library_observer(item)
                    if type(item) is ClosedConnection:
                        del self.library_observers[item.connection]
                    for fact in item.expand(observer):
                        events = reduce(fact)
                        if events:
                            out += [seal(event) for event in events]
                    continue
                events = reduce(item)
                if events:
                    out += [seal(event) for event in events]
        finally:
            self.events += len(out) - start

    def observe_line(self, observer: WireObserver, line: bytes) -> list[Envelope]:
        facts = observer.observe_line(line)
        return self.ingest(facts) if facts else []

    def close(self, observer: WireObserver) -> list[Envelope]:
        return self.ingest(observer.close())
