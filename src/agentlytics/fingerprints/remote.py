"""Repo hash of a working directory: canonical git remote URL → ``fingerprint_hash("repo", …)``.

Spec §6.5 with decision 5: a remote that cannot be canonicalised is hashed with its
credentials stripped, never as the raw URL. This runs at the edge (it spawns git), before the
fact reaches the reducer, and is cached per working directory (:class:`RepoHashCache`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Final

from agentlytics.fingerprints.diff import RUST_WHITESPACE, fingerprint_hash
from agentlytics.fingerprints.git import GitLookupError, git_output

_DEFAULT_PORTS: Final = {"git": "9418", "http": "80", "https": "443", "ssh": "22"}
#: Rust ``to_ascii_lowercase``: only A–Z change (``str.lower`` would also fold non-ASCII).
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _strip_git_suffix(text: str) -> str:
    return text[:-4] if text.endswith(".git") else text


def canonicalize_git_remote_url(url: str) -> str | None:
    """``host[:port]/owner/repo[/…]`` for a git remote URL, or None (spec §6.5).

    SSH, SCP-like and HTTPS forms of the same GitHub repository give the same string, so the
    repo hash does not depend on how the clone was made.
    """
    text = _strip_git_suffix(url.strip(RUST_WHITESPACE).rstrip("/"))
    if not text:
        return None
    default_port: str | None = None
    if "://" in text:
        scheme, rest = text.split("://", 1)
        default_port = _DEFAULT_PORTS.get(scheme)
        if default_port is None:
            return None
        for stop in ("?", "#"):
            rest = rest.split(stop, 1)[0]
        if "/" not in rest:
            return None
        host, path = rest.split("/", 1)
    else:
        colon, slash = text.find(":"), text.find("/")
        if colon != -1 and (slash == -1 or slash > colon):
            host, path = text.split(":", 1)
            if not host or not path:
                return None
        elif slash != -1:
            host, path = text.split("/", 1)
        else:
            return None
    host = host.rsplit("@", 1)[-1].strip(RUST_WHITESPACE).rstrip("/").translate(_ASCII_LOWER)
    if default_port is not None and host.endswith(":" + default_port):
        host = host[: -len(default_port) - 1]
    if not host:
        return None
    path = _strip_git_suffix(path.strip(RUST_WHITESPACE).strip("/"))
    parts = [part for part in path.split("/") if part]
    if len(parts) < 2 or any(part in (".", "..") for part in parts[:2]):
        return None
    joined = "/".join(parts)
    if host == "github.com":
        joined = joined.translate(_ASCII_LOWER)
    return f"{host}/{joined}"


def strip_url_credentials(url: str) -> str:
    """The URL without userinfo, query or fragment: what may be hashed when canonicalisation fails.

    ``scheme://user:secret@host/p?token=x#f`` → ``scheme://host/p``; ``token@host/path`` →
    ``host/path``. Query strings and fragments go too because tokens travel there as well. A
    password may hold a ``/`` (git accepts ``https://user:pa/ss@host/…``), so with a scheme
    everything up to the last ``@`` before the host is userinfo, wherever the first ``/`` is.
    Local paths pass through unchanged.
    """
    text = url.strip()
    scheme = ""
    if "://" in text:
        scheme, text = text.split("://", 1)
        scheme += "://"
        for stop in ("?", "#"):
            text = text.split(stop, 1)[0]
        at = text.rfind("@")
        if at != -1 and _HOST_AFTER_AT.match(text, at + 1):
            text = text[at + 1 :]
        return scheme + text
    authority_end = text.find("/")
    authority = text if authority_end == -1 else text[:authority_end]
    if "@" in authority:
        text = text[authority.rfind("@") + 1 :]
    return scheme + text


#: A host (name, IPv4 or bracketed IPv6, optional port) then the end or a path.
_HOST_AFTER_AT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d*)?(?:/|$)")
_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]")


def public_remote_url(url: str | None) -> str | None:
    """A remote URL as it may appear in an event: no credentials, query or fragment; None for
    ``file://`` URLs and local paths (they only name directories on someone's disk).

    Remote forms kept: ``https://``/``http://``, ``ssh://``, ``git://`` and the like (userinfo
    stripped), and SCP-like ``[user@]host:path`` (user stripped).
    """
    if url is None:
        return None
    text = url.strip()
    if not text:
        return None
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme == "file" or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
            return None
        stripped = strip_url_credentials(text)
        return stripped if stripped != f"{scheme}://" else None
    if (
        text.startswith(("/", "./", "../", "~", "\\"))
        or text in (".", "..")
        or (_WINDOWS_PATH.match(text))
    ):
        return None
    colon, slash = text.find(":"), text.find("/")
    if colon > 0 and (slash == -1 or slash > colon):  # SCP-like: [user@]host:path
        host_part, path = text[:colon], text[colon + 1 :]
        host = host_part.rsplit("@", 1)[-1]
        return f"{host}:{path}" if host and path else None
    return None  # a relative path (dir/repo): local


def parse_fetch_remotes(output: str) -> dict[str, str]:
    """``git remote -v`` output → ``{name: url}`` of the ``(fetch)`` lines, sorted by name."""
    remotes: dict[str, str] = {}
    for line in output.splitlines():
        if not line.endswith(" (fetch)"):
            continue
        rest = line[: -len(" (fetch)")]
        tab, space = rest.find("\t"), rest.find(" ")
        cut = tab if tab != -1 else space
        if cut == -1:
            continue
        name, url = rest[:cut], rest[cut + 1 :].lstrip()
        if url:
            remotes[name] = url
    return dict(sorted(remotes.items()))


def select_remote_url(remotes: dict[str, str]) -> str | None:
    """``origin`` if present, else the alphabetically first remote; None without remotes."""
    if "origin" in remotes:
        return remotes["origin"]
    return remotes[min(remotes)] if remotes else None


def repo_hash_for_url(url: str) -> str:
    """Hash of the canonical URL, else of the credential-stripped URL (never the raw one)."""
    canonical = canonicalize_git_remote_url(url)
    if canonical is None:
        canonical = strip_url_credentials(url)
    return fingerprint_hash("repo", canonical)


def repo_hash_for_cwd(cwd: str) -> str | None:
    """The ``repo_hash`` for a working directory, or None outside a repo / without remotes.

    Any failure (including a timeout) gives None, as in Codex.
    """
    try:
        return _repo_hash_checked(cwd)
    except GitLookupError:
        return None


def _repo_hash_checked(cwd: str) -> str | None:
    output = git_output(cwd, "remote", "-v")
    if output is None:
        return None
    url = select_remote_url(parse_fetch_remotes(output))
    return None if url is None else repo_hash_for_url(url)


class RepoHashCache:
    """Per-cwd cache of repo hashes, bounded (least recently used out).

    Definite answers (a hash, "not a repo", "no remote") are cached; a timeout or a missing
    git is not, so a transient failure is retried on the next turn in that directory.
    Thread-safe: the edge may look up from several reader threads.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()
        self.lookups = 0  #: git invocations made (for tests and stats)

    def get(self, cwd: str) -> str | None:
        """Repo hash of ``cwd``, running git at most once per cached directory."""
        with self._lock:
            if cwd in self._entries:
                self._entries.move_to_end(cwd)
                return self._entries[cwd]
        self.lookups += 1
        try:
            value = _repo_hash_checked(cwd)
        except GitLookupError:
            return None
        with self._lock:
            self._entries[cwd] = value
            self._entries.move_to_end(cwd)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
