"""The RQ job that runs conversations' turns, and the recovery of turns whose worker died.

A *turn runner* (`run_turns`) takes the conversations waiting in line one
after another (see `workers.queues`) and answers each until nothing is
pending, so one RQ job carries many turns. It stops taking more after
`RUNNER_BUDGET_S`, or when its worker is asked to stop, and queues a runner for
the rest: RQ's job timeout never cuts a turn short, the worker's own upkeep
runs between, and a worker stopping leaves the line to the others.

While a turn runs, it beats every `BEAT_S` seconds in a sorted set of running
turns (`runtime.Beats`), and its runner in the set of runners. A turn whose
beats stopped for `STALE_AFTER_S` (its worker was killed, or lost Redis
mid-turn) is queued again by the workers' maintenance (`recover_stale_turns`):
the new turn answers what is still pending, and replies are sent once per key,
so nothing is answered twice. RQ's own detection of abandoned jobs takes
minutes for jobs run in-process.
"""

from __future__ import annotations

import logging
import time

import redis
from rq import get_current_job
from rq.timeouts import JobTimeoutException

from bot.turns import answer_pending
from workers import runtime
from workers.queues import RQTurnQueue, TurnLine, release, running_turns, turn_runners
from workers.runtime import STALE_AFTER_S

#: A runner takes no more conversations after this long (RQ stops its job at
#: `TURN_TIMEOUT_S`, and a turn may take `max_seconds` itself).
RUNNER_BUDGET_S = 10.0

log = logging.getLogger(__name__)


def run_turns(runner: str) -> None:
    """Answer the conversations waiting in line until none is left, or the budget is
    spent or the worker asked to stop (then queue a runner for the rest). `runner` is
    this job's id.

    Idempotent: RQ's retry of a runner takes what is still in line, and a turn
    answers only what is still pending; replies are sent once per key (see
    `bot.delivery`).
    """
    rt = runtime.current()
    line = TurnLine(rt.redis)
    stop_at = time.monotonic() + RUNNER_BUDGET_S
    spent = False
    with rt.beats.beating(turn_runners(), runner):
        conversation_id = line.take(runner)
        while conversation_id is not None:
            spent = time.monotonic() > stop_at or rt.stopping.is_set()
            with rt.beats.tracking(running_turns(), conversation_id):
                conversation_id = _answer(rt, line, conversation_id,
                                          runner="" if spent else runner)
    if spent and (job := get_current_job()) is not None:
        RQTurnQueue(job.connection).start_runners()  # for the conversations still in line


def _answer(rt: runtime.Runtime, line: TurnLine, conversation_id: str, *,
            runner: str) -> str | None:
    """Answer the conversation until nothing is pending, then end its turn and take
    the next in line (none without `runner`). A turn that fails is tried once more at
    once; a Redis error or RQ's job timeout ends the job, and the turn, left without
    beats, is recovered by the workers' maintenance."""
    for attempt in (1, 2):
        try:
            while True:
                outcome = answer_pending(conversation_id, rt.agent)
                # After a failure or over the rate limit the next message tries again.
                following = line.finish(conversation_id, runner=runner,
                                        end=outcome in ("failed", "limited"))
                if following is not True:
                    return following
        except (redis.RedisError, JobTimeoutException):
            raise
        except Exception:
            if attempt == 2:
                log.exception("the turn in %s failed twice; its messages wait for the "
                              "next one", conversation_id)
            else:
                log.warning("the turn in %s failed; trying once more", conversation_id,
                            exc_info=True)
    following = line.finish(conversation_id, runner=runner, end=True)
    return None if following is True else following


def recover_stale_turns(client: redis.Redis, queue: RQTurnQueue, *,
                        now: float | None = None) -> list[str]:
    """Queue again the turns whose worker stopped beating, and start runners for
    conversations in line without one; the recovered conversation ids."""
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
    queue.start_runners()
    return recovered


def wake() -> None:
    """Does nothing; queued to wake an idle worker that should stop."""
