"""Code attribution: what share of a repository's added lines match lines the agent wrote.

Inputs: the ``codex_accepted_line_fingerprints`` events in the DuckDB warehouse (hashes only)
and the repository's own history (``git log -p``). Each commit's added lines are fingerprinted
with the exact rules of :mod:`agentlytics.fingerprints.diff`; a commit line matches when an
accepted agent line has the same repo hash, path hash and line hash. See ``docs/attribution.md``.

Matching is a multiset: every accepted agent line (one fingerprint in one event) can be
consumed by at most one commit line, so one accepted ``return None`` does not claim fifty
identical lines. Commits are walked oldest first; an agent line from a turn that completed at
``T`` may only match commits committed at ``T - time_slack`` or later (history written before
the agent ran cannot be its work), and among the eligible instances the latest is consumed so
that the older ones stay available for commits whose dates are out of order.

Paths appear in the report because it stays on this machine; they never go into events.
"""

from __future__ import annotations

import bisect
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import duckdb
import msgspec

from agentlytics.events.fingerprints import AcceptedLineFingerprints
from agentlytics.fingerprints.diff import (
    effective_lines,
    fingerprint_hash,
    iter_file_sections,
    line_hash,
)
from agentlytics.fingerprints.git import safe_git_command, safe_git_env
from agentlytics.fingerprints.remote import repo_hash_for_cwd

FINGERPRINT_EVENT_TYPE: Final = AcceptedLineFingerprints.EVENT_TYPE
DEFAULT_TIME_SLACK_S: Final = 24 * 3600

_FINGERPRINT_SQL: Final = """
SELECT fp.path_hash, fp.line_hash, completed_at FROM (
  SELECT TRY_CAST(json_extract(payload, '$.event_params.completed_at') AS BIGINT) AS completed_at,
         unnest(from_json(json_extract(payload, '$.event_params.line_fingerprints'),
                          '[{"path_hash": "VARCHAR", "line_hash": "VARCHAR"}]')) AS fp
  FROM events
  WHERE event_type = ?
    AND json_extract_string(payload, '$.event_params.repo_hash') = ?
)
WHERE fp.path_hash IS NOT NULL AND fp.line_hash IS NOT NULL
"""

#: Commit header line written by ``--format``; NUL cannot start a line of patch output.
_FORMAT: Final = "--format=%x00%H%x00%an%x00%ae%x00%ct%x00%s"


class AttributionError(Exception):
    """A user-facing failure (no warehouse, not a repository, bad revision …)."""


@dataclass(slots=True)
class AgentLines:
    """Accepted agent lines of one repo: ``path_hash → line_hash → sorted completion times``.

    A line accepted n times appears n times; matching removes entries as it consumes them.
    """

    by_path: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    total: int = 0

    def add(self, path_hash: str, line_hash: str, completed_at: int) -> None:
        """Record one accepted agent line."""
        times = self.by_path.setdefault(path_hash, {}).setdefault(line_hash, [])
        bisect.insort(times, completed_at)
        self.total += 1

    def take(self, path_hash: str, line_hash_value: str, not_after: int | None) -> bool:
        """Consume the latest instance completed at or before ``not_after`` (None: any)."""
        lines = self.by_path.get(path_hash)
        if lines is None:
            return False
        times = lines.get(line_hash_value)
        if not times:
            return False
        if not_after is None:
            times.pop()
            return True
        i = bisect.bisect_right(times, not_after)
        if i == 0:
            return False
        del times[i - 1]
        return True


def load_agent_lines(warehouse: Path, repo_hash: str) -> AgentLines:
    """All accepted agent fingerprints for ``repo_hash`` from the warehouse ``events`` table."""
    if not warehouse.is_file():
        raise AttributionError(f"warehouse not found: {warehouse}")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise AttributionError(f"cannot open warehouse {warehouse}: {exc}") from exc
    agent = AgentLines()
    try:
        cursor = con.execute(_FINGERPRINT_SQL, [FINGERPRINT_EVENT_TYPE, repo_hash])
        while rows := cursor.fetchmany(50_000):
            for path_hash, line_hash_value, completed_at in rows:
                agent.add(path_hash, line_hash_value, int(completed_at or 0))
    except duckdb.Error as exc:
        raise AttributionError(f"cannot read fingerprint events from {warehouse}: {exc}") from exc
    finally:
        con.close()
    return agent


