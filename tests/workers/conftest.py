"""Fixtures of the worker tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def rq_client(redis_url: str, redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """A binary-mode client on the session's Redis, as RQ needs (it pickles jobs);
    after `redis_client`, so the database is emptied first."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
