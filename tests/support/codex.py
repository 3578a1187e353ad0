"""Run the real Codex app-server in tests: find or install it, isolate it, and talk to it.

* :func:`codex_bin` — ``$CODEX_BIN``, else ``@openai/codex@<version>`` (default 0.171.0, the
  latest release; 0.169.0 is kept for one e2e test) installed with npm into a cache dir
  (``${AGENTLYTICS_CACHE:-~/.cache/agentlytics}/codex-<version>``) on first use.
* :func:`make_workspace` — a throwaway CODEX_HOME whose ``config.toml`` points at a fake model on
  127.0.0.1 (analytics off, read-only sandbox, approvals on request, no network), a throwaway
  HOME, and a one-commit git repository to work in.
* :class:`RpcClient` — a scripted JSON-RPC client over a process's stdin/stdout that keeps
  every line it sent and received, byte for byte.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CODEX_VERSION = "0.171.0"
#: The release the first captures were recorded with; one e2e test keeps running it.
PREVIOUS_CODEX_VERSION = "0.169.0"
#: Every version whose captures are kept under ``tests/data/`` (``captures`` is 0.169.0's).
RECORDED_VERSIONS = (PREVIOUS_CODEX_VERSION, CODEX_VERSION)
CODEX_PACKAGE = f"@openai/codex@{CODEX_VERSION}"
MODEL = "gpt-5.5"  # a slug codex knows, so it offers exec_command and freeform apply_patch
REPO_ROOT = Path(__file__).resolve().parents[2]
NEUTRAL_WORK_DIR = "/home/dev/session"  # what a committed capture says instead of a temp dir

Msg = dict[str, Any]


class CodexUnavailable(RuntimeError):
    """Codex cannot be had on this machine (no npm); tests skip with this message."""


def cache_root() -> Path:
    env = os.environ.get("AGENTLYTICS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "agentlytics"


def codex_bin(version: str = CODEX_VERSION) -> str:
    """Path of a codex ``version`` executable, installing it into the cache when needed.

    ``$CODEX_BIN`` overrides the default version only. Raises :class:`CodexUnavailable` only
    when npm is missing; a failed install raises ``RuntimeError`` with npm's output (that is a
    real failure, not a reason to skip).
    """
    package = f"@openai/codex@{version}"
    explicit = os.environ.get("CODEX_BIN") if version == CODEX_VERSION else None
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise RuntimeError(f"CODEX_BIN={explicit} is not an executable file")
        return explicit
    prefix = cache_root() / f"codex-{version}"
    binary = prefix / "node_modules" / ".bin" / "codex"
    if binary.exists():
        return str(binary)
    npm = shutil.which("npm")
    if npm is None:
        raise CodexUnavailable(
            f"npm is not on PATH: cannot install {package} (set CODEX_BIN to a codex "
            f"{version} binary to run these tests)"
        )
    prefix.mkdir(parents=True, exist_ok=True)
    # Parallel test processes must not run two installs into one prefix.
    with (prefix / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), package],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if proc.returncode != 0 or not binary.exists():
                raise RuntimeError(
                    f"npm install {package} failed (exit {proc.returncode}):\n"
                    f"{proc.stdout}\n{proc.stderr}"
                )
    return str(binary)


@dataclass
class Workspace:
    """An isolated place for one codex run; ``env`` is the whole environment to give it."""

    root: Path
    codex_home: Path
    home: Path
    repo: Path
    logs: Path
    env: dict[str, str]


CONFIG_TOML = """\
model = "{model}"
model_provider = "fake"
approval_policy = "on-request"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[model_providers.fake]
name = "fake"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
supports_websockets = false

[analytics]
enabled = false

