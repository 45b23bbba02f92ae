"""`chatjobs scheduler`: starts task runs when they are due, never before.

The schedule lives in the task store: each task's next run is an absolute
UTC instant, and a sorted set of due times is written in the same transaction
as the task, so an edit, a pause or a delete can never leave a stale run
behind. The scheduler wakes at the next due time (at least once a second),
and for each task due:

1. it claims the run: in one atomic step (a Lua script, pipelined for up to
   `BATCH` runs a round trip) that holds only if the task is unchanged since
   it was read, it re-arms the task — the next run is the first after now, so
   runs missed during downtime collapse into this one — and records the run
   as queued, under an id derived from the task and the due time. Of several
   schedulers, one claims each run; the others find the task changed;
2. a run later than the task's grace period (downtime) is recorded as
   skipped instead; a run due while the previous one is still going is
   skipped too;
3. it queues the claimed runs on the RQ queue `tasks` under their ids, in one
   round trip, the moment they are due. Runs due within `LOOKAHEAD_S` are
   claimed ahead (claiming is most of the work), so thousands of runs due in
   the same second are queued together on time. A scheduler asked to stop
   first queues the runs it claimed ahead, each at its due time (at most
   `LOOKAHEAD_S` away); the lost-job sweep queues those of a scheduler that
   was killed, 30 s later.

rq-scheduler and RQ's own scheduler are not used for this: they store due
times as whole seconds (so a run can start up to a second early) and poll
every minute by default; and they would be a second copy of the schedule.

Every few seconds one scheduler (a short Redis lock) also sweeps: running
executions whose worker stopped beating are marked failed, and queued
executions whose RQ job was lost (a crash between steps 1 and 3) are queued
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
from jobs_store.executions import Claim, Execution, ExecutionStore
from jobs_store.models import now_utc
from jobs_store.records import DEFAULT_WORKSPACE
from jobs_store.tasks import Task, TaskStore, format_duration
from workers.runtime import STALE_AFTER_S

log = logging.getLogger(__name__)

#: The longest the scheduler sleeps between looks at the due set.
TICK_S = 1.0
#: How often the sweeps run (across all schedulers).
SWEEP_S = 5.0
#: A queued execution without its RQ job this long is queued again.
REQUEUE_AFTER_S = 30.0
#: Due runs claimed per round trip.
BATCH = 500
#: Runs due this soon are claimed ahead and queued the moment they are due:
#: claiming is most of the work, so a crowd of runs due together is queued at once.
LOOKAHEAD_S = 2.0
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
        #: Runs claimed ahead, to queue at their due time: (due, execution id, time limit).
        self._claimed: list[tuple[datetime, str, float]] = []

    def run(self, *, stop: threading.Event) -> None:
        """Tick until `stop` is set (or SIGTERM unwinds it); Redis outages are waited
        out. Before it returns, the runs claimed ahead are queued at their due time."""
        log.info("scheduler started")
        try:
            while not stop.is_set():
                try:
                    self.tick()
                    self.sweep()
                    pause = self._until_next_due()
                except redis.RedisError as exc:
                    log.warning("scheduler cannot reach Redis (%s); retrying in 1 s", exc)
                    pause = TICK_S
                stop.wait(pause)
        finally:
            self._queue_claimed()
            log.info("scheduler stopped")

    def _queue_claimed(self) -> None:
        """Queue every run claimed ahead, none before its due time; what Redis refuses
        is left to the lost-job sweep of the other schedulers."""
        deadline = time.monotonic() + LOOKAHEAD_S + TICK_S  # even if the clock stands still
        try:
            while self._claimed and time.monotonic() < deadline:
                first = min(due for due, _, _ in self._claimed)
                wait = (first - self._clock()).total_seconds()
                time.sleep(min(max(wait, 0.0), max(deadline - time.monotonic(), 0.0)))
                self._queue_due(self._clock())
        except redis.RedisError as exc:
            log.warning("could not queue %d runs claimed ahead (%s)", len(self._claimed), exc)
        if self._claimed:
            log.warning("%d runs claimed ahead are left to the other schedulers' sweep "
                        "(within %.0f s)", len(self._claimed), REQUEUE_AFTER_S)

    def tick(self) -> int:
        """Queue every run due now, and claim those due within `LOOKAHEAD_S`; the number
        of executions queued."""
        now = self._clock()
        queued = self._queue_due(now)
        soon = self._tasks.due(now + timedelta(seconds=LOOKAHEAD_S))
        for i in range(0, len(soon), BATCH):
            self._claim_batch(soon[i:i + BATCH], now)
        return queued + self._queue_due(self._clock())

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
        waiting = self._executions.queued(before=now - timedelta(seconds=REQUEUE_AFTER_S))
        lost = self._queue.lost(waiting) if waiting else []
        runs = {}
        for lost_id in lost:
            execution = self._executions.find(lost_id)
            task = self._tasks.find(execution.task) if execution else None
            if task is not None:
                runs[lost_id] = queue_timeout(task)
        if runs:
            log.warning("queueing %d executions again: their jobs were lost", len(runs))
            self._queue.enqueue(runs)

    def _queue_due(self, now: datetime) -> int:
        """Queue the claimed runs whose time has come (never one before it), in one go.
        If Redis refuses, they stay claimed, for the next tick (queueing one twice is
        harmless: the job id is the execution's, and only a queued execution runs)."""
        due = [run for run in self._claimed if run[0] <= now]
        if not due:
            return 0
        self._queue.enqueue({run_id: limit for _, run_id, limit in due})
        self._claimed = [run for run in self._claimed if run[0] > now]
        log.info("queued %d task runs", len(due))
        return len(due)

    def _claim_batch(self, ids: list[str], now: datetime) -> None:
        """Claim the runs of these tasks due by now + `LOOKAHEAD_S` (one round trip)."""
        until = now + timedelta(seconds=LOOKAHEAD_S)
        claims = [self._claim(read, task, now) for read, task in self._tasks.read_many(ids)
                  if not task.paused and task.next_run is not None and task.next_run <= until]
        results = self._executions.claim(claims)
        for claim, result in zip(claims, results, strict=True):
            task, run = claim.rearmed, claim.execution
            if result == "opened":
                assert run.due is not None
                self._claimed.append((run.due, run.id, queue_timeout(task)))
            elif result == "busy":
                self._skip(task, run, now, "the previous run was still going")
            elif result == "recorded":
                log.warning("task %s run due %s skipped: %s", task.name,
                            run.due.isoformat() if run.due else "?", run.note)

    def _claim(self, read: str, task: Task, now: datetime) -> Claim:
        due = task.next_run
        assert due is not None
        run = Execution(id=execution_id(task.id, due), task=task.id, task_name=task.name,
                        due=due, queued_at=now)
        rearmed = self._tasks.rearmed(task, now=max(now, due))
        late = now - due
        if late > task.grace:
            run = run.model_copy(update={
                "status": "skipped", "finished": now,
                "note": f"skipped: missed by {_ago(late)} (the task's grace period is "
                        f"{format_duration(task.grace)})"})
        elif late.total_seconds() >= LATE_NOTE_S:
            run = run.model_copy(update={"note": f"started {_ago(late)} late"})
        return Claim(read=read, rearmed=rearmed, execution=run)

    def _skip(self, task: Task, run: Execution, now: datetime, why: str) -> None:
        self._executions.record(run.model_copy(update={
            "status": "skipped", "finished": now, "note": f"skipped: {why}"}))
        log.warning("task %s run due %s skipped: %s", task.name,
                    run.due.isoformat() if run.due else "?", why)

    def _until_next_due(self) -> float:
        """Seconds to the next thing to do: a claimed run's due time, or the next run
        coming within `LOOKAHEAD_S` (at most `TICK_S`)."""
        wake = [due.timestamp() for due, _, _ in self._claimed]
        first = self._redis.zrange(keys.task_due(self._ws), 0, 0, withscores=True)
        if first:
            wake.append(float(first[0][1]) / 1000 - LOOKAHEAD_S)
        if not wake:
            return TICK_S
        return min(max(min(wake) - time.time(), 0.001), TICK_S)


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
