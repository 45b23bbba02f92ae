"""`chatjobs scheduler`: starts task runs when they are due, never before.

The schedule lives in the task store: each task's next run is an absolute
UTC instant, and a sorted set of due times is written in the same transaction
as the task, so an edit, a pause or a delete can never leave a stale run
behind. The scheduler wakes at the next due time (at least once a second),
and for each task due:

1. it derives the run's execution id from the task and the due time, so two
   schedulers — or one retrying after a crash — start the run once: the
   first to record the execution queues it, the others see it recorded;
2. a run later than the task's grace period (downtime) is recorded as
   skipped; a run due while the previous one is still going is skipped too;
3. it re-arms the task: the next run is the first after now, so runs missed
   during downtime collapse into this one;
4. it queues the execution on the RQ queue `tasks` under its id.

rq-scheduler and RQ's own scheduler are not used for this: they store due
times as whole seconds (so a run can start up to a second early) and poll
every minute by default; and they would be a second copy of the schedule.

Every few seconds one scheduler (a short Redis lock) also sweeps: running
executions whose worker stopped beating are marked failed, and queued
executions whose RQ job was lost (a crash between steps 1 and 4) are queued
again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import redis

from bot.ports import ExecutionQueue
from bot.task_runs import execution_id, queue_timeout
from jobs_store import keys
from jobs_store.executions import Execution, ExecutionStore
from jobs_store.models import now_utc
from jobs_store.records import DEFAULT_WORKSPACE
from jobs_store.tasks import Task, TaskStore, format_duration
from workers.executions import STALE_AFTER_S

log = logging.getLogger(__name__)

#: The longest the scheduler sleeps between looks at the due set.
TICK_S = 1.0
#: How often the sweeps run (across all schedulers).
SWEEP_S = 5.0
#: A queued execution without its RQ job this long is queued again.
REQUEUE_AFTER_S = 30.0
#: A run starting this much after its due time says so in its note.
LATE_NOTE_S = 5.0


class TaskScheduler:
    """Moves due task runs onto the `tasks` queue; see the module docstring."""

    def __init__(self, *, client: redis.Redis, tasks: TaskStore, executions: ExecutionStore,
                 queue: ExecutionQueue, clock: Callable[[], datetime] = now_utc,
                 workspace: str = DEFAULT_WORKSPACE) -> None:
        self._redis = client
        self._tasks = tasks
        self._executions = executions
        self._queue = queue
        self._clock = clock
        self._ws = workspace

    def run(self, *, stop: threading.Event) -> None:
        """Tick until `stop` is set; Redis outages are waited out."""
        log.info("scheduler started")
        while not stop.is_set():
            try:
                self.tick()
                self.sweep()
                pause = self._until_next_due()
            except redis.RedisError as exc:
                log.warning("scheduler cannot reach Redis (%s); retrying in 1 s", exc)
                pause = TICK_S
            stop.wait(pause)
        log.info("scheduler stopped")

    def tick(self) -> int:
        """Start every run due now; the number of executions queued."""
        now = self._clock()
        return sum(self._start(task_id, now) for task_id in self._tasks.due(now))

    def sweep(self, *, force: bool = False) -> None:
        """Fail executions whose worker died; queue again those whose job was lost."""
        if not force and not self._redis.set(keys.scheduler_sweep(self._ws), "1", nx=True,
                                             px=int(SWEEP_S * 1000)):
            return  # another scheduler swept a moment ago
        now = self._clock()
        for stale in self._executions.stale(before=now - timedelta(seconds=STALE_AFTER_S)):
            failed = self._executions.finish(
                stale, "failed", error=f"its worker stopped (no sign of life for "
                                       f"{STALE_AFTER_S:.0f} s); the next run happens on "
                                       "schedule")
            if failed is not None:
                self._tasks.record_run(failed.task, status="idle", outcome=failed.error)
                log.warning("execution %s of task %s failed: its worker stopped", stale,
                            failed.task)
        for queued in self._executions.queued(before=now - timedelta(seconds=REQUEUE_AFTER_S)):
            execution = self._executions.find(queued)
            task = self._tasks.find(execution.task) if execution else None
            if task is not None:
                self._queue.enqueue(queued, timeout_s=queue_timeout(task))

    def _start(self, task_id: str, now: datetime) -> bool:
        task = self._tasks.find(task_id)
        if task is None or task.paused or task.next_run is None or task.next_run > now:
            return False  # changed since the due set was read
        due = task.next_run
        run_id = execution_id(task.id, due)
        late = now - due
        if late > task.grace:
            self._skip(task, run_id, due, now, f"missed by {_ago(late)} (the task's grace "
                                               f"period is {format_duration(task.grace)})")
            self._tasks.advance(task.id, due=due, now=now)
            return False
        note = f"started {_ago(late)} late" if late.total_seconds() >= LATE_NOTE_S else ""
        execution, opened = self._executions.open(Execution(
            id=run_id, task=task.id, task_name=task.name, due=due, queued_at=now, note=note))
        if not opened and execution.id != run_id:
            self._skip(task, run_id, due, now, f"the previous run ({execution.id}) was still "
                                               f"{execution.status}")
        self._tasks.advance(task.id, due=due, now=now)
        if opened:
            self._queue.enqueue(run_id, timeout_s=queue_timeout(task))
            log.info("task %s due %s queued as %s", task.name, due.isoformat(), run_id)
        return opened

    def _skip(self, task: Task, run_id: str, due: datetime, now: datetime, why: str) -> None:
        self._executions.record(Execution(
            id=run_id, task=task.id, task_name=task.name, status="skipped", due=due,
            queued_at=now, finished=now, note=f"skipped: {why}"))
        log.warning("task %s run due %s skipped: %s", task.name, due.isoformat(), why)

    def _until_next_due(self) -> float:
        first = self._redis.zrange(keys.task_due(self._ws), 0, 0, withscores=True)
        if not first:
            return TICK_S
        seconds = float(first[0][1]) / 1000 - time.time()
        return min(max(seconds, 0.001), TICK_S)


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class BackgroundScheduler:
    """A scheduler on a thread of this process (the embedded default)."""

    def __init__(self, scheduler: TaskScheduler) -> None:
        self._scheduler = scheduler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=scheduler.run, kwargs={"stop": self._stop},
                                        name="chatjobs-scheduler", daemon=True)

    def start(self) -> None:
        """Start ticking in the background."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the tick in hand."""
        self._stop.set()
        self._thread.join(timeout)
