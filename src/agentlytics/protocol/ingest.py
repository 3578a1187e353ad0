"""The ingest wire between a sender (the HTTP sink) and the collector (spec §2.1).

Both sides import these from here, so neither depends on the other: a request is
``POST PATH`` with body ``{"events": [<event>, ...]}``. Extension (not on Codex's wire,
ignored by servers that do not know it): events whose id is not the hash of their body (the
n-th byte-identical repeat in one stream, see ``events.envelope.Sealer``) are named in the
``IDS_HEADER`` header as ``<index>=<id>/<n>,...``; the collector recomputes and checks each.
"""

from __future__ import annotations

from typing import Final

#: The endpoint every batch is posted to (appended to the configured base URL).
PATH: Final = "/codex/analytics-events/events"
#: Names the ids of the batch's repeated events (``<index>=<id>/<ordinal>,...``).
IDS_HEADER: Final = "X-Agentlytics-Event-Ids"
#: Explicit ids per request; a sender splits more over several requests to keep headers small.
MAX_EXPLICIT_IDS: Final = 100
