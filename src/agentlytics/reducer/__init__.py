"""Facts → events: the pure, bounded reducer, a module (or a few) per event family.

Each family module declares its handlers as a ``HANDLERS`` table (fact type → handler);
``agentlytics.families`` lists the families and ``Reducer`` is built from that list. Importing
this package registers nothing.
"""
