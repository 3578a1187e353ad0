"""Benchmark: every `agentlytics report` section on warehouses of 1M and 10M synthetic events.

Run: ``python bench/bench_reports.py [--sizes 1000000,10000000] [--runs N] [--quick]``.

The warehouse is built from the real captures (tests/data/captures): they are replayed once
through the real sink, then copied K times in DuckDB SQL (no per-event Python): each copy gets
new event, turn and item ids; threads are shared by ``GROUP`` consecutive copies (so sessions
have many turns), times are spread over 90 days, the model cycles through three priced models
and each thread gets one of ten projects. ``events`` keeps every copy's payload (the real
event JSON); the typed family tables get the same re-keying as their events' columns.

Each report is the query layer's own function (SQL, rows, cost) on the DuckDB file, timed
(best of ``--runs``, after one warm-up call) beside the same function over a plain typed columnar copy: every table
exported to Parquet and read back through views in an in-memory DuckDB. Target: every report
under 1 s at 10M events.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import duckdb  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from agentlytics.query import Filters, Store, reports  # noqa: E402
from agentlytics.query.pricing import bundled  # noqa: E402
from agentlytics.query.store import DuckDBStore  # noqa: E402
from agentlytics.replay import replay  # noqa: E402
from agentlytics.sinks.duckdb import DuckDBSink  # noqa: E402
from agentlytics.warehouse.schema import FAMILY_TABLES  # noqa: E402

CAPTURES = sorted((ROOT / "tests" / "data" / "captures").glob("*.jsonl"))
GROUP = 20  # consecutive copies sharing their threads
DAYS = 90
MODELS = ("gpt-5.5", "gpt-5.4", "gpt-5-mini")
TIME_COLUMNS_MS = {"ts_ms", "started_at_ms", "completed_at_ms"}
TIME_COLUMNS_S = {"started_at", "completed_at", "created_at"}
ID_PER_COPY = {"event_id", "turn_id", "item_id", "review_id", "goal_id", "target_item_id"}
ID_PER_GROUP = {"thread_id", "parent_thread_id"}


def base_warehouse(directory: Path) -> Path:
    path = directory / "base.duckdb"
    sink = DuckDBSink(path)
    try:
        replay(CAPTURES, [sink])
    finally:
        sink.close()
    return path


def _rekey(column: str, span_ms: str) -> str:
    """SQL for one column of copy ``k`` (``copies`` rows) of a base row ``b``."""
    if column in ID_PER_COPY:
        return f"b.{column} || '-' || k"
    if column in ID_PER_GROUP:
        return f"b.{column} || '-' || (k // {GROUP})"
    if column in TIME_COLUMNS_MS:
        return f"b.{column} + CAST(k * {span_ms} AS BIGINT)"
    if column in TIME_COLUMNS_S:
        return f"b.{column} + CAST(k * {span_ms} / 1000 AS BIGINT)"
    if column == "model":
        models = ", ".join(f"'{m}'" for m in MODELS)
        return f"CASE WHEN b.model IS NULL THEN NULL ELSE [{models}][1 + k % {len(MODELS)}] END"
    return f"b.{column}"


def build(base: Path, path: Path, target: int) -> tuple[int, float]:
    """A warehouse of about ``target`` events copied from ``base``; (events, seconds)."""
    start = time.perf_counter()
    con = duckdb.connect(str(path))
    con.execute("SET memory_limit = '6GB'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"ATTACH '{base}' AS base (READ_ONLY)")
    per_copy = con.execute("SELECT count(*) FROM base.events").fetchone()[0]  # type: ignore[index]
    copies = max(1, round(target / per_copy))
    span_ms = f"({DAYS} * 86400000.0 / {copies})"
    tables = ["events", "thread_projects", "schema_version"] + [f.table for f in FAMILY_TABLES]
    for table in tables:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM base.{table} LIMIT 0")
    con.execute("INSERT INTO schema_version SELECT * FROM base.schema_version")
    con.execute(
        f"""INSERT INTO events
        SELECT {_rekey("event_id", span_ms)}, b.event_type, {_rekey("thread_id", span_ms)},
               {_rekey("turn_id", span_ms)}, b.payload
        FROM base.events b, range({copies}) AS r(k)"""
    )
    for family in FAMILY_TABLES:
        names = ["event_id", *(c.name for c in family.columns)]
        select = ", ".join(_rekey(n, span_ms) for n in names)
        con.execute(
            f"INSERT INTO {family.table} SELECT {select} FROM base.{family.table} b, "
            f"range({copies}) AS r(k)"
        )
    con.execute(
        "INSERT INTO thread_projects SELECT thread_id, md5(name), name, 'main' FROM ("
        "SELECT DISTINCT thread_id, 'repo-' || (hash(thread_id) % 10) AS name FROM threads)"
    )
    count = con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    con.execute("CHECKPOINT")
    con.close()
    return int(count), time.perf_counter() - start


class ParquetStore(DuckDBStore):
    """The same tables as Parquet files, read through views by an in-memory DuckDB."""

    def __init__(self, directory: Path) -> None:
        self.location = str(directory)
        self.prices = bundled()
        self.con = duckdb.connect(":memory:")
        for file in sorted(directory.glob("*.parquet")):
            self.con.execute(f"CREATE VIEW {file.stem} AS SELECT * FROM read_parquet('{file}')")


def export_parquet(path: Path, directory: Path) -> float:
    start = time.perf_counter()
    directory.mkdir()
    con = duckdb.connect(str(path), read_only=True)
    tables = ["events", "thread_projects"] + [f.table for f in FAMILY_TABLES]
    for table in tables:
        columns = "event_id, event_type" if table == "events" else "*"
        con.execute(f"COPY (SELECT {columns} FROM {table}) TO '{directory / table}.parquet'")
    con.close()
    return time.perf_counter() - start


def report_calls(store: Store, thread: str) -> list[tuple[str, Callable[[], Any]]]:
    everything = Filters()
    row = store.rows("SELECT max(ts_ms) FROM turns")[0][0]
    week = Filters(since_ms=int(row) - 7 * 86_400_000, model=MODELS[0])
    project = Filters(project="repo-3")
    return [
        ("overview", lambda: reports.overview(store, everything)),
        ("daily", lambda: reports.daily(store, everything)),
        ("daily --breakdown model", lambda: reports.daily(store, everything, by_model=True)),
        ("weekly", lambda: reports.weekly(store, everything)),
        ("monthly", lambda: reports.monthly(store, everything)),
        ("sessions (newest 50)", lambda: reports.sessions(store, everything, limit=50)),
        ("session THREAD", lambda: reports.session(store, thread)),
        ("tools", lambda: reports.tools(store, everything)),
        ("tools --slowest 20", lambda: reports.slowest_calls(store, everything, 20)),
        ("approvals", lambda: reports.approvals(store, everything)),
        ("approvals --by source", lambda: reports.approval_sources(store, everything)),
        ("approvals --by risk", lambda: reports.guardian_risk(store, everything)),
        ("subagents", lambda: reports.subagents(store, everything)),
        ("goals (largest 50)", lambda: reports.goals(store, everything, limit=50)),
        ("goals (all)", lambda: reports.goals(store, everything)),
        ("hooks", lambda: reports.hooks(store, everything)),
        ("compactions", lambda: reports.compactions(store, everything)),
        ("daily --since 7d --model", lambda: reports.daily(store, week)),
        ("tools --since 7d --model", lambda: reports.tools(store, week)),
        ("sessions --project", lambda: reports.sessions(store, project, limit=50)),
    ]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Best of ``runs`` wall-clock times (the machine is shared: the minimum is the least
    disturbed run) and the result."""
    times = []
    result: Any = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def measure(size: int, base: Path, work: Path, runs: int, console: Console) -> bool:
    path = work / f"w{size}.duckdb"
    if path.exists():  # --workdir: a warehouse an earlier run built
        con = duckdb.connect(str(path), read_only=True)
        events = int(con.execute("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[index]
        con.close()
        console.print(f"[bold]{events:,} events[/bold]: reusing {path}")
    else:
        events, build_s = build(base, path, size)
        megabytes = path.stat().st_size / 1e6
        console.print(
            f"[bold]{events:,} events[/bold]: built in {build_s:.1f} s ({megabytes:,.0f} MB)"
        )
    if not (work / f"parquet{size}").exists():
        export_s = export_parquet(path, work / f"parquet{size}")
        console.print(f"typed Parquet copy in {export_s:.1f} s")
    warehouse = DuckDBStore(str(path))
    parquet = ParquetStore(work / f"parquet{size}")
    thread = warehouse.rows(
        "SELECT parent_thread_id FROM threads WHERE parent_thread_id IS NOT NULL LIMIT 1"
    )[0][0]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table = Table(
        title=f"Reports at {events:,} events (best of {runs}; load average {load} on "
        f"{os.cpu_count()} cores)",
        title_justify="left",
    )
    for column in ("report", "warehouse ms", "typed Parquet copy ms", "ratio", "rows", "< 1 s"):
        table.add_column(column, justify="left" if column == "report" else "right")
    ok = True
    try:
        pairs = zip(report_calls(warehouse, thread), report_calls(parquet, thread), strict=True)
        for (name, fn), (_, copy_fn) in pairs:
            fn()  # warm: the first query of a table reads it from disk
            elapsed, result = timed(fn, runs)
            copy_fn()
            copy_elapsed, copy_result = timed(copy_fn, runs)
            if result != copy_result:
                raise SystemExit(f"{name}: the Parquet copy answered differently")
            rows = len(result) if isinstance(result, list) else 1
            fast = elapsed < 1.0
            ok &= fast
            table.add_row(
                name,
                f"{elapsed * 1000:.0f}",
                f"{copy_elapsed * 1000:.0f}",
                f"{elapsed / copy_elapsed:.2f}" if copy_elapsed else "—",
                str(rows),
                "yes" if fast else "NO",
            )
    finally:
        warehouse.close()
        parquet.close()
    console.print(table)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="event counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50k events, one run (smoke test)")
    parser.add_argument(
        "--workdir", type=Path, help="keep the warehouses here (and reuse those already built)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = args.runs
    if args.quick:
        sizes, runs = [50_000], 1
    console = Console(width=120)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="agentlytics-bench-reports-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        base = work / "base.duckdb"
        if not base.exists():
            base = base_warehouse(work)
        ok = all([measure(size, base, work, runs, console) for size in sizes])
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    console.print("every report under 1 s" if ok else "[bold]some report took 1 s or more[/bold]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
