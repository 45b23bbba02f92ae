"""The RQ queues and the enqueue API adapters use.

Turns of one conversation run one at a time and in order: a turn is queued
only when none is claimed, queued or running for the conversation (a flag
set with `SET NX`: ingress claims it in the script that keeps the message,
see `ConversationStore.append_user`); the running turn answers every pending
message, and clears the flag only when nothing is left (atomically, in Lua),
so a message that arrives meanwhile is answered by it or by the next turn,
never lost.

A queued turn waits in line (`waiting_turns`, oldest first), not as an RQ job
of its own: *turn runners*, RQ jobs on the queue `turns`, take the waiting
conversations one after another and answer each, until none is left. RQ's
bookkeeping of a job (about 2 ms of a worker's CPU, as much as a turn's own
work) is then shared by the turns a runner takes, and a message that finds
enough runners going costs ingress no RQ job at all. Queuing a turn puts the
conversation in line and queues a runner only if the runners going (queued or
running, `turn_runners`) are fewer than the conversations waiting beside the
idle runners, and fewer than the workers listening on `turns`: each worker
runs one at a time, and more would only wait in RQ's queue.

The flag says `claimed` until the conversation is in line, and `queued` from
the same script that puts it there: a claim that never got in line (Redis
failed in between) is taken over by the platform's retry of the message.
Runners beat (`runtime.Beats`) in `turn_runners` while they run; a runner
queued but not started counts for `RUNNER_GRACE_S`. One whose beats stopped
(its worker died) no longer counts, and its conversation is put in line again
by the workers' maintenance (`workers.turns.recover_stale_turns`).
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

import redis
from redis.commands.core import Script
from rq import Queue, Retry
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from jobs_store import keys
from jobs_store.keys import PREFIX
from workers.runtime import STALE_AFTER_S

TURNS = "turns"
TASKS = "tasks"
#: A runner that fails (Redis went away) or whose worker dies is tried once more, at
#: once (an interval would park it in RQ's scheduled registry, which needs a scheduler).
TURN_RETRY = Retry(max=1)
#: RQ stops a runner job after this long; runners stop taking turns long before.
TURN_TIMEOUT_S = 300
#: How long a runner queued but not started counts as going.
RUNNER_GRACE_S = STALE_AFTER_S

# KEYS: waiting, runners, running turns, RQ's workers of `turns`, the turn flag ('' if none)
# ARGV: conversation id ('' if none), now ms, stale before ms, new runner id, grace ms,
#       flag ttl s, the flag's queued value
_OFFER = """
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
  redis.call('SET', KEYS[5], ARGV[7], 'EX', ARGV[6])
