"""Retry policy: one batch sent until it is delivered or fails for good, culprits bisected out.

A retryable ``SinkError`` (connection error, 408/429/5xx) and an ``OSError`` retry the same
events with exponential backoff and jitter, waiting at least the server's ``Retry-After``. A
final error that may be caused by some events only (``split``: a 400, 413 or 422) bisects the
batch, so only the culprit events are quarantined; any other final error quarantines the part
whole, with the server's reason. Each event ends delivered (None), with a quarantine reason,
or :data:`ABORTED` (delivery is closing: it stays in the spool for the next process).
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Callable

from agentlytics.events.envelope import Envelope
from agentlytics.sinks.base import Sink, SinkError

#: The outcome of events a sender gave up on because delivery is closing.
ABORTED = "aborted"

#: (spool sequence number, event).
Item = tuple[int, Envelope]
#: What became of the events of a (part of a) batch: None (delivered), a quarantine reason, or
#: :data:`ABORTED`.
Outcome = tuple[list[Item], str | None]


class Counters:
    """The counters the stages of one delivery share (the worker, the spool writer, senders).

    One object, so ``last_error`` is the latest error of any stage, as ``stats()`` reports it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.dropped: Counter[str] = Counter()
        self.last_error: str | None = None
        #: The last error writing the spool or the spill file (a full disk, a vanished file):
        #: kept apart from ``last_error``, which the sender's errors overwrite.
        self.spool_error: str | None = None
        self.spooled_events = 0
        self.delivered = 0
        self.quarantined = 0
        self.requests = 0
        self.retries = 0

    def drop(self, reason: str, n: int = 1) -> None:
        with self.lock:
            self.dropped[reason] += n


class Backoff:
    """Exponential backoff with jitter; :meth:`cut_short` ends one wait (a flush, a close)."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self._wake = threading.Event()

    def wait(self, attempt: int, retry_after: float | None) -> None:
        delay = min(self.maximum, self.initial * (2 ** (attempt - 1)))
        delay *= random.uniform(0.5, 1.0)  # jitter: many clients must not retry in lockstep
        if retry_after is not None:
            delay = max(delay, min(retry_after, 3600.0))
        # A flush (or close) cuts the wait short once, so an exit does not sit out a long backoff.
        self._wake.wait(delay)
        self._wake.clear()

    def cut_short(self) -> None:
        self._wake.set()


def deliver(
    sink: Sink,
    batch: list[Item],
    backoff: Backoff,
    counters: Counters,
    aborting: Callable[[], bool],
) -> list[Outcome]:
    """Send one batch until every event is delivered, quarantined or aborted (module doc)."""
    outcomes: list[Outcome] = []
    parts: deque[list[Item]] = deque([batch])
    attempt = 0
    while parts:
        part = parts[0]
        retry_after: float | None = None
        try:
            sink.write([env for _, env in part])
        except SinkError as exc:
            counters.last_error = str(exc)
            if not exc.retryable:
                parts.popleft()
                if exc.split and len(part) > 1:
                    mid = len(part) // 2
                    parts.extendleft([part[mid:], part[:mid]])
                else:
                    outcomes.append((part, str(exc)))
                continue
            retry_after = exc.retry_after
        except OSError as exc:
            counters.last_error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a sink bug, or the sink closed under us at exit
            parts.popleft()
            reason = f"sink raised {type(exc).__name__}: {exc}"
            outcomes.append((part, ABORTED if aborting() else reason))
            continue
        else:
            parts.popleft()
            attempt = 0
            outcomes.append((part, None))
            with counters.lock:
                counters.requests += 1
            continue
        attempt += 1
        with counters.lock:
            counters.retries += 1
        if aborting():
            outcomes.extend((rest, ABORTED) for rest in parts)
            break
        backoff.wait(attempt, retry_after)
    return outcomes
