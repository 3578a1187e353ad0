"""The warehouse's typed tables: one per event family, filled from each event when it is stored.

``events`` stays the source of truth (every event's exact JSON, once per id). Reports read the
family tables below instead of extracting JSON at query time, which at millions of events is
most of a report's cost. Each table is described once here — name, the catalog event types it
holds, and per column the path of its value under ``event_params`` (or a fixed derivation from
the other columns) — and both the DuckDB DDL/insert SQL and, for other stores, the same logical
shape are generated from that description.

Every family table has ``event_id``, ``thread_id``, ``turn_id``, ``ts_ms`` (the event's time in
epoch milliseconds, NULL when the event carries none), ``client_name`` and
``product_client_id``: the columns report filters use.
"""

from __future__ import annotations

import json
from typing import Final, NamedTuple

from agentlytics.events.catalog import EVENT_TYPES
from agentlytics.events.fingerprints import AcceptedLineFingerprints
from agentlytics.events.lifecycle import CompactionEvent, GoalEvent, HookRun, ThreadInitialized
from agentlytics.events.reviews import GuardianReviewEvent, ReviewEvent
from agentlytics.events.tools import ToolItemBase
from agentlytics.events.turns import TurnEvent

#: Version of the warehouse layout. 1: ``events`` plus JSON-extracting views (no version
#: table). 2: typed family tables filled at insert time, ``thread_projects``, ``schema_version``.
SCHEMA_VERSION: Final = 2


class Column(NamedTuple):
    """One typed column: extracted from ``event_params`` at ``path``, or derived by ``derive``.

    A derivation is one of a few fixed forms, so that SQL (:func:`duckdb_fill_sql`) and
    Python (:mod:`agentlytics.warehouse.typed`) compute it alike: ``("null",)``,
    ``("ms", col, …)`` (the first non-null of the columns, seconds × 1000),
    ``("copy", col)``, ``("event_type",)``, ``("kind",)`` (the event type without its
    ``codex_``/``_event``) and ``("eq", col, value)``.
    """

    name: str
    type: str  # VARCHAR | BIGINT | BOOLEAN — portable SQL types
    path: tuple[str, ...] = ()
    derive: tuple[str, ...] | None = None

    def sql(self) -> str:
        """The derivation as SQL over the extracted columns and ``event_type``."""
        assert self.derive is not None
        form, *args = self.derive
        if form == "null":
            return f"CAST(NULL AS {self.type})"
        if form == "ms":
            inner = args[0] if len(args) == 1 else f"coalesce({', '.join(args)})"
            return f"{inner} * 1000"
        if form == "copy":
            return args[0]
        if form == "event_type":
            return "event_type"
        if form == "kind":
            return "replace(replace(event_type, 'codex_', ''), '_event', '')"
        if form == "eq":
            return f"({args[0]} = '{args[1]}')"
        raise ValueError(f"unknown derivation {self.derive!r}")


class Family(NamedTuple):
    """A typed table and the catalog event types whose events fill it."""

    table: str
    event_types: tuple[str, ...]
    columns: tuple[Column, ...]


def _col(name: str, type_: str = "VARCHAR", *path: str) -> Column:
    return Column(name, type_, path or (name,))


def _derived(name: str, type_: str, *derive: str) -> Column:
    return Column(name, type_, (), derive)


_CLIENT = (
    Column("client_name", "VARCHAR", ("app_server_client", "client_name")),
    Column("product_client_id", "VARCHAR", ("app_server_client", "product_client_id")),
)
_LINEAGE = (_col("thread_source"), _col("subagent_source"), _col("parent_thread_id"))
_TOKENS = tuple(
    _col(name, "BIGINT")
    for name in (
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
        "total_tokens",
    )
)

#: Tool item event types: every catalog family built on the shared tool base.
TOOL_EVENT_TYPES: Final = tuple(c.EVENT_TYPE for c in EVENT_TYPES if issubclass(c, ToolItemBase))

