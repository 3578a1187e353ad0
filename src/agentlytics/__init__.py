"""agentlytics: turn coding-agent (Codex app-server) traffic into exact analytics events.

The pipeline, one direction only:
observe (wire -> facts) -> reducer (facts -> events) -> delivery -> sinks -> warehouse.
"""

__version__ = "0.1.0"
