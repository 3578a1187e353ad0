"""The library's side of delivery: the bounded queue a host's ``track_*`` calls feed, its
journal, and the worker thread that drains it through a ``Pipeline`` into a processor."""
