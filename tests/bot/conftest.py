"""Fixtures for the admin command tests: real stores on the session's Redis.

`run("create name=x …")` runs `/jobs create …` as an admin and returns the
`Result`; `db_state()` dumps every key, so a test can show a refusal wrote
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
import redis

from bot.commands import Caller, Result, Stores, run_command
from jobs_store import BotStore, JobStore
from tests.helpers import Clock, dump_db

ADMIN_USER = "U_ADMIN"
MEMBER_USER = "U_MEMBER"


class Runner(Protocol):
    def __call__(
        self, command: str | Sequence[str], *, group: str = ..., caller: Caller | None = ...,
        stores: Stores | None = ...,
    ) -> Result: ...


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def stores(redis_client: redis.Redis, clock: Clock) -> Stores:
    return Stores(jobs=JobStore(redis_client, clock=clock),
                  bots=BotStore(redis_client, clock=clock))


@pytest.fixture
def other_stores(redis_client: redis.Redis, clock: Clock) -> Stores:
    """Stores of a second, empty workspace on the same Redis."""
    return Stores(jobs=JobStore(redis_client, workspace="other", clock=clock),
                  bots=BotStore(redis_client, workspace="other", clock=clock))


@pytest.fixture
def admin() -> Caller:
    return Caller(user=ADMIN_USER, is_admin=True)


@pytest.fixture
def member() -> Caller:
    return Caller(user=MEMBER_USER, is_admin=False)


@pytest.fixture
def run(stores: Stores, admin: Caller) -> Runner:
    """Run an admin command (as the admin, on `stores`, `/jobs` unless told)."""

    def runner(
        command: str | Sequence[str], *, group: str = "jobs", caller: Caller | None = None,
        stores: Stores | None = None,
    ) -> Result:
        return run_command(group, command, caller=caller or admin, stores=stores or default)

    default = stores
    return runner


@pytest.fixture
def db_state(redis_client: redis.Redis) -> Callable[[], dict[str, Any]]:
    """Everything in the database, key by key."""
    return lambda: dump_db(redis_client)