end
local waiting = redis.call('ZCARD', KEYS[1])
if waiting == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
local going = redis.call('ZCARD', KEYS[2])
local idle = going - redis.call('ZCARD', KEYS[3])
local workers = math.max(1, redis.call('SCARD', KEYS[4]))
if idle >= waiting or going >= workers then return 0 end
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + tonumber(ARGV[5]), ARGV[4])
return 1
"""

# KEYS (both): waiting, runners, running turns, the conversation's state, its turn flag
# ARGV (both): runner id ('' to take none), now ms, conversation id, flag ttl s, '1' to
#              end the turn even if messages are pending
_TAKE = """
if ARGV[1] == '' then return 0 end
local next = redis.call('ZPOPMIN', KEYS[1])
if next[1] == nil then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[3], ARGV[2], next[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return next[1]
"""
_FINISH = """
if ARGV[5] ~= '1' then
  local received = tonumber(redis.call('HGET', KEYS[4], 'received') or '0')
  local answered = tonumber(redis.call('HGET', KEYS[4], 'answered') or '0')
  if received > answered then
    redis.call('EXPIRE', KEYS[5], ARGV[4])
    return 1
  end
end
redis.call('DEL', KEYS[5])
redis.call('ZREM', KEYS[3], ARGV[3])
""" + _TAKE


def running_turns() -> str:
    """Conversation ids whose turn runs → the running worker's last beat, epoch ms."""
    return f"{PREFIX}:turns:running"


def waiting_turns() -> str:
    """Conversation ids whose turn is queued → when it was, epoch ms (the line)."""
    return f"{PREFIX}:turns:waiting"


def turn_runners() -> str:
    """Runner ids (their RQ job ids) → their last beat, epoch ms (while queued: when
    they stop counting)."""
    return f"{PREFIX}:turns:runners"


class RQTurnQueue:
    """Puts turns in line and queues their runners on the RQ queue `turns` (the
    `TurnQueue` port)."""

    def __init__(self, connection: redis.Redis) -> None:
        # RQ stores pickled jobs: it needs a connection without decode_responses.
        self._redis = connection
        self._queue = Queue(TURNS, connection=connection)
        self._offer = connection.register_script(_OFFER)  # EVALSHA after the first call

    def schedule(self, conversation_id: str, *, claimed: bool = False) -> None:
        """Queue a turn unless one is claimed, queued or running for the conversation.

        With `claimed`, the caller has claimed the turn already (ingress does, in
        the script that keeps the message): the turn is queued without asking.
        """
        flag = keys.turn_flag(conversation_id)
        if not claimed and not self._redis.set(flag, keys.TURN_CLAIMED, nx=True,
                                               ex=keys.TURN_FLAG_TTL_S):
            return
        self._put_in_line(conversation_id)

    def start_runners(self) -> bool:
        """Queue a runner if conversations wait without enough runners (one queued
        whose job never made it, or whose worker died, stopped counting); True if so."""
        return self._put_in_line(None)

    def _put_in_line(self, conversation_id: str | None) -> bool:
        runner = uuid.uuid4().hex
        now_ms = time.time() * 1000
        flag = keys.turn_flag(conversation_id) if conversation_id else ""
        if not self._offer(keys=[waiting_turns(), turn_runners(), running_turns(),
                                 WORKERS_BY_QUEUE_KEY % TURNS, flag],
                           args=[conversation_id or "", now_ms,
                                 now_ms - STALE_AFTER_S * 1000, runner,
                                 RUNNER_GRACE_S * 1000, keys.TURN_FLAG_TTL_S,
                                 keys.TURN_QUEUED]):
            return False
        with self._redis.pipeline() as pipe:
            # With a pipeline RQ sends its commands at once (else two round trips).
            self._queue.enqueue("workers.turns.run_turns", runner, job_id=runner,
                                retry=TURN_RETRY, job_timeout=TURN_TIMEOUT_S,
                                description="turns", pipeline=pipe)
            pipe.execute()
        return True


class TurnLine:
    """The line as a runner works it: take a conversation, and when its turn is over,
    the next, in one step (one round trip per conversation)."""

    def __init__(self, client: redis.Redis) -> None:
        self._take = client.register_script(_TAKE)  # EVALSHA after the first call
        self._finish = client.register_script(_FINISH)

    def take(self, runner: str) -> str | None:
        """The conversation waiting longest, now marked running; None when none waits
        (then `runner` no longer counts as going: the next turn queued starts another)."""
        found = self._next(self._take, "", runner=runner, end=False)
        return None if found is True else found

    def finish(self, conversation_id: str, *, runner: str, end: bool = False,
               ) -> str | Literal[True] | None:
        """End the conversation's turn if every message is answered (or `end`): its
        flag is cleared and it no longer runs; then take the next as `take` does
        (none if `runner` is ''). True, and nothing changed but the flag's expiry,
        while messages are pending: answer them first."""
        return self._next(self._finish, conversation_id, runner=runner, end=end)

    @staticmethod
    def _next(script: Script, conversation_id: str, *, runner: str,
              end: bool) -> str | Literal[True] | None:
        found = script(keys=[waiting_turns(), turn_runners(), running_turns(),
                             keys.conversation_state(conversation_id),
                             keys.turn_flag(conversation_id)],
                       args=[runner, time.time() * 1000, conversation_id,
                             keys.TURN_FLAG_TTL_S, "1" if end else ""])
        if isinstance(found, int):
            return True if found == 1 else None
        return found.decode() if isinstance(found, bytes) else str(found)


def release(client: redis.Redis, conversation_id: str) -> None:
    """Clear the turn flag, so the next message queues a turn."""
    client.delete(keys.turn_flag(conversation_id))
