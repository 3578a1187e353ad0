"""The library API: ``track_*`` calls for programs that host an agent (spec §2.3).

A program that talks JSON-RPC to a Codex app-server (or hosts its own agent) reports what it
sees, and gets exactly the events a capture of the same traffic would give: the protocol calls
(``track_request``, ``track_response``, ``track_notification``, …) go through the same edge
(:class:`~agentlytics.observe.edge.WireObserver`: request/response correlation, synthesised
turn config and token usage, hooks, goals, compaction), and the custom calls (skills, apps,
plugins, goals, hooks, compaction) build the facts Codex makes in-process.

Every ``track_*`` only snapshots what it was given and hands it to a
:class:`~agentlytics.library.delivery.Delivery` (``submit`` never blocks on I/O; with
:class:`~agentlytics.library.delivery.InlineDelivery` everything runs inline). Even the edge's work
on protocol messages runs where the delivery reduces, not on the caller's thread (see
:mod:`agentlytics.observe.deferred`). The exception is the skill repo lookup, which runs git
once per directory (cached) before the skill fact is built: the reducer never does I/O.

Usage is in ``docs/library.md``.
"""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, get_args

import msgspec

from agentlytics.drops import Drops
from agentlytics.facts import (
    AppInvocation,
    AppMentioned,
    AppUsed,
    CompactionFact,
    Fact,
    GoalFact,
    HookRunFact,
    PluginMetadata,
    PluginStateChanged,
    PluginUsed,
    SkillInvoked,
    TrackingContext,
)
from agentlytics.library.delivery import Delivery, InlineDelivery
from agentlytics.observe.deferred import (
    AbortedRequest,
    ClosedConnection,
    Deferred,
    DeferredTracking,
    InContext,
    ObservedMessage,
)
from agentlytics.observe.hook_runs import HOOK_SOURCES, HOOK_STATUSES
from agentlytics.observe.hook_runs import hook_name as pascal_hook_name
from agentlytics.observe.skills import (
    HostSkill,
    ResourceSkill,
    SkillInvocation,
    SkillRepoCache,
    resolve_skill,
)
from agentlytics.protocol.depth import TOO_DEEP
from agentlytics.protocol.wire import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    Direction,
    Message,
    RequestId,
)
from agentlytics.sinks.base import Sink
from agentlytics.version import __version__
from agentlytics.vocabulary import (
    CompactionPhase,
    CompactionStatus,
    CompactionTrigger,
    GoalEventKind,
    HookSourceName,
    InvocationType,
    PluginState,
    RpcTransport,
)

#: Dedupe key sets are cleared entirely when they reach this size (spec §2.2), not LRU.
DEDUPE_MAX_KEYS: Final = 4_096
#: The request id ``track_initialize`` uses on the client's connection; never a host id.
_INITIALIZE_ID: Final = "agentlytics:initialize"
_encoder = msgspec.json.Encoder()
_NULL = msgspec.Raw(b"null")

Payload = Mapping[str, Any] | msgspec.Struct | None


def _raw(payload: Payload) -> msgspec.Raw:
    """JSON-RPC params/result as raw JSON (a typed protocol struct encodes to camelCase)."""
    if payload is None:
        return msgspec.Raw()
    try:
        return msgspec.Raw(_encoder.encode(payload))
    except RecursionError:  # nested too deep (or cyclic): a counted drop where it is observed
        return TOO_DEEP


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _check(value: object, allowed: object, what: str) -> None:
    options = get_args(allowed)
    if value not in options:
        raise ValueError(f"{what} must be one of {sorted(map(str, options))}, not {value!r}")


def host_user_agent(name: str) -> tuple[str, str]:
    """(``userAgent``, ``platformOs``) describing this process, for a host without a server
    ``initialize`` result: ``<name>/<agentlytics version> (<OS> <release>; <arch>)``."""
    system = platform.system()
    os_name = {"Darwin": "macos"}.get(system, system.lower() or "unknown")
    release = platform.release() or "unknown"
    arch = platform.machine() or "unknown"
    return f"{name}/{__version__} ({system} {release}; {arch})", os_name


class _KeySet:
    """Per-process dedupe keys; cleared entirely at the cap (upstream's rule, spec §2.2)."""

    def __init__(self) -> None:
        self._keys: set[tuple[str | None, str]] = set()
        self._lock = threading.Lock()

    def first(self, key: tuple[str | None, str]) -> bool:
        """True the first time a key is seen (and records it)."""
        with self._lock:
            if key in self._keys:
                return False
            if len(self._keys) >= DEDUPE_MAX_KEYS:
                self._keys.clear()
            self._keys.add(key)
            return True


