"""The event catalog and the wire envelope every event travels in."""
