"""A producer process for the crash and concurrency tests (run as a script).

producer.py URL SPOOL plain   SEED START COPIES   submit, flush, close; print stats
producer.py URL SPOOL crash   SEED A B GOFILE     submit A copies, flush, print FLUSHED, wait
                                                  for GOFILE, submit B copies slowly (killed)
producer.py URL SPOOL recover                     resend what the spool holds, flush, close
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from agentlytics.library.worker import BackgroundDelivery
from agentlytics.sinks.base import Sink
from agentlytics.sinks.http import HttpSink
from tests.collector_proc import TOKEN
from tests.streams import facts


def main() -> None:
    url, spool, mode, *rest = sys.argv[1:]

    def sink() -> Sink:
        return HttpSink(url, token=TOKEN, timeout=5)

    delivery = BackgroundDelivery(
        sink, spool_dir=spool, linger_ms=20, backoff_initial=0.05, backoff_max=0.5
    )
    if mode == "plain":
        seed, start, copies = map(int, rest)
        for chunk in facts(copies, seed, start):
            for fact in chunk:
                delivery.submit(fact)
        ok = delivery.close(60)
        print(json.dumps({"flushed": ok, **delivery.stats()}), flush=True)
    elif mode == "crash":
        seed, a, b = map(int, rest[:3])
        go = Path(rest[3])
        for chunk in facts(a, seed, 0):
            for fact in chunk:
                delivery.submit(fact)
        assert delivery.flush(60)
        print("FLUSHED", flush=True)
        while not go.exists():
            time.sleep(0.01)
        for i, chunk in enumerate(facts(b, seed, a)):
            for fact in chunk:
                delivery.submit(fact)
            print(f"B {i}", flush=True)
            time.sleep(0.002)
        print("B DONE", flush=True)
        time.sleep(600)
    elif mode == "recover":
        ok = delivery.close(60)
        print(json.dumps({"flushed": ok, **delivery.stats()}), flush=True)


if __name__ == "__main__":
    main()