FAMILY_TABLES: Final[tuple[Family, ...]] = (
    Family(
        "threads",
        (ThreadInitialized.EVENT_TYPE,),
        (
            _col("thread_id"),
            _col("session_id"),
            *_CLIENT,
            _col("model"),
            _col("ephemeral", "BOOLEAN"),
            _col("initialization_mode"),
            *_LINEAGE,
            _col("forked_from_thread_id"),
            _col("created_at", "BIGINT"),
            _derived("turn_id", "VARCHAR", "null"),
            _derived("ts_ms", "BIGINT", "ms", "created_at"),
        ),
    ),
    Family(
        "turns",
        (TurnEvent.EVENT_TYPE,),
        (
            _col("thread_id"),
            _col("turn_id"),
            _col("status"),
            _col("model"),
            *_CLIENT,
            *_LINEAGE,
            _col("is_first_turn", "BOOLEAN"),
            _col("codex_error_kind"),
            _col("duration_ms", "BIGINT"),
            Column("tool_calls", "BIGINT", ("total_tool_call_count",)),
            _col("steer_count", "BIGINT"),
            *_TOKENS,
            _col("started_at", "BIGINT"),
            _col("completed_at", "BIGINT"),
            _derived("ts_ms", "BIGINT", "ms", "started_at", "completed_at"),
        ),
    ),
    Family(
        "tool_calls",
        TOOL_EVENT_TYPES,
        (
            _derived("event_type", "VARCHAR", "event_type"),
            _derived("kind", "VARCHAR", "kind"),
            _col("thread_id"),
            _col("turn_id"),
            _col("item_id"),
            _col("tool_name"),
            *_CLIENT,
            *_LINEAGE,
            _col("terminal_status"),
            _col("failure_kind"),
            _col("final_approval_outcome"),
            _col("review_count", "BIGINT"),
            _col("duration_ms", "BIGINT"),
            _col("execution_duration_ms", "BIGINT"),
            _col("started_at_ms", "BIGINT"),
            _col("completed_at_ms", "BIGINT"),
            Column(
                "command_source",
                "VARCHAR",
                ("command_execution_source",),
            ),
            _col("exit_code", "BIGINT"),
            _derived("ts_ms", "BIGINT", "copy", "started_at_ms"),
        ),
    ),
    Family(
        "reviews",
        (ReviewEvent.EVENT_TYPE,),
        (
            _col("thread_id"),
            _col("turn_id"),
            _col("item_id"),
            _col("review_id"),
            *_CLIENT,
            _col("subject_kind"),
            _col("subject_name"),
            _col("reviewer"),
            _col("trigger"),
            _col("status"),
            _col("resolution"),
            _col("command_source"),
            _col("duration_ms", "BIGINT"),
            _col("started_at_ms", "BIGINT"),
            _col("completed_at_ms", "BIGINT"),
            _derived("approved", "BOOLEAN", "eq", "status", "approved"),
            _derived("ts_ms", "BIGINT", "copy", "started_at_ms"),
        ),
    ),
    Family(
        "guardian_reviews",
        (GuardianReviewEvent.EVENT_TYPE,),
        (
            _col("thread_id"),
            _col("turn_id"),
            _col("review_id"),
            _col("target_item_id"),
            *_CLIENT,
            _col("approval_request_source"),
            Column("action_type", "VARCHAR", ("reviewed_action", "type")),
            _col("decision"),
            _col("terminal_status"),
            _col("failure_reason"),
            _col("risk_level"),
            _col("user_authorization"),
            _col("outcome"),
            _col("guardian_model"),
            _col("completion_latency_ms", "BIGINT"),
            _col("started_at", "BIGINT"),
            _col("completed_at", "BIGINT"),
            *_TOKENS,
            _derived("ts_ms", "BIGINT", "ms", "started_at"),
        ),
    ),
    Family(
        "hooks",
        (HookRun.EVENT_TYPE,),
        (
            _col("thread_id"),
            _col("turn_id"),
            _derived("client_name", "VARCHAR", "null"),
            _col("product_client_id"),
            _col("model_slug"),
            _col("hook_name"),
            _col("hook_source"),
            _col("status"),
            _derived("ts_ms", "BIGINT", "null"),
        ),
    ),
    Family(
        "goals",
        (GoalEvent.EVENT_TYPE,),
        (
            _col("thread_id"),
            _col("turn_id"),
            *_CLIENT,
            _col("goal_id"),
            _col("event_kind"),
            _col("goal_status"),
            _col("has_token_budget", "BOOLEAN"),
            _col("cumulative_tokens_accounted", "BIGINT"),
            _col("cumulative_time_accounted_seconds", "BIGINT"),
            _derived("ts_ms", "BIGINT", "null"),
        ),
    ),
    Family(
        "compactions",
        (CompactionEvent.EVENT_TYPE,),
        (
            _col("thread_id"),
            _col("turn_id"),
            *_CLIENT,
            _col("trigger"),
            _col("reason"),
            _col("implementation"),
            _col("phase"),
            _col("strategy"),
            _col("status"),
            _col("codex_error_kind"),
            _col("active_context_tokens_before", "BIGINT"),
            _col("active_context_tokens_after", "BIGINT"),
            _col("compaction_summary_tokens", "BIGINT"),
            _col("duration_ms", "BIGINT"),
            _col("started_at", "BIGINT"),
            _col("completed_at", "BIGINT"),
            _derived("ts_ms", "BIGINT", "ms", "started_at"),
        ),
    ),
    Family(
        "accepted_lines",
        (AcceptedLineFingerprints.EVENT_TYPE,),
        (
            _col("thread_id"),
            _col("turn_id"),
            _derived("client_name", "VARCHAR", "null"),
            _derived("product_client_id", "VARCHAR", "null"),
            _col("model_slug"),
            _col("repo_hash"),
            _col("accepted_added_lines", "BIGINT"),
            _col("accepted_deleted_lines", "BIGINT"),
            _col("completed_at", "BIGINT"),
            _derived("ts_ms", "BIGINT", "ms", "completed_at"),
        ),
    ),
)

