"""Expected event JSON shared by tests that reach the same event by different paths.

reducer.md §7.1 no. 23 (compaction, V-main key set) is built from the catalog struct, from a
compaction fact through the reducer, and through the library API; the three must agree on the
exact bytes, so the expectation is written once here.
"""

from __future__ import annotations

from typing import Any

TUI_RUNTIME_JSON = {
    "codex_rs_version": "0.1.0",
    "runtime_os": "macos",
    "runtime_os_version": "15.3.1",
    "runtime_arch": "aarch64",
}


def tui_client_json(
    product_client_id: str, experimental_api_enabled: bool | None
) -> dict[str, Any]:
    return {
        "product_client_id": product_client_id,
        "client_name": "codex-tui",
        "client_version": "1.0.0",
        "rpc_transport": "stdio",
        "experimental_api_enabled": experimental_api_enabled,
    }


def compaction_event_23(app_server_client: dict[str, Any]) -> dict[str, Any]:
    """``codex_compaction_event`` of §7.1 no. 23 (``codex_error_*`` instead of ``error``)."""
    return {
        "event_type": "codex_compaction_event",
        "event_params": {
            "thread_id": "thread-1",
            "session_id": "session-thread-1",
            "turn_id": "turn-1",
            "app_server_client": app_server_client,
            "runtime": TUI_RUNTIME_JSON,
            "thread_source": "user",
            "subagent_source": None,
            "parent_thread_id": None,
            "trigger": "auto",
            "reason": "context_limit",
            "implementation": "responses_compact",
            "phase": "mid_turn",
            "strategy": "memento",
            "status": "completed",
            "codex_error_kind": None,
            "codex_error_http_status_code": None,
            "active_context_tokens_before": 120000,
            "active_context_tokens_after": 18000,
            "retained_image_count": None,
            "compaction_summary_tokens": None,
            "cached_input_tokens": None,
            "cache_write_input_tokens": None,
            "started_at": 100,
            "completed_at": 106,
            "duration_ms": 6543,
        },
    }
