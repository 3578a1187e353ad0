"""Cold page load of the dashboard on a large warehouse (issue 17: < 2 s at 1M events).

The warehouse is built from the real captures' events: every event of a replay of
``tests/data/captures`` is repeated with its ids re-keyed per repetition (new threads, turns and
items each time) and its timestamps moved back by a whole number of days (so the charts have
days to draw), then stored through the warehouse's own insert path until it holds ``--events``
events.

A cold load is: a fresh ``agentlytics dashboard`` process (nothing cached), a fresh browser
context (nothing cached), ``goto`` the page, until the page says everything is drawn
(``body[data-ready]``). The figure is the wall time from navigation to that point, best and
worst of ``--runs``; the time the browser's own navigation timing gives is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.dashboard.browser import Dashboard, chromium_path, launch  # noqa: E402

from agentlytics.events.envelope import Envelope, event_id_for  # noqa: E402
from agentlytics.replay import replay  # noqa: E402
from agentlytics.warehouse.store import Warehouse  # noqa: E402

CAPTURES = ROOT / "tests" / "data" / "captures"
ID_PREFIX = b"01a20716-"
DAY_S = 86_400
#: ids (their shared prefix), millisecond and second timestamps: what a repetition changes.
_VARIABLE = re.compile(rb"01a20716-|(?<![0-9])1[0-9]{12}(?![0-9])|(?<![0-9])1[0-9]{9}(?![0-9])")
BATCH = 20_000


def capture_events() -> list[Envelope]:
    """Every event of replaying the real captures, in order."""
    events: list[Envelope] = []

    class Collect:
        def write(self, batch: list[Envelope]) -> None:
            events.extend(batch)

        def close(self) -> None:
            pass

    replay(sorted(CAPTURES.glob("*.jsonl")), [Collect()])
    return events


def _template(body: bytes) -> list[bytes | int]:
    """``body`` split into literal bytes and the variable parts: 0 = id prefix, 13/10 = a
    millisecond / second timestamp (kept as its value, negated for seconds)."""
    out: list[bytes | int] = []
    last = 0
    for m in _VARIABLE.finditer(body):
        out.append(body[last : m.start()])
        token = m.group()
        if token == ID_PREFIX:
            out.append(0)
        elif len(token) == 13:
            out.append(int(token))
        else:
            out.append(-int(token))
        last = m.end()
    out.append(body[last:])
    return out


def _render(template: list[bytes | int], prefix: bytes, shift_s: int) -> bytes:
    parts: list[bytes] = []
    for piece in template:
        if isinstance(piece, bytes):
            parts.append(piece)
        elif piece == 0:
            parts.append(prefix)
        elif piece > 0:
            parts.append(b"%d" % (piece - shift_s * 1000))
        else:
            parts.append(b"%d" % (-piece - shift_s))
    return b"".join(parts)


def synthetic(total: int, days: int = 60) -> Iterator[list[Envelope]]:
    """Batches of re-keyed copies of the captures' events, ``total`` events in all."""
    # Only events that carry an id are repeated: one without any would be the same event again
    # (the warehouse would store it once, and every batch would take the duplicate path).
    templates = [(e, t) for e in capture_events() if 0 in (t := _template(e.body))]
    made = 0
    rep = 0
    batch: list[Envelope] = []
    while made < total:
        prefix = b"%08x-" % (rep + 1)
        shift = (rep % days) * DAY_S
        sprefix = prefix.decode()
        for e, template in templates:
            if made >= total:
                break
            body = _render(template, prefix, shift)
            batch.append(
                Envelope(
                    event_id=event_id_for(body),
                    event_type=e.event_type,
                    body=body,
                    thread_id=None
                    if e.thread_id is None
                    else e.thread_id.replace("01a20716-", sprefix),
                    turn_id=None if e.turn_id is None else e.turn_id.replace("01a20716-", sprefix),
                    isolated=e.isolated,
                )
            )
            made += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
        rep += 1
    if batch:
        yield batch


def build_warehouse(path: Path, total: int) -> tuple[int, float]:
    """Store ``total`` synthetic events in a new warehouse; (rows stored, seconds)."""
    t0 = time.perf_counter()
    stored = 0
    with Warehouse(path) as wh:
        for batch in synthetic(total):
            stored += wh.insert(batch)
    return stored, time.perf_counter() - t0


class Load(NamedTuple):
    """One cold page load: wall time to the headline and to everything drawn, the same by the
    page's own clock, and the CPU seconds the dashboard process spent on it."""

    headline_s: float
    ready_s: float
    page_clock_s: float
    server_cpu_s: float


def cold_loads(warehouse: Path, runs: int, workdir: Path) -> list[Load]:
    """Each of ``runs`` cold page loads (fresh server, fresh browser context)."""
    import psutil
    from playwright.sync_api import sync_playwright

    results: list[Load] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            for _ in range(runs):
                with Dashboard(warehouse, workdir) as dash:
                    assert dash.proc is not None
                    server = psutil.Process(dash.proc.pid)
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    cpu0 = sum(server.cpu_times()[:2])
                    t0 = time.perf_counter()
                    page.goto(dash.url, wait_until="commit")
                    page.wait_for_selector("[data-card=sessions]", timeout=60_000)
                    headline = time.perf_counter() - t0
                    page.wait_for_selector("body[data-ready]", timeout=60_000)
                    wall = time.perf_counter() - t0
                    cpu = sum(server.cpu_times()[:2]) - cpu0
                    in_page = page.evaluate("performance.now()") / 1000
                    results.append(Load(headline, wall, in_page, cpu))
                    context.close()
        finally:
            browser.close()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20k events, one run (a smoke test)")
    ap.add_argument(
        "--workdir", type=Path, help="keep the warehouse here and reuse it on the next run"
    )
    args = ap.parse_args()
    if args.quick:
        args.events, args.runs = 20_000, 1
    if chromium_path() is None:
        print("chromium is not installed (apt-get install -y chromium); nothing measured")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        work = Path(tmp)
        warehouse = (args.workdir or work) / f"dashboard-{args.events}.duckdb"
        if warehouse.exists():
            stored = args.events
            print(f"warehouse: {warehouse} reused ({warehouse.stat().st_size / 1e6:.0f} MB)")
        else:
            warehouse.parent.mkdir(parents=True, exist_ok=True)
            stored, build_s = build_warehouse(warehouse, args.events)
            size_mb = warehouse.stat().st_size / 1e6
            print(f"warehouse: {stored:,} events stored in {build_s:.1f} s ({size_mb:.0f} MB)")
        loads = cold_loads(warehouse, args.runs, work)
        for i, load in enumerate(loads, 1):
            print(
                f"cold load {i}: headline {load.headline_s:.3f} s, everything drawn "
                f"{load.ready_s:.3f} s (page clock {load.page_clock_s:.3f} s), dashboard CPU "
                f"{load.server_cpu_s:.2f} s"
            )
        walls = [load.ready_s for load in loads]
        print(
            f"cold page load, {stored:,} events: median {statistics.median(walls):.3f} s, "
            f"worst {max(walls):.3f} s (target < 2 s); load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
