"""The same events in a DuckDB warehouse and in the PostgreSQL store: the same rows everywhere.

Every typed family table, row for row, and every report of the query layer, through
``open_store`` on each location.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from typer.testing import CliRunner

from agentlytics import query
from agentlytics.cli import app
from agentlytics.events.envelope import Envelope
from agentlytics.query import Filters, open_store
from agentlytics.warehouse import postgres
from agentlytics.warehouse.schema import FAMILY_TABLES
from agentlytics.warehouse.store import Warehouse, batch_columns

from ..pg_server import PgServer
from ..streams import expected, flat_facts


@pytest.fixture(scope="module")
def events() -> list[Envelope]:
    return expected(flat_facts(400, seed=21))


@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, pg: PgServer, events: list[Envelope]
) -> tuple[str, str]:
    """(DuckDB path, PostgreSQL URL) holding the same events."""
    path = tmp_path_factory.mktemp("parity") / "w.duckdb"
    with Warehouse(path) as wh:
        for i in range(0, len(events), 500):
            wh.insert(events[i : i + 500])
    pg_url = pg.create_database("parity")
    postgres.migrate_url(pg_url)
    with postgres.connect(pg_url) as con:
        for i in range(0, len(events), 500):
            postgres.insert_columns(con, batch_columns(events[i : i + 500]))
    return str(path), pg_url


def _table(store: Any, table: str) -> list[tuple[Any, ...]]:
    family = next(f for f in FAMILY_TABLES if f.table == table)
    names = ", ".join(["event_id", *(c.name for c in family.columns)])
    return sorted(store.rows(f"SELECT {names} FROM {table}"), key=repr)


def test_the_store_has_duckdbs_family_tables_column_for_column(pg_url: str) -> None:
    postgres.migrate_url(pg_url)
    with psycopg.connect(pg_url) as con:
        for family in FAMILY_TABLES:
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                    " ORDER BY ordinal_position",
                    (family.table,),
                )
            ]
            assert columns == ["event_id", *(c.name for c in family.columns)], family.table


def test_every_family_table_holds_the_same_rows(both: tuple[str, str]) -> None:
    duck, pg = open_store(both[0]), open_store(both[1])
    try:
        assert query.event_count(duck) == query.event_count(pg) > 1000
        filled = 0
        for family in FAMILY_TABLES:
            rows = _table(duck, family.table)
            assert _table(pg, family.table) == rows, family.table
            filled += bool(rows)
        assert filled >= 4  # the captures fill most families
    finally:
        duck.close()
        pg.close()


def _close(a: Any, b: Any) -> None:
    """JSON rows equal; costs (double in DuckDB, exact numeric in PostgreSQL) to 1e-12."""
    assert type(a) is type(b)
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k])
    elif isinstance(a, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    else:
        assert a == b


def test_every_report_gives_the_same_rows(both: tuple[str, str]) -> None:
    duck, pg = open_store(both[0]), open_store(both[1])
    try:
        checked = 0
        for filters in (
            Filters(),
            Filters(since_ms=0, until_ms=4_102_444_800_000),
            Filters(client="codex_cli_rs"),
        ):
            for report in (
                query.tools,
                query.daily,
                query.weekly,
                query.monthly,
                query.reports.approval_latency,
            ):
                d = msgspec.to_builtins(report(duck, filters))
                p = msgspec.to_builtins(report(pg, filters))
                _close(p, d)
                checked += len(d)

            # Calls tied on (duration, start, item id) — the same call in two re-keyed copies
            # of a capture — may come in either order: compare all but their thread/turn ids.
            def slow(store: Any, f: Filters) -> list[dict[str, Any]]:
                rows = msgspec.to_builtins(query.slowest_calls(store, f, 20))
                return [
                    {k: v for k, v in r.items() if k not in ("thread_id", "turn_id")} for r in rows
                ]

            assert slow(pg, filters) == slow(duck, filters)
            assert query.unpriced_models(pg, filters) == query.unpriced_models(duck, filters)
        assert checked > 10
    finally:
        duck.close()
        pg.close()


def _report(*args: str) -> Any:
    """``agentlytics report ARGS --format json``, run in-process (the real command)."""
    result = CliRunner().invoke(app, ["report", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["tools"],
        ["tools", "--slowest", "5"],
        ["approvals"],
        ["approvals", "--by", "source"],
        ["approvals", "--by", "risk"],
        ["daily"],
        ["weekly", "--breakdown", "model"],
        ["monthly"],
        ["sessions"],
        ["subagents"],
        ["goals"],
        ["hooks"],
        ["compactions"],
    ],
    ids=lambda a: "-".join(a),
)
def test_report_format_json_gives_the_same_rows_on_both_stores(
    both: tuple[str, str], args: list[str]
) -> None:
    duck = _report(*args, "--warehouse", both[0])
    pg = _report(*args, "--warehouse", both[1])
    if args[0] == "tools" and len(args) > 1:  # ties of re-keyed copies: see above
        for rows in (duck, pg):
            for row in rows if isinstance(rows, list) else rows.get("rows", []):
                row.pop("thread_id", None)
                row.pop("turn_id", None)
    _close(pg, duck)
    assert duck  # every section has rows for the captures' events


def test_a_team_store_filters_a_project_by_repo_hash_as_duckdb_does(
    tmp_path: Path, pg_url: str
) -> None:
    """The bundled example captures (their repo hash recorded with them; an accepted-line
    fingerprint is the only event that carries it) in both stores, without ``thread_projects`` (never delivered): ``--project HASH`` finds
    the fingerprinted thread on PostgreSQL exactly as on DuckDB."""
    from agentlytics.query import reports
    from agentlytics.replay import replay
    from tests.helpers import ROOT

    class Keep:
        def __init__(self) -> None:
            self.envelopes: list[Envelope] = []

        def write(self, batch: Any) -> None:
            self.envelopes += batch

        def close(self) -> None:
            pass

    keep = Keep()
    replay(sorted((ROOT / "examples").glob("*.jsonl")), [keep])
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:
        wh.insert(keep.envelopes)
    postgres.migrate_url(pg_url)
    with postgres.connect(pg_url) as con:
        postgres.insert_columns(con, batch_columns(keep.envelopes))
    duck, pg = open_store(str(path)), open_store(pg_url)
    try:
        ((repo_hash,),) = duck.rows("SELECT DISTINCT repo_hash FROM accepted_lines")
        assert repo_hash is not None
        threads = {e.thread_id for e in keep.envelopes if b'"repo_hash":"' in e.body}
        f = Filters(project=repo_hash)
        sessions = msgspec.to_builtins(reports.sessions(duck, f))
        assert {s["thread_id"] for s in sessions} == threads and threads
        for report in (reports.sessions, reports.daily, reports.tools, reports.approvals):
            _close(msgspec.to_builtins(report(pg, f)), msgspec.to_builtins(report(duck, f)))
        assert reports.sessions(pg, Filters(project="0" * 40)) == []
    finally:
        duck.close()
        pg.close()
