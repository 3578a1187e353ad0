"""Traffic → facts: capture files, the live tap, request/response correlation, synthesis.

Families that read more of the wire than the core declare an ``EDGE`` table (``reviews``,
``lifecycle``); ``agentlytics.families`` lists them and every ``WireObserver`` is built from
that list. Importing this package registers nothing.
"""
