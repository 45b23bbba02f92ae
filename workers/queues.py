"""The RQ queues and the enqueue API adapters use.

Turns of one conversation run one at a time and in order: a turn is queued
only when none is claimed, queued or running for the conversation (a flag
set with `SET NX`: ingress claims it in the script that keeps the message,
see `ConversationStore.append_user`); the running turn answers every pending
message, and clears the flag only when nothing is left (atomically, in Lua),
so a message that arrives meanwhile is answered by it or by the next turn,
never lost.

The flag says `claimed` until the turn's RQ job is queued, and `queued` from
the same transaction that queues the job: a claim whose job never made it
(Redis failed in between) is taken over by the platform's retry of the
message. A retry that came while the first delivery was still between the
two (stalled for seconds) would queue a second job; its turn finds the
messages answered, or sends nothing twice (replies are sent once per key).

A turn job costs one round trip to queue: RQ's commands go in one pipeline
with the flag's.
"""

from __future__ import annotations

import redis
from rq import Queue, Retry

from jobs_store import keys
from jobs_store.keys import PREFIX

TURNS = "turns"
TASKS = "tasks"
#: A turn that fails, or whose worker dies, is tried once more, at once (an
#: interval would park it in RQ's scheduled registry, which needs a scheduler).
TURN_RETRY = Retry(max=1)
TURN_TIMEOUT_S = 300

_FINISH_IF_IDLE = """
local received = tonumber(redis.call('HGET', KEYS[1], 'received') or '0')
local answered = tonumber(redis.call('HGET', KEYS[1], 'answered') or '0')
if received <= answered then
  redis.call('DEL', KEYS[2])
  return 1
end
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 0
"""


def running_turns() -> str:
    """Conversation ids whose turn runs → the running worker's last beat, epoch ms."""
    return f"{PREFIX}:turns:running"


class RQTurnQueue:
    """Queues turns on the RQ queue `turns` (the `TurnQueue` port)."""

    def __init__(self, connection: redis.Redis) -> None:
        # RQ stores pickled jobs: it needs a connection without decode_responses.
        self._redis = connection
        self._queue = Queue(TURNS, connection=connection)

    def schedule(self, conversation_id: str, *, claimed: bool = False) -> None:
        """Queue a turn unless one is claimed, queued or running for the conversation.

        With `claimed`, the caller has claimed the turn already (ingress does, in
        the script that keeps the message): the turn is queued without asking.
        """
        flag = keys.turn_flag(conversation_id)
        if not claimed and not self._redis.set(flag, keys.TURN_CLAIMED, nx=True,
                                               ex=keys.TURN_FLAG_TTL_S):
            return
        with self._redis.pipeline() as pipe:
            # With a pipeline RQ sends its commands at once (else two round trips).
            self._queue.enqueue("workers.turns.run_turn", conversation_id,
                                retry=TURN_RETRY, job_timeout=TURN_TIMEOUT_S,
                                description=f"turn {conversation_id}", pipeline=pipe)
            pipe.set(flag, keys.TURN_QUEUED, ex=keys.TURN_FLAG_TTL_S)
            pipe.execute()


def finish_if_idle(client: redis.Redis, conversation_id: str) -> bool:
    """Clear the turn flag if every message is answered; else keep it and say so."""
    finish = client.register_script(_FINISH_IF_IDLE)  # EVALSHA: the source is not resent
    return bool(finish(keys=[keys.conversation_state(conversation_id),
                             keys.turn_flag(conversation_id)], args=[keys.TURN_FLAG_TTL_S]))


def release(client: redis.Redis, conversation_id: str) -> None:
    """Clear the turn flag, so the next message queues a turn."""
    client.delete(keys.turn_flag(conversation_id))
