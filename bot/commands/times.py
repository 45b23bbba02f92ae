"""How task commands show times and names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def local_time(when: datetime | None, zone: str) -> str:
    """`Mon 2026-11-30 09:00 CET` in the zone; `-` for no time."""
    if when is None:
        return "-"
    return f"{when.astimezone(ZoneInfo(zone)):%a %Y-%m-%d %H:%M %Z}"


def both_times(when: datetime | None, zone: str) -> str:
    """The local time with UTC beside it."""
    if when is None:
        return "-"
    return f"{local_time(when, zone)} ({when.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def quote(name: str) -> str:
    """A name as the grammar reads it back: quoted when it has spaces."""
    return f'"{name}"' if any(c.isspace() for c in name) else name