[features]
enable_request_compression = false
"""


def make_repo(root: Path) -> Path:
    """A git repository with one commit (README.md, hello.py) to be the thread's cwd."""
    repo = root / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# demo\n\nA throwaway repository for a Codex test.\n")
    (repo / "hello.py").write_text('print("hello")\n')
    git = [
        "git",
        "-C",
        str(repo),
        "-c",
        "user.name=agentlytics",
        "-c",
        "user.email=tests@example.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    return repo


def make_workspace(base_url: str, parent: Path | None = None, extra_toml: str = "") -> Workspace:
    """A fresh CODEX_HOME, HOME and repo under ``parent`` (default ``/var/tmp``).

    Not under ``/tmp``: codex declines to set up its helper-binary aliases in a CODEX_HOME
    inside the system temp dir.
    """
    base = parent or Path("/var/tmp")
    root = Path(tempfile.mkdtemp(prefix="agentlytics-codex-", dir=base))
    codex_home, home, logs = root / "codex_home", root / "home", root / "logs"
    for d in (codex_home, home, logs):
        d.mkdir()
    config = CONFIG_TOML.format(model=MODEL, base_url=base_url) + extra_toml
    (codex_home / "config.toml").write_text(config)
    repo = make_repo(root)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "LANG": "C.UTF-8",
        "RUST_LOG": os.environ.get("AGENTLYTICS_CODEX_RUST_LOG", "warn"),
        "NO_PROXY": "127.0.0.1,localhost",
        "OPENAI_API_KEY": "sk-fake-not-a-real-key",
        "PYTHONPATH": str(REPO_ROOT / "src"),
    }
    return Workspace(root=root, codex_home=codex_home, home=home, repo=repo, logs=logs, env=env)


def tap_command(codex: str, record: Path, *tap_args: str) -> list[str]:
    """``python -m agentlytics tap --record CAPTURE [ARGS] -- codex app-server``."""
    return [
        sys.executable,
        "-m",
        "agentlytics",
        "tap",
        "--record",
        str(record),
        *tap_args,
        "--",
        codex,
        "app-server",
    ]


def sanitize_capture(path: Path, ws: Workspace) -> None:
    """Replace the workspace's machine path with NEUTRAL_WORK_DIR so a capture can be committed."""
    text = path.read_text()
    for prefix in sorted({str(ws.root), os.path.realpath(ws.root)}, key=len, reverse=True):
        text = text.replace(prefix, NEUTRAL_WORK_DIR)
    path.write_text(text)


class RpcError(RuntimeError):
    """The server answered a request with an error."""


ServerRequestHandler = Callable[[Msg], Any]


