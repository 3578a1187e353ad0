"""Remote canonicalisation (every §6.5 example), credential stripping, and the repo hash of
real temporary git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentlytics.fingerprints.diff import fingerprint_hash
from agentlytics.fingerprints.remote import (
    RepoHashCache,
    canonicalize_git_remote_url,
    parse_fetch_remotes,
    repo_hash_for_cwd,
    repo_hash_for_url,
    select_remote_url,
    strip_url_credentials,
)

CANONICAL = [
    ("git@github.com:OpenAI/Codex.git", "github.com/openai/codex"),
    ("ssh://git@github.com/openai/codex.git", "github.com/openai/codex"),
    ("ssh://git@github.com:22/OpenAI/Codex.git", "github.com/openai/codex"),
    ("https://github.com/openai/codex.git", "github.com/openai/codex"),
    ("https://github.com:443/openai/codex.git", "github.com/openai/codex"),
    ("https://token@github.com/openai/codex/", "github.com/openai/codex"),
    ("github.com/OpenAI/Codex.git", "github.com/openai/codex"),
    ("git@ghe.company.com:Org/Repo.git", "ghe.company.com/Org/Repo"),
    ("ssh://git@ghe.company.com:2222/Org/Repo.git", "ghe.company.com:2222/Org/Repo"),
    ("", None),
    ("file:///tmp/repo", None),
    ("github.com/openai", None),
    ("/tmp/repo", None),
    ("https://GitHub.com/OpenAI/Codex", "github.com/openai/codex"),
    ("https://gitlab.com/Group/Sub/Repo.git", "gitlab.com/Group/Sub/Repo"),
    ("http://example.com:80/a/b", "example.com/a/b"),
    ("https://example.com:8443/a/b", "example.com:8443/a/b"),
    ("git://Example.com:9418/a/b.git", "example.com/a/b"),
    ("https://github.com/openai/codex.git?x=1#frag", "github.com/openai/codex"),
    ("https://user:pass@host.example/x/y", "host.example/x/y"),
    ("github.com:openai/codex", "github.com/openai/codex"),
    ("https://github.com/openai/codex.GIT", "github.com/openai/codex.git"),
    ("C:/repo/x", "c/repo/x"),
    # beyond the table: rules of §6.5 the table does not exercise
    ("  https://github.com/openai/codex.git//  ", "github.com/openai/codex"),
    ("https://github.com/./codex", None),
    ("https://github.com/../x", None),
    ("ftp://host/a/b", None),
    ("https://host", None),
    ("git@host:", None),
    ("https://ÉXAMPLE.com/A/b", "Éxample.com/A/b"),  # ASCII-only lowercasing
    ("https://github.com/Ü/Repo", "github.com/Ü/repo"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonicalize_git_remote_url(url: str, expected: str | None) -> None:
    assert canonicalize_git_remote_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///tmp/repo", "file:///tmp/repo"),
        ("file://user:secret@localhost/srv/x", "file://localhost/srv/x"),
        ("https://user:pass@host/x?token=abc#frag", "https://host/x"),
        ("https://tok@host", "https://host"),
        ("token@host/onlyone", "host/onlyone"),
        ("/tmp/repo", "/tmp/repo"),
        ("ext::ssh -i key host", "ext::ssh -i key host"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


def test_repo_hash_never_hashes_credentials() -> None:
    raw = "https://user:secret@host/x"  # one path component: no canonical form
    assert canonicalize_git_remote_url(raw) is None
    assert repo_hash_for_url(raw) == fingerprint_hash("repo", "https://host/x")
    assert repo_hash_for_url(raw) != fingerprint_hash("repo", raw)
    assert repo_hash_for_url("git@github.com:OpenAI/Codex.git") == (
        "ebe09d3405069192a994b36a394fc2a6a3dd3ee1"
    )


def test_parse_fetch_remotes_and_selection() -> None:
    output = (
        "zeta\thttps://z.example/a/b (fetch)\nzeta\thttps://z.example/a/b (push)\n"
        "beta https://b.example/a/b (fetch)\nempty\t (fetch)\ngarbage line\n"
        "alpha\t  git@a.example:a/b.git (fetch)\n"
    )
    remotes = parse_fetch_remotes(output)
    assert list(remotes) == ["alpha", "beta", "zeta"]
    assert remotes["alpha"] == "git@a.example:a/b.git"
    assert select_remote_url(remotes) == "git@a.example:a/b.git"
    assert select_remote_url({**remotes, "origin": "o"}) == "o"
    assert select_remote_url({}) is None


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    return path


def test_repo_hash_of_origin_with_credentials(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://user:ghp_secret@github.com/OpenAI/Codex.git")
    _git(repo, "remote", "add", "aaa", "https://example.com/other/repo")
    assert repo_hash_for_cwd(str(repo)) == fingerprint_hash("repo", "github.com/openai/codex")
    sub = repo / "sub"
    sub.mkdir()
    assert repo_hash_for_cwd(str(sub)) == fingerprint_hash("repo", "github.com/openai/codex")


def test_repo_hash_of_file_remote_is_credential_stripped(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "file://me:pw@localhost/srv/repo.git")
    expected = fingerprint_hash("repo", "file://localhost/srv/repo.git")
    assert repo_hash_for_cwd(str(repo)) == expected


def test_repo_hash_picks_alphabetically_first_without_origin(repo: Path) -> None:
    _git(repo, "remote", "add", "upstream", "git@github.com:b/b.git")
    _git(repo, "remote", "add", "fork", "git@github.com:a/a.git")
    assert repo_hash_for_cwd(str(repo)) == fingerprint_hash("repo", "github.com/a/a")


def test_repo_hash_none_without_remote_or_repo(repo: Path, tmp_path: Path) -> None:
    assert repo_hash_for_cwd(str(repo)) is None
    plain = tmp_path / "plain"
    plain.mkdir()
    assert repo_hash_for_cwd(str(plain)) is None
    assert repo_hash_for_cwd(str(tmp_path / "missing")) is None


def test_repo_hash_cache_runs_git_once_per_cwd_and_is_bounded(repo: Path, tmp_path: Path) -> None:
    _git(repo, "remote", "add", "origin", "git@github.com:OpenAI/Codex.git")
    cache = RepoHashCache(max_entries=2)
    expected = "ebe09d3405069192a994b36a394fc2a6a3dd3ee1"
    assert cache.get(str(repo)) == expected
    assert cache.get(str(repo)) == expected
    assert cache.lookups == 1
    others = []
    for name in ("p1", "p2"):
        other = tmp_path / name
        other.mkdir()
        others.append(str(other))
        assert cache.get(str(other)) is None
    assert len(cache) == 2
    assert cache.lookups == 3
    assert cache.get(str(repo)) == expected  # evicted (least recently used), looked up again
    assert cache.lookups == 4
