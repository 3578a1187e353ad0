-- The warehouse layout before schema versions (agentlytics 0.1, schema 1).
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
