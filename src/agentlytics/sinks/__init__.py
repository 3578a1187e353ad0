"""Where sealed events go: JSONL files, DuckDB, an HTTP backend, PostgreSQL, ..."""
