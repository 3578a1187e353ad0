"""A library host for the kill tests (run as a script): sessions through ``track_*``.

library_host.py URL SPOOL flush   SEED SESSIONS QUEUE   flush() every 5 sessions, then print
                                                        ``FLUSHED k`` (sessions 0..k-1 done)
library_host.py URL SPOOL noflush SEED SESSIONS QUEUE   print ``SUBMITTED k n`` after session k-1
                                                        (n: items submitted so far, in order)
library_host.py URL SPOOL recover                       take over the spool, flush, close

Sessions come in bursts of 300 (about 13,000 calls, far faster than the reducer) with a
pause between, so a kill meets a long queue, a spill, an idle delivery or a flush at random. After the last session the host waits to be
killed.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from agentlytics.library.worker import BackgroundDelivery
from agentlytics.sinks.base import Sink
from agentlytics.sinks.http import HttpSink
from tests.collector_proc import TOKEN
from tests.delivery.sessions import run_session, session_calls


def main() -> None:
    url, spool, mode, *rest = sys.argv[1:]

    def sink() -> Sink:
        return HttpSink(url, token=TOKEN, timeout=5)

    queue = int(rest[2]) if len(rest) > 2 else 10_000
    delivery = BackgroundDelivery(
        sink, spool_dir=spool, queue_size=queue, linger_ms=20, backoff_initial=0.05
    )
    if mode == "recover":
        ok = delivery.close(60)
        print(json.dumps({"flushed": ok, **delivery.stats()}), flush=True)
        return
    seed, sessions = int(rest[0]), int(rest[1])
    # Parsed beforehand: a host's calls come as fast as track_* takes them.
    calls = [session_calls(session, seed) for session in range(sessions)]
    submitted = 0
    submit = delivery.submit

    def counted(item: Any) -> None:
        nonlocal submitted
        submitted += 1  # before the hand-over: a kill inside submit counts the item as lost
        submit(item)

    delivery.submit = counted  # type: ignore[method-assign]
    print("READY", flush=True)
    for session in range(sessions):
        run_session(delivery, session, calls[session])
        done = session + 1
        if mode == "flush" and done % 5 == 0:
            assert delivery.flush(60)
            print(f"FLUSHED {done}", flush=True)
        elif mode == "noflush":
            print(f"SUBMITTED {done} {submitted}", flush=True)
        if done % 300 == 0:
            time.sleep(0.3)
    print("DONE", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
