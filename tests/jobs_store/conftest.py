"""Fixtures for the store tests: stores on the session's real Redis, a clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from jobs_store import BotStore, JobStore
from tests.helpers import Clock, dump_db


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def jobs(redis_client: redis.Redis, clock: Clock) -> JobStore:
    return JobStore(redis_client, clock=clock)


@pytest.fixture
def bots(redis_client: redis.Redis, clock: Clock) -> BotStore:
    return BotStore(redis_client, clock=clock)


@pytest.fixture
def db_state(redis_client: redis.Redis) -> Callable[[], dict[str, Any]]:
    """Everything in the database, key by key, to show a refusal wrote nothing."""
    return lambda: dump_db(redis_client)
