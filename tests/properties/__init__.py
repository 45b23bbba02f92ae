"""Property-based tests (hypothesis) of everything that reads what people or platforms send.

The command grammar, schedules, the Slack and Discord normalizers and the job and
task forms, fed arbitrary unicode, huge values and missing or wrongly typed
fields: they never raise, a refusal names the problem, and a refusal writes
nothing. Bugs found this way are pinned by `xfail(strict=True)` tests beside
the property that found them, with the minimal input hypothesis printed.

`full_dump` is shared by the modules that compare the database before and
after a refusal; unlike `tests.helpers.dump_db` it also reads sets and sorted
sets (with scores), so a refusal that only touched the due-time index shows.
"""

from __future__ import annotations

from typing import Any

import redis


def full_dump(client: redis.Redis) -> dict[str, Any]:
    """Every key with its type and value (sets sorted, sorted sets with scores)."""
    state: dict[str, Any] = {}
    for key in sorted(client.keys("*")):
        kind = client.type(key)
        value: Any
        if kind == "string":
            value = client.get(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = client.xrange(key)
        else:
            value = None
        state[key] = (kind, value)
    return state
