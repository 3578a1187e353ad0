"""Facts → events: the pure, bounded reducer, one module per event family.

Families register their fact handlers in ``core.HANDLERS``; importing them here makes every
``Reducer`` route to them.
"""

from agentlytics.reducer import fingerprints as _fingerprints  # noqa: F401
from agentlytics.reducer import library as _library  # noqa: F401
from agentlytics.reducer import lifecycle as _lifecycle  # noqa: F401
from agentlytics.reducer import reviews as _reviews  # noqa: F401
