"""Wire → facts for one connection: decode once, correlate requests per direction, dispatch.

Client and server requests have separate id spaces (both start at 0), so each direction keeps
its own table of pending requests; a response is decoded with the type of *its* request. Every
message that cannot be used is a counted drop with its reason: malformed lines, unknown methods,
orphan responses, undecodable params. Nothing here raises on bad input.

The core's readers (connection, threads, turns, items) are :mod:`agentlytics.observe.core`;
the families' readers come in through :class:`EdgeHandlers`, one method table per direction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import msgspec

from agentlytics.bounded import BoundedMap
from agentlytics.drops import Drops
from agentlytics.facts import ClientRequest, ConnectionClosed, ErrorResponse, Fact
from agentlytics.observe import core
from agentlytics.observe.decode import classify_steer_error, decode
from agentlytics.observe.pending import MAX_PENDING_REQUESTS, Pending
from agentlytics.observe.synthesize import IDLE_SWEEP_MESSAGES, Synthesizer
from agentlytics.protocol import types as t
from agentlytics.protocol.depth import MAX_DEPTH, too_deep
from agentlytics.protocol.methods import (
    CLIENT_NOTIFICATIONS,
    CLIENT_REQUESTS,
    SERVER_NOTIFICATIONS,
    SERVER_REQUESTS,
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
from agentlytics.vocabulary import RpcTransport

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
    ["WireObserver", RequestId, "Pending", msgspec.Raw | None, JsonRpcError | None, int],
    list[Fact],
]
ClientResultHandler = Callable[
    ["WireObserver", RequestId, "Pending", msgspec.Raw | None, int], list[Fact]
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
        self.client_pending: BoundedMap[RequestId, Pending] = BoundedMap(
            "pending client requests", MAX_PENDING_REQUESTS, self._evicted
        )
        self.server_pending: BoundedMap[RequestId, Pending] = BoundedMap(
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
        notifications: dict[str, NotificationHandler] = dict(core.NOTIFICATIONS)
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
            _claim(client_results, edge.client_results, name, core.CLIENT_RESULTS)
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

    def _evicted(self, name: str, key: RequestId, value: Pending) -> None:
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
            pending = self.client_pending[msg.id] = Pending(method, msg.params, ts_ms)
            return self._client_request_fact(msg.id, pending)
        if method not in SERVER_REQUESTS:
            self._drop("unknown server request method", method)
        if msg.id in self.server_pending:
            self._drop("duplicate server request id", f"{method} id={msg.id!r}")
        self.server_pending[msg.id] = Pending(method, msg.params, ts_ms)
        handler = self._server_requests.get(method)
        return handler(self, msg.id, msg.params, ts_ms) if handler else []

    def _client_request_fact(self, request_id: RequestId, pending: Pending) -> list[Fact]:
        method = pending.method
        typ = _CLIENT_REQUEST_PARAMS.get(method)
        if typ is None:
            return []
        decoded = pending.decoded = decode(pending.params, typ)
        return [
            ClientRequest(self.connection_id, request_id, method, decoded, pending.observed_at_ms)
        ]

    # --- responses -----------------------------------------------------------------------------

    def _response(self, direction: Direction, msg: Message, ts_ms: int) -> list[Fact]:
        assert msg.id is not None
        error = decode(msg.error, JsonRpcError) if msg.error else None
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
        self, request_id: RequestId, pending: Pending, error: JsonRpcError, ts_ms: int
    ) -> list[Fact]:
        if pending.method not in ("turn/start", "turn/steer", "turn/interrupt"):
            return []
        error_type = classify_steer_error(error) if pending.method == "turn/steer" else None
        return [ErrorResponse(self.connection_id, request_id, error.message, error_type, ts_ms)]

    def _client_result(
        self, request_id: RequestId, pending: Pending, result: msgspec.Raw | None, ts_ms: int
    ) -> list[Fact]:
        facts = core.client_result(self, request_id, pending, result, ts_ms)
        if facts is not None:
            return facts
        extra = self._client_results.get(pending.method)
        return extra(self, request_id, pending, result, ts_ms) if extra else []

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

    # --- the families' hooks, run by the core's readers ----------------------------------------

    def run_turn_started_hooks(self, thread_id: str, turn: t.Turn, ts_ms: int) -> list[Fact]:
        facts: list[Fact] = []
        for hook in self._turn_started_hooks:
            facts += hook(self, thread_id, turn, ts_ms)
        return facts

    def run_turn_completed_hooks(self, thread_id: str, turn: t.Turn, ts_ms: int) -> list[Fact]:
        facts: list[Fact] = []
        for hook in self._turn_completed_hooks:
            facts += hook(self, thread_id, turn, ts_ms)
        return facts

    def run_item_hooks(self, n: t.ItemNotification, completed: bool, ts_ms: int) -> list[Fact]:
        facts: list[Fact] = []
        for hook in self._item_hooks:
            facts += hook(self, n, completed, ts_ms)
        return facts
