"""Small helpers shared by the tests: a hand-moved clock and a database dump."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import redis


class Clock:
    """A clock the test moves by hand, so timestamps in replies are known."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def dump_db(client: redis.Redis) -> dict[str, Any]:
    """Every key and its value, to show that a refusal wrote nothing."""
    state: dict[str, Any] = {}
    for key in sorted(client.keys("*")):
        kind = client.type(key)
        if kind == "string":
            state[key] = client.get(key)
        elif kind == "list":
            state[key] = client.lrange(key, 0, -1)
        elif kind == "hash":
            state[key] = client.hgetall(key)
        else:
            state[key] = kind
    return state
