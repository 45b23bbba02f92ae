"""The task scheduler and task executions, measured: `python bench/scheduler.py`.

    python bench/scheduler.py [--stored 100000] [--due 10000] [--executions 500]
                              [--singles 20] [--flush] [--json PATH]

Two questions, each beside a baseline measured in the same run on the same
Redis, so the ratios compare across machines:

1. **due → enqueued lateness**: how long after a task's due time its run is
   on the RQ queue `tasks`. Lateness of a run = RQ's own `job.enqueued_at`
   minus the task's due time. The real scheduler loop
   (`bot.app.build_scheduler(app).run(stop=...)` on a thread, real clock) runs,
   so sleeping until the run is due is part of what is measured:
   (a) one task due at a time (`--singles` of them, a few hundred ms apart);
   (b) `--due` tasks due at the same instant, with `--stored` tasks stored in
   total. The tasks are `once <ISO time>` tasks a few seconds in the future,
   planned with `bot.schedules.plan` and stored with `TaskStore.create` as
   `/tasks create` does (the tasks that are not due: through a plain Redis
   pipeline writing the keys and values `create` writes, a thousand per round
   trip; checked against `create` at the start of every run). Each
   measurement waits until every due run is queued, then a little more, and
   checks that each was queued exactly once. Baseline: a Redis PING. Beside
   it: (a) split into waking (due → the tick began) and working (the tick),
   from `tick` wrapped on the instance; (b)'s Redis commands per run; and one
   sweep over (b)'s runs as if they had waited 30 s for a worker (a scheduler
   with its clock moved ahead), which walks every one of them.
2. **task executions per second**: `--executions` runs (Trigger Now) of tasks
   that talk to a console contact, carried out by one real RQ `SimpleWorker`
   in burst mode on the `tasks` queue (`workers.worker.run_worker`), with the
   app built as in production against the local fake OpenAI server, which
   answers at once: each run calls `send_message`, then `finish`. Baseline: the
   same worker on the same Redis working as many no-op jobs.

Figures are printed, never asserted; a negative lateness, a run queued twice
or never is printed loudly (it would be a bug). It uses `REDIS_URL` when set
(an empty database, or pass `--flush` to empty it), else an embedded Redis in
a temporary directory.
"""

from __future__ import annotations

import argparse
import contextvars
import math
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from rq import Queue
from rq.job import Job

from bench.common import (
    NOOP,
    RTT_SAMPLES,
    TASK_CONTACT,
    Stats,
    add_runner_arguments,
    bench_app,
    jsonable,
    machine,
    model_answer,
    once_task,
    redis_rtt,
    run_main,
)
from bench.common import task_id as given_id
from bench.machine import load
from bot.app import App, build_scheduler
from bot.schedules import plan
from bot.task_runs import execution_id, trigger
from jobs_store import keys
from jobs_store.records import DEFAULT_WORKSPACE
from jobs_store.tasks import Task, TaskStore
from tests.fakes.openai_server import FakeOpenAI
from workers.executions import RQExecutionQueue
from workers.queues import TASKS
from workers.runtime import Runtime
from workers.scheduler import REQUEUE_AFTER_S, TaskScheduler
from workers.worker import run_worker

DEFAULT_STORED = 100_000
DEFAULT_DUE = 10_000
DEFAULT_EXECUTIONS = 500
DEFAULT_SINGLES = 20
#: One task due at a time: this far apart (plus a little jitter, so the due
#: times fall anywhere in a second).
SINGLE_SPACING_S = 0.35
#: The first run is due this long after the scheduler starts (it must sleep).
LEAD_S = 2.0
#: After every due run is queued, keep the scheduler running this much longer
#: (more than one tick) so a run queued twice would show.
LINGER_S = 1.5
#: Tasks written per pipeline round trip when storing the ones not due.
BULK_BATCH = 1_000
#: The console contact the executions talk to (`console:<workspace>:<user>`).
CONTACT = TASK_CONTACT
SEED = 20_250_305
#: What the fake model says in a turn (this benchmark runs task executions only).
MODEL_REPLY = "ok"


# --- figures ------------------------------------------------------------------------------

