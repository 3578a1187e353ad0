"""Synthesise the facts Codex makes in-process from what the wire shows (spec decision 2).

Codex's reducer is fed a resolved turn config, turn token usage, a turn error category and
subagent-thread starts from inside the app-server. On the wire we see their traces instead:

* resolved config — the ``thread/start|resume|fork`` result, overridden by ``turn/start`` params
  (which apply "for this turn and subsequent turns") and ``thread/settings/updated``; one
  :class:`TurnResolvedConfig` is emitted when the turn starts.
* token usage — ``thread/tokenUsage/updated`` carries the *thread's* running total; a turn's
  usage is how much that total grew over the turn (last total in the turn minus the thread's
  total before it). One :class:`TurnTokenUsage` is emitted just before ``turn/completed``.
* turn error category — ``turn.error.codexErrorInfo`` of a completed turn.
* subagent threads — a parent's ``subAgentActivity`` (kind ``started``) or a ``spawnAgent``
  collab call names the child thread; ``thread/started`` of a thread with a parent does too.

This is edge state, not reducer state: it may be stateful, but like the reducer it reads no
clock (times come from the protocol or the observation stamp) and every map is bounded.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import msgspec

from agentlytics.bounded import BoundedMap
from agentlytics.drops import Drops
from agentlytics.facts import (
    Fact,
    RuntimeMetadata,
    SubAgentThreadStarted,
    TokenUsage,
    TurnCodexError,
    TurnResolvedConfig,
    TurnTokenUsage,
)
from agentlytics.fingerprints.remote import RepoHashCache
from agentlytics.protocol.types import (
    ThreadSettings,
    ThreadStartResponse,
    TokenUsageBreakdown,
    Turn,
    TurnStartParams,
    count_images,
)
from agentlytics.protocol.wire import ThreadRepo
from agentlytics.reducer.state import IDLE_THREAD_SWEEPS
from agentlytics.vocabulary import CollaborationMode, SandboxPolicyName

RepoSource = Literal["capture", "local git"]

MAX_THREADS = 50_000
#: The edge looks for idle threads every this many messages (``IDLE_THREAD_SWEEPS`` of them).
IDLE_SWEEP_MESSAGES = 16_384


@cache
def default_repo_hashes() -> RepoHashCache:
    """One process-wide cache: git runs once per working directory."""
    return RepoHashCache()


MAX_ACTIVE_TURNS_PER_THREAD = 64


def sandbox_policy_name(sandbox: Any) -> tuple[SandboxPolicyName | None, bool]:
    """Legacy ``SandboxPolicy`` → (analytics ``sandbox_policy``, network access enabled)."""
    if not isinstance(sandbox, dict):
        return None, False
    kind = sandbox.get("type")
    network = sandbox.get("networkAccess")
    if kind == "dangerFullAccess":
        return "full_access", True
    if kind == "readOnly":
        return "read_only", network is True
    if kind == "workspaceWrite":
        return "workspace_write", network is True
    if kind == "externalSandbox":
        return "external_sandbox", network == "enabled"
    return None, False


def approval_policy_name(policy: Any) -> str:
    """``AskForApproval`` as Codex displays it (kebab-case; the granular object → ``granular``)."""
    if isinstance(policy, str):
        return policy
    if isinstance(policy, dict) and "granular" in policy:
        return "granular"
    return "on-request"


def collaboration_mode_name(mode: Any) -> CollaborationMode:
    """``plan`` for Plan mode, ``default`` for every other mode (spec §3.2)."""
    if isinstance(mode, dict):
        mode = mode.get("mode")
    return "plan" if mode == "plan" else "default"


def _none_if_none(value: str | None) -> str | None:
    return None if value in (None, "none") else value


_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")

#: codexErrorInfo variants whose CodexErrKind name is not their snake_case spelling.
_ERROR_KIND_RENAMES = {
    "usageLimitExceeded": "usage_limit_reached",
    "badRequest": "invalid_request",
}


def codex_error_kind(info: Any) -> tuple[str, int | None] | None:
    """``codexErrorInfo`` → (CodexErrKind, HTTP status) or None when the turn had no error info.

    Unit variants are strings (``contextWindowExceeded``), data variants single-key objects
    (``{"httpConnectionFailed": {"httpStatusCode": 502}}``).
    """
    if isinstance(info, str):
        name, status = info, None
    elif isinstance(info, dict) and len(info) == 1:
        name, payload = next(iter(info.items()))
        status = payload.get("httpStatusCode") if isinstance(payload, dict) else None
        if not isinstance(status, int):
            status = None
    else:
        return None
    kind = _ERROR_KIND_RENAMES.get(name) or _CAMEL_BOUNDARY.sub("_", name).lower()
    return kind, status


@dataclass(slots=True)
class ActiveTurn:
    baseline: TokenUsageBreakdown | None
    last_total: TokenUsageBreakdown | None = None


@dataclass(slots=True)
class ThreadView:
    """What the edge knows about one thread's configuration and token total."""

    session_id: str
    model: str
    model_provider: str
    ephemeral: bool
    cwd: str | None = None
    service_tier: str | None = None
    approval_policy: str = "on-request"
    approvals_reviewer: str = "user"
    sandbox_policy: SandboxPolicyName | None = None
    network_access: bool = False
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    personality: str | None = None
    collaboration_mode: CollaborationMode = "default"
    turns_started: int = 0
    total: TokenUsageBreakdown | None = None
    #: Tokens in the model's context as Codex last reported them (``tokenUsage.last``'s
    #: total: upstream's ``get_total_token_usage`` before local estimates); 0 before any.
    context_tokens: int = 0
    pending_images: int = 0
    active: dict[str, ActiveTurn] = field(default_factory=dict)
    #: The idle sweep (``Synthesizer.epoch``) at the thread's last start/resume or turn start.
    seen_epoch: int = 0


