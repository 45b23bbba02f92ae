"""The line of turns: conversations wait in it, oldest first, and a few runner jobs
answer them one after another; a runner is queued only when the line needs one."""

from __future__ import annotations

import time

import redis
from rq import Queue
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from jobs_store import keys
from workers.queues import (
    RUNNER_GRACE_S,
    TURNS,
    RQTurnQueue,
    TurnLine,
    running_turns,
    turn_runners,
    waiting_turns,
)
from workers.runtime import STALE_AFTER_S

ANA, BEN, CAROL = (f"console:local:dm-{name}:" for name in ("ana", "ben", "carol"))


def workers_listening(client: redis.Redis, count: int) -> None:
    """`count` RQ workers registered on `turns`, as RQ registers them."""
    client.sadd(WORKERS_BY_QUEUE_KEY % TURNS, *(f"rq:worker:w{i}" for i in range(count)))


def runners_queued(rq_client: redis.Redis) -> int:
    return Queue(TURNS, connection=rq_client).count


def test_conversations_wait_in_order_and_one_runner_serves_them_without_workers(
        redis_client: redis.Redis, rq_client: redis.Redis) -> None:
    queue = RQTurnQueue(rq_client)
    for conversation in (ANA, BEN, CAROL):
        queue.schedule(conversation)

    assert redis_client.zrange(waiting_turns(), 0, -1) == [ANA, BEN, CAROL]
    assert runners_queued(rq_client) == 1, "no worker registered: one runner waits for one"
    assert all(redis_client.get(keys.turn_flag(c)) == keys.TURN_QUEUED
               for c in (ANA, BEN, CAROL))


def test_runners_are_queued_up_to_the_workers_listening(
        redis_client: redis.Redis, rq_client: redis.Redis) -> None:
    workers_listening(redis_client, 2)
    queue = RQTurnQueue(rq_client)
    for conversation in (ANA, BEN, CAROL):
        queue.schedule(conversation)

    assert runners_queued(rq_client) == 2  # a third would only wait in RQ's queue


def test_an_idle_runner_covers_the_next_conversation_and_a_busy_one_does_not(
        redis_client: redis.Redis, rq_client: redis.Redis) -> None:
    workers_listening(redis_client, 2)
    queue, line = RQTurnQueue(rq_client), TurnLine(redis_client)
    queue.schedule(ANA)
    [runner] = Queue(TURNS, connection=rq_client).job_ids
    assert line.take(runner) == ANA  # the runner is busy with Ana now

    queue.schedule(BEN)
    assert runners_queued(rq_client) == 2, "the only runner is busy: Ben gets one"
    queue.schedule(CAROL)
    assert runners_queued(rq_client) == 2, "both workers have a runner: Carol waits"


def test_a_runner_takes_the_next_conversation_when_one_is_done(
        redis_client: redis.Redis, rq_client: redis.Redis) -> None:
    queue, line = RQTurnQueue(rq_client), TurnLine(redis_client)
    queue.schedule(ANA)
    queue.schedule(BEN)
    [runner] = Queue(TURNS, connection=rq_client).job_ids
    assert line.take(runner) == ANA
    assert redis_client.zscore(running_turns(), ANA) is not None
    redis_client.hset(keys.conversation_state(ANA), mapping={"received": 2, "answered": 1})

    assert line.finish(ANA, runner=runner) is True, "a message is pending: answer it first"
    assert redis_client.get(keys.turn_flag(ANA)) == keys.TURN_QUEUED

    redis_client.hset(keys.conversation_state(ANA), "answered", 2)
    assert line.finish(ANA, runner=runner) == BEN
    assert redis_client.get(keys.turn_flag(ANA)) is None, "Ana's next message queues a turn"
    assert redis_client.zscore(running_turns(), ANA) is None
    assert line.finish(BEN, runner=runner) is None, "nothing left in line"
    assert redis_client.zcard(turn_runners()) == 0, "the runner no longer counts"


def test_ending_a_turn_with_messages_pending_frees_the_conversation(
        redis_client: redis.Redis, rq_client: redis.Redis) -> None:
    queue, line = RQTurnQueue(rq_client), TurnLine(redis_client)
    queue.schedule(ANA)
    [runner] = Queue(TURNS, connection=rq_client).job_ids
    line.take(runner)
    redis_client.hset(keys.conversation_state(ANA), mapping={"received": 1, "answered": 0})

    assert line.finish(ANA, runner=runner, end=True) is None
    assert redis_client.get(keys.turn_flag(ANA)) is None  # the next message tries again
    assert redis_client.zscore(running_turns(), ANA) is None


def test_a_runner_that_never_started_or_stopped_beating_is_replaced(
        redis_client: redis.Redis, rq_client: redis.Redis) -> None:
    queue = RQTurnQueue(rq_client)
    queue.schedule(ANA)
    [lost] = Queue(TURNS, connection=rq_client).job_ids
    Queue(TURNS, connection=rq_client).empty()  # its job never made it (or was lost)
    assert queue.start_runners() is False, "it still counts within its grace"

    # Its grace and the stale limit have passed.
    expired = (time.time() - RUNNER_GRACE_S - STALE_AFTER_S - 1) * 1000
    redis_client.zadd(turn_runners(), {lost: expired})
    assert queue.start_runners() is True
    assert runners_queued(rq_client) == 1
    assert redis_client.zscore(turn_runners(), lost) is None


def test_nothing_in_line_queues_no_runner(redis_client: redis.Redis,
                                          rq_client: redis.Redis) -> None:
    assert RQTurnQueue(rq_client).start_runners() is False
    assert runners_queued(rq_client) == 0
