"""The JSON-RPC envelope as the app-server sends it, and the capture-file line around it.

The app-server omits ``"jsonrpc"``. Requests carry ``id`` + ``method``, responses ``id`` +
``result``/``error``, notifications only ``method``. Payloads stay :class:`msgspec.Raw` here so a
line is parsed once and only the messages analytics reads are decoded further, with the type
their method (or, for a response, their request's method) calls for.
"""

from __future__ import annotations

from typing import Literal

import msgspec

RequestId = int | str
Direction = Literal["client_to_server", "server_to_client"]
CLIENT_TO_SERVER: Direction = "client_to_server"
SERVER_TO_CLIENT: Direction = "server_to_client"
#: ``dir`` of a capture metadata line (recorder facts about the session, not traffic).
META: Literal["meta"] = "meta"


class Message(msgspec.Struct, gc=False):
    """One JSON-RPC message with its payload left undecoded. (Not GC-tracked: it holds only
    strings, numbers and raw bytes, and the library queues many of them.)"""

    method: str | None = None
    id: RequestId | None = None
    #: An absent payload decodes to an empty ``Raw`` (falsy); ``null`` to ``Raw(b"null")``.
    params: msgspec.Raw = msgspec.Raw()
    result: msgspec.Raw = msgspec.Raw()
    error: msgspec.Raw = msgspec.Raw()


class CaptureLine(msgspec.Struct):
    """One line of a capture file: ``{"seq", "ts_ms", "dir", "msg"}``.

    ``raw`` holds the text of a relayed line that was not a JSON object (the tap records it so
    nothing is lost); such lines carry no ``msg``.
    """

    ts_ms: int
    dir: Direction | Literal["meta"]
    msg: Message | None = None
    seq: int | None = None
    raw: str | None = None
    #: The payload of a ``"dir": "meta"`` line (left undecoded).
    meta: msgspec.Raw = msgspec.Raw()


class JsonRpcError(msgspec.Struct):
    """``error`` of a JSON-RPC error response."""

    code: int | None = None
    message: str = ""
    data: msgspec.Raw = msgspec.Raw()


line_decoder = msgspec.json.Decoder(CaptureLine)
message_decoder = msgspec.json.Decoder(Message)


# --- capture metadata kinds (agentlytics.observe.meta) ---------------------------------------


class ThreadRepo(msgspec.Struct, frozen=True):
    """``meta`` of a ``thread_repo`` capture metadata line (``agentlytics.observe.meta``):
    the repo of a thread's working directory, as the recording machine saw it. The local-only
    names may be left out (a capture scrubbed before it is shared): they default to null."""

    kind: Literal["thread_repo"]
    thread_id: str
    repo_hash: str | None
    repo_name: str | None = None
    branch: str | None = None


class _MetaKind(msgspec.Struct):
    kind: str = ""


_meta_kind = msgspec.json.Decoder(_MetaKind)
_thread_repo = msgspec.json.Decoder(ThreadRepo)


def decode_meta(raw: msgspec.Raw) -> ThreadRepo | None:
    """A metadata line's ``meta``: a :class:`ThreadRepo`, or None for a kind newer than this
    reader (skipped, like an unknown field). Raises ``msgspec.DecodeError`` when malformed."""
    if _meta_kind.decode(raw).kind != "thread_repo":
        return None
    return _thread_repo.decode(raw)
