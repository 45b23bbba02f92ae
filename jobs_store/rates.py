"""Counting what one person does per minute, for rate limits."""

from __future__ import annotations

import redis

from jobs_store import keys


class RateCounter:
    """Counts events per subject in fixed one-minute windows."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def hit(self, platform: str, subject: str, *, minute: int) -> int:
        """Count one event of `subject` in `minute` (since the epoch); the count so far."""
        key = keys.user_rate(platform, subject, minute)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = pipe.execute()
        return int(count)
