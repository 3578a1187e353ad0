"""What the tap relay hands its side channel: the :class:`Observer` protocols.

They live apart from the relay (:mod:`agentlytics.observe.tap`) so that the observers
(:mod:`agentlytics.observe.recorder`, the live pipeline) depend on the protocol, not on the
relay, and the relay can import its observers without an import cycle.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agentlytics.protocol.wire import Direction


@runtime_checkable
class Observer(Protocol):
    """Receives every complete line of the relayed traffic, in order, on the observer thread.

    ``line`` is the line without its ``\\n`` (a final fragment that has no ``\\n`` when its
    stream ends is observed too, so nothing is lost). ``ts_ms`` is the wall clock, in ms, at
    which the read that completed the line returned.
    """

    def observe(self, direction: Direction, line: bytes, ts_ms: int) -> None: ...


@runtime_checkable
class Closable(Protocol):
    """An observer that holds resources; ``close`` is called once after the last ``observe``."""

    def close(self) -> None: ...