@dataclass(slots=True)
class CommitPatch:
    """One commit of ``git log -p``: metadata and its patch text."""

    sha: str
    author_name: str
    author_email: str
    committed_at: int
    subject: str
    patch: str


def git_log_command(since: str | None, until: str | None) -> list[str]:
    """``git log -p`` over ``since..until`` (oldest first) with deterministic, safe output.

    User config that would change the patch text is overridden: prefixes (so paths normalise
    as in the agent's diff), quoting of non-ASCII paths, relative diffs, external diff
    drivers, textconv, colour, signatures. Merges are skipped: their lines are attributed in
    the commits that introduced them. Renames are detected so a moved file is not "added".
    """
    revision = until or "HEAD"
    if since:
        revision = f"{since}..{revision}"
    return safe_git_command(
        "-c", "core.quotePath=false",
        "-c", "diff.noprefix=false",
        "-c", "diff.mnemonicPrefix=false",
        "-c", "diff.relative=false",
        "-c", "log.showSignature=false",
        "log", "-p", "--reverse", "--no-merges", "-M",
        "--no-color", "--no-ext-diff", "--no-textconv",
        "--src-prefix=a/", "--dst-prefix=b/",
        _FORMAT, "--end-of-options", revision,
    )  # fmt: skip


def iter_commit_patches(repo: Path, since: str | None, until: str | None) -> Iterator[CommitPatch]:
    """Stream commits from ``git log -p``: one commit's patch in memory at a time."""
    proc = subprocess.Popen(
        git_log_command(since, until),
        cwd=repo,
        env=safe_git_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    header: list[str] | None = None
    lines: list[bytes] = []
    try:
        for raw in proc.stdout:
            if raw.startswith(b"\x00"):
                if header is not None:
                    yield _commit(header, lines)
                header = raw.rstrip(b"\n").decode("utf-8", "replace").split("\x00")[1:]
                lines = []
            else:
                lines.append(raw)
        if header is not None:
            yield _commit(header, lines)
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        code = proc.wait()
    if code != 0:
        raise AttributionError(f"git log failed ({code}): {stderr.strip()}")


def _commit(header: list[str], lines: list[bytes]) -> CommitPatch:
    sha, name, email, committed, subject = (header + [""] * 5)[:5]
    patch = b"".join(lines).decode("utf-8", "replace")
    return CommitPatch(sha, name, email, int(committed or 0), subject, patch)


class LineStats(msgspec.Struct):
    """Added lines, the fingerprintable ones among them, and those matching agent lines."""

    added_lines: int = 0
    eligible_lines: int = 0
    matched_lines: int = 0
    share: float | None = None

    def finish(self) -> None:
        """Share of eligible lines that matched (None when nothing was eligible)."""
        self.share = self.matched_lines / self.eligible_lines if self.eligible_lines else None


class CommitReport(LineStats, kw_only=True):
    """Per-commit figures."""

    sha: str
    author: str
    committed_at: int
    subject: str


class AuthorReport(LineStats, kw_only=True):
    """Per-author (``Name <email>``) figures."""

    author: str
    commits: int = 0


class PathReport(LineStats, kw_only=True):
    """Per-path figures (paths stay in the local report, never in events)."""

    path: str


class AttributionReport(msgspec.Struct):
    """The whole report, as written by ``--json``."""

    repo: str
    repo_hash: str
    since: str | None
    until: str | None
    time_slack_s: int | None
    agent_lines_loaded: int
    commits: list[CommitReport]
    authors: list[AuthorReport]
    paths: list[PathReport]
    totals: LineStats


def attribute_commits(
    commits: Iterable[CommitPatch], agent: AgentLines, time_slack_s: int | None
) -> tuple[list[CommitReport], list[AuthorReport], list[PathReport], LineStats]:
    """Match each commit's effective added lines against the agent lines (consuming them)."""
    path_hashes: dict[str, str] = {}
    commit_reports: list[CommitReport] = []
    authors: dict[str, AuthorReport] = {}
    paths: dict[str, PathReport] = {}
    totals = LineStats()
    for commit in commits:
        author = f"{commit.author_name} <{commit.author_email}>"
        report = CommitReport(
            sha=commit.sha, author=author, committed_at=commit.committed_at, subject=commit.subject
        )
        not_after = None if time_slack_s is None else commit.committed_at + time_slack_s
        for section in iter_file_sections(commit.patch):
            if not section.added:
                continue
            path = section.path
            counted = len(section.added)
            eligible = matched = 0
            if path is not None:
                path_hash = path_hashes.get(path)
                if path_hash is None:
                    path_hash = path_hashes[path] = fingerprint_hash("path", path)
                candidates = agent.by_path.get(path_hash)
                for norm in effective_lines(section.added):
                    if norm is None:
                        continue
                    eligible += 1
                    if candidates and agent.take(path_hash, line_hash(norm), not_after):
                        matched += 1
            for stats in (report, totals, _path_stats(paths, path)):
                stats.added_lines += counted
                stats.eligible_lines += eligible
                stats.matched_lines += matched
        author_stats = authors.get(author)
        if author_stats is None:
            author_stats = authors[author] = AuthorReport(author=author)
        author_stats.commits += 1
        author_stats.added_lines += report.added_lines
        author_stats.eligible_lines += report.eligible_lines
        author_stats.matched_lines += report.matched_lines
        report.finish()
        commit_reports.append(report)
    for group in (authors.values(), paths.values()):
        for item in group:
            item.finish()
    totals.finish()
    author_list = sorted(authors.values(), key=lambda a: (-a.added_lines, a.author))
    path_list = sorted(paths.values(), key=lambda p: (-p.added_lines, p.path))
    return commit_reports, author_list, path_list, totals


def _path_stats(paths: dict[str, PathReport], path: str | None) -> PathReport:
    key = path if path is not None else "(no path)"
    stats = paths.get(key)
    if stats is None:
        stats = paths[key] = PathReport(path=key)
    return stats


def attribute(
    repo: Path,
    warehouse: Path,
    since: str | None = None,
    until: str | None = None,
    *,
    repo_hash: str | None = None,
    time_slack_s: int | None = DEFAULT_TIME_SLACK_S,
) -> AttributionReport:
    """Attribution report for ``since..until`` of the repository at ``repo``."""
    if not repo.is_dir():
        raise AttributionError(f"not a directory: {repo}")
    if repo_hash is None:
        repo_hash = repo_hash_for_cwd(str(repo))
        if repo_hash is None:
            raise AttributionError(
                f"{repo} is not a git repository with a remote: no repo hash to match events on"
            )
    agent = load_agent_lines(warehouse, repo_hash)
    loaded = agent.total
    commits, authors, paths, totals = attribute_commits(
        iter_commit_patches(repo, since, until), agent, time_slack_s
    )
    return AttributionReport(
        repo=str(repo),
        repo_hash=repo_hash,
        since=since,
        until=until,
        time_slack_s=time_slack_s,
        agent_lines_loaded=loaded,
        commits=commits,
        authors=authors,
        paths=paths,
        totals=totals,
    )


def report_json(report: AttributionReport) -> bytes:
    """The report as indented JSON (stable key order)."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


def _share(stats: LineStats) -> str:
    return "–" if stats.share is None else f"{stats.share:.1%}"


def render_report(report: AttributionReport, limit: int = 20) -> None:
    """Print totals and the per-author, per-path and per-commit tables with rich."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = report.totals
    console.print(
        f"[bold]{report.repo}[/bold]  repo hash {report.repo_hash[:12]}…  "
        f"{len(report.commits)} commits, {report.agent_lines_loaded} accepted agent lines loaded"
    )
    console.print(
        f"agent share: [bold]{_share(t)}[/bold] of {t.eligible_lines} fingerprintable added lines "
        f"({t.matched_lines} matched; {t.added_lines} added lines in total)"
    )

    def table(title: str, key_name: str, rows: list[tuple[str, LineStats]], total: int) -> None:
        tbl = Table(title=title if total <= limit else f"{title} (top {limit} of {total})")
        tbl.add_column(key_name, overflow="fold")
        for name in ("added", "eligible", "matched", "share"):
            tbl.add_column(name, justify="right")
        for key, stats in rows[:limit]:
            tbl.add_row(
                key,
                str(stats.added_lines),
                str(stats.eligible_lines),
                str(stats.matched_lines),
                _share(stats),
            )
        console.print(tbl)

    table("Authors", "author", [(a.author, a) for a in report.authors], len(report.authors))
    table("Paths", "path", [(p.path, p) for p in report.paths], len(report.paths))
    recent = list(reversed(report.commits))
    table(
        "Commits (newest first)",
        "commit",
        [(f"{c.sha[:10]} {c.subject[:50]}", c) for c in recent],
        len(recent),
    )
