"""Privacy audit: find raw content in analytics events that must never leave the machine.

Two kinds of checks run over every string (and map key) in every event:

* **generic** — credentials (URL userinfo, GitHub/OpenAI/GitLab/Slack/AWS tokens, bearer
  strings, private keys), remote URLs, absolute paths, diff text, and hash fields
  (``path_hash``/``line_hash``/``repo_hash``) that are not 40-hex SHA-1;
* **known secrets** — values collected from the capture the events came from (added/removed
  diff lines of ≥ 8 characters, paths from diff headers and file changes, cwd and workspace
  roots) plus any the caller adds: a finding when an event string equals one, or contains one
  that is long enough to be meaningful.

``audit_events`` is a plain function so that the test suite can run it over everything it
produces. What the OTLP sink exports is audited by :mod:`agentlytics.otel.audit` with these checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

from agentlytics.fingerprints.diff import normalize_diff_path, rust_lines

#: A diff line shorter than this is too common ("}", "return") to count as leaked code.
MIN_LINE_CHARS: Final = 8
#: Paths, cwd and URLs shorter than this are only reported on exact equality.
MIN_CONTAINED_CHARS: Final = 4

_HASH_FIELDS: Final = frozenset({"path_hash", "line_hash", "repo_hash"})
#: Upstream's SHA-1, or HMAC-SHA-256 in the opt-in keyed mode (``[fingerprints] key``).
_SHA1_HEX: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")

_CREDENTIAL_PATTERNS: Final = [
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s@]+@"), "URL with credentials (userinfo)"),
    # A password may hold "/" (https://user:pa/ss@host/...): user, colon, anything, then "@".
    (
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s@:]*:[^\s@]*@[A-Za-z0-9\[]"),
        "URL with credentials (userinfo)",
    ),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "GitHub token"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), "GitHub fine-grained token"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "API secret key (sk-…)"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{16,}"), "GitLab token"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "Slack token"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "AWS access key id"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "bearer token"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "private key"),
]
_URL: Final = re.compile(r"\b(?:https?|ssh|git|file|ftp)://\S+|\b[\w.-]+@[\w-]+(?:\.[\w-]+)+:\S+")
_ABSOLUTE_PATH: Final = re.compile(
    r"(?<![\w:/.~\]-])/(?:[\w.@+-]+/)+[\w.@+-]*|\b[A-Za-z]:[\\/]\S*|(?<![\w/])~/[\w.-]+"
)
#: ``file://`` URLs name local directories, even in a field where remote URLs are allowed.
_FILE_URL: Final = re.compile(r"(?i)\bfile:/")
#: ``./x``, ``../x`` anywhere; in ids and model slugs also ``dir/name.ext`` as the whole value.
_DOT_PATH: Final = re.compile(r"(?<![\w/.-])\.{1,2}[\\/][\w.-]")
_FILE_LIKE: Final = re.compile(r"(?:[\w.-]+[\\/])+[\w-]+\.[A-Za-z][A-Za-z0-9]{0,7}")
_DIFF_TEXT: Final = re.compile(r"^(?:diff --git |@@ -\d|--- a/|\+\+\+ b/)|\n[+-]", re.M)

#: Fields where upstream deliberately sends a (credential-free) URL.
_URL_ALLOWED: Final = frozenset({("skill_invocation", "event_params.repo_url")})


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: which event, where in it, and why."""

    index: int
    event_type: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"event #{self.index} ({self.event_type}) {self.field}: {self.reason}"


@dataclass(slots=True)
class KnownSecrets:
    """Strings known to be raw local content, each with what it is (``"diff line"`` …)."""

    values: dict[str, str] = field(default_factory=dict)
    _pattern: re.Pattern[str] | None = None
    _dirty: bool = True

    def add(self, value: str, kind: str) -> None:
        """Remember one value (ignored when blank)."""
        value = value.strip()
        if value and value not in self.values:
            self.values[value] = kind
            self._dirty = True

    def __len__(self) -> int:
        return len(self.values)

    def find(self, text: str) -> tuple[str, str] | None:
        """``(kind, secret)`` for a secret that equals or is contained in ``text``."""
        kind = self.values.get(text.strip())
        if kind is not None:
            return kind, text.strip()
        if self._dirty:
            long_enough = (v for v, kind in self.values.items() if len(v) >= _min_len(kind))
            contained = sorted(long_enough, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, contained))) if contained else None
            self._dirty = False
        if self._pattern is None:
            return None
        match = self._pattern.search(text)
        if match is None:
            return None
        return self.values[match.group()], match.group()

    def add_diff(self, diff: str) -> None:
        """Add a unified diff's changed lines and the paths in its headers."""
        for line in rust_lines(diff):
            if line.startswith(("+++ ", "--- ")):
                path = normalize_diff_path(line[4:])
                if path:
                    self.add(path, "path from a diff header")
            elif line.startswith("diff --git "):
                for part in line[len("diff --git ") :].split(" "):
                    path = normalize_diff_path(part)
                    if path:
                        self.add(path, "path from a diff header")
            elif line[:1] in ("+", "-"):
                content = line[1:].strip()
                if len(content) >= MIN_LINE_CHARS:
                    self.add(content, "raw diff line")
                    self.add(" ".join(content.split()), "raw diff line")

    def add_capture(self, path: Path) -> None:
        """Collect secrets from a capture file (JSONL of ``{"msg": …}`` records)."""
        with path.open("rb") as fh:
            for raw in fh:
                try:
                    record = msgspec.json.decode(raw)
                except msgspec.DecodeError:
                    continue
                if isinstance(record, dict):
                    self._walk_capture(record.get("msg"))

    def _walk_capture(self, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str):
                    if key == "diff":
                        self.add_diff(value)
                    elif key in ("cwd", "path", "movePath", "remoteUrl", "url"):
                        self.add(value, f"local {key}")
                elif isinstance(value, list) and key == "runtimeWorkspaceRoots":
                    for root in value:
                        if isinstance(root, str):
                            self.add(root, "local workspace root")
                else:
                    self._walk_capture(value)
        elif isinstance(node, list):
            for item in node:
                self._walk_capture(item)


