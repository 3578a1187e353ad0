"""``agentlytics dashboard``: check the options, then run the app under uvicorn."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import webbrowser
from pathlib import Path

from agentlytics.dashboard.reader import is_file_store


class DashboardError(Exception):
    """An option the dashboard cannot start with (one line for the user)."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_options(location: str, host: str, token: str | None) -> None:
    """Refuse what would expose the store: a non-loopback bind without a token."""
    if not is_loopback(host) and not token:
        raise DashboardError(
            f"binding {host} makes the dashboard reachable from other machines: pass --token"
        )
    if token is not None and (not token.strip() or len(token) < 8):
        raise DashboardError("--token must be at least 8 characters")
    if is_file_store(location) and location.endswith((".jsonl", ".json")):
        raise DashboardError(f"{location} is not a warehouse (replay it into one first)")


def _open(url: str) -> None:
    """Open ``url`` in the user's browser; where none can be started (a server, a container),
    say so, rather than leave ``--open`` doing nothing without a word."""
    try:
        opened = webbrowser.open(url)
    except Exception:  # a broken browser setting must not stop the server
        opened = False
    if not opened:
        print(f"agentlytics dashboard: no web browser could be opened here: open {url} yourself",
              file=sys.stderr, flush=True)  # fmt: skip


def serve(
    location: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8766,
    token: str | None = None,
    open_browser: bool = False,
    repo: Path | None = None,
) -> None:
    """Serve the dashboard until interrupted."""
    import uvicorn

    from agentlytics.dashboard.app import create_app

    check_options(location, host, token)
    if repo is not None and not repo.is_dir():
        raise DashboardError(f"--repo {repo} is not a directory")
    app = create_app(location, token=token, repo=repo)
    # Bind first, so a port in use is one line here, before anything claims to be serving.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise DashboardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"agentlytics dashboard of {location} on {url} (Ctrl-C stops)", file=sys.stderr)
    if open_browser:
        threading.Timer(0.5, _open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