class AnalyticsClient:
    """Track what an agent host sees; events reach the delivery's sinks.

    ``delivery`` defaults to an :class:`InlineDelivery` writing to ``sinks``. One client is one
    connection (``connection_id``): give each client sharing a delivery its own id.
    ``enabled=False`` makes every call a no-op (upstream's disabled client).
    """

    def __init__(
        self,
        delivery: Delivery | None = None,
        *,
        sinks: Sequence[Sink] = (),
        connection_id: int = 0,
        rpc_transport: RpcTransport = "stdio",
        product_client_id: str | None = None,
        enabled: bool = True,
        clock: Callable[[], int] = _wall_ms,
        skill_repos: SkillRepoCache | None = None,
    ) -> None:
        _check(rpc_transport, RpcTransport, "rpc_transport")
        self.delivery: Delivery = delivery if delivery is not None else InlineDelivery(sinks)
        self.enabled = enabled
        #: The client's own drops (calls after close); the edge's are the pipeline's.
        self.drops = Drops()
        self.connection_id = connection_id
        self.rpc_transport: RpcTransport = rpc_transport
        self._product_client_id = product_client_id
        self._clock = clock
        self._skill_repos = skill_repos if skill_repos is not None else SkillRepoCache()
        self._lock = threading.Lock()
        self._closed = False
        self._apps_used = _KeySet()
        self._plugins_used = _KeySet()
        self._implicit_resource_skills = _KeySet()

    # --- plumbing -------------------------------------------------------------------------------

    @property
    def product_client_id(self) -> str | None:
        """The configured product client id, else the client name from ``initialize`` (as far
        as the delivery has processed the traffic; events always get the right one)."""
        if self._product_client_id:
            return self._product_client_id
        pipeline = getattr(self.delivery, "pipeline", None)
        observer = pipeline.library_observers.get(self.connection_id) if pipeline else None
        return observer.synth.client_name if observer is not None else None

    def _active(self) -> bool:
        if not self.enabled:
            return False
        if self._closed:
            self.drops.count("track call after close")
            return False
        return True

    def _submit(self, item: Fact | Deferred) -> None:
        # The lock keeps the connection's items in call order across the host's threads.
        with self._lock:
            self.delivery.submit(item)

    def _observe(self, direction: Direction, message: Message, at_ms: int | None) -> None:
        if self._active():
            ts = at_ms if at_ms is not None else self._clock()
            self._submit(
                ObservedMessage(self.connection_id, self.rpc_transport, direction, message, ts)
            )

    def _custom(self, fact: Fact) -> None:
        if not self._active():
            return
        if hasattr(fact, "tracking") or isinstance(fact, PluginStateChanged):
            # What the context leaves open is filled in where the fact is reduced (InContext).
            self._submit(
                InContext(self.connection_id, self.rpc_transport, fact, self._product_client_id)
            )
        else:
            self._submit(fact)

    def tracking(
        self, thread_id: str, turn_id: str | None, model_slug: str | None = None
    ) -> TrackingContext:
        """A tracking context for custom calls: the model defaults to the thread's current one
        (as configured by ``thread/start`` and later overrides), the product to this client's.
        Both are filled in when the event is built, from the traffic tracked before it."""
        return DeferredTracking(
            model_slug=model_slug,
            thread_id=thread_id,
            turn_id=turn_id,
            product_client_id=self._product_client_id,
        )

    # --- the protocol, as the host sees it ------------------------------------------------------

    def track_initialize(
        self, params: Payload, result: Payload = None, *, at_ms: int | None = None
    ) -> None:
        """``initialize`` and its result (``userAgent`` → runtime). Without a result (a host
        with no app-server) the runtime describes this process."""
        if result is None:
            name = "agentlytics"
            if isinstance(params, Mapping):
                info = params.get("clientInfo")
                if isinstance(info, Mapping) and isinstance(info.get("name"), str):
                    name = info["name"]
            user_agent, os_name = host_user_agent(name)
            result = {"userAgent": user_agent, "platformOs": os_name}
        self.track_request("initialize", params, request_id=_INITIALIZE_ID, at_ms=at_ms)
        self.track_response(_INITIALIZE_ID, result, at_ms=at_ms)

    def track_request(
        self, method: str, params: Payload, *, request_id: RequestId, at_ms: int | None = None
    ) -> None:
        """A client → server request (``thread/start``, ``turn/start``, ``turn/steer``, …)."""
        self._observe(
            CLIENT_TO_SERVER, Message(method=method, id=request_id, params=_raw(params)), at_ms
        )

    def track_response(
        self, request_id: RequestId, result: Payload, *, at_ms: int | None = None
    ) -> None:
        """The server's result for a client request (paired by id with ``track_request``)."""
        self._observe(SERVER_TO_CLIENT, Message(id=request_id, result=_raw(result or {})), at_ms)

    def track_error_response(
        self, request_id: RequestId, error: Payload, *, at_ms: int | None = None
    ) -> None:
        """A JSON-RPC error answering a client request (``{"code", "message", "data"}``)."""
        self._observe(SERVER_TO_CLIENT, Message(id=request_id, error=_raw(error or {})), at_ms)

    def track_notification(self, method: str, params: Payload, *, at_ms: int | None = None) -> None:
        """A server notification (``turn/started``, ``item/completed``, ``hook/completed``, …)."""
        self._observe(SERVER_TO_CLIENT, Message(method=method, params=_raw(params)), at_ms)

    def track_server_request(
        self, method: str, params: Payload, *, request_id: RequestId, at_ms: int | None = None
    ) -> None:
        """A server → client request (approvals, tool calls)."""
        self._observe(
            SERVER_TO_CLIENT, Message(method=method, id=request_id, params=_raw(params)), at_ms
        )

    def track_server_response(
        self,
        request_id: RequestId,
        result: Payload = None,
        *,
        error: Payload = None,
        at_ms: int | None = None,
    ) -> None:
        """The host's answer to a server request (a result, or a JSON-RPC ``error``)."""
        message = (
            Message(id=request_id, error=_raw(error))
            if error is not None
            else Message(id=request_id, result=_raw(result or {}))
        )
        self._observe(CLIENT_TO_SERVER, message, at_ms)

    def track_server_request_aborted(
        self, request_id: RequestId, *, at_ms: int | None = None
    ) -> None:
        """A server request withdrawn without an answer (its turn ended, or it was resolved)."""
        if self._active():
            ts = at_ms if at_ms is not None else self._clock()
            self._submit(AbortedRequest(self.connection_id, self.rpc_transport, request_id, ts))

    def track_message(
        self, direction: Direction, message: Mapping[str, Any], *, at_ms: int | None = None
    ) -> None:
        """Any JSON-RPC message as a dict, for hosts that relay raw traffic."""
        _check(direction, Direction, "direction")
        fields = {k: v for k, v in message.items() if k in ("method", "id")}
        for key in ("params", "result", "error"):
            if key in message:
                fields[key] = _raw(message[key]) if message[key] is not None else _NULL
        try:
            decoded = msgspec.convert(fields, Message)
        except msgspec.ValidationError as err:
            raise ValueError(f"not a JSON-RPC message: {err}") from None
        self._observe(direction, decoded, at_ms)

    def track_guardian_review(
        self,
        completed: Payload,
        started: Payload = None,
        *,
        at_ms: int | None = None,
    ) -> None:
        """A guardian (auto-approval) review: its ``item/autoApprovalReview/started`` and
        ``/completed`` notification params, exactly as the app-server sends them."""
        if started is not None:
            self.track_notification("item/autoApprovalReview/started", started, at_ms=at_ms)
        self.track_notification("item/autoApprovalReview/completed", completed, at_ms=at_ms)

    # --- custom facts (made in-process by Codex) ------------------------------------------------

    def track_goal_event(
        self,
        *,
        thread_id: str,
        goal_id: str,
        event_kind: GoalEventKind,
        goal_status: str,
        has_token_budget: bool,
        turn_id: str | None = None,
        cumulative_tokens_accounted: int | None = None,
        cumulative_time_accounted_seconds: int | None = None,
    ) -> None:
        """One goal change (upstream ``CodexGoalEvent``). Counters count only on
        ``usage_accounted``; ``turn_id`` is the causal turn, None for external changes."""
        _check(event_kind, GoalEventKind, "event_kind")
        self._custom(
            GoalFact(
                thread_id=thread_id,
                turn_id=turn_id,
                goal_id=goal_id,
                event_kind=event_kind,
                goal_status=goal_status,
                has_token_budget=has_token_budget,
                cumulative_tokens_accounted=cumulative_tokens_accounted,
                cumulative_time_accounted_seconds=cumulative_time_accounted_seconds,
            )
        )

    def track_hook_run(
        self, tracking: TrackingContext, *, hook_name: str, hook_source: str, status: str
    ) -> None:
        """A hook ran. Names and values are accepted in the event's spelling (``PreToolUse``,
        ``session_flags``) or the protocol's (``preToolUse``, ``sessionFlags``); a ``running``
        status is reported as ``failed``."""
        source: HookSourceName | None = HOOK_SOURCES.get(hook_source)
        if source is None and hook_source in get_args(HookSourceName):
            source = hook_source  # type: ignore[assignment]
        if source is None:
            raise ValueError(f"unknown hook_source {hook_source!r}")
        mapped = HOOK_STATUSES.get(status)
        if mapped is None:
            raise ValueError(f"unknown hook status {status!r}")
        self._custom(
            HookRunFact(
                tracking=tracking,
                hook_name=pascal_hook_name(hook_name),
                hook_source=source,
                status=mapped,
            )
        )

    def track_compaction(
        self,
        *,
        thread_id: str,
        turn_id: str,
        trigger: CompactionTrigger,
        phase: CompactionPhase,
        status: CompactionStatus,
        started_at: int,
        completed_at: int,
        **fields: Any,
    ) -> None:
        """A context compaction (upstream ``CodexCompactionEvent``); the optional fields
        (``reason``, ``implementation``, ``strategy``, token counts, ``duration_ms``, …) are
        the keyword names of :class:`~agentlytics.facts.CompactionFact`. Left out, the fields
        the event requires take upstream's values: the trigger's reason, ``responses``,
        ``memento``, and 0 context tokens (docs/facts.md)."""
        _check(trigger, CompactionTrigger, "trigger")
        _check(phase, CompactionPhase, "phase")
        _check(status, CompactionStatus, "status")
        try:
            fact = CompactionFact(
                thread_id=thread_id,
                turn_id=turn_id,
                trigger=trigger,
                phase=phase,
                status=status,
                started_at=started_at,
                completed_at=completed_at,
                **fields,
            )
        except TypeError as err:
            raise ValueError(f"track_compaction: {err}") from None
        self._custom(fact)

    def track_skill_invocations(
        self, tracking: TrackingContext, invocations: Sequence[SkillInvocation]
    ) -> None:
        """Skills a turn invoked. Host skills' repo URL and id are resolved here (git, cached
        per directory); implicit resource skills count once per turn and resource id."""
        if not invocations or not self._active():
            return
        resolved = []
        for invocation in invocations:
            location = invocation.location
            if (
                isinstance(location, ResourceSkill)
                and invocation.invocation_type == "implicit"
                and not self._implicit_resource_skills.first((tracking.turn_id, location.id))
            ):
                continue
            resolved.append(resolve_skill(invocation, self._skill_repos))
        if resolved:
            self._custom(SkillInvoked(tracking=tracking, invocations=tuple(resolved)))

    def track_app_mentioned(
        self, tracking: TrackingContext, mentions: Sequence[AppInvocation]
    ) -> None:
        """Apps a turn mentioned: one ``codex_app_mentioned`` each."""
        for mention in mentions:
            if mention.invocation_type is not None:
                _check(mention.invocation_type, InvocationType, "invocation_type")
        if mentions:
            self._custom(AppMentioned(tracking=tracking, mentions=tuple(mentions)))

    def track_app_used(self, tracking: TrackingContext, app: AppInvocation) -> None:
        """An app a turn used; at most once per (turn, connector id) — never deduped without a
        connector id (spec §2.2)."""
        if not self.enabled:
            return
        if app.connector_id is not None and not self._apps_used.first(
            (tracking.turn_id, app.connector_id)
        ):
            return
        self._custom(AppUsed(tracking=tracking, app=app))

    def track_plugin_used(self, tracking: TrackingContext, plugin: PluginMetadata) -> None:
        """A plugin a turn used; at most once per (turn, ``name@marketplace`` or remote id)."""
        if not self.enabled:
            return
        key = plugin.plugin_id or plugin.remote_plugin_id
        if key is not None and not self._plugins_used.first((tracking.turn_id, key)):
            return
        self._custom(PluginUsed(tracking=tracking, plugin=plugin))

    def _plugin_state(self, plugin: PluginMetadata, state: PluginState) -> None:
        self._custom(
            PluginStateChanged(
                plugin=plugin, state=state, product_client_id=self._product_client_id
            )
        )

    def track_plugin_installed(self, plugin: PluginMetadata) -> None:
        self._plugin_state(plugin, "installed")

    def track_plugin_uninstalled(self, plugin: PluginMetadata) -> None:
        self._plugin_state(plugin, "uninstalled")

    def track_plugin_enabled(self, plugin: PluginMetadata) -> None:
        self._plugin_state(plugin, "enabled")

    def track_plugin_disabled(self, plugin: PluginMetadata) -> None:
        self._plugin_state(plugin, "disabled")

    # --- lifetime -------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver everything tracked so far; False if the timeout expired first."""
        if not self.enabled:
            return True
        return self.delivery.flush(timeout)

    def end(self) -> None:
        """End the connection (its state leaves the reducer) but leave a shared delivery open:
        what a host with one delivery for many connections calls when one of them ends."""
        with self._lock:
            if self._closed:
                return
            if self.enabled:
                self.delivery.submit(ClosedConnection(self.connection_id, self.rpc_transport))
            self._closed = True

    def close(self, timeout: float | None = None) -> bool:
        """End the connection (its state leaves the reducer), flush, and close the delivery."""
        if self._closed:
            return True
        self.end()
        return self.delivery.close(timeout)

    def __enter__(self) -> AnalyticsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "AnalyticsClient",
    "AppInvocation",
    "HostSkill",
    "PluginMetadata",
    "ResourceSkill",
    "SkillInvocation",
    "TrackingContext",
]
