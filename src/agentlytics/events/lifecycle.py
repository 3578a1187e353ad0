"""Thread/steer events (temporary)."""

from __future__ import annotations

from typing import ClassVar

from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.events.envelope import EventParams


class ThreadInitialized(EventParams):
    EVENT_TYPE: ClassVar[str] = "codex_thread_initialized"
    thread_id: str
    session_id: str
    app_server_client: AppServerClient
    runtime: Runtime
    model: str
    ephemeral: bool
    thread_source: str | None
    initialization_mode: str
    subagent_source: str | None
    parent_thread_id: str | None
    forked_from_thread_id: str | None
    created_at: int


class TurnSteerEvent(EventParams):
    EVENT_TYPE: ClassVar[str] = "codex_turn_steer_event"
    thread_id: str
    session_id: str
    expected_turn_id: str | None
    accepted_turn_id: str | None
    app_server_client: AppServerClient
    runtime: Runtime
    thread_source: str | None
    subagent_source: str | None
    parent_thread_id: str | None
    num_input_images: int
    result: str
    rejection_reason: str | None
    created_at: int
