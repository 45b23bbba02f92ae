"""Conversation history: the latest turns of each conversation.

A conversation id is `platform:workspace:channel:thread` (thread empty when
none). Its history is capped to the newest turns and expires when idle.
"""

from __future__ import annotations

import redis

from jobs_store import keys
from jobs_store.models import Turn


class ConversationStore:
    """Repository of conversation turns."""

    def __init__(self, client: redis.Redis, *, max_turns: int = 50, ttl_days: int = 30) -> None:
        self._redis = client
        self._max_turns = max_turns
        self._ttl_s = ttl_days * 86_400

    def append(self, conversation_id: str, turn: Turn) -> None:
        """Add a turn, drop the oldest beyond the cap, and push back expiry."""
        key = keys.conversation_turns(conversation_id)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, turn.model_dump_json())
            pipe.ltrim(key, -self._max_turns, -1)
            pipe.expire(key, self._ttl_s)
            pipe.execute()

    def turns(self, conversation_id: str, *, last: int | None = None) -> list[Turn]:
        """The conversation's turns, oldest first (only the `last` n if given)."""
        if last is not None and last <= 0:
            return []
        start = -last if last else 0
        raws = self._redis.lrange(keys.conversation_turns(conversation_id), start, -1)
        return [Turn.model_validate_json(raw) for raw in raws]
