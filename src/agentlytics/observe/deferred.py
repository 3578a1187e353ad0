"""Library calls as plain records, whose edge work runs where the pipeline runs.

A host's ``track_*`` call should cost it next to nothing. Run on the caller's thread, the edge
(decode the params into protocol types, pair requests with responses, synthesise facts) cost
2.4 µs at the median but 12.6 µs at p99, and 40-50 µs at p99 for responses, turn notifications
and approvals (100,000 calls of captured traffic; ``bench/bench_delivery.py``, where they now
cost about 1.5 µs and 5 µs against 33 µs and 55 µs for posthog's ``capture()``). So the caller
only snapshots the message (its payload already encoded to JSON bytes, so a host that reuses its
dicts cannot change what was tracked) and puts a plain record — connection id, direction,
message, timestamp — on the delivery's queue. The ``Pipeline`` owns the observers by connection
id and expands each record into facts in submission order with everything else, on the one
thread that touches the connection's observer (:meth:`Pipeline.ingest_into`).

Records are plain data (no reference to a live object), so the spill file and the journal hold
them as they are, and a dead process's journal replays through a fresh pipeline with the same
connections.

What the caller used to read from the observer (a thread's model for ``tracking()``, the client
name from ``initialize``) is resolved at the same point of the stream, when the record is
expanded: ``tracking()`` returns a :class:`DeferredTracking` whose missing fields are filled then.
"""

from __future__ import annotations

import msgspec

from agentlytics.facts import Fact, PluginStateChanged, ServerRequestAborted, TrackingContext
from agentlytics.protocol.wire import Direction, Message, RequestId
from agentlytics.vocabulary import RpcTransport

from .edge import WireObserver


class DeferredTracking(TrackingContext, frozen=True):
    """A :class:`TrackingContext` from ``AnalyticsClient.tracking()``: a missing model or product
    is filled from the connection's traffic when the event is built."""


class Deferred(msgspec.Struct, gc=False):
    """A library call's record: :meth:`expand` makes its facts against the connection's observer.

    Structs without GC tracking: a burst of calls leaves thousands of these queued, and as
    tracked objects each of them would be traversed by the collections their own allocations
    trigger on the caller's thread (about 0.5 µs of the calls' p99). They hold no cycles.
    """

    connection: int
    rpc_transport: RpcTransport

    def expand(self, observer: WireObserver) -> list[Fact]:
        raise NotImplementedError


class ObservedMessage(Deferred, gc=False):
    """A JSON-RPC message the host saw (``track_request``, ``track_notification``, …)."""

    direction: Direction
    message: Message
    at_ms: int

    def expand(self, observer: WireObserver) -> list[Fact]:
        return observer.observe_message(self.direction, self.message, self.at_ms)


class AbortedRequest(Deferred, gc=False):
    """``track_server_request_aborted``: a server request withdrawn without an answer."""

    request_id: RequestId
    at_ms: int

    def expand(self, observer: WireObserver) -> list[Fact]:
        if observer.server_pending.pop(self.request_id, None) is None:
            observer.drops.count(
                "aborted server request that was never tracked", repr(self.request_id)
            )
            return []
        return [ServerRequestAborted(observer.connection_id, self.request_id, self.at_ms)]


class ClosedConnection(Deferred, gc=False):
    """The client closed: the connection's state may leave the reducer (and the pipeline)."""

    def expand(self, observer: WireObserver) -> list[Fact]:
        return observer.close()


class InContext(Deferred, gc=False):
    """A custom fact whose tracking context (or product) is completed from the connection."""

    fact: Fact
    #: The client's configured product id (None: the client name from ``initialize``).
    product_client_id: str | None

    def expand(self, observer: WireObserver) -> list[Fact]:
        fact = self.fact
        product = self.product_client_id or observer.synth.client_name
        tracking = getattr(fact, "tracking", None)
        if type(tracking) is DeferredTracking:
            model = tracking.model_slug
            if model is None:
                view = observer.synth.threads.get(tracking.thread_id)
                model = view.model if view is not None else None
            resolved = TrackingContext(
                model_slug=model,
                thread_id=tracking.thread_id,
                turn_id=tracking.turn_id,
                product_client_id=tracking.product_client_id or product,
            )
            fact = msgspec.structs.replace(fact, tracking=resolved)
        elif isinstance(fact, PluginStateChanged) and fact.product_client_id is None:
            fact = msgspec.structs.replace(fact, product_client_id=product)
        return [fact]


__all__ = [
    "AbortedRequest",
    "ClosedConnection",
    "Deferred",
    "DeferredTracking",
    "InContext",
    "ObservedMessage",
]
