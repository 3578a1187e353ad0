-- agentlytics past PostgreSQL: the ClickHouse side (see docs/scaling.md).
--
-- Stateless collectors produce each stored batch to Kafka (topic agentlytics.events, key =
-- thread id, value = the event's exact JSON, headers event_id / event_type / event_day).
-- ClickHouse consumes the topic into `events`; materialized views fill the typed family tables
-- (the same columns as the DuckDB and PostgreSQL stores: agentlytics/warehouse/schema.py).
--
-- Exactly once, eventually: Kafka delivery is at least once, and a client may retry a batch
-- through another collector. Every table is a ReplacingMergeTree whose sorting key holds the
-- event id, so merges keep one row per event; queries read with FINAL (or GROUP BY event_id)
-- until they have. The partition key is the event's own day (event_day: from its time fields,
-- computed by the collector, 1970-01-01 for the families that carry no time), never the
-- arrival time: a retry across midnight lands in the same partition, where it is deduplicated.

CREATE TABLE IF NOT EXISTS events
(
    event_id   String,
    event_type LowCardinality(String),
    thread_id  Nullable(String),
    turn_id    Nullable(String),
    event_day  Date,
    payload    String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PARTITION BY event_day
ORDER BY event_id;

-- The Kafka source (production only; needs a broker):
-- CREATE TABLE events_queue (event_id String, event_type String, thread_id Nullable(String),
--     turn_id Nullable(String), event_day Date, payload String)
-- ENGINE = Kafka SETTINGS kafka_broker_list = 'kafka:9092', kafka_topic_list = 'agentlytics.events',
--     kafka_group_name = 'clickhouse-agentlytics', kafka_format = 'JSONEachRow';
-- CREATE MATERIALIZED VIEW events_from_kafka TO events AS SELECT * FROM events_queue;

CREATE TABLE IF NOT EXISTS turns
(
    event_id String, thread_id Nullable(String), turn_id Nullable(String),
    status LowCardinality(Nullable(String)), model LowCardinality(Nullable(String)),
    client_name LowCardinality(Nullable(String)), product_client_id Nullable(String),
    duration_ms Nullable(Int64), tool_calls Nullable(Int64),
    input_tokens Nullable(Int64), cached_input_tokens Nullable(Int64),
    output_tokens Nullable(Int64), reasoning_output_tokens Nullable(Int64),
    total_tokens Nullable(Int64), started_at Nullable(Int64), completed_at Nullable(Int64),
    ts_ms Nullable(Int64), event_day Date
)
ENGINE = ReplacingMergeTree
PARTITION BY event_day
ORDER BY event_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS turns_from_events TO turns AS
SELECT
    event_id,
    JSONExtract(payload, 'event_params', 'thread_id', 'Nullable(String)') AS thread_id,
    JSONExtract(payload, 'event_params', 'turn_id', 'Nullable(String)') AS turn_id,
    JSONExtract(payload, 'event_params', 'status', 'Nullable(String)') AS status,
    JSONExtract(payload, 'event_params', 'model', 'Nullable(String)') AS model,
    JSONExtract(payload, 'event_params', 'app_server_client', 'client_name', 'Nullable(String)')
        AS client_name,
    JSONExtract(payload, 'event_params', 'app_server_client', 'product_client_id',
        'Nullable(String)') AS product_client_id,
    JSONExtract(payload, 'event_params', 'duration_ms', 'Nullable(Int64)') AS duration_ms,
    JSONExtract(payload, 'event_params', 'total_tool_call_count', 'Nullable(Int64)') AS tool_calls,
    JSONExtract(payload, 'event_params', 'input_tokens', 'Nullable(Int64)') AS input_tokens,
    JSONExtract(payload, 'event_params', 'cached_input_tokens', 'Nullable(Int64)')
        AS cached_input_tokens,
    JSONExtract(payload, 'event_params', 'output_tokens', 'Nullable(Int64)') AS output_tokens,
    JSONExtract(payload, 'event_params', 'reasoning_output_tokens', 'Nullable(Int64)')
        AS reasoning_output_tokens,
    JSONExtract(payload, 'event_params', 'total_tokens', 'Nullable(Int64)') AS total_tokens,
    JSONExtract(payload, 'event_params', 'started_at', 'Nullable(Int64)') AS started_at,
    JSONExtract(payload, 'event_params', 'completed_at', 'Nullable(Int64)') AS completed_at,
    coalesce(started_at, completed_at) * 1000 AS ts_ms,
    event_day
FROM events
WHERE event_type = 'codex_turn_event';

CREATE TABLE IF NOT EXISTS tool_calls
(
    event_id String, event_type LowCardinality(String), kind LowCardinality(String),
    thread_id Nullable(String), turn_id Nullable(String), item_id Nullable(String),
    tool_name Nullable(String), client_name LowCardinality(Nullable(String)),
    terminal_status LowCardinality(Nullable(String)), failure_kind Nullable(String),
    duration_ms Nullable(Int64), started_at_ms Nullable(Int64), ts_ms Nullable(Int64),
    event_day Date
)
ENGINE = ReplacingMergeTree
PARTITION BY event_day
ORDER BY event_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS tool_calls_from_events TO tool_calls AS
SELECT
    event_id,
    event_type,
    replaceAll(replaceAll(event_type, 'codex_', ''), '_event', '') AS kind,
    JSONExtract(payload, 'event_params', 'thread_id', 'Nullable(String)') AS thread_id,
    JSONExtract(payload, 'event_params', 'turn_id', 'Nullable(String)') AS turn_id,
    JSONExtract(payload, 'event_params', 'item_id', 'Nullable(String)') AS item_id,
    JSONExtract(payload, 'event_params', 'tool_name', 'Nullable(String)') AS tool_name,
    JSONExtract(payload, 'event_params', 'app_server_client', 'client_name', 'Nullable(String)')
        AS client_name,
    JSONExtract(payload, 'event_params', 'terminal_status', 'Nullable(String)') AS terminal_status,
    JSONExtract(payload, 'event_params', 'failure_kind', 'Nullable(String)') AS failure_kind,
    JSONExtract(payload, 'event_params', 'duration_ms', 'Nullable(Int64)') AS duration_ms,
    JSONExtract(payload, 'event_params', 'started_at_ms', 'Nullable(Int64)') AS started_at_ms,
    started_at_ms AS ts_ms,
    event_day
FROM events
WHERE event_type IN (
    'codex_command_execution_event', 'codex_file_change_event', 'codex_mcp_tool_call_event',
    'codex_dynamic_tool_call_event', 'codex_collab_agent_tool_call_event',
    'codex_web_search_event', 'codex_image_generation_event');

-- Report: tools (agentlytics report tools). quantileExactInclusive interpolates linearly, as
-- DuckDB's quantile_cont and PostgreSQL's percentile_cont do.
-- name: tools
SELECT kind, tool_name, count() AS calls,
       countIf(terminal_status != 'completed') AS failed,
       quantileExactInclusive(0.5)(duration_ms) AS p50_ms,
       quantileExactInclusive(0.95)(duration_ms) AS p95_ms,
       quantileExactInclusive(0.99)(duration_ms) AS p99_ms
FROM tool_calls FINAL
GROUP BY kind, tool_name
ORDER BY calls DESC, kind, tool_name;

-- Report: daily (agentlytics report daily; cost joins the price table as the other stores do).
-- name: daily
SELECT formatDateTime(fromUnixTimestamp64Milli(ts_ms, 'UTC'), '%F', 'UTC') AS day,
       count() AS turns,
       sum(coalesce(input_tokens, 0)) AS input_tokens,
       sum(coalesce(cached_input_tokens, 0)) AS cached_input_tokens,
       sum(coalesce(output_tokens, 0)) AS output_tokens,
       sum(coalesce(reasoning_output_tokens, 0)) AS reasoning_output_tokens,
       sum(coalesce(total_tokens, 0)) AS total_tokens
FROM turns FINAL
GROUP BY day
ORDER BY day;