@dataclass
class Lateness:
    """One lateness measurement: what was due, what RQ holds, and how late."""

    label: str
    due: int
    #: Tasks stored while it ran (due ones included).
    stored: int
    lateness: Stats
    #: Runs whose RQ job was enqueued before the task was due (a bug if any).
    negative: int
    #: Due runs with no RQ job after the wait.
    missing: int
    #: Job ids on the queue more than once, and due tasks with more than one execution.
    duplicated: int
    #: Jobs on the queue for tasks that were not due.
    unexpected: int
    #: Due tasks that still have a next run (not re-armed), or got a skipped record.
    not_rearmed: int
    #: First → last `enqueued_at`, seconds.
    spread_s: float
    #: How the tasks were stored, for the report.
    setup: str = ""
    #: Redis commands the scheduler ran per due run (MULTI, EXEC, WATCH… each count).
    commands_per_run: float = math.nan
    #: (b) only: one sweep with every run still queued after `REQUEUE_AFTER_S`: its
    #: seconds, and the jobs it queued again (0: none was lost).
    sweep_s: float = math.nan
    sweep_requeued: int = 0
    #: (a) only: due time → the tick that queued the run began; and that tick's length.
    wake: Stats | None = None
    tick: Stats | None = None

    @property
    def queued_once(self) -> int:
        return self.due - self.missing - self.duplicated


@dataclass
class Throughput:
    """A burst of jobs worked by one worker."""

    label: str
    jobs: int
    #: `work(burst=True)` from call to return: worker start and stop included.
    wall_s: float
    #: First job's `started_at` → last job's `ended_at` (RQ's fields).
    span_s: float
    #: Each job's `started_at` → `ended_at`, ms.
    job: Stats
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.jobs / self.span_s if self.span_s > 0 else math.nan


@dataclass
class Report:
    """A whole run."""

    machine: dict[str, str]
    rtt: Stats
    single: Lateness
    bulk: Lateness
    executions: Throughput
    noop: Throughput
    #: Model calls per execution, messages the console got, fake server errors.
    model_calls: float = 0.0
    outbox: int = 0
    #: "" when the bulk write of the tasks not due matched `TaskStore.create`, else how not.
    bulk_check: str = ""


# --- helpers ------------------------------------------------------------------------------

def write_task(pipe: redis.client.Pipeline, task: Task, *,
               ws: str = DEFAULT_WORKSPACE) -> None:
    """Queue on `pipe` what `TaskStore.create` writes for a new task whose name is free:
    the name → id hash entry, the task's JSON, the id set entry, and its place in the due
    index (ms since the epoch) when it has a next run and is not paused.

    Plain commands, not the store's private writer, so the store can change under it;
    `check_bulk_write` compares the two on every run.
    """
    pipe.hset(keys.task_names(ws), task.name.lower(), task.id)
    pipe.set(keys.task(ws, task.id), task.model_dump_json())
    pipe.sadd(keys.task_ids(ws), task.id)
    if task.next_run is not None and not task.paused:
        pipe.zadd(keys.task_due(ws), {task.id: int(task.next_run.timestamp() * 1000)})


def _snapshot(client: redis.Redis) -> dict[str, Any]:
    """Every key of the database with its type and value (small databases only)."""
    readers: dict[str, Callable[[str], Any]] = {
        "string": client.get, "hash": client.hgetall,
        "set": lambda key: sorted(client.smembers(key)),
        "zset": lambda key: client.zrange(key, 0, -1, withscores=True),
        "list": lambda key: client.lrange(key, 0, -1)}
    out = {}
    for key in client.scan_iter(count=1000):
        kind = str(client.type(key))
        out[str(key)] = (kind, readers[kind](key) if kind in readers else None)
    return out


def check_bulk_write(client: redis.Redis, tasks: TaskStore) -> str:
    """"" when `write_task` stores what `TaskStore.create` stores for the same task (every
    key and value it adds or changes), else what differs. Empties the database."""
    now = datetime.now(UTC)
    task = once_task(99_999_999, now + timedelta(days=3), now, kind="probe")
    client.flushdb()
    tasks.create(task)
    created = _snapshot(client)
    client.flushdb()
    with client.pipeline(transaction=False) as pipe:
        write_task(pipe, task)
        pipe.execute()
    written = _snapshot(client)
    client.flushdb()
    if created == written:
        return ""
    differ = sorted(k for k in created.keys() | written.keys()
                    if created.get(k) != written.get(k))
    return f"the bulk write differs from TaskStore.create at {', '.join(differ)}"


