"""A scripted fake of the OpenAI Responses API, so tests can drive a real Codex offline.

Codex asks its model provider ``POST {base_url}/responses`` and reads a ``text/event-stream`` of
Responses events. :class:`FakeModel` answers each such request with the next :class:`Reply`
of its script, so a test decides what "the model" does: talk, reason, run a command that asks
for approval, patch files, or hang until the turn is interrupted.

It is a plain ``http.server`` on 127.0.0.1 with one thread per request: the replies are
blocking, streamed writes (a hang is a loop of keep-alive comments), which a synchronous
threaded server does with no event loop and no start-up delay; an ASGI stack would add both and
buy nothing here.

Wire shapes (what codex 0.169 parses): ``response.created`` first; per output item
``response.output_item.added`` / deltas / ``response.output_item.done``; then
``response.completed`` with ``usage``. A function call is one ``output_item.done`` holding a
``function_call`` item whose ``arguments`` is a JSON *string*; apply_patch is a freeform
``custom_tool_call`` whose ``input`` is the patch text.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Message:
    """An assistant message, streamed one word per delta."""

    text: str


@dataclass(frozen=True)
class Reasoning:
    """A reasoning item with one summary part."""

    summary: str


@dataclass(frozen=True)
class ExecCommand:
    """An ``exec_command`` call. ``escalate`` asks to leave the sandbox, which needs approval."""

    cmd: str
    call_id: str
    escalate: bool = True
    justification: str = "Run this command outside the sandbox?"
    yield_time_ms: int = 2000


@dataclass(frozen=True)
class ApplyPatch:
    """A freeform ``apply_patch`` call (what GPT-5 models emit); needs approval when read-only."""

    patch: str
    call_id: str


@dataclass(frozen=True)
class Hang:
    """Keep the stream open without completing (until the client drops it or ``seconds``)."""

    seconds: float = 30.0


Step = Message | Reasoning | ExecCommand | ApplyPatch | Hang


@dataclass
class Reply:
    """The answer to one model request. ``match``: only for a request whose latest user text
    contains it (routes concurrent threads); otherwise replies are used in order."""

    steps: list[Step]
    match: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)


USAGE = {
    "input_tokens": 1000,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 40,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 1040,
}

UNSCRIPTED = "(fake model: no scripted reply for this request)"


def sse(event: dict[str, Any]) -> bytes:
    """One server-sent event, named after its ``type`` as the real API does."""
    return b"event: %s\ndata: %s\n\n" % (event["type"].encode(), json.dumps(event).encode())


def latest_user_text(body: dict[str, Any]) -> str:
    for item in reversed(body.get("input") or []):
        if item.get("type") == "message" and item.get("role") == "user":
            content = item.get("content") or []
            if isinstance(content, str):
                return content
            return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def step_events(step: Step, index: int, request_no: int) -> list[dict[str, Any]]:
    """The Responses events of one step (not for Hang, which the server handles)."""
    if isinstance(step, Message):
        msg_id = f"msg-{request_no}-{index}"
        item = {"type": "message", "role": "assistant", "id": msg_id, "content": []}
        words = step.text.split(" ")
        deltas = [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]
        done = dict(item, content=[{"type": "output_text", "text": step.text, "annotations": []}])
        return [
            {"type": "response.output_item.added", "output_index": index, "item": item},
            *(
                {
                    "type": "response.output_text.delta",
                    "item_id": msg_id,
                    "output_index": index,
                    "content_index": 0,
                    "delta": d,
                }
                for d in deltas
            ),
            {"type": "response.output_item.done", "output_index": index, "item": done},
        ]
    if isinstance(step, Reasoning):
        rid = f"rs-{request_no}-{index}"
        item = {"type": "reasoning", "id": rid, "summary": []}
        done = dict(item, summary=[{"type": "summary_text", "text": step.summary}])
        return [
            {"type": "response.output_item.added", "output_index": index, "item": item},
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": rid,
                "output_index": index,
                "summary_index": 0,
                "delta": step.summary,
            },
            {"type": "response.output_item.done", "output_index": index, "item": done},
        ]
    if isinstance(step, ExecCommand):
        args: dict[str, Any] = {"cmd": step.cmd, "yield_time_ms": step.yield_time_ms}
        if step.escalate:
            args["sandbox_permissions"] = "require_escalated"
            args["justification"] = step.justification
        item = {
            "type": "function_call",
            "id": f"fc-{step.call_id}",
            "status": "completed",
            "call_id": step.call_id,
            "name": "exec_command",
            "arguments": json.dumps(args),
        }
        return [{"type": "response.output_item.done", "output_index": index, "item": item}]
    if isinstance(step, ApplyPatch):
        item = {
            "type": "custom_tool_call",
            "id": f"ctc-{step.call_id}",
            "status": "completed",
            "call_id": step.call_id,
            "name": "apply_patch",
            "input": step.patch,
        }
        return [{"type": "response.output_item.done", "output_index": index, "item": item}]
    raise TypeError(f"not an event step: {step!r}")


class FakeModel:
    """Serves a script of replies on 127.0.0.1; ``requests`` keeps every request body."""

    def __init__(self, script: list[Reply]) -> None:
        self.script = script
        self._used = [False] * len(script)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.misses: list[str] = []
        self.hung = threading.Event()  # set when a Hang step starts: the turn is now in flight
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read ``requests``/``misses`` instead of a log."""

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [], "models": []})
                else:
                    self._json(404, {"error": {"message": f"fake model: no GET {self.path}"}})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if not self.path.rstrip("/").endswith("/responses"):
                    self._json(404, {"error": {"message": f"fake model: no POST {self.path}"}})
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._json(
                        400,
                        {
                            "error": {
                                "message": "fake model: body is not JSON "
                                "(is request compression on?)"
                            }
                        },
                    )
                    return
                model._answer(self, body)

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeModel:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def unused(self) -> list[int]:
        """Indexes of replies that no request consumed."""
        with self._lock:
            return [i for i, used in enumerate(self._used) if not used]

    def _pick(self, body: dict[str, Any]) -> tuple[int, Reply | None]:
        text = latest_user_text(body)
        with self._lock:
            n = len(self.requests)
            self.requests.append(body)
            for i, reply in enumerate(self.script):
                if not self._used[i] and (reply.match is None or reply.match in text):
                    self._used[i] = True
                    return n, reply
            self.misses.append(text[-200:])
            return n, None

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        n, reply = self._pick(body)
        if reply is None:  # end the turn instead of hanging a mis-scripted test
            reply = Reply([Message(UNSCRIPTED)])
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("connection", "close")
        handler.end_headers()
        handler.close_connection = True
        out = handler.wfile
        resp_id = f"resp-{n}"
        try:
            out.write(
                sse(
                    {
                        "type": "response.created",
                        "response": {"id": resp_id, "status": "in_progress"},
                    }
                )
            )
            out.flush()
            for index, step in enumerate(reply.steps):
                if isinstance(step, Hang):
                    self._hang(out, step.seconds)
                    return
                for event in step_events(step, index, n):
                    out.write(sse(event))
                    out.flush()
            usage = {**USAGE, **reply.usage}
            out.write(
                sse({"type": "response.completed", "response": {"id": resp_id, "usage": usage}})
            )
            out.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # codex dropped the stream (an interrupt); nothing more to say

    def _hang(self, out: Any, seconds: float) -> None:
        """SSE comments keep the stream open and let a closed socket show up as an error."""
        self.hung.set()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            out.write(b": keep-alive\n\n")
            out.flush()
            time.sleep(0.1)
