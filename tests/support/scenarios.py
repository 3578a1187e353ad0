"""Scripted Codex sessions driven through ``agentlytics tap --record``.

Each :class:`Scenario` pairs a fake-model script with the client's part of the conversation.
:func:`run_scenario` runs one against the real ``codex app-server`` behind the tap and returns
what happened, so the e2e tests and ``record_scenarios.py`` share one definition.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.codex import (
    Msg,
    RpcClient,
    Workspace,
    answer_approvals,
    handshake,
    make_workspace,
    start_thread,
    start_turn,
    tapped_codex,
    wait_turn_completed,
)
from support.fake_model import ApplyPatch, ExecCommand, FakeModel, Hang, Message, Reasoning, Reply

# No network for codex: without this it tries to sync curated plugins from the internet.
NO_PLUGINS_TOML = "plugins = false\n"  # appended under [features]

NOTE_CMD = "printf 'tapped\\n' > note.txt && cat note.txt"

PATCH = """*** Begin Patch
*** Add File: notes.md
+# Notes
+Written through the tap.
*** Update File: hello.py
@@
-print("hello")
+print("hello, world")
*** End Patch"""

TURN_TIMEOUT_S = 30.0


@dataclass
class Scenario:
    """A model script plus the client's moves; ``drive`` returns the turn/completed message."""

    name: str
    summary: str
    script: Callable[[], list[Reply]]
    drive: Callable[[RpcClient, Workspace, FakeModel], Msg]


@dataclass
class ScenarioRun:
    """The outcome of one run; ``ws`` is left on disk until :meth:`cleanup`."""

    scenario: Scenario
    capture: Path
    ws: Workspace
    client: RpcClient
    exit_code: int | None
    turn_completed: Msg | None
    model_misses: list[str]
    unused_replies: list[int]
    model_requests: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def cleanup(self) -> None:
        shutil.rmtree(self.ws.root, ignore_errors=True)


def one_turn(decision: Any, prompt: str) -> Callable[[RpcClient, Workspace, FakeModel], Msg]:
    """Start a thread and one turn; answer every approval with ``decision``."""

    def drive(client: RpcClient, ws: Workspace, model: FakeModel) -> Msg:
        client.on_server_request = answer_approvals(decision)
        handshake(client)
        thread_id = start_thread(client, ws.repo)
        mark = client.mark()
        turn_id = start_turn(client, thread_id, prompt)
        done = wait_turn_completed(client, turn_id, mark, TURN_TIMEOUT_S)
        client.settle()
        return done

    return drive


def drive_interrupt(client: RpcClient, ws: Workspace, model: FakeModel) -> Msg:
    """The model starts answering, then hangs; the client interrupts the turn."""
    handshake(client)
    thread_id = start_thread(client, ws.repo)
    mark = client.mark()
    turn_id = start_turn(client, thread_id, "Explain this repository at length.")
    client.wait_method(
        "item/completed",
        mark,
        TURN_TIMEOUT_S,
        where=lambda m: m["params"]["item"]["type"] == "agentMessage",
    )
    if not model.hung.wait(TURN_TIMEOUT_S):
        raise TimeoutError("the fake model never reached its hang step")
    client.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id})
    done = wait_turn_completed(client, turn_id, mark, TURN_TIMEOUT_S)
    client.settle()
    return done


def drive_archive(client: RpcClient, ws: Workspace, model: FakeModel) -> Msg:
    """One answered turn (so the thread is persisted), then ``thread/archive`` and
    ``thread/unarchive``, each waited for until its notification arrives."""
    handshake(client)
    thread_id = start_thread(client, ws.repo)
    mark = client.mark()
    turn_id = start_turn(client, thread_id, "Say hello.")
    done = wait_turn_completed(client, turn_id, mark, TURN_TIMEOUT_S)
    for method, note in (("thread/archive", "thread/archived"), ("thread/unarchive", "thread/unarchived")):  # fmt: skip
        mark = client.mark()
        client.request(method, {"threadId": thread_id})
        client.wait_method(
            note, mark, TURN_TIMEOUT_S, where=lambda m: m["params"]["threadId"] == thread_id
        )
    client.settle()
    return done