def store_idle(client: redis.Redis, count: int, *, start: int, now: datetime,
               rng: random.Random) -> float:
    """Store `count` tasks that are not due during the run; seconds taken.

    Half `once` between 1 h and 30 days ahead, half `daily HH:MM` at least 2 h
    away, written with `write_task` through a pipeline (the keys `create`
    writes, without its per-task WATCH transaction).
    """
    began = time.perf_counter()
    earliest = now + timedelta(hours=1)
    for offset in range(0, count, BULK_BATCH):
        with client.pipeline(transaction=False) as pipe:
            for i in range(start + offset, start + min(offset + BULK_BATCH, count)):
                if i % 2:
                    at = now + timedelta(hours=1, milliseconds=rng.randrange(30 * 86_400_000))
                    task = once_task(i, at, now, kind="later")
                else:
                    minute = (now.hour * 60 + now.minute + 120 + rng.randrange(20 * 60)) % 1440
                    task = plan(Task(id=given_id(i), name=f"bench daily {i:06d}",
                                     description="Post the daily digest.", contact=CONTACT,
                                     schedule=f"daily {minute // 60:02d}:{minute % 60:02d}",
                                     created_by="bench", created_at=now), now=now)
                if task.next_run is None or task.next_run < earliest:
                    raise RuntimeError(f"bench bug: {task.schedule} is due too soon")
                write_task(pipe, task)
            pipe.execute()
    return time.perf_counter() - began


@dataclass
class Scheduled:
    """The due tasks of one measurement: task id → due time."""

    due: dict[str, datetime]


@contextmanager
def scheduler_running(app: App) -> Iterator[list[Tick]]:
    """The real scheduler loop (`build_scheduler(app).run`) on a thread, real clock.

    Yields the ticks that queued something, as they happen: its `tick` is
    wrapped from the outside (an instance attribute; the loop calls `self.tick()`).
    """
    scheduler = build_scheduler(app)
    ticks: list[Tick] = []
    tick = scheduler.tick

    def timed_tick() -> int:
        began = datetime.now(UTC)
        queued = tick()
        if queued:
            ticks.append(Tick(began, datetime.now(UTC), queued))
        return queued

    scheduler.tick = timed_tick  # type: ignore[method-assign]
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, kwargs={"stop": stop},
                              name="bench-scheduler", daemon=True)
    thread.start()
    try:
        yield ticks
    finally:
        stop.set()
        thread.join(60)


@dataclass(frozen=True)
class Tick:
    """One tick of the scheduler that queued runs: when it began and ended, how many."""

    began: datetime
    ended: datetime
    queued: int


def wait_queued(app: App, expected: int, *, deadline_s: float) -> int:
    """Wait until the `tasks` queue holds `expected` jobs (or the deadline), then linger;
    how many times it looked (one LLEN each)."""
    queue = Queue(TASKS, connection=app.rq_client)
    deadline = time.monotonic() + deadline_s
    looks = 1
    while queue.count < expected and time.monotonic() < deadline:
        time.sleep(0.02)
        looks += 1
    time.sleep(LINGER_S)
    return looks


def commands_processed(client: redis.Redis) -> int:
    """Redis's count of commands run so far (every client)."""
    return int(client.info("stats")["total_commands_processed"])


