"""The team store: the warehouse's tables and views in PostgreSQL, shared by many collectors.

Why PostgreSQL: a DuckDB file has one writer process and locks out every other process while
it is open; a team wants several collectors (processes or hosts) writing one store while
reports and the dashboard read it. Collectors are stateless: everything they share is here.

Schema: versioned by the project (``schema_version``, one row per applied migration). Each
migration runs in one transaction under an advisory lock, so collectors starting together
apply it once; a database newer than this code is refused rather than written to.

Writes (:func:`insert_columns`): one transaction per batch, so a batch is stored whole or not
at all. The batch travels as one array per column in a single ``INSERT … SELECT FROM unnest(…)
ORDER BY event_id ON CONFLICT (event_id) DO NOTHING RETURNING event_id``, whose data-modifying
CTEs also add the family rows of exactly the new events: idempotent on the event id, and two
collectors storing overlapping batches at once take the row locks in the same (id) order, so
they wait for each other instead of deadlocking. The collector reads the typed columns out of
each payload; the shared server only stores rows. Payloads stay the exact JSON text the client
sent (``TEXT``, not ``jsonb``, which would reorder keys and reject ``\\u0000``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import psycopg

from agentlytics.warehouse.schema import FAMILY_TABLES, Family
from agentlytics.warehouse.store import Columns
from agentlytics.warehouse.typed import typed_columns

#: URL schemes that select this store (``--store``/``--warehouse``).
SCHEMES = ("postgresql://", "postgres://")
_PASSWORD = re.compile(r"^([a-z]+://[^:@/]*:)[^@/]*@")


def is_postgres_url(location: str) -> bool:
    return location.startswith(SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for logs and error messages (even a malformed URL)."""
    return _PASSWORD.sub(r"\1***@", url)


class StoreError(RuntimeError):
    """The store cannot be used (unreachable, refused, or a schema this code does not know).

    Its message is one line meant for a person, without the password."""


_PG_TYPES = {"VARCHAR": "TEXT", "BIGINT": "BIGINT", "BOOLEAN": "BOOLEAN"}
#: Every event type a family table holds.
_FAMILY_TYPES = tuple(t for f in FAMILY_TABLES for t in f.event_types)


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _family_ddl(family: Family) -> str:
    """The PostgreSQL ``CREATE TABLE`` of a family (the columns of DuckDB's, same order)."""
    columns = ", ".join(
        ["event_id TEXT NOT NULL", *(f"{c.name} {_PG_TYPES[c.type]}" for c in family.columns)]
    )
    return f"CREATE TABLE {family.table} ({columns})"


def _family_fill(family: Family, parsed: str) -> str:
    """``INSERT … SELECT`` of a family's rows from ``parsed`` (event_id, event_type, and the
    payload as ``jsonb`` ``j``): extraction as DuckDB's ``from_json`` does it, then the derived
    columns over the extracted ones."""
    extracted = []
    for c in family.columns:
        if c.derive is not None:
            continue
        path = "".join(f"->'{k}'" for k in c.path[:-1])
        value = f"(j->'event_params'{path}->>'{c.path[-1]}')"
        if c.type != "VARCHAR":
            value = f"{value}::{_PG_TYPES[c.type]}"
        extracted.append(f"{value} AS {c.name}")
    outer = ", ".join(
        c.name if c.derive is None else f"{c.sql()} AS {c.name}" for c in family.columns
    )
    names = ", ".join(["event_id", *(c.name for c in family.columns)])
    return (
        f"INSERT INTO {family.table} ({names}) SELECT event_id, {outer} FROM ("
        f"SELECT event_id, event_type, {', '.join(extracted)} FROM {parsed} "
        f"WHERE event_type IN ({_sql_list(family.event_types)})) AS extracted"
    )


#: ``jsonb`` of a payload: parsed once, read by key cheaply. ``jsonb`` refuses ``\u0000``
#: (PostgreSQL text cannot hold NUL), which JSON allows: for the typed columns (never for the
#: stored payload) it reads as U+FFFD instead of failing the whole batch.
_PARSE = r"replace(payload, '\u0000', '\ufffd')::jsonb"


