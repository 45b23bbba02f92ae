"""A running turn keeps beating, so the workers' maintenance never queues it again;
a turn whose beats stopped (its worker died) is queued again, once."""

from __future__ import annotations

import time

import redis
from rq import Queue

from workers.queues import TURNS, RQTurnQueue, running_turns
from workers.runtime import Beats
from workers.turns import STALE_AFTER_S, recover_stale_turns

RUNNING = "console:local:dm-ana:"
DEAD = "console:local:dm-bo:"


def test_only_the_turn_whose_beats_stopped_is_queued_again(
    redis_client: redis.Redis, rq_client: redis.Redis
) -> None:
    beats = Beats(redis_client, every=0.05)
    # A turn whose worker died a moment ago: its last beat is that old.
    redis_client.zadd(running_turns(), {DEAD: (time.time() - 0.6) * 1000})
    with beats.beating(running_turns(), RUNNING):
        time.sleep(0.6)
        # Maintenance with its clock moved on by the stale limit less 0.3 s: only a
        # beat within the last 0.3 s keeps a turn from being queued again.
        recovered = recover_stale_turns(redis_client, RQTurnQueue(rq_client),
                                        now=time.time() + STALE_AFTER_S - 0.3)
        assert recovered == [DEAD]
        assert redis_client.zscore(running_turns(), RUNNING) is not None
    assert Queue(TURNS, connection=rq_client).count == 1
    assert redis_client.zscore(running_turns(), RUNNING) is None, "done: no longer running"


def test_work_running_twice_in_a_process_stays_in_the_set_until_both_end(
        redis_client: redis.Redis) -> None:
    beats = Beats(redis_client, every=60)
    with beats.beating(running_turns(), "c1"):
        with beats.beating(running_turns(), "c1"):
            pass
        assert redis_client.zscore(running_turns(), "c1") is not None  # still running
    assert redis_client.zscore(running_turns(), "c1") is None
