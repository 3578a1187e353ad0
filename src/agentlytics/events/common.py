"""Shared sub-objects and value types of the event catalog (spec §0.2, §4.0).

Enum-valued fields that the reducer computes from fixed tables are ``Literal`` types with the
exact wire strings, so a collector validating a batch rejects a misspelt value. Fields passed
through from the protocol (tool names, command sources, goal statuses, …) stay ``str``: a newer
Codex adding a value must not make its events invalid.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agentlytics.vocabulary import InitializationMode, RpcTransport

#: Rust ``u64``/``usize``: a non-negative JSON integer.
U64 = Annotated[int, msgspec.Meta(ge=0)]

__all__ = ["U64", "AppServerClient", "InitializationMode", "RpcTransport", "Runtime", "SubObject"]


class SubObject(msgspec.Struct, forbid_unknown_fields=True):
    """Base of nested objects in events: strict on decode, like the params structs."""


class AppServerClient(SubObject):
    """Who connected (captured at ``initialize``): §4.0 ``app_server_client``."""

    product_client_id: str
    client_name: str | None
    client_version: str | None
    rpc_transport: RpcTransport
    experimental_api_enabled: bool | None


class Runtime(SubObject):
    """What the app-server ran on: §4.0 ``runtime``."""

    codex_rs_version: str
    runtime_os: str
    runtime_os_version: str
    runtime_arch: str
