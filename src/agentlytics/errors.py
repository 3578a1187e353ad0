"""Errors for people: one line saying what failed and what to do, a non-zero exit.

Commands raise :class:`UserError` where they know what an operation was for (the warehouse
named by ``--warehouse``, the file of ``--events``); anything else that escapes a command is
still one line naming the exception. ``agentlytics --debug`` (or ``AGENTLYTICS_DEBUG=1``)
shows the traceback instead.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentlytics.sinks.duckdb import DuckDBSink

#: Set by ``agentlytics --debug``.
DEBUG = False

#: How long a replay waits for a warehouse another process is writing before giving up.
LOCK_WAIT_S = 10.0

_LOCK_PID = re.compile(r"\(PID (\d+)\)")


class UserError(Exception):
    """A failure a person can act on; ``str()`` is the whole message (what failed, what to do)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def debugging() -> bool:
    return DEBUG or os.environ.get("AGENTLYTICS_DEBUG", "") not in ("", "0")


def os_reason(exc: BaseException) -> str:
    """``[Errno 2] No such file or directory: 'x'`` → ``no such file or directory``."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


@contextmanager
def failing(what: str, hint: str) -> Iterator[None]:
    """Turn an OS-level failure inside the block into ``<what>: <reason>; <hint>``."""
    try:
        yield
    except UserError:
        raise
    except OSError as exc:
        raise UserError(f"{what}: {os_reason(exc)}; {hint}") from exc


def output_file(path: Path | str, option: str) -> None:
    """Check that ``path`` can be created for writing, before any work is done."""
    if str(path) == "-":
        return
    target = Path(path)
    hint = f"pass {option} a path in an existing, writable directory"
    if target.is_dir():
        raise UserError(f"cannot write {option} {target}: it is a directory; {hint}")
    if not target.parent.is_dir():
        raise UserError(
            f"cannot write {option} {target}: directory {target.parent} does not exist; "
            f"create it or {hint}"
        )


def warehouse_error(path: Path | str, exc: BaseException, option: str = "--warehouse") -> str:
    """The one line for a DuckDB warehouse file that cannot be opened."""
    text = str(exc)
    where = f"cannot open the warehouse {path}"
    other = f"pass {option} another file"
    if "Could not set lock" in text:
        pid = _LOCK_PID.search(text)
        holder = f"process {pid[1]}" if pid else "another process"
        return (
            f"{where}: it is in use by {holder} (a running collect, tap or replay); wait for "
            f"it to finish, stop it, or {other}"
        )
    if "not a valid DuckDB database" in text:
        return f"{where}: it is not a DuckDB file; {other} (a new path is created)"
    if "Is a directory" in text or Path(path).is_dir():
        return f"{where}: it is a directory; {other}, e.g. {Path(path) / 'agentlytics.duckdb'}"
    if "No such file or directory" in text:
        return f"{where}: directory {Path(path).parent} does not exist; create it first or {other}"
    if "Operation not permitted" in text or "Permission denied" in text or "Read-only" in text:
        return f"{where}: the file cannot be written (read-only or immutable); {other}"
    return f"{where}: {text.splitlines()[0] if text else type(exc).__name__}; {other}"


def open_warehouse(
    path: Path | str,
    *,
    option: str = "--warehouse",
    wait_s: float = LOCK_WAIT_S,
    say: Callable[[str], None] | None = None,
) -> DuckDBSink:
    """A :class:`DuckDBSink` on ``path``; waits up to ``wait_s`` for another process's lock."""
    import duckdb

    from agentlytics.sinks.duckdb import DuckDBSink

    deadline = time.monotonic() + wait_s
    told = False
    while True:
        try:
            return DuckDBSink(path)
        except duckdb.Error as exc:
            if "Could not set lock" in str(exc) and time.monotonic() < deadline:
                if not told and say is not None:
                    say(f"warehouse {path} is busy (another process writes it); waiting …")
                    told = True
                time.sleep(0.2)
                continue
            raise UserError(warehouse_error(path, exc, option)) from exc
        except OSError as exc:
            raise UserError(warehouse_error(path, exc, option)) from exc


def describe(exc: BaseException) -> str:
    """The one line for an exception nobody explained on the way out."""
    if isinstance(exc, UserError):
        return str(exc)
    import duckdb

    if isinstance(exc, duckdb.Error) and (
        "lock" in str(exc) or "DuckDB" in str(exc) or "open file" in str(exc)
    ):
        match = re.search(r'file "([^"]+)"', str(exc))
        return warehouse_error(match[1] if match else "?", exc)
    if isinstance(exc, OSError):
        name = f" {exc.filename}" if exc.filename else ""
        return f"cannot use{name}: {os_reason(exc)}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run(main: Callable[[], object]) -> None:
    """Run the CLI: an escaping exception becomes one line on stderr and exit status 1
    (or the :class:`UserError`'s code); with ``--debug`` the traceback is shown as well."""
    try:
        main()
    except KeyboardInterrupt:
        print("agentlytics: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if debugging():
            raise
        code = exc.code if isinstance(exc, UserError) else 1
        hint = "" if isinstance(exc, UserError) else " (agentlytics --debug … shows the traceback)"
        print(f"agentlytics: error: {describe(exc)}{hint}", file=sys.stderr)
        sys.exit(code)
