"""Executions and session windows on a real Redis."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import redis

from jobs_store.conversations import ConversationStore, Session
from jobs_store.errors import NotFound
from jobs_store.executions import Execution, ExecutionStore
from tests.helpers import Clock


@pytest.fixture
def executions(redis_client: redis.Redis, clock: Clock) -> ExecutionStore:
    return ExecutionStore(redis_client, clock=clock)


def run(ident: str, task: str = "task_1", clock: Clock | None = None) -> Execution:
    extra = {"queued_at": clock()} if clock else {}
    return Execution(id=ident, task=task, task_name="Check in", **extra)


def test_a_task_has_one_queued_or_running_execution_at_a_time(
        executions: ExecutionStore, clock: Clock) -> None:
    first, opened = executions.open(run("exec_1", clock=clock))
    assert opened and executions.active("task_1") == first
    other, opened = executions.open(run("exec_2", clock=clock))
    assert not opened and other.id == "exec_1"
    assert executions.find("exec_2") is None
    assert executions.start("exec_1") is not None
    assert not executions.open(run("exec_3", clock=clock))[1]
    executions.finish("exec_1", "succeeded", outcome="done")
    assert executions.active("task_1") is None
    assert executions.open(run("exec_4", clock=clock))[1]
    assert executions.open(run("exec_5", task="task_2", clock=clock))[1]


def test_opening_the_same_id_twice_from_many_threads_opens_it_once(
        executions: ExecutionStore) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(executions.open(run("exec_same"))[1])

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [False] * 7 + [True]


def test_a_run_starts_once_and_ends_once(executions: ExecutionStore, clock: Clock) -> None:
    executions.open(run("exec_1"))
    started = executions.start("exec_1")
    assert started is not None and started.status == "running" and started.started == clock()
    assert executions.start("exec_1") is None
    clock.advance(seconds=42)
    executions.note_progress("exec_1", iterations=3, messages=1, conversation="console:l:c:")
    ended = executions.finish("exec_1", "limit_reached", outcome="out of calls")
    assert ended is not None
    assert (ended.status, ended.iterations, ended.messages, ended.duration_s()) == (
        "limit_reached", 3, 1, 42.0)
    assert executions.finish("exec_1", "cancelled") is None
    assert executions.get("exec_1").status == "limit_reached"
    with pytest.raises(ValueError):
        executions.finish("exec_1", "running")


def test_beats_tell_live_runs_from_dead_ones(executions: ExecutionStore, clock: Clock) -> None:
    for ident, task in (("exec_live", "t1"), ("exec_dead", "t2")):
        executions.open(run(ident, task=task))
        executions.start(ident)
    clock.advance(seconds=30)
    executions.beat("exec_live")
    assert executions.stale(before=clock() - timedelta(seconds=20)) == ["exec_dead"]
    executions.finish("exec_dead", "failed", error="worker stopped")
    executions.beat("exec_dead")  # a late beat does not bring it back
    assert executions.stale(before=clock() + timedelta(seconds=1)) == ["exec_live"]


def test_a_skipped_run_is_recorded_once_and_listed_newest_first(
        executions: ExecutionStore, clock: Clock) -> None:
    executions.open(run("exec_a", clock=clock))
    clock.advance(minutes=1)
    skipped = Execution(id="exec_b", task="task_1", status="skipped", queued_at=clock(),
                        note="skipped: missed")
    assert executions.record(skipped) == skipped
    assert executions.record(skipped.model_copy(update={"note": "other"})).note == \
        "skipped: missed"
    assert [e.id for e in executions.list("task_1")] == ["exec_b", "exec_a"]
    assert executions.active("task_1") is not None  # a skipped record is not in progress
    with pytest.raises(NotFound, match="/tasks executions"):
        executions.get("exec_nope")


def test_a_session_window_is_open_until_it_closes(redis_client: redis.Redis,
                                                  clock: Clock) -> None:
    conversations = ConversationStore(redis_client)
    cid = "slack:T1:D1:"
    assert conversations.session(cid, now=clock()) is None
    window = Session(task="task_1", execution="exec_1", until=clock() + timedelta(hours=1))
    conversations.open_session(cid, window)
    assert conversations.session(cid, now=clock()) == window
    assert conversations.session(cid, now=clock() + timedelta(hours=1)) is None
    conversations.close_session(cid, execution="exec_other")  # not its window
    assert conversations.session(cid, now=clock()) == window
    conversations.close_session(cid, execution="exec_1")
    assert conversations.session(cid, now=clock()) is None