def _min_len(kind: str) -> int:
    return MIN_LINE_CHARS if kind == "raw diff line" else MIN_CONTAINED_CHARS


def _strings(node: Any, path: str) -> Iterator[tuple[str, str, bool]]:
    """``(field_path, string, is_key)`` for every string value and map key under ``node``."""
    if isinstance(node, str):
        yield path, node, False
    elif isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key), True
            yield from _strings(value, child)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")


def _leaf_name(field_path: str) -> str:
    return field_path.rsplit(".", 1)[-1].split("[", 1)[0]


def _is_id_field(field_path: str) -> bool:
    """Ids and model slugs: opaque tokens, never a file name."""
    leaf = _leaf_name(field_path)
    return leaf in ("model_slug", "model") or leaf.endswith(("_id", "_ids"))


def _check_string(event_type: str, field_path: str, text: str, is_key: bool) -> Iterator[str]:
    """Reasons why one string is not allowed in an event (generic checks)."""
    if not is_key and _leaf_name(field_path) in _HASH_FIELDS and not _SHA1_HEX.fullmatch(text):
        yield "hash field is not a 40-hex SHA-1 (raw value?)"
    for pattern, reason in _CREDENTIAL_PATTERNS:
        if pattern.search(text):
            yield reason
    if _URL.search(text) and (event_type, field_path) not in _URL_ALLOWED:
        yield "remote URL"
    if _FILE_URL.search(text):
        yield "local file URL (file://)"
    if _ABSOLUTE_PATH.search(text):
        yield "absolute path"
    elif _DOT_PATH.search(text) or (_is_id_field(field_path) and _FILE_LIKE.fullmatch(text)):
        yield "relative path"
    elif (
        event_type == "codex_accepted_line_fingerprints"
        and _leaf_name(field_path).endswith("_id")
        and ("/" in text or "\\" in text)
    ):
        yield "path separator in an id"
    if _DIFF_TEXT.search(text):
        yield "diff text"


def string_findings(event_type: str, field_path: str, text: str, is_key: bool = False) -> list[str]:
    """The generic checks' reasons against one string (``field_path`` as in the event JSON,
    e.g. ``event_params.repo_url``); empty when it may leave the machine. Sinks that reshape
    events (the OTLP sink) filter with this, so they keep the same rule as the events."""
    return list(_check_string(event_type, field_path, text, is_key))


def audit_events(
    events: Iterable[Mapping[str, Any]], known_secrets: KnownSecrets | None = None
) -> list[Finding]:
    """Every finding in ``events`` (``{"event_type", "event_params"}`` dicts), in order."""
    findings: list[Finding] = []
    for index, event in enumerate(events):
        event_type = str(event.get("event_type", "?")) if isinstance(event, Mapping) else "?"
        if not isinstance(event, Mapping):
            findings.append(Finding(index, event_type, "", "event is not a JSON object"))
            continue
        for field_path, text, is_key in _strings(event, ""):
            if field_path == "event_type" and not is_key:
                continue
            where = field_path + (" (key)" if is_key else "")
            for reason in _check_string(event_type, field_path, text, is_key):
                findings.append(Finding(index, event_type, where, reason))
            if known_secrets is not None and len(known_secrets):
                hit = known_secrets.find(text)
                if hit is not None:
                    kind, secret = hit
                    verb = "equals" if secret == text.strip() else "contains"
                    findings.append(Finding(index, event_type, where, f"{verb} a {kind}"))
    return findings


def load_events(path: Path) -> tuple[list[Any], list[Finding]]:
    """Events from a JSONL file (one event, or one ``{"events": [...]}`` batch, per line).

    Unparseable lines become findings rather than errors: an audit must not pass a file it
    could not read.
    """
    events: list[Any] = []
    problems: list[Finding] = []
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                data = msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                problems.append(Finding(-1, "?", f"line {number}", f"unparseable JSON: {exc}"))
                continue
            if isinstance(data, dict) and isinstance(data.get("events"), list):
                events.extend(data["events"])
            else:
                events.append(data)
    return events, problems
