"""Fixtures for the store tests: stores on the session's real Redis, a clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from jobs_store import BotStore, JobStore


class Clock:
    """A clock the test moves by hand, so timestamps in messages are known."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def jobs(redis_client: redis.Redis, clock: Clock) -> JobStore:
    return JobStore(redis_client, clock=clock)


@pytest.fixture
def bots(redis_client: redis.Redis, clock: Clock) -> BotStore:
    return BotStore(redis_client, clock=clock)


def _dump(client: redis.Redis) -> dict[str, Any]:
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


@pytest.fixture
def db_state(redis_client: redis.Redis) -> Callable[[], dict[str, Any]]:
    """Everything in the database, key by key, to show a refusal wrote nothing."""
    return lambda: _dump(redis_client)
