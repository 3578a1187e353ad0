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
