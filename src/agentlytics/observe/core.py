"""The core's readers: the connection, thread, turn and item facts every family builds on.

:class:`~agentlytics.observe.edge.WireObserver` dispatches to these by method before any
family's handler; they read the observer through :class:`CoreObserver` (which it is), so this
module sits below the edge and knows nothing of its tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import msgspec

from agentlytics.facts import (
    ClientResponse,
    Fact,
    Initialize,
    ItemCompleted,
    ItemStarted,
    ThreadArchived,
    ThreadClosed,
    TurnCompleted,
    TurnDiffUpdated,
    TurnInterruptResponse,
    TurnStarted,
)
from agentlytics.observe.decode import (
    decode,
    runtime_from_user_agent,
    spawn_parent,
    subagent_source_name,
)
from agentlytics.observe.pending import Pending
from agentlytics.observe.synthesize import Synthesizer
from agentlytics.protocol import types as t
from agentlytics.protocol.methods import THREAD_ITEM_TYPES
from agentlytics.protocol.wire import RequestId
from agentlytics.vocabulary import RpcTransport

THREAD_RESPONSES = frozenset({"thread/start", "thread/resume", "thread/fork"})

#: The client results :func:`client_result` reads; no family may claim them.
CLIENT_RESULTS = frozenset(
    {"initialize", *THREAD_RESPONSES, "turn/start", "turn/steer", "turn/interrupt"}
)


class CoreObserver(Protocol):
    """What the core's readers use of the observer: its identity, synthesiser, drop counter,
    and the families' item and turn hooks (run where the core's facts say)."""

    connection_id: int
    rpc_transport: RpcTransport
    synth: Synthesizer

    def _drop(self, reason: str, detail: str = "") -> None: ...

    def run_turn_started_hooks(self, thread_id: str, turn: t.Turn, ts_ms: int) -> list[Fact]: ...

    def run_turn_completed_hooks(self, thread_id: str, turn: t.Turn, ts_ms: int) -> list[Fact]: ...

    def run_item_hooks(self, n: t.ItemNotification, completed: bool, ts_ms: int) -> list[Fact]: ...


def client_result(
    obs: CoreObserver,
    request_id: RequestId,
    pending: Pending,
    result: msgspec.Raw | None,
    ts_ms: int,
) -> list[Fact] | None:
    """The facts of a result of a client request in :data:`CLIENT_RESULTS`, else None."""
    method = pending.method
    conn = obs.connection_id
    if method == "initialize":
        params = decode(pending.params, t.InitializeParams)
        response = decode(result, t.InitializeResponse)
        runtime = runtime_from_user_agent(response.user_agent, response.platform_os)
        info = params.client_info
        obs.synth.client_name = info.name or None
        obs.synth.client_version = info.version or None
        obs.synth.runtime = runtime
        obs.synth.codex_home = response.codex_home
        caps = params.capabilities
        return [
            Initialize(
                connection_id=conn,
                client_name=info.name or None,
                client_version=info.version or None,
                experimental_api_enabled=caps.experimental_api if caps is not None else None,
                product_client_id=info.name,
                runtime=runtime,
                rpc_transport=obs.rpc_transport,
            )
        ]
    if method in THREAD_RESPONSES:
        thread_response = decode(result, t.ThreadStartResponse)
        obs.synth.thread_response(thread_response)
        return [ClientResponse(conn, request_id, method, thread_response, ts_ms)]
    if method == "turn/start":
        turn_response = decode(result, t.TurnStartResponse)
        params = pending.decoded
        if not isinstance(params, t.TurnStartParams):  # its decoding failed (a counted drop)
            params = decode(pending.params, t.TurnStartParams)
        obs.synth.turn_start_accepted(params)
        return [ClientResponse(conn, request_id, method, turn_response, ts_ms)]
    if method == "turn/steer":
        steer = decode(result, t.TurnSteerResponse)
        return [ClientResponse(conn, request_id, method, steer, ts_ms)]
    if method == "turn/interrupt":
        return [ClientResponse(conn, request_id, method, TurnInterruptResponse(), ts_ms)]
    return None


def turn_started(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.TurnNotification)
    facts = obs.synth.turn_started(n.thread_id, n.turn)
    facts.append(TurnStarted(obs.connection_id, n.thread_id, n.turn))
    facts += obs.run_turn_started_hooks(n.thread_id, n.turn, ts_ms)
    return facts


def turn_completed(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.TurnNotification)
    facts = obs.synth.turn_completed(n.thread_id, n.turn)
    facts += obs.run_turn_completed_hooks(n.thread_id, n.turn, ts_ms)
    facts.append(TurnCompleted(obs.connection_id, n.thread_id, n.turn, ts_ms))
    return facts


def _item(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int, completed: bool) -> list[Fact]:
    try:
        n = decode(params, t.ItemNotification)
    except msgspec.ValidationError:
        unknown = decode(params, t.UnknownItemNotification)
        if unknown.item.type not in THREAD_ITEM_TYPES:  # newer than 0.171.0: counted
            obs._drop("unknown item type", unknown.item.type)
        return []
    item = n.item
    if not isinstance(item, t.FACT_ITEMS):
        return []  # messages, reasoning, plans, …: nothing analytics counts or times
    kind = t.item_type(item)
    facts: list[Fact] = []
    if isinstance(item, t.SubAgentActivityItem) and item.kind == "started" and item.agent_thread_id:
        facts += obs.synth.subagent_spawned(
            n.thread_id, item.agent_thread_id, item.model, item.reasoning_effort, ts_ms
        )
    elif (
        completed
        and isinstance(item, t.CollabAgentToolCallItem)
        and item.tool == "spawnAgent"
        and item.status == "completed"
    ):
        for child in item.receiver_thread_ids:
            facts += obs.synth.subagent_spawned(
                n.thread_id, child, item.model, item.reasoning_effort, ts_ms
            )
    if completed:
        facts.append(
            ItemCompleted(
                obs.connection_id,
                n.thread_id,
                n.turn_id,
                kind,
                item.id,
                item,
                n.completed_at_ms,
            )
        )
    else:
        facts.append(
            ItemStarted(
                obs.connection_id,
                n.thread_id,
                n.turn_id,
                kind,
                item.id,
                item,
                n.started_at_ms,
            )
        )
    facts += obs.run_item_hooks(n, completed, ts_ms)
    return facts


def item_started(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    return _item(obs, params, ts_ms, completed=False)


def item_completed(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    return _item(obs, params, ts_ms, completed=True)


def diff(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.TurnDiffUpdatedNotification)
    return [TurnDiffUpdated(n.thread_id, n.turn_id, n.diff)]


def token_usage(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.ThreadTokenUsageUpdatedNotification)
    obs.synth.token_usage(n.thread_id, n.turn_id, n.token_usage.total, n.token_usage.last)
    return []


def settings(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.ThreadSettingsUpdatedNotification)
    obs.synth.settings_updated(n.thread_id, n.thread_settings)
    return []


def thread_started(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.ThreadStartedNotification)
    thread = n.thread
    parent = thread.parent_thread_id or spawn_parent(thread.source)
    if parent is None:
        return []
    source = subagent_source_name(thread.source) or "thread_spawn"
    return obs.synth.subagent_spawned(parent, thread.id, thread.model, None, ts_ms, source)


def archived(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.ThreadIdNotification)
    return [ThreadArchived(obs.connection_id, n.thread_id, "archived", ts_ms)]


def unarchived(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.ThreadIdNotification)
    return [ThreadArchived(obs.connection_id, n.thread_id, "unarchived", ts_ms)]


def closed(obs: CoreObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(params, t.ThreadIdNotification)
    obs.synth.threads.pop(n.thread_id, None)
    return [ThreadClosed(obs.connection_id, n.thread_id)]


#: The notifications the core reads (connection, threads, turns, items).
NOTIFICATIONS: Mapping[str, Callable[[CoreObserver, msgspec.Raw | None, int], list[Fact]]] = {
    "turn/started": turn_started,
    "turn/completed": turn_completed,
    "item/started": item_started,
    "item/completed": item_completed,
    "turn/diff/updated": diff,
    "thread/tokenUsage/updated": token_usage,
    "thread/settings/updated": settings,
    "thread/started": thread_started,
    "thread/archived": archived,
    "thread/unarchived": unarchived,
    "thread/closed": closed,
}
