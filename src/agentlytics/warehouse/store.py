"""The embedded warehouse: one DuckDB file, one ``events`` table, idempotent on event id.

Every event is stored whole (``payload`` is its exact JSON) next to the columns reports filter
on. Family views (``turns``, ``tool_calls``, ``reviews``, …) extract typed columns from the
payload, so adding a field to an event never needs a migration.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from agentlytics.events.envelope import Envelope

DEFAULT_PATH = Path("agentlytics.duckdb")

#: WAL size that triggers a checkpoint. DuckDB's default (16 MiB, about 15k events here) makes
#: a writer that commits often — the collector — checkpoint so often that the cost per event
#: grows with the table (measured 18 → 28 → 50 µs/event over three 85k-event rounds); at
#: 256 MiB it stays flat (about 14 µs/event, checkpoints included). The WAL is durable either
#: way; a restart after a crash replays at most this much.
CHECKPOINT_THRESHOLD = "256MB"

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id   VARCHAR PRIMARY KEY,
    event_type VARCHAR NOT NULL,
    thread_id  VARCHAR,
    turn_id    VARCHAR,
    payload    VARCHAR NOT NULL  -- JSON text; VARCHAR, as JSON would re-validate what the
                                 -- collector and the sealer already validated (~2 µs/event)
);
CREATE OR REPLACE VIEW turns AS
SELECT
    event_id,
    payload->>'$.event_params.thread_id'                    AS thread_id,
    payload->>'$.event_params.turn_id'                      AS turn_id,
    payload->>'$.event_params.status'                       AS status,
    payload->>'$.event_params.model'                        AS model,
    payload->>'$.event_params.app_server_client.client_name' AS client_name,
    CAST(payload->>'$.event_params.duration_ms' AS BIGINT)      AS duration_ms,
    CAST(payload->>'$.event_params.total_tool_call_count' AS BIGINT) AS tool_calls,
    CAST(payload->>'$.event_params.total_tokens' AS BIGINT)     AS total_tokens,
    CAST(payload->>'$.event_params.steer_count' AS BIGINT)      AS steer_count,
    CAST(payload->>'$.event_params.completed_at' AS BIGINT)     AS completed_at
FROM events WHERE event_type = 'codex_turn_event';
CREATE OR REPLACE VIEW tool_calls AS
SELECT
    event_id,
    event_type,
    replace(replace(event_type, 'codex_', ''), '_event', '')   AS kind,
    payload->>'$.event_params.thread_id'                      AS thread_id,
    payload->>'$.event_params.turn_id'                        AS turn_id,
    payload->>'$.event_params.item_id'                        AS item_id,
    payload->>'$.event_params.tool_name'                      AS tool_name,
    payload->>'$.event_params.terminal_status'                AS terminal_status,
    payload->>'$.event_params.failure_kind'                   AS failure_kind,
    payload->>'$.event_params.final_approval_outcome'         AS final_approval_outcome,
    CAST(payload->>'$.event_params.review_count' AS BIGINT)       AS review_count,
    CAST(payload->>'$.event_params.duration_ms' AS BIGINT)        AS duration_ms,
    CAST(payload->>'$.event_params.execution_duration_ms' AS BIGINT) AS execution_duration_ms,
    CAST(payload->>'$.event_params.started_at_ms' AS BIGINT)      AS started_at_ms
FROM events
WHERE event_type IN (
    'codex_command_execution_event', 'codex_file_change_event', 'codex_mcp_tool_call_event',
    'codex_dynamic_tool_call_event', 'codex_collab_agent_tool_call_event',
    'codex_web_search_event', 'codex_image_generation_event'
);
CREATE OR REPLACE VIEW reviews AS
SELECT
    event_id,
    payload->>'$.event_params.thread_id'       AS thread_id,
    payload->>'$.event_params.turn_id'         AS turn_id,
    payload->>'$.event_params.item_id'         AS item_id,
    payload->>'$.event_params.review_id'       AS review_id,
    payload->>'$.event_params.subject_kind'    AS subject_kind,
    payload->>'$.event_params.subject_name'    AS subject_name,
    payload->>'$.event_params.reviewer'        AS reviewer,
    payload->>'$.event_params.trigger'         AS trigger,
    payload->>'$.event_params.status'          AS status,
    payload->>'$.event_params.resolution'      AS resolution,
    payload->>'$.event_params.command_source'  AS command_source,
    CAST(payload->>'$.event_params.duration_ms' AS BIGINT)   AS duration_ms,
    CAST(payload->>'$.event_params.started_at_ms' AS BIGINT) AS started_at_ms,
    CAST(payload->>'$.event_params.completed_at_ms' AS BIGINT) AS completed_at_ms,
    payload->>'$.event_params.status' = 'approved'           AS approved
FROM events WHERE event_type = 'codex_review_event';
"""