def _v2() -> str:
    backfill = (
        f"CREATE TEMP TABLE agentlytics_parsed ON COMMIT DROP AS SELECT event_id, event_type, "
        f"{_PARSE} AS j FROM events WHERE event_type IN ({_sql_list(_FAMILY_TYPES)})"
    )
    return ";\n".join(
        [
            *(f"DROP VIEW IF EXISTS {f.table}" for f in FAMILY_TABLES),
            *(_family_ddl(f) for f in FAMILY_TABLES),
            "CREATE TABLE thread_projects (thread_id TEXT PRIMARY KEY, repo_hash TEXT,"
            " repo_name TEXT, branch TEXT)",
            backfill,
            *(_family_fill(f, "agentlytics_parsed") for f in FAMILY_TABLES),
        ]
    )


#: Migrations, in order: migration *n* (1-based) takes the schema from version n-1 to n.
#: Never edit one that has shipped; append a new one.
MIGRATIONS: tuple[str, ...] = (
    # 1: events, and the family views of the DuckDB warehouse (warehouse/store.py).
    """
    CREATE TABLE events (
        event_id   TEXT PRIMARY KEY,
        event_type TEXT NOT NULL,
        thread_id  TEXT,
        turn_id    TEXT,
        payload    TEXT NOT NULL
    );
    CREATE INDEX events_type_thread ON events (event_type, thread_id);
    CREATE VIEW turns AS
    SELECT
        event_id,
        p->'event_params'->>'thread_id'                            AS thread_id,
        p->'event_params'->>'turn_id'                              AS turn_id,
        p->'event_params'->>'status'                               AS status,
        p->'event_params'->>'model'                                AS model,
        p->'event_params'->'app_server_client'->>'client_name'     AS client_name,
        (p->'event_params'->>'duration_ms')::BIGINT                AS duration_ms,
        (p->'event_params'->>'total_tool_call_count')::BIGINT      AS tool_calls,
        (p->'event_params'->>'total_tokens')::BIGINT               AS total_tokens,
        (p->'event_params'->>'steer_count')::BIGINT                AS steer_count,
        (p->'event_params'->>'completed_at')::BIGINT               AS completed_at
    FROM (SELECT event_id, payload::json AS p FROM events
          WHERE event_type = 'codex_turn_event') e;
    CREATE VIEW tool_calls AS
    SELECT
        event_id,
        event_type,
        replace(replace(event_type, 'codex_', ''), '_event', '')   AS kind,
        p->'event_params'->>'thread_id'                            AS thread_id,
        p->'event_params'->>'turn_id'                              AS turn_id,
        p->'event_params'->>'item_id'                              AS item_id,
        p->'event_params'->>'tool_name'                            AS tool_name,
        p->'event_params'->>'terminal_status'                      AS terminal_status,
        p->'event_params'->>'failure_kind'                         AS failure_kind,
        p->'event_params'->>'final_approval_outcome'               AS final_approval_outcome,
        (p->'event_params'->>'review_count')::BIGINT               AS review_count,
        (p->'event_params'->>'duration_ms')::BIGINT                AS duration_ms,
        (p->'event_params'->>'execution_duration_ms')::BIGINT      AS execution_duration_ms,
        (p->'event_params'->>'started_at_ms')::BIGINT              AS started_at_ms
    FROM (SELECT event_id, event_type, payload::json AS p FROM events
          WHERE event_type IN (
            'codex_command_execution_event', 'codex_file_change_event',
            'codex_mcp_tool_call_event', 'codex_dynamic_tool_call_event',
            'codex_collab_agent_tool_call_event', 'codex_web_search_event',
            'codex_image_generation_event')) e;
    CREATE VIEW reviews AS
    SELECT
        event_id,
        p->'event_params'->>'thread_id'          AS thread_id,
        p->'event_params'->>'turn_id'            AS turn_id,
        p->'event_params'->>'item_id'            AS item_id,
        p->'event_params'->>'review_id'          AS review_id,
        p->'event_params'->>'subject_kind'       AS subject_kind,
        p->'event_params'->>'subject_name'       AS subject_name,
        p->'event_params'->>'reviewer'           AS reviewer,
        p->'event_params'->>'trigger'            AS trigger,
        p->'event_params'->>'status'             AS status,
        p->'event_params'->>'resolution'         AS resolution,
        p->'event_params'->>'command_source'     AS command_source,
        (p->'event_params'->>'duration_ms')::BIGINT     AS duration_ms,
        (p->'event_params'->>'started_at_ms')::BIGINT   AS started_at_ms,
        (p->'event_params'->>'completed_at_ms')::BIGINT AS completed_at_ms,
        p->'event_params'->>'status' = 'approved'       AS approved
    FROM (SELECT event_id, payload::json AS p FROM events
          WHERE event_type = 'codex_review_event') e;
    """,
    # 2: the typed family tables of warehouse/schema.py (the views of 1 give way to them,
    # filled from the events already stored) and thread_projects, as in DuckDB's version 2.
    _v2(),
)

