"""The one way agentlytics runs git: hooks and fsmonitor off, no optional locks, a timeout.

Every git call (the repo hash of a working directory, the recorder's repository metadata, a
skill's repository, attribution's ``git log -p``) reads metadata of a repository the user
chose, so it must never run that repository's code (hooks, fsmonitor), contend with the
user's own git (optional locks) or prompt for credentials. It lives under ``fingerprints``,
the lowest package that needs git, so ``observe`` and ``warehouse`` import it one way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Final

#: Git metadata commands must not block on a slow filesystem forever (Codex uses 5 s too).
GIT_COMMAND_TIMEOUT_S: Final = 5.0
_NULL_DEVICE: Final = "NUL" if sys.platform == "win32" else "/dev/null"


class GitLookupError(Exception):
    """git could not be run or timed out: the answer is unknown, not "no repository"."""


def safe_git_command(*args: str) -> list[str]:
    """``git`` with hooks and fsmonitor disabled: metadata reads must not run repo code."""
    return [
        "git",
        "-c",
        f"core.hooksPath={_NULL_DEVICE}",
        "-c",
        "core.fsmonitor=false",
        *args,
    ]


def safe_git_env() -> dict[str, str]:
    """Environment for git: no optional locks (never contend with the user's own git)."""
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def git_output(cwd: str, *args: str) -> str | None:
    """Stripped stdout of a read-only git command in ``cwd``; None when git says no (not a
    repository, no such ref) or ``cwd`` is gone. Raises :class:`GitLookupError` when git
    cannot answer (not installed, timed out), so callers can tell "unknown" from "no"."""
    try:
        proc = subprocess.run(
            safe_git_command(*args),
            cwd=cwd,
            env=safe_git_env(),
            capture_output=True,
            timeout=GIT_COMMAND_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (FileNotFoundError, NotADirectoryError) as exc:  # cwd missing, or git not installed
        if not os.path.isdir(cwd):
            return None
        raise GitLookupError(f"git not available: {exc}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitLookupError(str(exc)) from exc
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace").strip()


def git_answer(cwd: str, *args: str) -> str | None:
    """:func:`git_output`, best effort: None for "no", "unknown" and empty output alike."""
    try:
        return git_output(cwd, *args) or None
    except GitLookupError:
        return None