#: A batch as the five columns of ``events``: ids, types, thread ids, turn ids, payload bytes.
Columns = tuple[list[str], list[str], list[str | None], list[str | None], list[bytes]]


def batch_columns(batch: Sequence[Envelope]) -> Columns:
    """The batch as :data:`Columns` (what :meth:`Warehouse.insert_columns` takes)."""
    return (
        [e.event_id for e in batch],
        [e.event_type for e in batch],
        [e.thread_id for e in batch],
        [e.turn_id for e in batch],
        [e.body for e in batch],
    )


class Warehouse:
    """A DuckDB warehouse file (or ``:memory:``) holding every stored event once."""

    def __init__(self, path: Path | str = DEFAULT_PATH, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.con = duckdb.connect(self.path, read_only=read_only)
        if not read_only:
            self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            self.con.execute(SCHEMA)

    def insert(self, batch: Sequence[Envelope]) -> int:
        """Store a batch; events whose id is already stored are skipped. Returns rows added."""
        return len(self.insert_new_ids(batch))

    def insert_new_ids(self, batch: Sequence[Envelope]) -> set[str]:
        """Store a batch in one statement; the ids of the rows it added (duplicates skipped)."""
        if not batch:
            return set()
        new = self.insert_columns(*batch_columns(batch))
        return {e.event_id for e in batch} if new is None else set(new)

    def insert_columns(
        self,
        event_ids: list[str],
        event_types: list[str],
        thread_ids: list[str | None],
        turn_ids: list[str | None],
        payloads: list[bytes],
    ) -> list[str] | None:
        """Store one batch given as columns: None when every event was new, else the new ids.

        The columns go to DuckDB as an Arrow table (one C conversion per column, read in place,
        rather than Python values one by one). A plain ``INSERT`` first: conflict handling
        (``OR IGNORE``) costs DuckDB about 3 µs an event even when nothing conflicts, and new
        events are the common case. A duplicate key (a retried or replayed batch) fails that
        statement whole — nothing of it is kept — and the batch goes again with ``OR IGNORE``,
        which also skips repeats within the batch.
        """
        table = pa.table(
            {
                "event_id": pa.array(event_ids, pa.string()),
                "event_type": pa.array(event_types, pa.string()),
                "thread_id": pa.array(thread_ids, pa.string()),
                "turn_id": pa.array(turn_ids, pa.string()),
                "payload": pa.array(payloads, pa.binary()).cast(pa.string()),
            }
        )
        try:
            # The relation API spares registering a view per batch (~0.4 ms a statement).
            self.con.from_arrow(table).insert_into("events")
            return None
        except duckdb.ConstraintException:
            pass
        self.con.register("batch", table)
        try:
            rows = self.con.execute(
                "INSERT OR IGNORE INTO events SELECT * FROM batch RETURNING event_id"
            ).fetchall()
        finally:
            self.con.unregister("batch")
        return [row[0] for row in rows]

    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
