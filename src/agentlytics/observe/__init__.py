"""Traffic → facts: capture files, the live tap, request/response correlation, synthesis.

Event families that read more of the wire register their decoders in ``edge``'s extension
tables; importing them here makes every ``WireObserver`` see them.
"""

from agentlytics.observe import lifecycle as _lifecycle  # noqa: F401
from agentlytics.observe import reviews as _reviews  # noqa: F401
