"""Library calls whose edge work runs where the pipeline runs, not on the caller's thread.

A host's ``track_*`` call should cost it next to nothing. Run on the caller's thread, the edge
(decode the params into protocol types, pair requests with responses, synthesise facts) cost
2.4 µs at the median but 12.6 µs at p99, and 40-50 µs at p99 for responses, turn notifications
and approvals (100,000 calls of captured traffic; ``bench/bench_delivery.py``, where they now
cost about 1.5 µs and 5 µs against 33 µs and 55 µs for posthog's ``capture()``). So the caller
only snapshots the message (its payload already encoded to JSON bytes, so a host that reuses its
dicts cannot change what was tracked) and hands a :class:`Deferred` to the delivery, whose
pipeline expands it into facts in submission order with everything else, on the one thread
that touches the connection's observer.

What the caller used to read from the observer (a thread's model for ``tracking()``, the client
name from ``initialize``) is resolved at the same point of the stream, when the item is
expanded: ``tracking()`` returns a :class:`DeferredTracking` whose missing fields are filled then.

Items a full queue spills to disk pickle their observer by reference: a token into a registry of
this process's observers. Pickling an item pins its observer until the item is read back, so a
host that drops its ``AnalyticsClient`` while items are spilled still gets them expanded against
the connection's real state. An item read back after its process died gets a fresh observer for
its token; that is why the delivery replays a dead process's journal (plain records of every
call, ``delivery/journal.py``) rather than its spill file.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections import OrderedDict
from typing import Any, cast

import msgspec

from agentlytics.drops import Drops
from agentlytics.facts import Fact, PluginStateChanged, ServerRequestAborted, TrackingContext
from agentlytics.protocol.wire import Direction, Message, RequestId
from agentlytics.vocabulary import RpcTransport

from .edge import WireObserver

#: Tokens are unique to this process (a dead process's spilled items never name a live observer).
_PROCESS = os.urandom(8).hex()
_COUNTER = itertools.count(1)
_TOKENS: weakref.WeakKeyDictionary[WireObserver, str] = weakref.WeakKeyDictionary()
_LIVE: weakref.WeakValueDictionary[str, WireObserver] = weakref.WeakValueDictionary()
#: Observers made for items of a dead process, kept while their connection's items arrive.
_ORPHANS: OrderedDict[str, WireObserver] = OrderedDict()
_MAX_ORPHANS = 256
#: Observers of pickled (spilled) items not read back yet, with how many such items each has.
_PINNED: dict[str, list[Any]] = {}
_PIN_LOCK = threading.Lock()
_REF_LOCK = threading.Lock()

ObserverRef = tuple[str, int, str]
#: ``source`` of an observer made for items whose process is gone: they lack its state, so the
#: delivery counts them as dropped rather than expand them against an empty connection.
ORPHAN = "orphan"


def _ref(observer: WireObserver) -> ObserverRef:
    token = _TOKENS.get(observer)
    if token is None:
        with _REF_LOCK:  # one token per observer, whichever thread asks first
            token = _TOKENS.get(observer)
            if token is None:
                token = f"{_PROCESS}:{next(_COUNTER)}"
                _TOKENS[observer] = token
                _LIVE[token] = observer
    return token, observer.connection_id, observer.rpc_transport


def observer_token(observer: WireObserver) -> str:
    """The observer's process-unique token (names its connection in the journal)."""
    return _ref(observer)[0]


def _pin(observer: WireObserver) -> ObserverRef:
    ref = _ref(observer)
    with _PIN_LOCK:
        pin = _PINNED.get(ref[0])
        if pin is None:
            _PINNED[ref[0]] = [observer, 1]
        else:
            pin[1] += 1
    return ref


def _observer(ref: ObserverRef) -> WireObserver:
    token, connection_id, rpc_transport = ref
    with _PIN_LOCK:
        pin = _PINNED.get(token)
        if pin is not None:
            pin[1] -= 1
            if pin[1] <= 0:
                del _PINNED[token]
    if pin is not None:
        return cast(WireObserver, pin[0])
    observer = _LIVE.get(token)
    if observer is None:
        observer = WireObserver(connection_id, Drops(), cast(RpcTransport, rpc_transport))
        observer.source = ORPHAN
        _TOKENS[observer] = token
        _LIVE[token] = observer
        _ORPHANS[token] = observer
        if len(_ORPHANS) > _MAX_ORPHANS:
            _ORPHANS.popitem(last=False)
    return observer


class DeferredTracking(TrackingContext, frozen=True):
    """A :class:`TrackingContext` from ``AnalyticsClient.tracking()``: a missing model or product
    is filled from the connection's traffic when the event is built."""


class Deferred(msgspec.Struct, gc=False):
    """Work handed to the delivery in place of facts; :meth:`expand` makes the facts.

    Structs without GC tracking: a burst of calls leaves thousands of these queued, and as
    tracked objects each of them would be traversed by the collections their own allocations
    trigger on the caller's thread (about 0.5 µs of the calls' p99). They hold no cycles.
    """

    observer: WireObserver

    def expand(self) -> list[Fact]:
        raise NotImplementedError

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), _pin(self.observer), msgspec.structs.astuple(self)[1:])


def _rebuild(cls: type[Deferred], ref: ObserverRef, state: tuple[Any, ...]) -> Deferred:
    return cls(_observer(ref), *state)


class ObservedMessage(Deferred, gc=False):
    """A JSON-RPC message the host saw (``track_request``, ``track_notification``, …)."""

    direction: Direction
    message: Message
    at_ms: int

    def expand(self) -> list[Fact]:
        return self.observer.observe_message(self.direction, self.message, self.at_ms)


class AbortedRequest(Deferred, gc=False):
    """``track_server_request_aborted``: a server request withdrawn without an answer."""

    request_id: RequestId
    at_ms: int

    def expand(self) -> list[Fact]:
        observer = self.observer
        if observer.server_pending.pop(self.request_id, None) is None:
            observer.drops.count(
                "aborted server request that was never tracked", repr(self.request_id)
            )
            return []
        return [ServerRequestAborted(observer.connection_id, self.request_id, self.at_ms)]


class ClosedConnection(Deferred, gc=False):
    """The client closed: the connection's state may leave the reducer."""

    def expand(self) -> list[Fact]:
        return self.observer.close()


class InContext(Deferred, gc=False):
    """A custom fact whose tracking context (or product) is completed from the connection."""

    fact: Fact
    #: The client's configured product id (None: the client name from ``initialize``).
    product_client_id: str | None

    def expand(self) -> list[Fact]:
        fact = self.fact
        product = self.product_client_id or self.observer.synth.client_name
        tracking = getattr(fact, "tracking", None)
        if type(tracking) is DeferredTracking:
            model = tracking.model_slug
            if model is None:
                view = self.observer.synth.threads.get(tracking.thread_id)
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
    "ORPHAN",
    "AbortedRequest",
    "ClosedConnection",
    "Deferred",
    "DeferredTracking",
    "InContext",
    "ObservedMessage",
    "observer_token",
]