SCHEMA_VERSION = len(MIGRATIONS)

#: One statement per batch: the batch arrives as one parameter per column (``unnest``), the
#: new rows go into ``events`` in id order (see the module doc), and the family rows of
#: exactly those — read out of the payloads by the collector, with the warehouse's own code
#: (:mod:`agentlytics.warehouse.typed`), so both stores hold the same typed rows — into their
#: tables. Measured against COPY into temporary staging tables then ``INSERT … SELECT``: a
#: seventh of the server's CPU per event (the staging tables' writes and per-commit
#: truncation dominated).
#:
#: A column travels as one text parameter, its values joined by U+001F with U+001E for NULL,
#: split by ``string_to_array`` in the server: psycopg's own list adaptation cost the
#: collector about 200 µs an event in Python, a join costs next to nothing (a JSON payload
#: cannot hold either control character; other text has them replaced, as NUL, by U+FFFD).
_SEP, _NULL = "\x1f", "\x1e"
_SPLIT = "string_to_array(%s, chr(31), chr(30))"


def _array(type_: str) -> str:
    return _SPLIT if type_ == "VARCHAR" else f"{_SPLIT}::{_PG_TYPES[type_]}[]"


def _family_insert(family: Family) -> str:
    arrays = ", ".join([_SPLIT, *(_array(c.type) for c in family.columns)])
    names = ", ".join(["event_id", *(c.name for c in family.columns)])
    return (
        f"INSERT INTO {family.table} ({names}) SELECT * FROM unnest({arrays}) AS s({names})"
        " WHERE event_id IN (SELECT event_id FROM moved)"
    )


_INSERT = (
    "WITH moved AS (INSERT INTO events (event_id, event_type, thread_id, turn_id, payload)"
    f" SELECT * FROM unnest({_SPLIT}, {_SPLIT}, {_SPLIT}, {_SPLIT}, {_SPLIT})"
    " AS s(event_id, event_type, thread_id, turn_id, payload) WHERE event_id IS NOT NULL"
    " ORDER BY event_id ON CONFLICT (event_id) DO NOTHING RETURNING event_id), "
    + ", ".join(f"f{i} AS ({_family_insert(f)})" for i, f in enumerate(FAMILY_TABLES))
    + " SELECT event_id FROM moved"
)

_UNSAFE = ("\x00", _SEP, _NULL)


def _clean(text: str) -> str:
    for char in _UNSAFE:
        if char in text:
            text = text.replace(char, "\ufffd")
    return text


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def _pack(values: Sequence[str | int | bool | None]) -> str:
    """One column's values as the text :data:`_SPLIT` splits back, plus a trailing NULL: so
    the text is never empty (``string_to_array('')`` is no element, not one empty string),
    and the statement drops the row of trailing NULLs (``event_id IS NOT NULL``)."""
    texts = [v if type(v) is str else _NULL if v is None else _text(v) for v in values]
    joined = _SEP.join(texts)
    nulls = values.count(None)
    if joined.count(_SEP) != len(texts) - 1 or joined.count(_NULL) != nulls or "\x00" in joined:
        joined = _SEP.join(
            _NULL if v is None else _clean(t) for v, t in zip(values, texts, strict=True)
        )
    return f"{joined}{_SEP}{_NULL}" if texts else _NULL


