"""A request waiting for its answer, as the edge keeps it per direction and request id.

Its own module because the core's readers and the families' answer handlers both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

#: The most requests of one direction left unanswered before the oldest is dropped (counted).
MAX_PENDING_REQUESTS = 10_000


@dataclass(slots=True)
class Pending:
    method: str
    params: msgspec.Raw | None
    observed_at_ms: int
    #: The request's params as decoded when it was seen (turn/start), so its answer does not
    #: decode them again.
    decoded: Any = None
