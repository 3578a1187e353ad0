"""Capture metadata lines: what the recorder knew about a thread that the wire does not say.

A capture's events must not depend on the machine that replays it. The repo hash of a
thread's working directory comes from ``git remote`` — of the *recording* machine, at record
time — so the recorder writes it into the capture as a metadata line, once per thread whose
``cwd`` it learns (from a ``thread/start|resume|fork`` result or a ``thread/started``
notification)::

    {"seq": N, "ts_ms": T, "dir": "meta", "meta": {"kind": "thread_repo", "thread_id": "…",
     "repo_hash": "<40 hex>"|null, "repo_name": "owner/name"|null, "branch": "main"|null}}

``repo_hash`` is computed exactly as the fingerprint events compute it
(:func:`~agentlytics.fingerprints.remote.repo_hash_for_cwd`). ``repo_name`` and ``branch``
are for the local warehouse's ``thread_projects`` table only; no event carries them.
Readers consume these lines; they are neither messages nor drops.
"""

from __future__ import annotations

import os

import msgspec

from agentlytics.bounded import BoundedMap
from agentlytics.fingerprints.git import GitLookupError, git_output
from agentlytics.fingerprints.remote import (
    canonicalize_git_remote_url,
    parse_fetch_remotes,
    repo_hash_for_url,
    select_remote_url,
    strip_url_credentials,
)
from agentlytics.protocol.wire import ThreadRepo

__all__ = ["ThreadRepo", "ThreadRepoTracker", "meta_record", "repo_identity"]

MAX_THREADS = 50_000


class RepoIdentity(msgspec.Struct, frozen=True):
    repo_hash: str | None
    repo_name: str | None
    branch: str | None


NO_REPO = RepoIdentity(None, None, None)


def repo_name_for_url(url: str) -> str:
    """``owner/name`` of a remote (the canonical URL's path), else its credential-free text."""
    canonical = canonicalize_git_remote_url(url)
    if canonical is None:
        return strip_url_credentials(url)
    return canonical.split("/", 1)[1]


def repo_identity(cwd: str) -> RepoIdentity:
    """Repo hash (as the fingerprint events compute it), name and branch of ``cwd``.

    Outside a repository everything is None; a repository without remotes has no hash and is
    named after its top-level directory; a detached HEAD has no branch. Raises
    :class:`GitLookupError` when git cannot be run (the answer is unknown, not "no repo").
    """
    remotes = git_output(cwd, "remote", "-v")
    if remotes is None:
        return NO_REPO
    url = select_remote_url(parse_fetch_remotes(remotes))
    branch = git_output(cwd, "symbolic-ref", "--short", "-q", "HEAD") or None
    if url is not None:
        return RepoIdentity(repo_hash_for_url(url), repo_name_for_url(url), branch)
    top = git_output(cwd, "rev-parse", "--show-toplevel")
    return RepoIdentity(None, os.path.basename(top) if top else None, branch)


class _ThreadRef(msgspec.Struct):
    id: str
    cwd: str | None = None


class _Body(msgspec.Struct):
    thread: _ThreadRef | None = None
    cwd: str | None = None


class _Msg(msgspec.Struct):
    result: _Body | None = None
    params: _Body | None = None


class _Line(msgspec.Struct):
    msg: _Msg | None = None


_wire_line = msgspec.json.Decoder(_Msg)
_capture_line = msgspec.json.Decoder(_Line)
_encode = msgspec.json.Encoder().encode


def thread_cwd(msg: _Msg) -> tuple[str, str] | None:
    """(thread id, cwd) a server message tells: a thread response's ``cwd`` (else its
    thread's), or a ``thread/started`` notification's thread ``cwd``."""
    for body in (msg.result, msg.params):
        if body is not None and body.thread is not None:
            cwd = body.cwd or body.thread.cwd
            if cwd:
                return body.thread.id, cwd
    return None


def wire_thread_cwd(line: bytes) -> tuple[str, str] | None:
    """:func:`thread_cwd` of one raw server→client wire line (cheap when there is no cwd)."""
    if b'"cwd"' not in line or b'"thread"' not in line:
        return None
    try:
        return thread_cwd(_wire_line.decode(line))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def capture_thread_cwd(line: bytes) -> tuple[str, str] | None:
    """:func:`thread_cwd` of one capture line (``{"seq", "ts_ms", "dir", "msg"}``)."""
    if b'"cwd"' not in line or b'"thread"' not in line:
        return None
    try:
        record = _capture_line.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return thread_cwd(record.msg) if record.msg is not None else None


def meta_record(seq: int, ts_ms: int, meta: ThreadRepo) -> bytes:
    """One capture metadata line, with its ``\\n``."""
    return b'{"seq": %d, "ts_ms": %d, "dir": "meta", "meta": %s}\n' % (seq, ts_ms, _encode(meta))


class ThreadRepoTracker:
    """Turns server lines into ``thread_repo`` metadata, once per thread, git once per cwd.

    A cwd whose lookup failed (git missing, timed out) is not cached, and its thread gets no
    line, so a replay falls back to its own lookup rather than trusting a non-answer.
    """

    def __init__(self) -> None:
        self._seen: BoundedMap[str, None] = BoundedMap("recorder threads", MAX_THREADS)
        self._identities: BoundedMap[str, RepoIdentity] = BoundedMap("recorder cwds", 256)

    def identity(self, cwd: str) -> RepoIdentity | None:
        known = self._identities.get(cwd)
        if known is not None:
            return known
        try:
            found = repo_identity(cwd)
        except GitLookupError:
            return None
        self._identities[cwd] = found
        return found

    def learn(self, thread_id: str, cwd: str) -> ThreadRepo | None:
        """The metadata to record for a thread seen with ``cwd``, or None (already recorded)."""
        if thread_id in self._seen:
            return None
        identity = self.identity(cwd)
        if identity is None:
            return None
        self._seen[thread_id] = None
        return ThreadRepo(
            "thread_repo", thread_id, identity.repo_hash, identity.repo_name, identity.branch
        )
