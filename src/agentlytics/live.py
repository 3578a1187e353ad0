"""Live analytics for the tap: relayed lines → Pipeline → processors, on the observer thread.

The tap hands every relayed line to this observer with the direction and the time it was read
— exactly what its recorder writes to the capture — so the events emitted live are the events
of replaying that capture later, byte for byte (same facts, same reducer, same ids). Each fact
is reduced once, here; the sealed events go to every processor: the local sinks inline
(:class:`SimpleProcessor`), ``--send`` and ``--otlp`` through a
:class:`~agentlytics.library.sealed.SealedDelivery` (journal, spool, retries: a collector
outage never loses a live session's events).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import msgspec

from agentlytics.delivery.processor import Processor, SimpleProcessor
from agentlytics.events.envelope import Envelope
from agentlytics.observe.meta import ThreadRepoTracker, wire_thread_cwd
from agentlytics.pipeline import Pipeline
from agentlytics.protocol.depth import MAX_DEPTH, too_deep
from agentlytics.protocol.wire import Direction, message_decoder
from agentlytics.sinks.base import Sink
from agentlytics.vocabulary import RpcTransport
from agentlytics.warehouse.projects import ProjectSink

#: How long the tap waits at exit for the collector before leaving events in the spool.
DELIVERY_EXIT_TIMEOUT_S = 10.0


class LiveObserver:
    """A tap observer that reduces the traffic of one connection and emits the events to its
    local sinks and to ``processors`` (the durable deliveries of ``--send``/``--otlp``)."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        rpc_transport: RpcTransport = "stdio",
        processors: Sequence[Processor] = (),
    ) -> None:
        self.pipeline = Pipeline()
        self.wire = self.pipeline.connection(rpc_transport)
        self.wire.source = "live"
        self.sinks = list(sinks)
        self.local = SimpleProcessor(self.sinks, on_error=self._sink_failed)
        self.processors = list(processors)
        self.sink_errors = 0
        #: The repo of each thread's cwd, looked up as the recorder does (so the live events
        #: and a later replay of the recording agree) and kept in ``thread_projects``.
        self.repos = ThreadRepoTracker()

    def observe(self, direction: Direction, line: bytes, ts_ms: int) -> None:
        if direction == "server_to_client":
            self._learn_repo(line)  # before the line's own facts: its turns use the hash
        self.wire.lineno += 1
        try:
            if too_deep(line):
                self.wire._drop("nested too deep", f"JSON nested deeper than {MAX_DEPTH} levels")
                return
            msg = message_decoder.decode(line)
            if not line.isascii():
                line.decode("utf-8")  # as replay does: payload strings are not checked yet
        except RecursionError:
            self.wire._drop("nested too deep", f"JSON nested deeper than {MAX_DEPTH} levels")
            return
        except (msgspec.DecodeError, UnicodeDecodeError) as err:
            if not line.lstrip().startswith(b"{"):
                # The recorder stores such a line as {"raw": ...}; replay counts it the same way.
                text = line[:80].decode(errors="replace")
                self.wire._drop("relay line that is not a JSON object", text)
            else:
                self.wire._drop("malformed line", str(err))
            return
        facts = self.wire._observe(direction, msg, ts_ms)
        if facts:
            self._emit(self.pipeline.ingest(facts))

    def _learn_repo(self, line: bytes) -> None:
        learned = wire_thread_cwd(line)
        meta = self.repos.learn(*learned) if learned is not None else None
        if meta is None:
            return
        self.wire.synth.recorded_repo(meta)
        for sink in self.sinks:
            if isinstance(sink, ProjectSink):
                try:
                    sink.write_thread_projects([meta])
                except Exception:  # like an event write: never stop the relay
                    self.sink_errors += 1

    def close(self) -> None:
        self._emit(self.pipeline.close(self.wire))
        for processor in self.processors:
            if not processor.close(DELIVERY_EXIT_TIMEOUT_S):
                print(f"agentlytics tap: {_undelivered(processor)}", file=sys.stderr)
        self.local.close()
        drops = self.pipeline.drops
        reducer_drops = sum(self.pipeline.reducer.state.drops.values())
        print(
            f"agentlytics tap: {self.pipeline.events} event(s) emitted; "
            f"{drops.total} wire message(s) and {reducer_drops} event(s) dropped"
            + (f"; {self.sink_errors} sink error(s)" if self.sink_errors else ""),
            file=sys.stderr,
        )

    def _emit(self, events: list[Envelope]) -> None:
        if not events:
            return
        self.local.emit(events)
        for processor in self.processors:
            try:
                processor.emit(events)
            except Exception as err:  # a failing delivery must never stop the relay
                self._sink_failed(processor, err)

    def _sink_failed(self, sink: object, err: Exception) -> None:
        self.sink_errors += 1
        if self.sink_errors == 1:
            print(f"agentlytics tap: sink {type(sink).__name__} failed: {err}", file=sys.stderr)


def _undelivered(processor: Processor) -> str:
    """What a delivery that could not finish left, and where — only what is really there."""
    from pathlib import Path

    from agentlytics.delivery.send import spool_counts

    info = processor.stats()
    parts = ["not every event reached the collector yet"]
    spool = Path(info["spool"]).parent if info.get("spool") else None
    counts = spool_counts(spool) if spool is not None else None
    if counts is not None and counts[0]:
        parts.append(
            f"{counts[0]} event(s) stay in the spool {spool} for the next agentlytics process"
        )
    elif spool is not None and counts is None:
        parts.append(f"the spool {spool} is gone")
    if info.get("dropped"):
        lost = ", ".join(f"{k}: {v}" for k, v in sorted(info["dropped"].items()))
        parts.append(f"dropped ({lost})")
    if info.get("spool_error"):
        parts.append(f"spool error: {info['spool_error']}")
    return "; ".join(parts)
