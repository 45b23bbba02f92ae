"""Conversations: their latest turns, and which messages are answered.

A conversation id is `platform:workspace:channel:thread` (thread empty when
none). Its history is capped to the newest turns and expires when idle.

User messages are numbered as they arrive (`received`); a turn answers every
message up to a number (`answered`). Messages above `answered` are pending:
the next turn answers them together. `active_job` is the job the
conversation is following, until it is completed.

A *session window* is open on a conversation after a task's execution spoke
there: until it closes, the conversation's messages are answered as turns of
that execution (no mention needed in a channel).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from jobs_store import keys
from jobs_store.models import Turn


@dataclass(frozen=True)
class Session:
    """A session window: the conversation belongs to a task's execution until `until`."""

    task: str
    execution: str
    until: datetime


_SESSION_FIELDS = ("session_task", "session_execution", "session_until")


@dataclass(frozen=True)
class ConversationState:
    """Where a conversation stands."""

    received: int = 0
    answered: int = 0
    active_job: str | None = None
    #: The session window last opened on it (closed once `until` has passed).
    window: Session | None = None




class ConversationStore:
    """Repository of conversation turns and state."""

    def __init__(self, client: redis.Redis, *, max_turns: int = 50, ttl_days: int = 30) -> None:
        self._redis = client
        self._max_turns = max_turns
        self._ttl_s = ttl_days * 86_400

    def append(self, conversation_id: str, turn: Turn) -> None:
        """Add a turn as is, drop the oldest beyond the cap, and push back expiry."""
        with self._redis.pipeline(transaction=True) as pipe:
            self._push(pipe, conversation_id, turn)
            pipe.execute()

    def append_user(self, conversation_id: str, turn: Turn, *,
                    once_key: str | None = None, once_ttl_s: int = 86_400) -> int | None:
        """Add a user message with the next number; return that number.

        With `once_key`, the message is added only if that key is not set, and
        the key is set in the same transaction: a second delivery returns None,
        and a crash can never leave a message marked as seen but not added.
        """
        state = keys.conversation_state(conversation_id)
        watched = [state, once_key] if once_key else [state]

        def write(pipe: redis.client.Pipeline) -> int | None:
            if once_key and pipe.exists(once_key):
                return None
            seq = int(pipe.hget(state, "received") or 0) + 1
            pipe.multi()
            if once_key:
                pipe.set(once_key, "1", ex=once_ttl_s)
            pipe.hset(state, "received", seq)
            self._push(pipe, conversation_id, turn.model_copy(update={"seq": seq}))
            return seq

        result = self._redis.transaction(write, *watched,  # type: ignore[arg-type]
                                         value_from_callable=True)
        return None if result is None else int(str(result))

    def append_reply(self, conversation_id: str, turn: Turn, *, answered: int) -> None:
        """Add the agent's reply, marking messages up to `answered` as answered."""
        with self._redis.pipeline(transaction=True) as pipe:
            self._push(pipe, conversation_id, turn)
            pipe.hset(keys.conversation_state(conversation_id), "answered", answered)
            pipe.execute()

    def mark_answered(self, conversation_id: str, answered: int) -> None:
        """Mark messages up to `answered` as answered, without a reply."""
        self._redis.hset(keys.conversation_state(conversation_id), "answered", answered)

    def state(self, conversation_id: str) -> ConversationState:
        """The counters and the job in progress."""
        raw = self._redis.hgetall(keys.conversation_state(conversation_id))
        active = raw.get("active_job")
        return ConversationState(received=int(raw.get("received", 0)),
                                 answered=int(raw.get("answered", 0)),
                                 active_job=str(active) if active else None,
                                 window=_window(*(raw.get(f) for f in _SESSION_FIELDS)))

    def set_active_job(self, conversation_id: str, job_id: str | None) -> None:
        """Set (or clear, with None) the job the conversation is following."""
        state = keys.conversation_state(conversation_id)
        if job_id is None:
            self._redis.hdel(state, "active_job")
        else:
            self._redis.hset(state, "active_job", job_id)

    def open_session(self, conversation_id: str, session: Session) -> None:
        """Open (or extend) a session window on the conversation."""
        state = keys.conversation_state(conversation_id)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(state, mapping={
                "session_task": session.task, "session_execution": session.execution,
                "session_until": int(session.until.timestamp() * 1000)})
            pipe.expire(state, self._ttl_s)
            pipe.execute()

    def session(self, conversation_id: str, *, now: datetime) -> Session | None:
        """The session window open at `now`, if any."""
        window = _window(*self._redis.hmget(keys.conversation_state(conversation_id),
                                            _SESSION_FIELDS))
        return window if window is not None and window.until > now else None

    def close_session(self, conversation_id: str, *, execution: str | None = None) -> None:
        """Close the window (only if it belongs to `execution`, when given)."""
        state = keys.conversation_state(conversation_id)
        if execution is None:
            self._redis.hdel(state, *_SESSION_FIELDS)
        else:
            self._redis.eval(_CLOSE_IF_OWNED, 1, state, execution)

    def turns(self, conversation_id: str, *, last: int | None = None) -> list[Turn]:
        """The conversation's turns, oldest first (only the `last` n if given)."""
        if last is not None and last <= 0:
            return []
        start = -last if last else 0
        raws = self._redis.lrange(keys.conversation_turns(conversation_id), start, -1)
        return [Turn.model_validate_json(raw) for raw in raws]

    def _push(self, pipe: redis.client.Pipeline, conversation_id: str, turn: Turn) -> None:
        key = keys.conversation_turns(conversation_id)
        pipe.rpush(key, turn.model_dump_json())
        pipe.ltrim(key, -self._max_turns, -1)
        pipe.expire(key, self._ttl_s)
        pipe.expire(keys.conversation_state(conversation_id), self._ttl_s)


def _window(task: object, execution: object, until: object) -> Session | None:
    if not (task and execution and until):
        return None
    return Session(str(task), str(execution),
                   datetime.fromtimestamp(int(str(until)) / 1000, UTC))


_CLOSE_IF_OWNED = """
if redis.call('HGET', KEYS[1], 'session_execution') == ARGV[1] then
  return redis.call('HDEL', KEYS[1], 'session_task', 'session_execution', 'session_until')
end
return 0
"""
