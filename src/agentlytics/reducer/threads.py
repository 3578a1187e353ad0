"""Connections and threads → ``codex_thread_initialized`` (spec §2.1, §2.3, §2.9, §6.1)."""

from __future__ import annotations

from typing import Any

from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.events.envelope import TrackEvent, track
from agentlytics.events.lifecycle import ThreadInitialized
from agentlytics.facts import (
    ClientResponse,
    ConnectionClosed,
    Fact,
    Initialize,
    SubAgentThreadStarted,
    ThreadClosed,
)
from agentlytics.protocol.types import ThreadStartResponse
from agentlytics.reducer.core import Handler
from agentlytics.reducer.state import (
    ConnectionState,
    ReducerState,
    ThreadMetadata,
    ThreadScope,
    ThreadState,
)
from agentlytics.vocabulary import InitializationMode

INITIALIZATION_MODE: dict[str, InitializationMode] = {
    "thread/start": "new",
    "thread/resume": "resumed",
    "thread/fork": "forked",
}


def runtime_of(fact_runtime: Any) -> Runtime:
    return Runtime(
        codex_rs_version=fact_runtime.codex_rs_version,
        runtime_os=fact_runtime.runtime_os,
        runtime_os_version=fact_runtime.runtime_os_version,
        runtime_arch=fact_runtime.runtime_arch,
    )


def on_initialize(state: ReducerState, fact: Initialize) -> list[TrackEvent]:
    """Store (or replace) the connection's client and runtime metadata. Emits nothing."""
    state.connections[fact.connection_id] = ConnectionState(
        app_server_client=AppServerClient(
            product_client_id=fact.product_client_id,
            client_name=fact.client_name,
            client_version=fact.client_version,
            rpc_transport=fact.rpc_transport,
            experimental_api_enabled=fact.experimental_api_enabled,
        ),
        runtime=runtime_of(fact.runtime),
    )
    return []


def _subagent_source(source: Any) -> str | None:
    if isinstance(source, dict):
        sub = source.get("subAgent")
        if isinstance(sub, str):
            return sub
        if isinstance(sub, dict) and len(sub) == 1:
            key, value = next(iter(sub.items()))
            return value if key == "other" and isinstance(value, str) else str(key)
    return None


def _spawn_parent(source: Any) -> str | None:
    if isinstance(source, dict):
        sub = source.get("subAgent")
        if isinstance(sub, dict):
            spawn = sub.get("thread_spawn")
            if isinstance(spawn, dict):
                parent = spawn.get("parent_thread_id")
                return parent if isinstance(parent, str) else None
    return None


def on_client_response(state: ReducerState, fact: ClientResponse) -> list[TrackEvent]:
    """Only thread/start|resume|fork results are this family's (turns read the others)."""
    if fact.method not in INITIALIZATION_MODE:
        return []
    return on_thread_response(state, fact)


def on_thread_response(state: ReducerState, fact: ClientResponse) -> list[TrackEvent]:
    """thread/start|resume|fork result: register the thread on this connection, announce it."""
    response = fact.response
    assert isinstance(response, ThreadStartResponse)
    connection = state.connections.get(fact.connection_id)
    if connection is None:
        state.drop("thread initialized: connection not initialized")
        return []
    thread = response.thread
    metadata = ThreadMetadata(
        session_id=thread.session_id or thread.id,
        thread_source=thread.thread_source,
        initialization_mode=INITIALIZATION_MODE[fact.method],
        subagent_source=_subagent_source(thread.source),
        # Explicit parent, else the ThreadSpawn source's parent (decision 4).
        parent_thread_id=thread.parent_thread_id or _spawn_parent(thread.source),
    )
    previous = state.threads.get(thread.id)
    state.threads[thread.id] = ThreadState(
        connection_id=fact.connection_id,
        metadata=metadata,
        lingering_turns=previous.lingering_turns if previous else [],
        active_epoch=state.epoch,
    )
    created_at = thread.created_at if thread.created_at is not None else 0
    scope = ThreadScope.of(thread.id, connection, metadata)
    return [
        track(
            ThreadInitialized(
                thread_id=scope.thread_id,
                session_id=scope.session_id,
                app_server_client=scope.app_server_client,
                runtime=scope.runtime,
                model=response.model or thread.model or "",
                ephemeral=thread.ephemeral,
                thread_source=scope.thread_source,
                initialization_mode=scope.initialization_mode,
                subagent_source=scope.subagent_source,
                parent_thread_id=scope.parent_thread_id,
                forked_from_thread_id=thread.forked_from_id,
                created_at=max(created_at, 0),
            )
        )
    ]


def on_subagent_thread_started(
    state: ReducerState, fact: SubAgentThreadStarted
) -> list[TrackEvent]:
    """A spawned thread: inherits the parent's connection; announced from the fact alone."""
    parent_id = fact.parent_thread_id or fact.spawn_parent_thread_id
    parent_connection = state.thread_connection_id(parent_id) if parent_id else None
    thread = state.threads.get(fact.thread_id)
    if thread is None:
        thread = ThreadState()
        state.threads[fact.thread_id] = thread
    thread.active_epoch = state.epoch
    if thread.metadata is None:
        thread.metadata = ThreadMetadata(
            session_id=fact.session_id,
            thread_source="subagent",
            initialization_mode="new",
            subagent_source=fact.subagent_source,
            parent_thread_id=parent_id,
        )
    if thread.connection_id is None:
        thread.connection_id = parent_connection
    runtime: Runtime
    if fact.runtime is not None:
        runtime = runtime_of(fact.runtime)
    elif parent_connection is not None and parent_connection in state.connections:
        runtime = state.connections[parent_connection].runtime
    else:
        state.drop("subagent thread initialized: no runtime known")
        return []
    return [
        track(
            ThreadInitialized(
                thread_id=fact.thread_id,
                session_id=fact.session_id,
                app_server_client=AppServerClient(
                    product_client_id=fact.product_client_id,
                    client_name=fact.client_name,
                    client_version=fact.client_version,
                    rpc_transport="in_process",
                    experimental_api_enabled=None,
                ),
                runtime=runtime,
                model=fact.model,
                ephemeral=fact.ephemeral,
                thread_source="subagent",
                initialization_mode="new",
                subagent_source=fact.subagent_source,
                parent_thread_id=parent_id,
                forked_from_thread_id=fact.forked_from_thread_id,
                created_at=max(fact.created_at, 0),
            )
        )
    ]


def on_thread_closed(state: ReducerState, fact: ThreadClosed) -> list[TrackEvent]:
    state.remove_thread(fact.thread_id)
    return []


def on_connection_closed(state: ReducerState, fact: ConnectionClosed) -> list[TrackEvent]:
    state.remove_connection(fact.connection_id)
    return []


HANDLERS: dict[type[Fact], Handler] = {
    Initialize: on_initialize,
    ConnectionClosed: on_connection_closed,
    ClientResponse: on_client_response,
    SubAgentThreadStarted: on_subagent_thread_started,
    ThreadClosed: on_thread_closed,
}