class RpcClient:
    """Speaks app-server JSON-RPC (one JSON object per line) to ``proc``'s stdin/stdout.

    ``on_server_request`` is called on the reader thread for every server→client request; a
    non-``None`` return is sent back as its ``result``. ``sent``/``received`` hold the exact
    bytes of every line (without ``\\n``) in order, to compare with a tap's recording.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self.inbox: list[Msg] = []
        self.sent: list[bytes] = []
        self.received: list[bytes] = []
        self.order: list[tuple[str, bytes]] = []  # (direction, line) as this client saw them
        self._responses: dict[Any, Msg] = {}
        self._next_id = 0
        self.eof = False
        self.exit_code: int | None = None
        self.handler_errors: list[BaseException] = []
        self.on_server_request: ServerRequestHandler = lambda msg: None
        self._reader = threading.Thread(target=self._read_loop, name="rpc-reader", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        for raw in self._stdout:
            line = raw[:-1] if raw.endswith(b"\n") else raw
            try:
                msg = json.loads(line)
            except ValueError:
                msg = None
            with self._cond:
                self.received.append(line)
                self.order.append(("server_to_client", line))
                if isinstance(msg, dict):
                    self.inbox.append(msg)
                    if "id" in msg and "method" not in msg:
                        self._responses[msg["id"]] = msg
                self._cond.notify_all()
            if isinstance(msg, dict) and "id" in msg and "method" in msg:
                try:
                    result = self.on_server_request(msg)
                except Exception as exc:  # a test bug must surface, not kill the reader
                    self.handler_errors.append(exc)
                    result = None
                if result is not None:
                    self.respond(msg["id"], result)
        with self._cond:
            self.eof = True
            self._cond.notify_all()

    def _send(self, msg: Msg) -> None:
        line = json.dumps(msg).encode()
        with self._write_lock:
            with self._cond:
                self.sent.append(line)
                self.order.append(("client_to_server", line))
            self._stdin.write(line + b"\n")
            self._stdin.flush()

    def request_async(self, method: str, params: Any = None) -> int:
        with self._cond:
            rid = self._next_id
            self._next_id += 1
        msg: Msg = {"method": method, "id": rid}
        if params is not None:
            msg["params"] = params
        self._send(msg)
        return rid

    def wait_response(self, rid: int, timeout: float = 30.0) -> Msg:
        deadline = time.monotonic() + timeout
        with self._cond:
            while rid not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise TimeoutError(f"no response to request {rid} (eof={self.eof})")
                self._cond.wait(left)
            return self._responses[rid]

    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> Any:
        resp = self.wait_response(self.request_async(method, params), timeout)
        if "error" in resp:
            raise RpcError(f"{method}: {resp['error']}")
        return resp.get("result")

    def notify(self, method: str, params: Any = None) -> None:
        msg: Msg = {"method": method}
        if params is not None:
            msg["params"] = params
        self._send(msg)

    def respond(self, rid: Any, result: Any) -> None:
        self._send({"id": rid, "result": result})

    def mark(self) -> int:
        """Position in ``inbox``; pass as ``after`` to wait only for later messages."""
        with self._cond:
            return len(self.inbox)

    def wait_for(self, pred: Callable[[Msg], bool], after: int = 0, timeout: float = 30.0) -> Msg:
        """The first server message at inbox index >= ``after`` satisfying ``pred``."""
        deadline = time.monotonic() + timeout
        i = after
        with self._cond:
            while True:
                while i < len(self.inbox):
                    if pred(self.inbox[i]):
                        return self.inbox[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise TimeoutError(f"timed out waiting for a server message (eof={self.eof})")
                self._cond.wait(left)

    def wait_method(
        self,
        method: str,
        after: int = 0,
        timeout: float = 30.0,
        where: Callable[[Msg], bool] = lambda m: True,
    ) -> Msg:
        return self.wait_for(lambda m: m.get("method") == method and where(m), after, timeout)

    def settle(self, quiet_s: float = 0.3, max_s: float = 3.0) -> None:
        """Wait until the server was quiet for ``quiet_s`` (at most ``max_s``)."""
        end = time.monotonic() + max_s
        last, since = self.mark(), time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.05)
            now = self.mark()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return

    def close(self, timeout: float = 15.0) -> int:
        """Close stdin (how a client stops the server), wait for exit; terminate if it hangs."""
        with self._write_lock, suppress(OSError):
            self._stdin.close()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                rc = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(5)
        self._reader.join(5)
        return rc


# --- conversation helpers -------------------------------------------------------------------

CLIENT_INFO = {"name": "agentlytics-tests", "title": "agentlytics tests", "version": "0.1.0"}


def text_input(text: str) -> list[Msg]:
    return [{"type": "text", "text": text, "text_elements": []}]


def handshake(client: RpcClient) -> Any:
    """``initialize`` then ``initialized``; returns the initialize result."""
    result = client.request("initialize", {"clientInfo": CLIENT_INFO})
    client.notify("initialized")
    return result


def start_thread(client: RpcClient, cwd: Path) -> str:
    return str(client.request("thread/start", {"cwd": str(cwd)})["thread"]["id"])


def start_turn(client: RpcClient, thread_id: str, text: str) -> str:
    result = client.request("turn/start", {"threadId": thread_id, "input": text_input(text)})
    return str(result["turn"]["id"])


def wait_turn_completed(
    client: RpcClient, turn_id: str, after: int = 0, timeout: float = 30.0
) -> Msg:
    return client.wait_method(
        "turn/completed", after, timeout, where=lambda m: m["params"]["turn"]["id"] == turn_id
    )


APPROVAL_METHODS = ("item/commandExecution/requestApproval", "item/fileChange/requestApproval")


def answer_approvals(decision: Any) -> ServerRequestHandler:
    """A server-request handler answering every approval with ``{"decision": decision}``.

    ``decision`` is sent as given: ``"accept"``, ``"decline"``, ``"cancel"``,
    ``"acceptForSession"`` (or an object form). Other server requests are left unanswered.
    """

    def handle(msg: Msg) -> Any:
        if msg.get("method") in APPROVAL_METHODS:
            return {"decision": decision}
        return None

    return handle


@contextmanager
def tapped_codex(codex: str, ws: Workspace, record: Path, *tap_args: str) -> Iterator[RpcClient]:
    """``codex app-server`` behind ``agentlytics tap --record``, with a client on its stdio.

    Leaving the block closes stdin and waits (bounded) for the tap to exit; the tap's and the
    server's stderr go to ``ws.logs/app-server.stderr``.
    """
    with (ws.logs / "app-server.stderr").open("ab") as err:
        proc = subprocess.Popen(
            tap_command(codex, record, *tap_args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=ws.repo,
            env=ws.env,
        )
        client = RpcClient(proc)
        try:
            yield client
        finally:
            client.exit_code = client.close()
