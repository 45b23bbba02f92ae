"""The task scheduler on a real Redis and real RQ queues, with an injected clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import Queue

from bot.app import App, build_scheduler
from jobs_store.executions import Execution
from tests.fakes.openai_server import FakeOpenAI, reply, tool_call
from tests.helpers import Clock
from tests.integration.agent_helpers import AppFactory, Chat, admin, work
from workers.queues import TASKS, TURNS
from workers.scheduler import LOOKAHEAD_S, TaskScheduler

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def clocked(apps: AppFactory, clock: Clock) -> App:
    app = apps.build(clock=clock)
    assert app.stores.tasks is not None and app.stores.executions is not None
    app.stores.tasks.clock = clock
    app.stores.executions.clock = clock
    return app


def scheduler(app: App, clock: Clock) -> TaskScheduler:
    made = build_scheduler(app)
    made._clock = clock
    return made


def create(app: App, name: str, schedule: str = "daily 09:00", **fields: str) -> str:
    words = " ".join(f'{k}="{v}"' for k, v in fields.items())
    admin(app, f'create name="{name}" description="Say hello." schedule="{schedule}" '
               f"timezone=UTC contact=console:ana {words}", group="tasks")
    assert app.stores.tasks is not None
    return app.stores.tasks.get(name).id


def queued(app: App) -> list[str]:
    return Queue(TASKS, connection=app.rq_client).job_ids


def runs(app: App, task_id: str) -> list[Execution]:
    assert app.stores.executions is not None
    return app.stores.executions.list(task_id, limit=50)


def test_each_due_run_is_queued_once_by_several_schedulers(apps: AppFactory,
                                                           clock: Clock) -> None:
    app = clocked(apps, clock)
    ids = [create(app, f"Task {i}") for i in range(40)]
    clock.advance(hours=1)  # 09:00: all due
    schedulers = [scheduler(app, clock) for _ in range(4)]
    barrier = threading.Barrier(len(schedulers))
    started: list[int] = []

    def tick(each: TaskScheduler) -> None:
        barrier.wait()
        started.append(each.tick())

    threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(started) == 40
    assert len(queued(app)) == len(set(queued(app))) == 40
    for task_id in ids:
        [run] = runs(app, task_id)
        assert run.due == START + timedelta(hours=1)
        assert app.stores.tasks is not None
        assert app.stores.tasks.get(task_id).next_run == START + timedelta(days=1, hours=1)


def test_a_run_missed_by_less_than_the_grace_period_runs_once_and_says_how_late(
        apps: AppFactory, clock: Clock) -> None:
    app = clocked(apps, clock)
    task_id = create(app, "Hourly", schedule="hourly :00", grace="3h")
    clock.advance(hours=2, minutes=30)  # down from 08:00 to 10:30: 09:00 and 10:00 missed
    assert scheduler(app, clock).tick() == 1
    [run] = runs(app, task_id)
    assert run.status == "queued" and run.due == START + timedelta(hours=1)
    assert run.note == "started 90 min late"
    assert app.stores.tasks is not None
    assert app.stores.tasks.get(task_id).next_run == START + timedelta(hours=3)


def test_a_run_missed_by_more_than_the_grace_period_is_skipped_and_recorded(
        apps: AppFactory, clock: Clock) -> None:
    app = clocked(apps, clock)
    task_id = create(app, "Daily", grace="1h")
    clock.advance(hours=3)  # 11:00; due at 09:00
    assert scheduler(app, clock).tick() == 0
    assert queued(app) == []
    [run] = runs(app, task_id)
    assert run.status == "skipped"
    assert run.note == "skipped: missed by 2 h 0 min (the task's grace period is 1h)"
    listing = admin(app, "executions Daily", group="tasks")
    assert listing.blocks[0].rows[0][1] == "skipped"


def test_a_run_due_while_the_previous_one_runs_is_skipped(apps: AppFactory,
                                                          clock: Clock) -> None:
    app = clocked(apps, clock)
    task_id = create(app, "Busy", schedule="hourly :00")
    admin(app, "trigger Busy", group="tasks")  # queued, not run: no worker
    clock.advance(hours=1)
    assert scheduler(app, clock).tick() == 0
    statuses = sorted(run.status for run in runs(app, task_id))
    assert statuses == ["queued", "skipped"]


def test_a_paused_task_is_not_run_and_resumes_from_now(apps: AppFactory, clock: Clock) -> None:
    app = clocked(apps, clock)
    task_id = create(app, "Quiet")
    admin(app, "pause Quiet", group="tasks")
    clock.advance(hours=2)
    assert scheduler(app, clock).tick() == 0
    admin(app, "resume Quiet", group="tasks")
    assert app.stores.tasks is not None
    assert app.stores.tasks.get(task_id).next_run == START + timedelta(days=1, hours=1)
    assert runs(app, task_id) == []


def test_a_run_whose_worker_stopped_beating_is_failed_and_the_task_runs_again(
        apps: AppFactory, clock: Clock) -> None:
    app = clocked(apps, clock)
    task_id = create(app, "Fragile", schedule="hourly :00")
    assert app.stores.executions is not None and app.stores.tasks is not None
    admin(app, "trigger Fragile", group="tasks")
    [run] = runs(app, task_id)
    app.stores.executions.start(run.id)  # a worker took it, then died
    clock.advance(seconds=10)
    scheduler(app, clock).sweep(force=True)
    assert app.stores.executions.get(run.id).status == "running"
    clock.advance(seconds=20)
    scheduler(app, clock).sweep(force=True)
    failed = app.stores.executions.get(run.id)
    assert failed.status == "failed" and "its worker stopped" in failed.error
    assert app.stores.tasks.get(task_id).status == "idle"
    clock.advance(hours=1)
    assert scheduler(app, clock).tick() == 1


def test_a_queued_run_whose_job_was_lost_is_queued_again(apps: AppFactory,
                                                         clock: Clock) -> None:
    app = clocked(apps, clock)
    create(app, "Lost")
    admin(app, "trigger Lost", group="tasks")
    [job_id] = queued(app)
    Queue(TASKS, connection=app.rq_client).empty()  # e.g. Redis lost the queue
    clock.advance(seconds=31)
    scheduler(app, clock).sweep(force=True)
    assert queued(app) == [job_id]
    ana = Chat(app)
    work(app, (TURNS, TASKS))
    assert ana.next_reply() == "Say hello."


def test_cancelling_one_execution_leaves_the_others(apps: AppFactory, clock: Clock) -> None:
    app = clocked(apps, clock)
    first, second = create(app, "First"), create(app, "Second")
    admin(app, "trigger First", group="tasks")
    admin(app, "trigger Second", group="tasks")
    [run] = runs(app, first)
    result = admin(app, f"cancel-execution {run.id}", group="tasks")
    assert result.title == f"Cancelled the run {run.id} of 'First'."
    work(app, (TURNS, TASKS))
    assert runs(app, first)[0].status == "cancelled"
    assert runs(app, second)[0].status == "succeeded"
    again = admin(app, f"cancel-execution {run.id}", group="tasks")
    assert "already ended (cancelled)" in again.title


def test_a_follow_up_the_agent_promised_is_sent_once_at_its_time(
        apps: AppFactory, clock: Clock, fake_openai: FakeOpenAI) -> None:
    app = apps.build(fake_openai, clock=clock)
    assert app.stores.tasks is not None and app.stores.executions is not None
    app.stores.tasks.clock = app.stores.executions.clock = clock
    ana = Chat(app)
    fake_openai.script(tool_call("schedule_follow_up", {"when": "90m",
                                                        "instructions": "Ask about the import."}),
                       reply("Sure, I'll check back in 90 minutes."))
    assert ana.ask("please check on me later") == "Sure, I'll check back in 90 minutes."
    [task] = app.stores.tasks.list()
    assert task.next_run == START + timedelta(minutes=90)
    clock.advance(minutes=89)
    assert scheduler(app, clock).tick() == 0
    clock.advance(minutes=1)
    fake_openai.script(tool_call("send_message", {"text": "How did the import go?"}),
                       tool_call("finish", {"outcome": "asked"}))
    assert scheduler(app, clock).tick() == 1
    work(app, (TURNS, TASKS))
    assert ana.next_reply() == "How did the import go?"
    work(app, (TURNS, TASKS))
    assert scheduler(app, clock).tick() == 0
    assert ana.next_reply(timeout=0.2) is None
    [run] = runs(app, task.id)
    assert (run.status, run.outcome, run.messages) == ("succeeded", "asked", 1)


def test_a_stopped_scheduler_queues_the_runs_it_claimed_ahead_at_their_due_time(
        apps: AppFactory) -> None:
    # With the real clock: a run due in a second is claimed ahead by the first tick,
    # and the scheduler is told to stop before it is due.
    app = apps.build()
    # 0.5–1.5 s away, on a whole second (as `once` takes it): within the look-ahead.
    due = (datetime.now(UTC) + timedelta(seconds=0.5)).replace(microsecond=0)
    due += timedelta(seconds=1)
    assert (due - datetime.now(UTC)).total_seconds() < LOOKAHEAD_S
    task_id = create(app, "Soon", schedule=f"once {due.isoformat()}")
    made = build_scheduler(app)
    made.tick()
    assert queued(app) == []  # claimed, not queued: it is not due yet

    stop = threading.Event()
    stop.set()
    made.run(stop=stop)

    [run] = runs(app, task_id)
    [job_id] = queued(app)
    assert job_id == run.id
    job = Queue(TASKS, connection=app.rq_client).fetch_job(job_id)
    assert job is not None and job.enqueued_at is not None
    assert job.enqueued_at.replace(tzinfo=UTC) >= due  # never before its time
