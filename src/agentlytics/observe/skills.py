"""Skill ids and repo URLs, resolved at the edge (spec §4.1; the reducer does no I/O).

A host skill (a ``SKILL.md`` on disk) is identified by where it lives: inside a git repository
with a remote, ``sha1("repo_<url>_<path relative to the repo root>_<name>")``; otherwise
``sha1("personal_<absolute path>_<name>")``. A resource skill (served by a plugin or MCP
server) has its own id, else ``sha1(<resource id>)``. Finding the repo root and remote runs
git, so it happens here, once per directory (cached), before the fact is built.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from agentlytics.facts import SkillInvocationResolved
from agentlytics.fingerprints.git import git_answer as _git
from agentlytics.fingerprints.remote import public_remote_url, strip_url_credentials
from agentlytics.vocabulary import InvocationType, SkillScope


@dataclass(frozen=True, slots=True)
class HostSkill:
    """A skill loaded from a file (``SkillInvocationLocation::Host``)."""

    path: str
    scope: SkillScope


@dataclass(frozen=True, slots=True)
class ResourceSkill:
    """A skill served as a resource (``SkillInvocationLocation::Resource``)."""

    id: str
    skill_id: str | None = None
    scope: SkillScope | None = None


@dataclass(frozen=True, slots=True)
class SkillInvocation:
    """What a host program reports when a turn invokes a skill (upstream ``SkillInvocation``)."""

    skill_name: str
    location: HostSkill | ResourceSkill
    invocation_type: InvocationType = "explicit"
    plugin_id: str | None = None
    remote_plugin_id: str | None = None


class SkillRepoCache:
    """Directory → (repo root, origin URL), bounded LRU, thread-safe.

    The URL is stripped of credentials before it is used or reported (a token in a remote URL
    must never reach analytics).
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.lookups = 0

    def get(self, directory: str) -> tuple[str | None, str | None]:
        with self._lock:
            if directory in self._entries:
                self._entries.move_to_end(directory)
                return self._entries[directory]
        self.lookups += 1
        root = _git(directory, "rev-parse", "--show-toplevel") if os.path.isdir(directory) else None
        url = _git(directory, "remote", "get-url", "origin") if root is not None else None
        value = (root, strip_url_credentials(url) if url else None)
        with self._lock:
            self._entries[directory] = value
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value


def _canonical(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return path


def normalize_skill_path(skill_path: str, repo_url: str | None, repo_root: str | None) -> str:
    """The path hashed into a host skill's id: relative to the repo root when the skill is in a
    repository with a URL, else absolute; canonicalised, with ``/`` separators."""
    path = _canonical(skill_path)
    if repo_url is not None and repo_root is not None:
        root = _canonical(repo_root)
        if Path(path).is_relative_to(root):
            path = str(Path(path).relative_to(root))
    return path.replace("\\", "/")


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def resolve_skill(invocation: SkillInvocation, repos: SkillRepoCache) -> SkillInvocationResolved:
    """An invocation with its ``skill_id``, scope and ``repo_url`` (git runs here, cached)."""
    location = invocation.location
    if isinstance(location, HostSkill):
        root, url = repos.get(os.path.dirname(_canonical(location.path)))
        path = normalize_skill_path(location.path, url, root)
        prefix = f"repo_{url}" if url is not None else "personal"
        skill_id = sha1_hex(f"{prefix}_{path}_{invocation.skill_name}")
        scope: SkillScope | None = location.scope
    else:
        url = None
        skill_id = location.skill_id or sha1_hex(location.id)
        scope = location.scope
    return SkillInvocationResolved(
        skill_id=skill_id,
        skill_name=invocation.skill_name,
        skill_scope=scope,
        plugin_id=invocation.plugin_id,
        remote_plugin_id=invocation.remote_plugin_id,
        repo_url=public_remote_url(url),  # never credentials, file:// or a local path
        invoke_type=invocation.invocation_type,
    )