def read_lateness(app: App, scheduled: Scheduled, *, label: str, stored: int,
                  setup: str) -> Lateness:
    """What the `tasks` queue holds against what was due; lateness from RQ's `enqueued_at`."""
    expected = {execution_id(task_id, due): (task_id, due)
                for task_id, due in scheduled.due.items()}
    listed = Queue(TASKS, connection=app.rq_client).get_job_ids()
    counts = Counter(listed)
    found = [job for job in Job.fetch_many(list(counts), connection=app.rq_client)
             if job is not None]
    late_ms, enqueued = [], []
    for job in found:
        if job.id in expected and job.enqueued_at is not None:
            _, due = expected[job.id]
            late_ms.append((job.enqueued_at - due).total_seconds() * 1000)
            enqueued.append(job.enqueued_at)
    ws = DEFAULT_WORKSPACE
    with app.client.pipeline(transaction=False) as pipe:
        for task_id in scheduled.due:
            pipe.zcard(keys.task_executions(ws, task_id))
            pipe.zscore(keys.task_due(ws), task_id)
        replies = pipe.execute()
    executions, scores = replies[0::2], replies[1::2]
    duplicated = sum(1 for n in counts.values() if n > 1) + sum(1 for n in executions if n > 1)
    spread = (max(enqueued) - min(enqueued)).total_seconds() if enqueued else math.nan
    return Lateness(
        label=label, due=len(expected), stored=stored, lateness=Stats.of(late_ms),
        negative=sum(1 for ms in late_ms if ms < 0),
        missing=len(set(expected) - {job.id for job in found}),
        duplicated=duplicated, unexpected=len(set(counts) - set(expected)),
        not_rearmed=sum(1 for s in scores if s is not None), spread_s=spread, setup=setup)


def retire(app: App, scheduled: Scheduled) -> None:
    """Between measurements: empty the `tasks` queue and end its executions.

    Ended (as cancelled), so the next measurement's scheduler does not find
    them queued without an RQ job after 30 s and queue them again, as its
    sweep rightly does for a lost job.
    """
    Queue(TASKS, connection=app.rq_client).empty()
    executions = app.stores.executions
    assert executions is not None
    for task_id, due in scheduled.due.items():
        executions.finish(execution_id(task_id, due), "cancelled", note="bench: not run")


# --- 1. lateness ------------------------------------------------------------------------------

def measure_single(app: App, *, count: int, start: int, stored: int,
                   rng: random.Random) -> Lateness:
    """`count` tasks, each the only one due at its moment, on the running scheduler."""
    now = datetime.now(UTC)
    first = now + timedelta(seconds=LEAD_S)
    due: dict[str, datetime] = {}
    for k in range(count):
        at = first + timedelta(seconds=k * SINGLE_SPACING_S,
                               milliseconds=rng.randrange(int(SINGLE_SPACING_S * 500)))
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        task = app.stores.tasks.create(once_task(start + k, at, now, kind="single"))
        due[task.id] = task.next_run
    if datetime.now(UTC) >= first:
        print("!!! creating the single tasks overran their due time: lateness is off",
              file=sys.stderr)
    with scheduler_running(app) as ticks:
        wait_queued(app, count, deadline_s=LEAD_S + count * SINGLE_SPACING_S + 60)
    result = read_lateness(app, Scheduled(due), label="(a) 1 task due", stored=stored,
                           setup=f"{count} tasks with TaskStore.create, each due alone, "
                                 f"about {SINGLE_SPACING_S * 1000:.0f} ms apart")
    if len(ticks) == count and all(t.queued == 1 for t in ticks):
        # Each run had a tick of its own: split its lateness into waking and working.
        result.wake = Stats.of([(t.began - at).total_seconds() * 1000
                                for t, at in zip(ticks, sorted(due.values()), strict=True)])
        result.tick = Stats.of([(t.ended - t.began).total_seconds() * 1000 for t in ticks])
    retire(app, Scheduled(due))
    return result


def measure_bulk(app: App, *, due: int, start: int, stored: int, per_create_s: float,
                 setup: str) -> Lateness:
    """`due` tasks due at one instant (a whole second), on a freshly started scheduler."""
    now = datetime.now(UTC)
    # Far enough ahead to create them all first (twice the measured pace, plus a margin).
    at = now + timedelta(seconds=due * per_create_s * 2 + LEAD_S + 1)
    at = at.replace(microsecond=0) + timedelta(seconds=1)
    tasks = app.stores.tasks
    began = time.perf_counter()
    scheduled = {}
    for k in range(due):
        task = tasks.create(once_task(start + k, at, now, kind="due"))
        scheduled[task.id] = task.next_run
    created_s = time.perf_counter() - began
    if datetime.now(UTC) >= at - timedelta(seconds=0.5):
        print("!!! creating the due tasks overran their due time: lateness is off",
              file=sys.stderr)
    before = commands_processed(app.client)
    with scheduler_running(app):
        looks = wait_queued(app, due, deadline_s=(at - datetime.now(UTC)).total_seconds()
                            + 120 + due * 0.05)
    # Less this benchmark's own: the LLENs while waiting, and the INFO itself.
    commands = commands_processed(app.client) - before - looks - 1
    result = read_lateness(app, Scheduled(scheduled),
                           label=f"(b) {due:,} due at once", stored=stored,
                           setup=f"{setup}; {due:,} due with TaskStore.create in "
                                 f"{created_s:.1f} s")
    result.commands_per_run = commands / due
    result.sweep_s, result.sweep_requeued = sweep_backlog(app)
    return result


