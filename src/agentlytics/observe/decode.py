"""What a payload means, without any connection's state: cached decoding, the runtime from the
``initialize`` answer, a rejected steer's reason, a thread's spawn parent and sub-agent source.

Shared by the edge's core and the families' edge handlers.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from agentlytics.facts import RuntimeMetadata
from agentlytics.protocol.wire import JsonRpcError
from agentlytics.vocabulary import SteerRejectionReason

S = TypeVar("S")

_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode(raw: msgspec.Raw | None, typ: type[Any]) -> Any:
    """``raw`` decoded as ``typ`` (an absent payload is ``null``), one cached decoder per type."""
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


def spawn_parent(source: Any) -> str | None:
    """The ThreadSpawn parent of a ``{"subAgent": {"thread_spawn": {...}}}`` session source."""
    if isinstance(source, dict):
        sub = source.get("subAgent")
        if isinstance(sub, dict):
            spawn = sub.get("thread_spawn")
            if isinstance(spawn, dict) and isinstance(spawn.get("parent_thread_id"), str):
                return str(spawn["parent_thread_id"])
    return None


def subagent_source_name(source: Any) -> str | None:
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


def decode_as(raw: msgspec.Raw | None, typ: type[S]) -> S:
    """:func:`decode`, typed by ``typ``; errors propagate to the observer's counted drops."""
    value: S = decode(raw, typ)
    return value
