"""Reaching Redis: `REDIS_URL` when set, else the embedded server.

Besides redis-py's URLs (`redis://`, `rediss://`, `unix://`), `REDIS_URL` may
name a Redis Sentinel deployment:

    redis+sentinel://[:password@]host1:26379,host2:26379/<master name>[/<db>]

The password, if any, is the master's (sentinels are reached without one);
clients ask the sentinels for the current master and follow a failover.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.sentinel import Sentinel

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


SENTINEL_SCHEME = "redis+sentinel"


def client_for(url: str, **options: Any) -> redis.Redis:
    """A client for `url` (a redis-py URL or a `redis+sentinel://` one), not yet checked."""
    if not url.startswith(f"{SENTINEL_SCHEME}://"):
        return redis.Redis.from_url(url, **options)
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    if not parts.netloc or not path or len(path) > 2 or (len(path) == 2
                                                         and not path[1].isdecimal()):
        raise StoreUnavailable(
            f"REDIS_URL: {_safe(url)} is not {SENTINEL_SCHEME}://[:password@]host:port"
            "[,host:port…]/<master name>[/<db>]")
    password = unquote(parts.password) if parts.password else None
    hosts = parts.netloc.rsplit("@", 1)[-1].split(",")
    sentinels = [(host.rsplit(":", 1)[0], int(host.rsplit(":", 1)[1]) if ":" in host
                  else 26379) for host in hosts]
    sentinel = Sentinel(sentinels, password=password, **options)
    return sentinel.master_for(path[0], db=int(path[1]) if len(path) == 2 else 0)


def connect(url: str) -> redis.Redis:
    """A client for our stores (text replies), checked with a PING."""
    client = client_for(url, decode_responses=True, health_check_interval=30)
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
