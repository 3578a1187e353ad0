"""Report filters: a time window, a model, a project and a client.

Times are epoch milliseconds, UTC. ``--since``/``--until`` accept a duration back from now
(``90m``, ``12h``, ``7d``, ``2w``), a date (``2026-12-01``: its midnight, UTC; as ``until``
the end of that day), an ISO date-time (``2026-12-01T09:30``, UTC unless it says otherwise)
or epoch milliseconds. ``since`` is inclusive, ``until`` exclusive.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import msgspec

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


class FilterError(ValueError):
    """A filter value that cannot be understood (the message says which and why)."""


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    """What a report counts. ``None`` everywhere = the whole store.

    ``project`` matches a thread's repository name or hash (``thread_projects``, local only),
    or the repo hash of its accepted-line fingerprints (what a team store has); ``client``
    the app-server client's name or product client id.
    """

    since_ms: int | None = None
    until_ms: int | None = None
    model: str | None = None
    project: str | None = None
    client: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        since: str | None = None,
        until: str | None = None,
        model: str | None = None,
        project: str | None = None,
        client: str | None = None,
        now_ms: int | None = None,
    ) -> Filters:
        """Filters from command-line text (see the module docstring for time formats)."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        since_ms = None if since is None else parse_time(since, now, end_of_day=False)
        until_ms = None if until is None else parse_time(until, now, end_of_day=True)
        if since_ms is not None and until_ms is not None and since_ms >= until_ms:
            raise FilterError(f"--since {since} is not before --until {until}")
        return cls(
            since_ms=since_ms, until_ms=until_ms, model=model, project=project, client=client
        )

    @property
    def empty(self) -> bool:
        return self == Filters()


def parse_time(text: str, now_ms: int, *, end_of_day: bool) -> int:
    """Epoch ms of a duration back from ``now_ms``, a date, an ISO date-time or epoch ms."""
    value = text.strip()
    match = _DURATION.match(value)
    if match:
        return now_ms - int(match.group(1)) * _UNIT_MS[match.group(2)]
    if value.isdigit():
        return int(value)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if end_of_day:
            start += timedelta(days=1)
        return int(start.timestamp() * 1000)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"cannot read time {text!r}: use a duration (7d, 12h, 30m, 2w), a date "
            "(2026-12-01), an ISO date-time or epoch milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