def sweep_backlog(app: App) -> tuple[float, int]:
    """One sweep over the runs (b) left queued, as if no worker had started them for
    `REQUEUE_AFTER_S`; (seconds it took, jobs it put on the queue).

    A scheduler built as `build_scheduler` builds it, but with a clock
    `REQUEUE_AFTER_S` + 1 s ahead, so the sweep finds every run queued too
    long ago and looks for its RQ job (none is lost here: it should queue
    nothing). The loop does not tick while it sweeps.
    """
    ahead = timedelta(seconds=REQUEUE_AFTER_S + 1)
    stores = app.stores
    assert stores.tasks is not None and stores.executions is not None
    sweeper = TaskScheduler(client=app.client, tasks=stores.tasks, executions=stores.executions,
                            queue=RQExecutionQueue(app.rq_client),
                            clock=lambda: datetime.now(UTC) + ahead)
    queue = Queue(TASKS, connection=app.rq_client)
    before = queue.count
    began = time.perf_counter()
    sweeper.sweep(force=True)
    return time.perf_counter() - began, queue.count - before


# --- 2. executions per second ---------------------------------------------------------------

def burst(app: App) -> float:
    """Work the `tasks` queue to empty with one SimpleWorker (`run_worker`); seconds taken.

    In a copied context (the runtime it installs does not outlive it), and the
    signal handlers RQ installs are put back after.
    """
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    rt = Runtime(agent=app.agent, redis=app.client)
    began = time.perf_counter()
    try:
        contextvars.copy_context().run(run_worker, connection=app.rq_client, rt=rt,
                                       queues=(TASKS,), burst=True)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    return time.perf_counter() - began


def worked(app: App, label: str, ids: Sequence[str], wall_s: float) -> Throughput:
    """What RQ recorded of a burst: statuses, each job's time, first start → last end."""
    jobs = [job for job in Job.fetch_many(list(ids), connection=app.rq_client)
            if job is not None]
    statuses = Counter(str(job.get_status(refresh=False)).rsplit(".", 1)[-1].lower()
                       for job in jobs)
    timed = [job for job in jobs if job.started_at and job.ended_at]
    span = ((max(j.ended_at for j in timed) - min(j.started_at for j in timed)).total_seconds()
            if timed else math.nan)
    return Throughput(label=label, jobs=len(ids), wall_s=wall_s, span_s=span,
                      job=Stats.of([(j.ended_at - j.started_at).total_seconds() * 1000
                                    for j in timed]),
                      statuses=dict(statuses))


def measure_executions(app: App, fake: FakeOpenAI, *, count: int,
                       warmup: int) -> tuple[Throughput, float, int, dict[str, int]]:
    """Trigger `count` runs (one task each: one run per task at a time) and burst-work them.

    Returns the throughput, model calls per run, console messages and the
    executions' statuses.
    """
    now = datetime.now(UTC)
    later = now + timedelta(days=30)
    tasks, executions = app.stores.tasks, app.stores.executions
    assert tasks is not None and executions is not None
    queue = RQExecutionQueue(app.rq_client)

    def queue_runs(first: int, n: int) -> list[str]:
        ids = []
        for i in range(first, first + n):
            task = tasks.create(once_task(i, later, now, kind="run"))
            execution, opened = trigger(task=task, executions=executions, queue=queue,
                                        actor="bench")
            if not opened:
                raise RuntimeError(f"bench bug: {task.id} already had a run")
            ids.append(execution.id)
        return ids

    queue_runs(0, warmup)  # imports, the model client's first connection, the bot cache
    burst(app)
    outbox = keys.PREFIX + ":console:outbox:console:local:dm-bench:"
    sent_before = app.client.llen(outbox)
    calls_before = len(fake.chat_requests)
    ids = queue_runs(warmup, count)
    wall = burst(app)
    result = worked(app, "task executions", ids, wall)
    calls = (len(fake.chat_requests) - calls_before) / count
    found = [executions.find(i) for i in ids]
    statuses = Counter(e.status if e else "missing" for e in found)
    statuses.update("sent≠1" for e in found if e is not None and e.messages != 1)
    return result, calls, app.client.llen(outbox) - sent_before, dict(statuses)


