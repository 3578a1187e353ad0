"""Accepted-line fingerprints: diff parsing and hashing (``diff``), repo hash at the edge
(``remote``), 2 MiB chunking (``chunks``) and the privacy audit (``audit``)."""