#: Every family table by name.
FAMILY_BY_TABLE: Final = {f.table: f for f in FAMILY_TABLES}

#: event type → the family table its events fill.
TABLE_OF_EVENT_TYPE: Final = {t: f.table for f in FAMILY_TABLES for t in f.event_types}

EVENTS_DDL: Final = """
CREATE TABLE IF NOT EXISTS events (
    event_id   VARCHAR PRIMARY KEY,
    event_type VARCHAR NOT NULL,
    thread_id  VARCHAR,
    turn_id    VARCHAR,
    payload    VARCHAR NOT NULL  -- JSON text; VARCHAR, as JSON would re-validate what the
                                 -- collector and the sealer already validated (~2 µs/event)
)"""

#: Interface 3: the local warehouse's per-thread repository labels. Never delivered anywhere;
#: filled (by replay/tap) from capture metadata lines; ``--project`` filters on it.
THREAD_PROJECTS_DDL: Final = """
CREATE TABLE IF NOT EXISTS thread_projects (
    thread_id VARCHAR PRIMARY KEY,
    repo_hash VARCHAR,
    repo_name VARCHAR,
    branch    VARCHAR
)"""

SCHEMA_VERSION_DDL: Final = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"


def family_ddl(family: Family) -> str:
    """``CREATE TABLE`` of one family table (no key: rows are only added for new events)."""
    columns = ",\n    ".join(
        ["event_id VARCHAR NOT NULL", *(f"{c.name} {c.type}" for c in family.columns)]
    )
    return f"CREATE TABLE IF NOT EXISTS {family.table} (\n    {columns}\n)"


def _json_shape(family: Family) -> str:
    """The ``from_json`` structure of the extracted columns: one JSON parse per event."""
    shape: dict[str, object] = {}
    for column in family.columns:
        if column.derive is not None:
            continue
        node = shape
        for key in column.path[:-1]:
            child = node.setdefault(key, {})
            assert isinstance(child, dict)
            node = child
        node[column.path[-1]] = column.type
    return json.dumps({"event_params": shape})


def duckdb_fill_sql(family: Family, source: str) -> str:
    """DuckDB ``INSERT … SELECT`` filling ``family`` from the events of ``source``.

    ``source`` is a table or subquery with ``event_id``, ``event_type`` and ``payload``: a batch
    being inserted, or ``events`` itself when an older warehouse is upgraded.
    """
    extracted = [c for c in family.columns if c.derive is None]
    inner = ", ".join(
        "j.event_params." + ".".join(f'"{k}"' for k in c.path) + f" AS {c.name}" for c in extracted
    )
    outer = ", ".join(
        c.name if c.derive is None else f"{c.sql()} AS {c.name}" for c in family.columns
    )
    types = ", ".join(f"'{t}'" for t in family.event_types)
    names = ", ".join(["event_id", *(c.name for c in family.columns)])
    shape = _json_shape(family).replace("'", "''")
    return (
        f"INSERT INTO {family.table} ({names}) SELECT event_id, {outer} FROM ("
        f"SELECT event_id, event_type, {inner} FROM ("
        f"SELECT event_id, event_type, from_json(payload, '{shape}') AS j FROM {source} "
        f"WHERE event_type IN ({types})) AS parsed) AS extracted"
    )
