"""The PostgreSQL store itself: schema versions, byte-exact round trips, idempotent batches."""

from __future__ import annotations

import hashlib
import threading

import psycopg
import pytest

from agentlytics.warehouse import postgres

from ..helpers import run_cli
from ..pg_server import PgServer, wait_until


def _columns(payloads: list[bytes], thread: str | None = "t") -> postgres.Columns:
    ids = [hashlib.sha256(p).hexdigest() for p in payloads]
    n = len(payloads)
    return (ids, ["codex_turn_event"] * n, [thread] * n, [None] * n, payloads)


@pytest.mark.slow
def test_migrate_creates_the_schema_once_and_refuses_a_newer_one(pg_url: str) -> None:
    first = run_cli("migrate", "--store", pg_url)
    assert first.stdout.strip().endswith(
        f"schema migrated from version 0 to {postgres.SCHEMA_VERSION}."
    )
    assert "pg-test-pw" not in first.stdout  # the password is never printed
    again = run_cli("migrate", "--store", pg_url)
    assert again.stdout.strip().endswith(
        f"schema at version {postgres.SCHEMA_VERSION}, up to date."
    )
    with psycopg.connect(pg_url) as con:
        versions = [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1")]
        assert versions == list(range(1, postgres.SCHEMA_VERSION + 1))
        con.execute(
            "INSERT INTO schema_version (version) VALUES (%s)", (postgres.SCHEMA_VERSION + 1,)
        )
    newer = run_cli("migrate", "--store", pg_url, check=False)
    assert newer.returncode == 2
    assert newer.stderr.strip().splitlines() == [
        f"agentlytics migrate: the database schema is at version {postgres.SCHEMA_VERSION + 1}, "
        f"newer than this agentlytics knows ({postgres.SCHEMA_VERSION}): upgrade agentlytics"
    ]


def test_collectors_starting_together_migrate_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            postgres.migrate_url(pg_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT count(*) FROM schema_version").fetchone() == (
            postgres.SCHEMA_VERSION,
        )


def test_payloads_and_ids_round_trip_byte_for_byte(pg_url: str) -> None:
    postgres.migrate_url(pg_url)
    # What COPY's text format must escape: backslashes, and tabs/newlines/CRs (JSON whitespace).
    payloads = [
        b'{"event_type":"codex_turn_event","event_params":{"a":"x\\\\y\\n\\t\\"q\\u0000"}}',
        b'{\t"event_type" :\r\n"codex_turn_event","event_params":{"b":"\xc3\xa9\xe2\x82\xac"}}',
        b'{"event_type":"codex_turn_event","event_params":{"c":"\\\\N"}}',
    ]
    odd_thread = "th\tre\\ad\nid"
    with postgres.connect(pg_url) as con:
        new = postgres.insert_columns(con, _columns(payloads, thread=odd_thread))
        assert sorted(new) == sorted(hashlib.sha256(p).hexdigest() for p in payloads)
        rows = con.execute("SELECT thread_id, turn_id, payload FROM events").fetchall()
    assert sorted(r[2].encode() for r in rows) == sorted(payloads)
    assert {(r[0], r[1]) for r in rows} == {(odd_thread, None)}


def test_a_batch_is_idempotent_and_repeats_within_it_count_once(pg_url: str) -> None:
    postgres.migrate_url(pg_url)
    payloads = [b'{"event_type":"codex_turn_event","event_params":{"n":%d}}' % i for i in range(50)]
    with postgres.connect(pg_url) as con:
        assert len(postgres.insert_columns(con, _columns(payloads[:30]))) == 30
        doubled = _columns(payloads + payloads)
        assert sorted(postgres.insert_columns(con, doubled)) == sorted(
            hashlib.sha256(p).hexdigest() for p in payloads[30:]
        )
        assert postgres.insert_columns(con, _columns(payloads)) == []
        assert postgres.count(con) == 50


def test_overlapping_batches_at_once_store_each_event_once_without_deadlock(pg_url: str) -> None:
    """Six writers, each its own connection, store overlapping batches in different orders."""
    postgres.migrate_url(pg_url)
    payloads = [
        b'{"event_type":"codex_turn_event","event_params":{"n":%d}}' % i for i in range(3000)
    ]
    added: list[list[str]] = []
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        mine = payloads[k * 300 : k * 300 + 1500]
        order = mine[::-1] if k % 2 else mine
        try:
            with postgres.connect(pg_url) as con:
                for i in range(0, len(order), 250):
                    added.append(postgres.insert_columns(con, _columns(order[i : i + 250])))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    flat = [i for batch in added for i in batch]
    assert len(flat) == len(set(flat)) == 3000  # each event reported new by exactly one writer
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone() == (
            3000,
            3000,
        )


def test_an_id_another_writer_has_in_flight_is_waited_for_then_skipped(pg_url: str) -> None:
    """Another writer's uncommitted row of one of the batch's ids makes the insert wait for
    it; once it commits, the batch stores every other event once, with its typed row once."""
    postgres.migrate_url(pg_url)
    payloads = [b'{"event_type":"codex_turn_event","event_params":{"n":%d}}' % i for i in range(40)]
    columns = _columns(payloads)
    other = psycopg.connect(pg_url)
    try:
        other.execute(
            "INSERT INTO events (event_id, event_type, payload) VALUES (%s, 'codex_turn_event', %s)",
            (columns[0][7], payloads[7].decode()),
        )
        added: list[list[str]] = []

        def store() -> None:
            with postgres.connect(pg_url) as con:
                added.append(postgres.insert_columns(con, columns))

        writer = threading.Thread(target=store)
        writer.start()
        # The insert waits for the other writer's row (autocommit: a fresh look each time).
        with psycopg.connect(pg_url, autocommit=True) as watch:
            assert wait_until(
                lambda: (
                    watch.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    ).fetchone()
                    == (1,)
                )
            )
        other.commit()
        writer.join(30)
    finally:
        other.close()
    assert sorted(added[0]) == sorted(columns[0][:7] + columns[0][8:])
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone() == (
            40,
            40,
        )
        # The typed rows of the events this batch added, each once (the other writer's has none).
        assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM turns").fetchone() == (
            39,
            39,
        )


