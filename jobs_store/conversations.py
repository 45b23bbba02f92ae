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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from redis.client import Pipeline

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
        # Run with EVALSHA (the source is sent once per Redis server).
        self._append_user = client.register_script(_APPEND_USER)

    def append(self, conversation_id: str, turn: Turn) -> None:
        """Add a turn as is, drop the oldest beyond the cap, and push back expiry."""
        with self._redis.pipeline(transaction=True) as pipe:
            self._push(pipe, conversation_id, turn)
            pipe.execute()

    def append_user(self, conversation_id: str, turn: Turn, *,
                    once_key: str | None = None, once_ttl_s: int = 86_400,
                    turn_flag: str | None = None) -> Appended:
        """Add a user message with the next number; say that number.

        With `once_key`, the message is added only if that key is not set, and
        the key is set in the same step: a second delivery gets no number, and
        a crash can never leave a message marked as seen but not added.

        With `turn_flag`, the same step claims the conversation's turn (the flag
        set to `keys.TURN_CLAIMED` for `keys.TURN_FLAG_TTL_S`) unless one is claimed,
        queued or running; for a second delivery, only if messages are pending,
        and also when the flag is still a claim (its first delivery failed to
        queue the turn). `claimed` says whether the caller must queue a turn.

        One Lua script, one round trip.
        """
        # The turn's JSON as `append` would store it, split where the script puts the
        # number (a string value's quotes are escaped, so `"seq":` only matches the key).
        head, sep, tail = turn.model_copy(update={"seq": 0}).model_dump_json().rpartition(
            '"seq":0')
        if not sep:
            raise ValueError("a turn's JSON has no seq field")
        seq, claimed = self._append_user(
            keys=[keys.conversation_state(conversation_id),
                  keys.conversation_turns(conversation_id), once_key or "", turn_flag or ""],
            args=[once_ttl_s, keys.TURN_FLAG_TTL_S, head + '"seq":', tail, self._max_turns,
                  self._ttl_s, keys.TURN_CLAIMED])
        return Appended(seq=int(seq) or None, claimed=bool(claimed))

    def append_reply(self, conversation_id: str, turn: Turn, *, answered: int,
                     active_job: str | None = None,
                     also: Callable[[Pipeline], None] | None = None) -> None:
        """Add the agent's reply, marking messages up to `answered` as answered, and
        with `active_job`, set the job the conversation follows; `also` queues more
        writes (the turn's stats) in the same transaction."""
        state = keys.conversation_state(conversation_id)
        with self._redis.pipeline(transaction=True) as pipe:
            self._push(pipe, conversation_id, turn)
            if active_job is None:
                pipe.hset(state, "answered", answered)
            else:
                pipe.hset(state, mapping={"answered": answered, "active_job": active_job})
            if also is not None:
                also(pipe)
            pipe.execute()

    def mark_answered(self, conversation_id: str, answered: int) -> None:
        """Mark messages up to `answered` as answered, without a reply."""
        self._redis.hset(keys.conversation_state(conversation_id), "answered", answered)

    def state(self, conversation_id: str) -> ConversationState:
        """The counters and the job in progress."""
        return _state(self._redis.hgetall(keys.conversation_state(conversation_id)))

    def state_and_turns(self, conversation_id: str) -> tuple[ConversationState, list[Turn]]:
        """`state` and `turns`, read together (one round trip)."""
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.conversation_state(conversation_id))
            pipe.lrange(keys.conversation_turns(conversation_id), 0, -1)
            raw, raws = pipe.execute()
        return _state(raw), [Turn.model_validate_json(r) for r in raws]

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

    def _push(self, pipe: Pipeline, conversation_id: str, turn: Turn) -> None:
        key = keys.conversation_turns(conversation_id)
        pipe.rpush(key, turn.model_dump_json())
        pipe.ltrim(key, -self._max_turns, -1)
        pipe.expire(key, self._ttl_s)
        pipe.expire(keys.conversation_state(conversation_id), self._ttl_s)


def _state(raw: Mapping[Any, Any]) -> ConversationState:
    active = raw.get("active_job")
    return ConversationState(received=int(raw.get("received", 0)),
                             answered=int(raw.get("answered", 0)),
                             active_job=str(active) if active else None,
                             window=_window(*(raw.get(f) for f in _SESSION_FIELDS)))


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


@dataclass(frozen=True)
class Appended:
    """What `ConversationStore.append_user` did."""

    #: The message's number; None for a second delivery (nothing added).
    seq: int | None
    #: Whether it claimed the conversation's turn: the caller must queue the turn.
    claimed: bool


# KEYS: state, turns, once key or "", turn flag or "". ARGV: once TTL, flag TTL, the
# turn's JSON before and after its number, max turns, history TTL, the claimed value.
_APPEND_USER = """
local state, turns, once, flag = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local seq = 0
if once == '' or redis.call('SET', once, '1', 'NX', 'EX', ARGV[1]) then
  seq = redis.call('HINCRBY', state, 'received', 1)
  redis.call('RPUSH', turns, ARGV[3] .. seq .. ARGV[4])
  redis.call('LTRIM', turns, -tonumber(ARGV[5]), -1)
  redis.call('EXPIRE', turns, ARGV[6])
  redis.call('EXPIRE', state, ARGV[6])
elseif flag == '' then
  return {0, 0}
else
  local received = tonumber(redis.call('HGET', state, 'received') or '0')
  local answered = tonumber(redis.call('HGET', state, 'answered') or '0')
  if received <= answered then
    return {0, 0}
  end
  if redis.call('GET', flag) == ARGV[7] then
    redis.call('EXPIRE', flag, ARGV[2])
    return {0, 1}
  end
end
if flag ~= '' and redis.call('SET', flag, ARGV[7], 'NX', 'EX', ARGV[2]) then
  return {seq, 1}
end
return {seq, 0}
"""