def _usage_delta(end: TokenUsageBreakdown, start: TokenUsageBreakdown | None) -> TokenUsage:
    def d(name: str) -> int:
        before: int = getattr(start, name) if start is not None else 0
        after: int = getattr(end, name)
        return max(0, after - before)

    return TokenUsage(
        input_tokens=d("input_tokens"),
        cached_input_tokens=d("cached_input_tokens"),
        cache_write_input_tokens=d("cache_write_input_tokens"),
        output_tokens=d("output_tokens"),
        reasoning_output_tokens=d("reasoning_output_tokens"),
        total_tokens=d("total_tokens"),
    )


class Synthesizer:
    """Per-connection edge state that turns wire traces into custom facts."""

    def __init__(self, drops: Drops, repo_hash: Callable[[str], str | None] | None = None) -> None:
        self.drops = drops
        #: cwd → hash of its canonical git remote; git runs here, at the edge, never in the reducer.
        self.repo_hash = repo_hash if repo_hash is not None else default_repo_hashes().get
        self.threads: BoundedMap[str, ThreadView] = BoundedMap("edge threads", MAX_THREADS)
        self.client_name: str | None = None
        self.client_version: str | None = None
        self.runtime: RuntimeMetadata | None = None
        #: ``initialize`` result ``codexHome``: where user-level config (and hooks) live.
        self.codex_home: str | None = None
        #: Threads whose repo the capture recorded (``dir: meta`` lines), in arrival order.
        self.recorded_repos: BoundedMap[str, ThreadRepo] = BoundedMap(
            "edge recorded repos", MAX_THREADS
        )
        #: thread → where its turns' repo hash came from: ``capture`` (a metadata line) or
        #: ``local git`` (this machine's ``git remote`` of the thread's cwd).
        self.repo_sources: BoundedMap[str, RepoSource] = BoundedMap(
            "edge repo sources", MAX_THREADS
        )
        #: Idle sweeps so far, and the repo sources of threads that left by going quiet.
        self.epoch = 0
        self.idle_repo_sources: Counter[str] = Counter()
        self.idle_threads = 0

    def sweep_idle(self) -> None:
        """Threads quiet for ``IDLE_THREAD_SWEEPS`` sweeps (no thread start/resume/fork, no turn
        start) leave the edge, as they leave the reducer: real app-servers never send
        ``thread/closed``. Their repo source stays counted; a returning thread needs its
        ``thread/resume`` (else its turns are counted drops)."""
        self.epoch += 1
        cutoff = self.epoch - IDLE_THREAD_SWEEPS
        idle = [k for k, v in self.threads.items() if v.seen_epoch <= cutoff]
        for thread_id in idle:
            del self.threads[thread_id]
            source = self.repo_sources.pop(thread_id, None)
            if source is not None:
                self.idle_repo_sources[source] += 1
        self.idle_threads += len(idle)

    def repo_source_counts(self) -> Counter[str]:
        """Threads by where their repo hash came from (those that went quiet included)."""
        counts = Counter(self.idle_repo_sources)
        counts.update(self.repo_sources.values())
        return counts

    # --- configuration ----------------------------------------------------------------------

    def thread_response(self, response: ThreadStartResponse) -> None:
        """A ``thread/start|resume|fork`` result: the configuration the server resolved."""
        thread = response.thread
        policy, network = sandbox_policy_name(response.sandbox)
        previous = self.threads.get(thread.id)
        view = ThreadView(
            session_id=thread.session_id or thread.id,
            model=response.model or thread.model or "",
            model_provider=response.model_provider or thread.model_provider or "",
            ephemeral=thread.ephemeral,
            cwd=response.cwd or thread.cwd,
            service_tier=response.service_tier,
            approval_policy=approval_policy_name(response.approval_policy),
            approvals_reviewer=response.approvals_reviewer or "user",
            sandbox_policy=policy,
            network_access=network,
            reasoning_effort=response.reasoning_effort,
            collaboration_mode=collaboration_mode_name(response.collaboration_mode),
            turns_started=len(thread.turns),
        )
        if previous is not None:
            view.total = previous.total
            view.turns_started = max(view.turns_started, previous.turns_started)
        view.seen_epoch = self.epoch
        self.threads[thread.id] = view

    def turn_start_accepted(self, params: TurnStartParams) -> None:
        """A successful ``turn/start``: its overrides apply to this and later turns."""
        view = self.threads.get(params.thread_id)
        if view is None:
            return
        if params.model:
            view.model = params.model
        if params.effort is not None:
            view.reasoning_effort = params.effort
        if params.summary is not None:
            view.reasoning_summary = _none_if_none(params.summary)
        if params.approval_policy is not None:
            view.approval_policy = approval_policy_name(params.approval_policy)
        if params.approvals_reviewer:
            view.approvals_reviewer = params.approvals_reviewer
        if params.sandbox_policy is not None:
            view.sandbox_policy, view.network_access = sandbox_policy_name(params.sandbox_policy)
        if params.service_tier is not None:
            view.service_tier = params.service_tier
        if params.personality is not None:
            view.personality = _none_if_none(params.personality)
        if params.cwd:
            view.cwd = params.cwd
        if params.collaboration_mode is not None:
            view.collaboration_mode = collaboration_mode_name(params.collaboration_mode)
        view.pending_images = count_images(params.input)

    def settings_updated(self, thread_id: str, settings: ThreadSettings) -> None:
        """``thread/settings/updated``: the thread's settings from now on."""
        view = self.threads.get(thread_id)
        if view is None:
            return
        if settings.model:
            view.model = settings.model
        if settings.model_provider:
            view.model_provider = settings.model_provider
        view.service_tier = settings.service_tier
        if settings.approval_policy is not None:
            view.approval_policy = approval_policy_name(settings.approval_policy)
        if settings.approvals_reviewer:
            view.approvals_reviewer = settings.approvals_reviewer
        if settings.sandbox_policy is not None:
            view.sandbox_policy, view.network_access = sandbox_policy_name(settings.sandbox_policy)
        view.reasoning_effort = settings.effort
        view.reasoning_summary = _none_if_none(settings.summary)
        view.personality = _none_if_none(settings.personality)
        view.collaboration_mode = collaboration_mode_name(settings.collaboration_mode)
        if settings.cwd:
            view.cwd = settings.cwd

    def recorded_repo(self, meta: ThreadRepo) -> None:
        """A capture metadata line: the recording machine's repo for a thread wins over ours."""
        self.recorded_repos[meta.thread_id] = meta

    def _repo_hash(self, thread_id: str, cwd: str | None) -> str | None:
        recorded = self.recorded_repos.get(thread_id)
        if recorded is not None:
            self.repo_sources[thread_id] = "capture"
            return recorded.repo_hash
        if not cwd:
            return None
        self.repo_sources[thread_id] = "local git"
        return self.repo_hash(cwd)

    # --- turns ------------------------------------------------------------------------------

    def turn_started(self, thread_id: str, turn: Turn) -> list[Fact]:
        view = self.threads.get(thread_id)
        if view is None:
            self.drops.count("turn of a thread with no observed configuration", thread_id)
            return []
        view.seen_epoch = self.epoch
        if turn.id in view.active:
            return []
        return [self._resolved_config(thread_id, turn.id, view)]

    def _resolved_config(self, thread_id: str, turn_id: str, view: ThreadView) -> Fact:
        if len(view.active) >= MAX_ACTIVE_TURNS_PER_THREAD:
            view.active.pop(next(iter(view.active)))
            self.drops.count("edge turn state evicted (turn never completed)", thread_id)
        view.active[turn_id] = ActiveTurn(baseline=view.total)
        images, view.pending_images = view.pending_images, 0
        first = view.turns_started == 0
        view.turns_started += 1
        return TurnResolvedConfig(
            thread_id=thread_id,
            turn_id=turn_id,
            num_input_images=images,
            submission_type=None,
            ephemeral=view.ephemeral,
            model=view.model,
            model_provider=view.model_provider,
            sandbox_policy=view.sandbox_policy,
            reasoning_effort=view.reasoning_effort,
            reasoning_summary=view.reasoning_summary,
            service_tier=view.service_tier,
            approval_policy=view.approval_policy,
            approvals_reviewer=view.approvals_reviewer,
            sandbox_network_access=view.network_access,
            collaboration_mode=view.collaboration_mode,
            personality=view.personality,
            workspace_kind=None,
            is_first_turn=first,
            cwd=view.cwd,
            repo_hash=self._repo_hash(thread_id, view.cwd),
        )

    def token_usage(
        self,
        thread_id: str,
        turn_id: str | None,
        total: TokenUsageBreakdown,
        last: TokenUsageBreakdown | None = None,
    ) -> None:
        view = self.threads.get(thread_id)
        if view is None:
            return
        view.total = total
        if last is not None:
            view.context_tokens = last.total_tokens
        active = view.active.get(turn_id) if turn_id is not None else None
        if active is not None:
            active.last_total = total

    def turn_completed(self, thread_id: str, turn: Turn) -> list[Fact]:
        """Facts that must reach the reducer before ``turn/completed`` itself."""
        view = self.threads.get(thread_id)
        facts: list[Fact] = []
        if view is not None:
            active = view.active.pop(turn.id, None)
            if active is None:
                # Completed without an observed start (a tap attached mid-turn): config only.
                facts.append(self._resolved_config(thread_id, turn.id, view))
                view.active.pop(turn.id, None)
            elif active.last_total is not None:
                usage = _usage_delta(active.last_total, active.baseline)
                facts.append(TurnTokenUsage(thread_id=thread_id, turn_id=turn.id, usage=usage))
        if turn.error is not None:
            kind = codex_error_kind(turn.error.codex_error_info)
            if kind is not None:
                facts.append(
                    TurnCodexError(
                        thread_id=thread_id, turn_id=turn.id, kind=kind[0], http_status_code=kind[1]
                    )
                )
        return facts

    # --- subagents ----------------------------------------------------------------------------

    def subagent_spawned(
        self,
        parent_thread_id: str,
        child_thread_id: str,
        model: str | None,
        reasoning_effort: str | None,
        observed_at_ms: int,
        subagent_source: str = "thread_spawn",
    ) -> list[Fact]:
        """A parent named a child thread: register it (inheriting config) and announce it once."""
        if child_thread_id in self.threads:
            return []
        parent = self.threads.get(parent_thread_id)
        if parent is None:
            self.drops.count("subagent of a thread with no observed configuration", child_thread_id)
            return []
        child = ThreadView(
            session_id=parent.session_id,
            model=model or parent.model,
            model_provider=parent.model_provider,
            ephemeral=parent.ephemeral,
            cwd=parent.cwd,
            service_tier=parent.service_tier,
            approval_policy=parent.approval_policy,
            approvals_reviewer=parent.approvals_reviewer,
            sandbox_policy=parent.sandbox_policy,
            network_access=parent.network_access,
            reasoning_effort=reasoning_effort or parent.reasoning_effort,
            reasoning_summary=parent.reasoning_summary,
            personality=parent.personality,
            collaboration_mode=parent.collaboration_mode,
            seen_epoch=self.epoch,
        )
        self.threads[child_thread_id] = child
        # The child works in its parent's cwd, so the repo the capture recorded for the
        # parent is the child's too (the wire names no cwd for it: the recorder wrote no line).
        inherited = self.recorded_repos.get(parent_thread_id)
        if inherited is not None and child_thread_id not in self.recorded_repos:
            self.recorded_repos[child_thread_id] = msgspec.structs.replace(
                inherited, thread_id=child_thread_id
            )
        return [
            SubAgentThreadStarted(
                thread_id=child_thread_id,
                session_id=parent.session_id,
                parent_thread_id=parent_thread_id,
                forked_from_thread_id=None,
                product_client_id=self.client_name or "",
                client_name=self.client_name,
                client_version=self.client_version,
                model=child.model,
                ephemeral=child.ephemeral,
                subagent_source=subagent_source,
                created_at=observed_at_ms // 1000,
                runtime=self.runtime,
            )
        ]