def test_an_autocommit_batch_whose_commit_fails_raises_and_stores_nothing(pg_url: str) -> None:
    """The collector's connections are autocommit (the statement is its own transaction):
    the answer must still wait for the commit. A deferred trigger fails the commit itself."""
    postgres.migrate_url(pg_url)
    payloads = [b'{"event_type":"codex_turn_event","event_params":{"n":%d}}' % i for i in range(5)]
    with postgres.connect(pg_url, autocommit=True) as con:
        con.execute(
            "CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$"
        )
        con.execute(
            "CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON events DEFERRABLE INITIALLY"
            " DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()"
        )
        with pytest.raises(psycopg.Error, match="commit refused"):
            postgres.insert_columns(con, _columns(payloads))
        assert postgres.count(con) == 0
        assert con.execute("SELECT count(*) FROM turns").fetchone() == (0,)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("store", "reason"),
    [
        ("{url_wrong_password}", 'password authentication failed for user "agentlytics"'),
        ("{url_missing_db}", 'database "no_such_db" does not exist'),
        ("postgresql://agentlytics@127.0.0.1:1/x", "Connection refused"),
        ("postgresql://agentlytics@127.0.0.1:notaport/x", 'invalid integer value "notaport"'),
        ("postgresql://a@[bad/x", "bad PostgreSQL URL"),
    ],
)
def test_a_store_that_cannot_be_used_is_one_line_and_a_non_zero_exit(
    pg: PgServer, store: str, reason: str
) -> None:
    store = store.format(
        url_wrong_password=pg.url("postgres", password="wrong"),
        url_missing_db=pg.url("no_such_db"),
    )
    for args in (["collect", "--store", store, "--no-auth"], ["migrate", "--store", store]):
        proc = run_cli(*args, check=False)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith(f"agentlytics {args[0]}: ")
        assert reason in lines[0]
        assert "wrong" not in lines[0] and "pg-test-pw" not in lines[0]
        assert proc.stdout == ""


@pytest.mark.parametrize(
    ("thread", "stored"),
    [
        ("", ""),  # one empty string is one value, not an empty column
        (None, None),
        ("a\x1fb\x1ec\x00d", "a\ufffdb\ufffdc\ufffdd"),  # the separators and NUL cannot be kept
        ("\x1e", "\ufffd"),
    ],
)
def test_a_one_event_batch_keeps_its_thread_id(
    pg_url: str, thread: str | None, stored: str | None
) -> None:
    postgres.migrate_url(pg_url)
    payload = b'{"event_type":"codex_turn_event","event_params":{"model":"m\\u001fx","status":""}}'
    with postgres.connect(pg_url) as con:
        assert len(postgres.insert_columns(con, _columns([payload], thread=thread))) == 1
        assert con.execute("SELECT thread_id, payload FROM events").fetchall() == [
            (stored, payload.decode())
        ]
        # The typed row: read out of the payload by the collector, as DuckDB reads it.
        assert con.execute("SELECT model, status, duration_ms FROM turns").fetchall() == [
            ("m\ufffdx", "", None)
        ]


@pytest.mark.slow
def test_workers_need_a_postgresql_store() -> None:
    proc = run_cli("collect", "--no-auth", "--workers", "2", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "agentlytics collect: --workers needs a PostgreSQL --store"
    ]


@pytest.mark.slow
def test_report_on_a_store_it_cannot_use_says_why_in_one_line(pg: PgServer, pg_url: str) -> None:
    for url, reason in (
        (
            pg.url("postgres", password="wrong"),
            'password authentication failed for user "agentlytics"',
        ),
        (pg_url, "has no agentlytics schema: run `agentlytics migrate --store URL`"),
    ):
        proc = run_cli("report", "tools", "--warehouse", url, check=False)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("agentlytics report: ")
        assert reason in lines[0] and "pg-test-pw" not in lines[0]
