"""Type stub of the optional C extension ``_native.c``; see :mod:`.diff` for its role."""

def scan_hunks(diff: str, start: int, end: int, fingerprint: bool, /) -> tuple[int, int, list[str]]:
    """``(added, deleted, line_hashes)`` of ``diff[start:end]``, a section's hunk part.

    ``diff`` must be all ASCII. ``line_hashes`` is empty unless ``fingerprint`` is true.
    """
