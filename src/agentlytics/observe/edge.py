"""Wire → facts for one connection: decode once, correlate requests per direction, synthesise.

Client and server requests have separate id spaces (both start at 0), so each direction keeps
its own table of pending requests; a response is decoded with the type of *its* request. Every
message that cannot be used is a counted drop with its reason: malformed lines, unknown methods,
orphan responses, undecodable params. Nothing here raises on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import msgspec

from agentlytics.bounded import BoundedMap
from agentlytics.drops import Drops
from agentlytics.facts import (
    ClientRequest,
    ClientResponse,
    ConnectionClosed,
    ErrorResponse,
    Fact,
    Initialize,
    ItemCompleted,
    ItemStarted,
    RuntimeMetadata,
    ThreadArchived,
    ThreadClosed,
    TurnCompleted,
    TurnDiffUpdated,
    TurnInterruptResponse,
    TurnStarted,
)
from agentlytics.observe.synthesize import IDLE_SWEEP_MESSAGES, Synthesizer
from agentlytics.protocol import types as t
from agentlytics.protocol.depth import MAX_DEPTH, too_deep
from agentlytics.protocol.methods import (
    CLIENT_NOTIFICATIONS,
    CLIENT_REQUESTS,
    SERVER_NOTIFICATIONS,
    SERVER_REQUESTS,
    THREAD_ITEM_TYPES,
)
from agentlytics.protocol.wire import (
    CLIENT_TO_SERVER,
    META,
    SERVER_TO_CLIENT,
    Direction,
    JsonRpcError,
    Message,
    RequestId,
    decode_meta,
    line_decoder,
)
from agentlytics.vocabulary import RpcTransport, SteerRejectionReason

MAX_PENDING_REQUESTS = 10_000

#: Item types whose notifications carry nothing analytics counts or times (not ``FACT_ITEMS``).
_IGNORED_ITEM_TYPES = frozenset(
    {
        b"userMessage",
        b"hookPrompt",
        b"agentMessage",
        b"functionCallOutput",
        b"plan",
        b"reasoning",
        b"imageView",
        b"sleep",
        b"enteredReviewMode",
        b"exitedReviewMode",
    }
)
_ITEM_METHODS = frozenset({"item/started", "item/completed"})
# The item's type where the app-server puts it, first in the params. Matched only on a line
# already decoded (so valid JSON and UTF-8): the item need not be decoded to be skipped.
_ITEM_TYPE = re.compile(rb'\{\s*"item":\s*\{\s*"type":\s*"([a-zA-Z]+)"')

_THREAD_RESPONSES = frozenset({"thread/start", "thread/resume", "thread/fork"})

_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decode(raw: msgspec.Raw | None, typ: type[Any]) -> Any:
    decoder = _decoders.get(typ)
    if decoder is None:
        decoder = _decoders[typ] = msgspec.json.Decoder(typ)
    return decoder.decode(raw if raw else b"null")


_UA = re.compile(r"^[^/\s]+/(?P<version>\S+)\s+\((?P<os>[^;()]*);\s*(?P<arch>[^)]*)\)")


def runtime_from_user_agent(user_agent: str, platform_os: str | None) -> RuntimeMetadata:
    """Runtime metadata from the ``initialize`` result.

    ``userAgent`` is ``<originator>/<codex version> (<OS name> <OS version>; <arch>) …``; the OS
    family Codex reports (``linux``, ``macos``) is the result's ``platformOs``.
    """
    match = _UA.match(user_agent)
    if match is None:
        return RuntimeMetadata("unknown", platform_os or "unknown", "unknown", "unknown")
    os_text = match["os"].strip()
    os_version = os_text.rsplit(" ", 1)[-1] if " " in os_text else "unknown"
    return RuntimeMetadata(
        codex_rs_version=match["version"],
        runtime_os=platform_os or os_text.split(" ", 1)[0].lower() or "unknown",
        runtime_os_version=os_version,
        runtime_arch=match["arch"].strip() or "unknown",
    )


def classify_steer_error(error: JsonRpcError) -> SteerRejectionReason | None:
    """A rejected ``turn/steer`` error → upstream's rejection reason (spec §2.5), else None.

    Codex's app-server answers a failed steer with a JSON-RPC error whose shape names the cause:

    * ``data`` is a ``TurnError`` whose ``codexErrorInfo`` is
      ``{"activeTurnNotSteerable": {"turnKind": "review" | "compact"}}`` → ``non_steerable_*``;
    * ``data.input_error_code`` is ``"input_too_large"`` / ``"empty_input"`` (user-input
      validation) → ``input_too_large`` / ``empty_input``;
    * otherwise the message: ``"no active turn to steer"`` → ``no_active_turn``; ``"expected
      active turn id `x` but found `y`"`` → ``expected_turn_mismatch``; an input that "must not
      be empty" → ``empty_input``.

    Structured fields win over the message; anything else is unknown (None), never a guess.
    """
    data: Any = None
    if error.data:
        try:
            data = msgspec.json.decode(error.data)
        except msgspec.DecodeError:
            data = None
    if isinstance(data, dict):
        info = data.get("codexErrorInfo")
        if isinstance(info, dict) and isinstance(info.get("activeTurnNotSteerable"), dict):
            kind = info["activeTurnNotSteerable"].get("turnKind")
            if kind == "review":
                return "non_steerable_review"
            if kind == "compact":
                return "non_steerable_compact"
            return None
        code = data.get("input_error_code") or data.get("inputErrorCode")
        if code in ("input_too_large", "too_large"):
            return "input_too_large"
        if code in ("empty_input", "empty"):
            return "empty_input"
    message = error.message.lower()
    if "no active turn" in message:
        return "no_active_turn"
    if "expected" in message and ("but found" in message or "mismatch" in message):
        return "expected_turn_mismatch"
    if "must not be empty" in message or "empty input" in message or "input is empty" in message:
        return "empty_input"
    if "too large" in message or "exceeds the maximum" in message:
        return "input_too_large"
    return None


@dataclass(slots=True)
class _Pending:
    method: str
    params: msgspec.Raw | None
    observed_at_ms: int
    #: The request's params as decoded when it was seen (turn/start), so its answer does not
    #: decode them again.
    decoded: Any = None


#: Client requests the reducer sees, with the type their params decode to.
_CLIENT_REQUEST_PARAMS: dict[str, type[Any]] = {
    "turn/start": t.TurnStartParams,
    "turn/steer": t.TurnSteerParams,
    "turn/interrupt": t.TurnInterruptParams,
}

# What a family reads at the edge: method -> handler(observer, ...) -> facts.
NotificationHandler = Callable[["WireObserver", msgspec.Raw | None, int], list[Fact]]
ServerRequestHandler = Callable[["WireObserver", RequestId, msgspec.Raw | None, int], list[Fact]]
ServerAnswerHandler = Callable[
    ["WireObserver", RequestId, "_Pending", msgspec.Raw | None, JsonRpcError | None, int],
    list[Fact],
]
ClientResultHandler = Callable[
    ["WireObserver", RequestId, "_Pending", msgspec.Raw | None, int], list[Fact]
]

#: Observers of decoded items and turn boundaries, for families that synthesise from them
#: (compaction). Item hooks see every item kind in ``t.FACT_ITEMS``; their facts follow the
#: item's. Turn-started hooks' facts follow ``TurnStarted``; turn-completed hooks' precede
#: ``TurnCompleted``.
ItemHook = Callable[["WireObserver", t.ItemNotification, bool, int], list[Fact]]
TurnHook = Callable[["WireObserver", str, t.Turn, int], list[Fact]]


@dataclass(frozen=True, slots=True)
class EdgeHandlers:
    """One family's part of the edge, keyed by direction and method.

    ``state`` builds the family's per-connection state: every :class:`WireObserver` makes one
    (``observer.edge(state)`` returns it), so it lives and dies with its connection.
    """

    #: server → client notifications.
    notifications: Mapping[str, NotificationHandler] = field(default_factory=dict)
    #: server → client requests (the request is already pending when the handler runs).
    server_requests: Mapping[str, ServerRequestHandler] = field(default_factory=dict)
    #: client → server answers to server requests, by the request's method.
    server_answers: Mapping[str, ServerAnswerHandler] = field(default_factory=dict)
    #: server → client results of client requests the core does not read, by method.
    client_results: Mapping[str, ClientResultHandler] = field(default_factory=dict)
    items: tuple[ItemHook, ...] = ()
    turn_started: tuple[TurnHook, ...] = ()
    turn_completed: tuple[TurnHook, ...] = ()
    state: Callable[[WireObserver], object] | None = None


class EdgeFamily(Protocol):
    """What the edge reads of a family (``agentlytics.families.Family`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def edge(self) -> EdgeHandlers: ...


S = TypeVar("S")
H = TypeVar("H")


def _claim(
    table: dict[str, H], extra: Mapping[str, H], family: str, core: frozenset[str] = frozenset()
) -> None:
    """Add a family's handlers to a method table: each method has one reader."""
    for method, handler in extra.items():
        if method in table or method in core:
            raise ValueError(f"family {family}: {method} already has a reader")
        table[method] = handler


class WireObserver:
    """Turns the JSON-RPC traffic of one connection into facts."""

    def __init__(
        self,
        connection_id: int,
        drops: Drops | None = None,
        rpc_transport: RpcTransport = "stdio",
        *,
        families: Sequence[EdgeFamily],
    ):
        self.connection_id = connection_id
        self.rpc_transport = rpc_transport
        self.drops = drops if drops is not None else Drops()
        self.synth = Synthesizer(self.drops)
        self.client_pending: BoundedMap[RequestId, _Pending] = BoundedMap(
            "pending client requests", MAX_PENDING_REQUESTS, self._evicted
        )
        self.server_pending: BoundedMap[RequestId, _Pending] = BoundedMap(
            "pending server requests", MAX_PENDING_REQUESTS, self._evicted
        )
        self.messages = 0
        self._sweep_at = IDLE_SWEEP_MESSAGES
        #: Where drops are reported from: the capture's name and the current line number.
        self.source = ""
        self.lineno = 0
        self._build_tables(families)

    def _build_tables(self, families: Sequence[EdgeFamily]) -> None:
        """The method tables and hooks of this connection, in list order; each family's state.

        A method has one reader: two families (or a family and the core) claiming the same
        method of the same direction is an error here, not a silent override.
        """
        notifications: dict[str, NotificationHandler] = dict(_NOTIFICATIONS)
        server_requests: dict[str, ServerRequestHandler] = {}
        server_answers: dict[str, ServerAnswerHandler] = {}
        client_results: dict[str, ClientResultHandler] = {}
        items: list[ItemHook] = []
        turn_started: list[TurnHook] = []
        turn_completed: list[TurnHook] = []
        #: Per-connection state of each family, by the type its ``state`` factory builds.
        self.edges: dict[object, object] = {}
        for family in families:
            edge = family.edge
            name = family.name
            _claim(notifications, edge.notifications, name)
            _claim(server_requests, edge.server_requests, name)
            _claim(server_answers, edge.server_answers, name)
            _claim(client_results, edge.client_results, name, _CORE_CLIENT_RESULTS)
            items += edge.items
            turn_started += edge.turn_started
            turn_completed += edge.turn_completed
            if edge.state is not None:
                if edge.state in self.edges:
                    raise ValueError(f"family {family.name}: edge state shared with another")
                self.edges[edge.state] = edge.state(self)
        self._notifications = notifications
        self._server_requests = server_requests
        self._server_answers = server_answers
        self._client_results = client_results
        self._item_hooks = tuple(items)
        self._turn_started_hooks = tuple(turn_started)
        self._turn_completed_hooks = tuple(turn_completed)

    def edge(self, state: Callable[[WireObserver], S]) -> S:
        """A family's state for this connection, by the factory it declared (a class)."""
        return cast(S, self.edges[state])

    def _evicted(self, name: str, key: RequestId, value: _Pending) -> None:
        self._drop(f"{name} evicted (never answered)", f"{value.method} id={key!r}")

    # --- entry points ---------------------------------------------------------------------------

    def observe_line(self, line: bytes | str) -> list[Fact]:
        """One capture-file line → facts. Malformed lines are counted, never raised.

        Every line is decoded once (payloads stay raw) and dispatched on its method, so a
        truncated or corrupted line is a counted drop whatever its method — including the
        notifications analytics ignores (most of a session is streaming deltas), which then
        return after two set lookups.
        """
        self.lineno += 1
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogatepass")
        try:
            if line.count(b"[") + line.count(b"{") > MAX_DEPTH and too_deep(line):
                self._drop("nested too deep", f"JSON nested deeper than {MAX_DEPTH} levels")
                return []
            record = line_decoder.decode(line)
            if not line.isascii():
                line.decode("utf-8")  # payloads stay raw, so their strings are not checked yet
        except (msgspec.DecodeError, UnicodeDecodeError) as err:
            if line.strip():
                self._drop("malformed line", str(err))
            return []
        except RecursionError:
            self._drop("nested too deep", f"JSON nested deeper than {MAX_DEPTH} levels")
            return []
        if record.dir == META:
            return self.observe_meta(record.meta, record.ts_ms)
        msg = record.msg
        if msg is None:
            self._drop("relay line that is not a JSON object", (record.raw or "")[:80])
            return []
        method = msg.method
        if (
            method is not None
            and msg.id is None
            and record.dir == SERVER_TO_CLIENT
            and method not in self._notifications
        ):
            self.messages += 1
            if method not in SERVER_NOTIFICATIONS:
                self._drop("unknown server notification method", method)
            return []
        if method in _ITEM_METHODS and msg.id is None and record.dir == SERVER_TO_CLIENT:
            head = _ITEM_TYPE.match(msg.params)
            if head is not None and head[1] in _IGNORED_ITEM_TYPES:
                self.messages += 1  # messages, reasoning, plans: nothing to count or time
                return []
        return self._observe(record.dir, msg, record.ts_ms)

    def observe_meta(self, meta: msgspec.Raw, ts_ms: int) -> list[Fact]:
        """A capture metadata line (``"dir": "meta"``, written by the recorder): not traffic
        and not a drop. A ``thread_repo`` line gives the thread's recorded repo hash; a kind
        newer than this reader is skipped; a malformed one is counted."""
        try:
            known = decode_meta(meta) if meta else None
        except msgspec.DecodeError as err:
            self._drop("malformed metadata line", str(err))
            return []
        if known is not None:
            self.synth.recorded_repo(known)
        return []

    def observe_message(self, direction: Direction, msg: Message, ts_ms: int) -> list[Fact]:
        """One decoded message from an untrusted source (the library, the live tap): its
        payloads are checked against the nesting limit before anything decodes them."""
        for payload in (msg.params, msg.result, msg.error):
            # A text shorter than twice the limit cannot nest past it (copying it costs more).
            if len(payload) > 2 * MAX_DEPTH and too_deep(bytes(payload)):
                self.messages += 1
                self._drop("nested too deep", f"JSON nested deeper than {MAX_DEPTH} levels")
                return []
        return self._observe(direction, msg, ts_ms)

    def _observe(self, direction: Direction, msg: Message, ts_ms: int) -> list[Fact]:
        self.messages += 1
        if self.messages >= self._sweep_at:
            self._sweep_at = self.messages + IDLE_SWEEP_MESSAGES
            self.synth.sweep_idle()
        try:
            if msg.method is not None:
                if msg.id is not None:
                    return self._request(direction, msg, ts_ms)
                return self._notification(direction, msg, ts_ms)
            if msg.id is not None:
                return self._response(direction, msg, ts_ms)
            self._drop("message with neither method nor id")
        except msgspec.ValidationError as err:
            self._drop(f"undecodable {msg.method or 'response'}", str(err))
        except (msgspec.DecodeError, UnicodeDecodeError) as err:
            self._drop("malformed payload", str(err))
        except RecursionError:
            self._drop("nested too deep", f"JSON nested deeper than {MAX_DEPTH} levels")
        return []

    def _drop(self, reason: str, detail: str = "") -> None:
        self.drops.count(reason, detail, f"{self.source}:{self.lineno}" if self.source else "")

    def close(self) -> list[Fact]:
        """End of the stream: the connection's state may leave the reducer."""
        self.client_pending.clear()
        self.server_pending.clear()
        return [ConnectionClosed(self.connection_id)]

    # --- requests ------------------------------------------------------------------------------

    def _request(self, direction: Direction, msg: Message, ts_ms: int) -> list[Fact]:
        method = msg.method or ""
        assert msg.id is not None
        if direction == CLIENT_TO_SERVER:
            if method not in CLIENT_REQUESTS:
                self._drop("unknown client request method", method)
            if msg.id in self.client_pending:
                self._drop("duplicate client request id", f"{method} id={msg.id!r}")
            pending = self.client_pending[msg.id] = _Pending(method, msg.params, ts_ms)
            return self._client_request_fact(msg.id, pending)
        if method not in SERVER_REQUESTS:
            self._drop("unknown server request method", method)
        if msg.id in self.server_pending:
            self._drop("duplicate server request id", f"{method} id={msg.id!r}")
        self.server_pending[msg.id] = _Pending(method, msg.params, ts_ms)
        handler = self._server_requests.get(method)
        return handler(self, msg.id, msg.params, ts_ms) if handler else []

    def _client_request_fact(self, request_id: RequestId, pending: _Pending) -> list[Fact]:
        method = pending.method
        typ = _CLIENT_REQUEST_PARAMS.get(method)
        if typ is None:
            return []
        decoded = pending.decoded = _decode(pending.params, typ)
        return [
            ClientRequest(self.connection_id, request_id, method, decoded, pending.observed_at_ms)
        ]

    # --- responses -----------------------------------------------------------------------------

    def _response(self, direction: Direction, msg: Message, ts_ms: int) -> list[Fact]:
        assert msg.id is not None
        error = _decode(msg.error, JsonRpcError) if msg.error else None
        if direction == CLIENT_TO_SERVER:
            # The client answering a server request (approvals, tool calls, ...).
            pending = self.server_pending.pop(msg.id, None)
            if pending is None:
                self._drop("orphan client response (no pending server request)", f"id={msg.id!r}")
                return []
            answer = self._server_answers.get(pending.method)
            return answer(self, msg.id, pending, msg.result, error, ts_ms) if answer else []
        pending = self.client_pending.pop(msg.id, None)
        if pending is None:
            self._drop("orphan server response (no pending client request)", f"id={msg.id!r}")
            return []
        if error is not None:
            return self._error_response(msg.id, pending, error, ts_ms)
        return self._client_result(msg.id, pending, msg.result, ts_ms)

    def _error_response(
        self, request_id: RequestId, pending: _Pending, error: JsonRpcError, ts_ms: int
    ) -> list[Fact]:
        if pending.method not in ("turn/start", "turn/steer", "turn/interrupt"):
            return []
        error_type = classify_steer_error(error) if pending.method == "turn/steer" else None
        return [ErrorResponse(self.connection_id, request_id, error.message, error_type, ts_ms)]

    def _client_result(
        self, request_id: RequestId, pending: _Pending, result: msgspec.Raw | None, ts_ms: int
    ) -> list[Fact]:
        method = pending.method
        conn = self.connection_id
        if method == "initialize":
            params = _decode(pending.params, t.InitializeParams)
            response = _decode(result, t.InitializeResponse)
            runtime = runtime_from_user_agent(response.user_agent, response.platform_os)
            info = params.client_info
            self.synth.client_name = info.name or None
            self.synth.client_version = info.version or None
            self.synth.runtime = runtime
            self.synth.codex_home = response.codex_home
            caps = params.capabilities
            return [
                Initialize(
                    connection_id=conn,
                    client_name=info.name or None,
                    client_version=info.version or None,
                    experimental_api_enabled=caps.experimental_api if caps is not None else None,
                    product_client_id=info.name,
                    runtime=runtime,
                    rpc_transport=self.rpc_transport,
                )
            ]
        if method in _THREAD_RESPONSES:
            thread_response = _decode(result, t.ThreadStartResponse)
            self.synth.thread_response(thread_response)
            return [ClientResponse(conn, request_id, method, thread_response, ts_ms)]
        if method == "turn/start":
            turn_response = _decode(result, t.TurnStartResponse)
            params = pending.decoded
            if not isinstance(params, t.TurnStartParams):  # its decoding failed (a counted drop)
                params = _decode(pending.params, t.TurnStartParams)
            self.synth.turn_start_accepted(params)
            return [ClientResponse(conn, request_id, method, turn_response, ts_ms)]
        if method == "turn/steer":
            steer = _decode(result, t.TurnSteerResponse)
            return [ClientResponse(conn, request_id, method, steer, ts_ms)]
        if method == "turn/interrupt":
            return [ClientResponse(conn, request_id, method, TurnInterruptResponse(), ts_ms)]
        extra = self._client_results.get(method)
        return extra(self, request_id, pending, result, ts_ms) if extra else []

    # --- notifications -------------------------------------------------------------------------

    def _notification(self, direction: Direction, msg: Message, ts_ms: int) -> list[Fact]:
        method = msg.method or ""
        if direction == CLIENT_TO_SERVER:
            if method not in CLIENT_NOTIFICATIONS:
                self._drop("unknown client notification method", method)
            return []
        handler = self._notifications.get(method)
        if handler is not None:
            return handler(self, msg.params, ts_ms)
        if method not in SERVER_NOTIFICATIONS:
            self._drop("unknown server notification method", method)
        return []

    def _turn_started(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.TurnNotification)
        facts = self.synth.turn_started(n.thread_id, n.turn)
        facts.append(TurnStarted(self.connection_id, n.thread_id, n.turn))
        for hook in self._turn_started_hooks:
            facts += hook(self, n.thread_id, n.turn, ts_ms)
        return facts

    def _turn_completed(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.TurnNotification)
        facts = self.synth.turn_completed(n.thread_id, n.turn)
        for hook in self._turn_completed_hooks:
            facts += hook(self, n.thread_id, n.turn, ts_ms)
        facts.append(TurnCompleted(self.connection_id, n.thread_id, n.turn, ts_ms))
        return facts

    def _item(self, params: msgspec.Raw | None, ts_ms: int, completed: bool) -> list[Fact]:
        try:
            n = _decode(params, t.ItemNotification)
        except msgspec.ValidationError:
            unknown = _decode(params, t.UnknownItemNotification)
            if unknown.item.type not in THREAD_ITEM_TYPES:  # newer than 0.171.0: counted
                self._drop("unknown item type", unknown.item.type)
            return []
        item = n.item
        if not isinstance(item, t.FACT_ITEMS):
            return []  # messages, reasoning, plans, …: nothing analytics counts or times
        kind = t.item_type(item)
        facts: list[Fact] = []
        if (
            isinstance(item, t.SubAgentActivityItem)
            and item.kind == "started"
            and item.agent_thread_id
        ):
            facts += self.synth.subagent_spawned(
                n.thread_id, item.agent_thread_id, item.model, item.reasoning_effort, ts_ms
            )
        elif (
            completed
            and isinstance(item, t.CollabAgentToolCallItem)
            and item.tool == "spawnAgent"
            and item.status == "completed"
        ):
            for child in item.receiver_thread_ids:
                facts += self.synth.subagent_spawned(
                    n.thread_id, child, item.model, item.reasoning_effort, ts_ms
                )
        if completed:
            facts.append(
                ItemCompleted(
                    self.connection_id,
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
                    self.connection_id,
                    n.thread_id,
                    n.turn_id,
                    kind,
                    item.id,
                    item,
                    n.started_at_ms,
                )
            )
        for hook in self._item_hooks:
            facts += hook(self, n, completed, ts_ms)
        return facts

    def _item_started(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        return self._item(params, ts_ms, completed=False)

    def _item_completed(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        return self._item(params, ts_ms, completed=True)

    def _diff(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.TurnDiffUpdatedNotification)
        return [TurnDiffUpdated(n.thread_id, n.turn_id, n.diff)]

    def _token_usage(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.ThreadTokenUsageUpdatedNotification)
        self.synth.token_usage(n.thread_id, n.turn_id, n.token_usage.total, n.token_usage.last)
        return []

    def _settings(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.ThreadSettingsUpdatedNotification)
        self.synth.settings_updated(n.thread_id, n.thread_settings)
        return []

    def _thread_started(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.ThreadStartedNotification)
        thread = n.thread
        parent = thread.parent_thread_id or _spawn_parent(thread.source)
        if parent is None:
            return []
        source = _subagent_source_name(thread.source) or "thread_spawn"
        return self.synth.subagent_spawned(parent, thread.id, thread.model, None, ts_ms, source)

    def _archived(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.ThreadIdNotification)
        return [ThreadArchived(self.connection_id, n.thread_id, "archived", ts_ms)]

    def _unarchived(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.ThreadIdNotification)
        return [ThreadArchived(self.connection_id, n.thread_id, "unarchived", ts_ms)]

    def _closed(self, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
        n = _decode(params, t.ThreadIdNotification)
        self.synth.threads.pop(n.thread_id, None)
        return [ThreadClosed(self.connection_id, n.thread_id)]


def _spawn_parent(source: Any) -> str | None:
    """The ThreadSpawn parent of a ``{"subAgent": {"thread_spawn": {...}}}`` session source."""
    if isinstance(source, dict):
        sub = source.get("subAgent")
        if isinstance(sub, dict):
            spawn = sub.get("thread_spawn")
            if isinstance(spawn, dict) and isinstance(spawn.get("parent_thread_id"), str):
                return str(spawn["parent_thread_id"])
    return None


def _subagent_source_name(source: Any) -> str | None:
    """``SubAgentSource.kind()``: review, compact, thread_spawn, memory_consolidation, or Other."""
    if not isinstance(source, dict):
        return None
    sub = source.get("subAgent")
    if isinstance(sub, str):
        return sub
    if isinstance(sub, dict) and len(sub) == 1:
        key, value = next(iter(sub.items()))
        if key == "other" and isinstance(value, str):
            return value
        return str(key)
    return None


#: The client results the core reads itself (``_client_result``); no family may claim them.
_CORE_CLIENT_RESULTS = frozenset(
    {"initialize", *_THREAD_RESPONSES, "turn/start", "turn/steer", "turn/interrupt"}
)

#: The notifications the core reads (connection, threads, turns, items).
_NOTIFICATIONS: dict[str, NotificationHandler] = {
    "turn/started": WireObserver._turn_started,
    "turn/completed": WireObserver._turn_completed,
    "item/started": WireObserver._item_started,
    "item/completed": WireObserver._item_completed,
    "turn/diff/updated": WireObserver._diff,
    "thread/tokenUsage/updated": WireObserver._token_usage,
    "thread/settings/updated": WireObserver._settings,
    "thread/started": WireObserver._thread_started,
    "thread/archived": WireObserver._archived,
    "thread/unarchived": WireObserver._unarchived,
    "thread/closed": WireObserver._closed,
}
