"""Reaching Redis: `REDIS_URL` when set, else the embedded server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis

from config.settings import Settings
from jobs_store.embedded import EmbeddedRedis
from jobs_store.errors import StoreUnavailable


@contextlib.contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """Yield the URL of the Redis to use, starting the embedded one if needed.

    Other processes given this URL (workers, a second CLI call) share the
    same server; the embedded one stops when its last user exits.
    """
    if settings.redis_url:
        yield settings.redis_url
        return
    with EmbeddedRedis(settings.chatjobs_data_dir) as url:
        yield url


def connect(url: str) -> redis.Redis:
    """A client for our stores (text replies), checked with a PING."""
    client = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise StoreUnavailable(f"cannot reach Redis at {_safe(url)}: {exc}") from exc
    return client


def _safe(url: str) -> str:
    """The URL without its password, fit for logs and messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
