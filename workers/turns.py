"""The RQ job that runs a conversation's turns, and the recovery of turns whose worker died.

While a turn runs, it beats every `BEAT_S` seconds in a sorted set of running
turns (`runtime.Beats`). A turn whose beats stopped for `STALE_AFTER_S` (its worker
was killed, or lost Redis mid-turn) is queued again by the workers'
maintenance (`recover_stale_turns`): the new turn answers what is still
pending, and replies are sent once per key, so nothing is answered twice.
RQ's own detection of abandoned jobs takes minutes for jobs run in-process.
"""

from __future__ import annotations

import logging
import time

import redis
from rq import get_current_job

from bot.turns import answer_pending
from workers import runtime
from workers.queues import RQTurnQueue, finish_if_idle, release, running_turns
from workers.runtime import BEAT_S

#: No beat for this long (four beats missed): the turn's worker is gone.
STALE_AFTER_S = 4 * BEAT_S

log = logging.getLogger(__name__)


def run_turn(conversation_id: str) -> None:
    """Answer the conversation until no message is pending.

    Idempotent: a retry answers only what is still pending, and replies are
    sent once per key (see `bot.delivery`).
    """
    rt = runtime.current()
    with rt.beats.beating(running_turns(), conversation_id):
        _answer_all(rt, conversation_id)


def _answer_all(rt: runtime.Runtime, conversation_id: str) -> None:
    try:
        while True:
            if answer_pending(conversation_id, rt.agent) in ("failed", "limited"):
                release(rt.redis, conversation_id)  # the next message tries again
                return
            if finish_if_idle(rt.redis, conversation_id):
                return
    except Exception:
        job = get_current_job()
        if job is None or not job.retries_left:
            release(rt.redis, conversation_id)
        raise


def recover_stale_turns(client: redis.Redis, queue: RQTurnQueue, *,
                        now: float | None = None) -> list[str]:
    """Queue again the turns whose worker stopped beating; their conversation ids."""
    stale_before = ((now if now is not None else time.time()) - STALE_AFTER_S) * 1000
    recovered: list[str] = []
    for conversation_id in client.zrangebyscore(running_turns(), "-inf", f"({stale_before}"):
        cid = str(conversation_id.decode() if isinstance(conversation_id, bytes)
                  else conversation_id)
        if client.zrem(running_turns(), cid):  # one recoverer per turn
            release(client, cid)
            queue.schedule(cid)
            recovered.append(cid)
            log.warning("the worker of the turn in %s stopped; queued the turn again", cid)
    return recovered


def wake() -> None:
    """Does nothing; queued to wake an idle worker that should stop."""
