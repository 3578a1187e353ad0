"""Shared sub-objects."""

from __future__ import annotations

import msgspec


class AppServerClient(msgspec.Struct):
    product_client_id: str
    client_name: str | None
    client_version: str | None
    rpc_transport: str
    experimental_api_enabled: bool | None


class Runtime(msgspec.Struct):
    codex_rs_version: str
    runtime_os: str
    runtime_os_version: str
    runtime_arch: str