def measure_noop(app: App, *, count: int, warmup: int) -> Throughput:
    """The same worker on the same Redis working `count` no-op jobs."""
    __import__(NOOP.rsplit(".", 1)[0])  # the worker imports it by name: not inside the timing
    queue = Queue(TASKS, connection=app.rq_client)
    for _ in range(warmup):
        queue.enqueue(NOOP, job_timeout=960, description="noop")
    burst(app)
    ids = [queue.enqueue(NOOP, job_timeout=960, description="noop").id for _ in range(count)]
    wall = burst(app)
    return worked(app, "no-op jobs (baseline)", ids, wall)


# --- the run ---------------------------------------------------------------------------------

def run(url: str, *, stored: int = DEFAULT_STORED, due: int = DEFAULT_DUE,
        executions: int = DEFAULT_EXECUTIONS, singles: int = DEFAULT_SINGLES,
        rtt_samples: int = RTT_SAMPLES, say: Callable[[str], None] = print) -> Report:
    """Measure everything on the Redis at `url` (its database is emptied before and after)."""
    if stored < due + singles:
        raise ValueError(f"--stored ({stored:,}) must hold the due tasks ({due:,}) and the "
                         f"single ones ({singles:,})")
    rng = random.Random(SEED)
    info = machine(url)
    with (tempfile.TemporaryDirectory() as tmp,
          FakeOpenAI(default=model_answer(MODEL_REPLY)) as fake):
        with bench_app(url, fake.base_url, Path(tmp)) as app:
            tasks = app.stores.tasks
            assert tasks is not None
            bulk_check = check_bulk_write(app.client, tasks)  # leaves the database empty
            if bulk_check:
                say(f"!!! {bulk_check}: fix bench/scheduler.py's write_task")
            app.agent.bots.ensure_default()
            idle = stored - due - singles
            say(f"storing {idle:,} tasks that are not due…")
            idle_s = store_idle(app.client, idle, start=due + singles,
                                now=datetime.now(UTC), rng=rng)
            setup = f"{idle:,} not due through a pipeline in {idle_s:.1f} s"
            rtt = redis_rtt(app.client, rtt_samples)
            say(f"(a) {singles} single tasks due one at a time…")
            single = measure_single(app, count=singles, start=due, stored=idle + singles,
                                    rng=rng)
            single.setup += f"; {idle:,} others stored"
            say(f"(b) {due:,} tasks due at once…")
            # The pace of `create`, to schedule the bulk just far enough ahead.
            bulk = measure_bulk(app, due=due, start=0, stored=stored,
                                per_create_s=_create_pace(tasks), setup=setup)
            app.client.flushdb()
        with bench_app(url, fake.base_url, Path(tmp)) as app:
            app.agent.bots.ensure_default()
            warmup = min(5, max(1, executions // 10))
            say(f"{executions:,} task executions…")
            runs, calls, sent, statuses = measure_executions(app, fake, count=executions,
                                                             warmup=warmup)
            runs.statuses = {**runs.statuses, **{f"execution {k}": v
                                                 for k, v in statuses.items()}}
            say(f"{executions:,} no-op jobs…")
            baseline = measure_noop(app, count=executions, warmup=warmup)
            app.client.flushdb()
        if fake.errors:
            raise RuntimeError(f"the fake OpenAI server failed: {fake.errors!r}")
    info["load"] += f" at start, {load()} at the end"
    return Report(machine=info, rtt=rtt, single=single, bulk=bulk, executions=runs,
                  noop=baseline, model_calls=calls, outbox=sent, bulk_check=bulk_check)


def _create_pace(tasks: TaskStore, samples: int = 50) -> float:
    """Seconds per `TaskStore.create` of a planned task, on throwaway tasks."""
    now = datetime.now(UTC)
    at = now + timedelta(days=60)
    made = []
    began = time.perf_counter()
    for k in range(samples):
        made.append(tasks.create(once_task(90_000_000 + k, at, now, kind="pace")))
    pace = (time.perf_counter() - began) / samples
    for task in made:
        tasks.delete(task.id, actor="bench")
    return pace


# --- printing --------------------------------------------------------------------------------

def format_report(report: Report) -> str:
    """The tables and what they mean."""
    m, base = report.machine, report.rtt.p50
    lines = [
        f"machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
        f"Redis {m['redis']}, rq {m['rq']}; load average {m['load']}",
        f"baseline: Redis PING round trip on the app's client: p50 {report.rtt.p50:.3f} ms, "
        f"p99 {report.rtt.p99:.3f} ms ({report.rtt.n:,} PINGs); ×RTT = figure / RTT p50",
        "",
        "1. due → enqueued lateness: RQ's job.enqueued_at − the task's due time "
        "(real scheduler loop on a thread, real clock)",
        f"{'case':<26} | {'runs':>6} | {'stored':>7} | {'p50 ms':>8} | {'p99 ms':>8} | "
        f"{'max ms':>8} | {'×RTT p50':>8} | {'queued once':>11} | {'missing':>7} | "
        f"{'dup':>3} | {'other':>5}",
        "-" * 128,
    ]
    for row in (report.single, report.bulk):
        s = row.lateness
        lines.append(
            f"{row.label:<26} | {row.due:>6,} | {row.stored:>7,} | {s.p50:>8.1f} | "
            f"{s.p99:>8.1f} | {s.max:>8.1f} | {s.p50 / base:>8,.0f} | {row.queued_once:>11,} | "
            f"{row.missing:>7,} | {row.duplicated:>3,} | {row.unexpected:>5,}")
    bulk = report.bulk
    per_run = bulk.spread_s * 1000 / max(bulk.due - 1, 1)
    lines += [
        "",
        f"(b) wall: all {bulk.due:,} queued {bulk.lateness.max / 1000:.2f} s after their due "
        f"time; first → last enqueued {bulk.spread_s:.2f} s = {per_run:.2f} ms per run "
        f"({per_run / base:,.0f} × RTT), {bulk.due / bulk.spread_s if bulk.spread_s else 0:,.0f}"
        f" runs/s; {bulk.commands_per_run:.1f} Redis commands per run",
        *([f"(a) split: the tick that queued the run began p50 {wake.p50:.2f} / max "
           f"{wake.max:.2f} ms after the due time (waking), and took p50 {tick.p50:.2f} / max "
           f"{tick.max:.2f} ms (working)"]
          if (wake := report.single.wake) and (tick := report.single.tick) else []),
        f"(b) then: one sweep {REQUEUE_AFTER_S + 1:.0f} s later (clock moved ahead) with the "
        f"{bulk.due:,} runs still queued took {bulk.sweep_s:.2f} s "
        f"({bulk.sweep_s * 1000 / bulk.due:.2f} ms per run; no tick meanwhile) and queued "
        f"{bulk.sweep_requeued} again",
        f"setup (a): {report.single.setup}",
        f"setup (b): {bulk.setup}",
        *([f"!!! {report.bulk_check}: the tasks not due were not stored as the app stores "
           "them (fix write_task)"] if report.bulk_check else []),
    ]
    for row in (report.single, report.bulk):
        if row.negative:
            lines.append(f"!!! BUG: {row.negative} run(s) of {row.label} were enqueued BEFORE "
                         f"they were due (min lateness {row.lateness.min:.3f} ms)")
        if row.missing or row.duplicated or row.unexpected:
            lines.append(f"!!! BUG: {row.label}: {row.missing} due run(s) never queued, "
                         f"{row.duplicated} queued more than once, {row.unexpected} queued "
                         "for tasks that were not due")
        if row.sweep_requeued:
            lines.append(f"!!! BUG: the sweep queued {row.sweep_requeued} run(s) of "
                         f"{row.label} again")
        if row.not_rearmed:
            lines.append(f"!!! {row.label}: {row.not_rearmed} due task(s) still have a next run")
    ex, nop = report.executions, report.noop
    lines += [
        "",
        "2. task executions per second: one RQ SimpleWorker (run_worker), burst, queue "
        "`tasks`; the fake model answers at once",
        f"{'jobs':<24} | {'n':>5} | {'per s':>7} | {'span s':>7} | {'wall s':>7} | "
        f"{'job p50/p99 ms':>15} | {'×RTT p50':>8}",
        "-" * 92,
    ]
    for row in (ex, nop):
        lines.append(
            f"{row.label:<24} | {row.jobs:>5,} | {row.per_s:>7,.1f} | {row.span_s:>7.2f} | "
            f"{row.wall_s:>7.2f} | {row.job.p50:>7.2f}/{row.job.p99:<7.2f} | "
            f"{row.job.p50 / base:>8,.0f}")
    ratio = nop.per_s / ex.per_s if ex.per_s else math.nan
    lines += [
        f"ratio: a task execution costs {ratio:,.1f} no-op jobs "
        f"({1000 / ex.per_s:.1f} ms vs {1000 / nop.per_s:.2f} ms per job)",
        f"checks: {report.model_calls:.2f} model calls per execution, {report.outbox:,} "
        f"console messages for {ex.jobs:,} executions; "
        + ", ".join(f"{k}: {v:,}" for k, v in sorted(ex.statuses.items()))
        + "; baseline " + ", ".join(f"{k}: {v:,}" for k, v in sorted(nop.statuses.items())),
    ]
    if ex.statuses.get("execution succeeded", 0) != ex.jobs or report.outbox != ex.jobs:
        lines.append("!!! not every execution succeeded with exactly one message: see above")
    lines += [
        "",
        "How to read it: lateness (a) is one run alone: the loop waking (it sleeps until the "
        "next due time, at most 1 s) plus that run's own work, as split above; (b) is the "
        "backlog when many runs fall due together: runs due within 2 s are read and claimed "
        "(execution opened, task re-armed) ahead, so at the due time only the enqueueing is "
        "left, batched; lateness still grows with how many fall due at once: the p50 is "
        "about half the wall and the max is all of it; "
        "divide by the RTT to compare machines. span = RQ's first started_at → last ended_at; "
        "wall adds the worker's start and stop. The ratio is what one execution (prompt, 2 "
        "model calls over HTTP, one console message, the execution's bookkeeping) costs in "
        "RQ no-op jobs on the same worker.",
    ]
    return "\n".join(lines)


def _count(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("a positive count, e.g. 10000")
    return value


def figures(report: Report) -> dict[str, Any]:
    """The report as JSON, with what the tables derive (for bench/run)."""
    data = jsonable(report)
    for name in ("single", "bulk"):
        data[name]["queued_once"] = getattr(report, name).queued_once
    for name in ("executions", "noop"):
        data[name]["per_s"] = getattr(report, name).per_s
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=_count, default=DEFAULT_STORED,
                        help=f"tasks stored in total for (b) (default {DEFAULT_STORED:,})")
    parser.add_argument("--due", type=_count, default=DEFAULT_DUE,
                        help=f"tasks due at the same instant in (b) (default {DEFAULT_DUE:,})")
    parser.add_argument("--executions", type=_count, default=DEFAULT_EXECUTIONS,
                        help=f"executions (and no-op jobs) worked (default "
                             f"{DEFAULT_EXECUTIONS:,})")
    parser.add_argument("--singles", type=_count, default=DEFAULT_SINGLES,
                        help=f"samples of (a), one task due at a time (default "
                             f"{DEFAULT_SINGLES})")
    add_runner_arguments(parser)
    args = parser.parse_args(argv)
    if args.stored < args.due + args.singles:
        parser.error(f"--stored must be at least --due + --singles ({args.due + args.singles:,})")
    return run_main(args, lambda url: run(url, stored=args.stored, due=args.due,
                                          executions=args.executions, singles=args.singles),
                    format_report, figures)


if __name__ == "__main__":
    sys.exit(main())