def shell_script(final: str | None, *, repeat: bool = False) -> Callable[[], list[Reply]]:
    """An escalated command (twice with ``repeat``), then ``final`` unless the turn ends first."""

    def script() -> list[Reply]:
        replies = [
            Reply(
                [
                    Reasoning("Writing a file needs to leave the read-only sandbox."),
                    ExecCommand(
                        NOTE_CMD, "call-note-1", justification="Write note.txt in the repository?"
                    ),
                ]
            )
        ]
        if repeat:  # the same command again: a session-wide approval should not ask twice
            replies.append(
                Reply([ExecCommand(NOTE_CMD, "call-note-2", justification="Write note.txt again?")])
            )
        if final is not None:
            replies.append(Reply([Message(final)]))
        return replies

    return script


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "shell_accept",
            "an escalated exec_command; the approval is accepted",
            shell_script("I wrote note.txt; it says tapped."),
            one_turn("accept", "Create note.txt containing the word tapped."),
        ),
        Scenario(
            "shell_decline",
            "an escalated exec_command; the approval is declined",
            shell_script("Understood, I did not create note.txt."),
            one_turn("decline", "Create note.txt containing the word tapped."),
        ),
        Scenario(
            "apply_patch_accept",
            "a freeform apply_patch (add notes.md, edit hello.py); accepted",
            lambda: [
                Reply(
                    [
                        Message("I'll add notes.md and update the greeting."),
                        ApplyPatch(PATCH, "call-patch-1"),
                    ]
                ),
                Reply([Message("Added notes.md and made hello.py greet the world.")]),
            ],
            one_turn("accept", "Add notes.md and make hello.py greet the world."),
        ),
        Scenario(
            "interrupt",
            "the model hangs mid-turn and the client sends turn/interrupt",
            lambda: [Reply([Message("Let me look around first."), Hang(30)])],
            drive_interrupt,
        ),
        Scenario(
            "thread_archive",
            "one answered turn, then the client archives and unarchives the thread",
            lambda: [Reply([Message("Hello!")])],
            drive_archive,
        ),
        Scenario(
            "shell_cancel",
            'an escalated exec_command; the approval is answered "cancel"',
            shell_script(None),  # cancel interrupts the turn: the model is not asked again
            one_turn("cancel", "Create note.txt containing the word tapped."),
        ),
        Scenario(
            "shell_accept_for_session",
            'an escalated exec_command approved "acceptForSession", then the same command again',
            shell_script(
                "I wrote note.txt twice; the second run needed no new approval.", repeat=True
            ),
            one_turn("acceptForSession", "Create note.txt containing the word tapped, twice."),
        ),
    )
}


def run_scenario(
    codex: str,
    scenario: Scenario,
    capture: Path,
    parent: Path | None = None,
    tap_args: tuple[str, ...] = (),
) -> ScenarioRun:
    """Run ``scenario`` through ``agentlytics tap --record capture [tap_args]``.

    If the drive fails, the tap is still closed (so the capture is complete) and the error is
    raised with the path of the workspace, which is kept for debugging (logs/, the repo).
    """
    started = time.monotonic()
    with FakeModel(scenario.script()) as model:
        ws = make_workspace(model.base_url, parent, extra_toml=NO_PLUGINS_TOML)
        done: Msg | None = None
        try:
            with tapped_codex(codex, ws, capture, *tap_args) as client:
                done = scenario.drive(client, ws, model)
        except Exception as exc:
            raise RuntimeError(
                f"scenario {scenario.name} failed: {exc}; workspace kept at {ws.root} "
                f"(see logs/app-server.stderr); model misses: {model.misses}"
            ) from exc
        return ScenarioRun(
            scenario=scenario,
            capture=capture,
            ws=ws,
            client=client,
            exit_code=client.exit_code,
            turn_completed=done,
            model_misses=list(model.misses),
            unused_replies=model.unused,
            model_requests=list(model.requests),
            seconds=time.monotonic() - started,
        )