def connect(url: str, *, timeout: float = 10.0, autocommit: bool = False) -> psycopg.Connection:
    """A connection, or :class:`StoreError` with one line saying why not."""
    try:
        return psycopg.connect(url, connect_timeout=max(1, round(timeout)), autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot connect to {redact(url)}: {first_line(exc)}") from None
    except psycopg.ProgrammingError as exc:  # a malformed URL / option
        raise StoreError(f"bad PostgreSQL URL {redact(url)}: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    """libpq's message on one line: the server's reason when it gave one (after ``FATAL:``),
    else the first line (which names the address that failed and why)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "FATAL:" in line:
            return line.split("FATAL:", 1)[1].strip()
    return lines[0] if lines else type(exc).__name__


def schema_version(con: psycopg.Connection) -> int:
    """The version the database is at (0: no agentlytics schema yet)."""
    row = con.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(con: psycopg.Connection) -> tuple[int, int]:
    """Bring the schema up to :data:`SCHEMA_VERSION`; (version before, version after).

    One transaction under an advisory lock: collectors starting at once apply each migration
    once, and a failed migration leaves the database as it was."""
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(hashtext('agentlytics schema'))")
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        before = schema_version(con)
        if before > SCHEMA_VERSION:
            raise StoreError(
                f"the database schema is at version {before}, newer than this agentlytics "
                f"knows ({SCHEMA_VERSION}): upgrade agentlytics"
            )
        for version in range(before + 1, SCHEMA_VERSION + 1):
            con.execute(MIGRATIONS[version - 1].encode())
            con.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
    return before, SCHEMA_VERSION


def migrate_url(url: str) -> tuple[int, int]:
    """:func:`migrate` the database at ``url``; :class:`StoreError` (one line) if it cannot."""
    con = connect(url)
    try:
        return migrate(con)
    except psycopg.Error as exc:
        raise StoreError(f"cannot migrate {redact(url)}: {first_line(exc)}") from None
    finally:
        con.close()


def insert_columns(con: psycopg.Connection, columns: Columns) -> list[str]:
    """Store one batch in one transaction (one statement); the ids it added (already stored
    ones skipped).

    The collector does the per-event work (the typed rows of each payload), so the shared
    server only stores rows: collectors scale out, it does not."""
    columns = _unique(columns)
    ids, types, threads, turns, payloads = columns
    families = typed_columns(ids, types, payloads)
    tail = f"{_SEP}{_NULL}"
    params: list[str] = [_SEP.join(ids) + tail, _SEP.join(types) + tail]
    params += [_pack(threads), _pack(turns), _SEP.encode().join(payloads).decode() + tail]
    for family in FAMILY_TABLES:
        rows = families.get(family.table)
        if rows is None:
            params += [_NULL] * (1 + len(family.columns))
        else:
            params += [_pack(column) for column in rows]
    if con.autocommit:
        # The one statement is its own transaction, without BEGIN and COMMIT round trips; its
        # answer still comes only once its commit is durable (the server commits before it says
        # ReadyForQuery, which psycopg waits for; a failed commit raises here).
        return [row[0] for row in con.execute(_INSERT.encode(), params).fetchall()]
    with con.transaction(), con.cursor() as cur:
        cur.execute(_INSERT.encode(), params)
        return [row[0] for row in cur.fetchall()]


def _unique(columns: Columns) -> Columns:
    """The batch without repeats of an id (the first is kept), so a family row is stored once
    per event even when a batch carries an event twice."""
    ids = columns[0]
    if len(set(ids)) == len(ids):
        return columns
    first: dict[str, int] = {}
    for i, event_id in enumerate(ids):
        first.setdefault(event_id, i)
    keep = sorted(first.values())
    return (
        [ids[i] for i in keep],
        [columns[1][i] for i in keep],
        [columns[2][i] for i in keep],
        [columns[3][i] for i in keep],
        [columns[4][i] for i in keep],
    )


def count(con: psycopg.Connection) -> int:
    row = con.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0
