"""Executions: the runs of a task, and which one is in progress.

An execution is queued (by the scheduler, or by Trigger Now), runs on a
worker, and ends `succeeded`, `failed`, `cancelled`, `timed_out` or
`limit_reached`. A run the scheduler did not start — missed by more than the
task's grace period during downtime, or due while the previous run was still
going — is recorded as `skipped`, with the reason in its note.

At most one execution of a task is queued or running: `open` refuses a second
one in the same transaction that records the first (the task's *active*
pointer). Ids the scheduler gives are derived from the task and the due time,
so a run claimed twice (two schedulers, or a crash and a retry) is one
execution.

A running execution's worker beats every few seconds; the scheduler marks an
execution whose beats stopped as failed (`stale`). Nothing here knows RQ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import redis
from pydantic import BaseModel, ConfigDict, Field
from redis.client import Pipeline

from jobs_store import keys
from jobs_store.errors import NotFound
from jobs_store.models import now_utc
from jobs_store.records import DEFAULT_WORKSPACE, load, transact
from jobs_store.tasks import Task

ExecutionStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "timed_out",
                          "limit_reached", "skipped"]
LIVE: frozenset[str] = frozenset({"queued", "running"})
#: How an execution came about.
Trigger = Literal["schedule", "manual"]
#: Executions kept per task (the oldest are dropped).
KEEP_PER_TASK = 200
MAX_TEXT = 2_000


class Execution(BaseModel):
    """One run of a task."""

    model_config = ConfigDict(frozen=True)

    id: str
    task: str
    task_name: str = ""
    status: ExecutionStatus = "queued"
    trigger: Trigger = "schedule"
    #: The run's scheduled time (None when triggered by hand).
    due: datetime | None = None
    queued_at: datetime = Field(default_factory=now_utc)
    started: datetime | None = None
    finished: datetime | None = None
    #: Model calls, its session's turns included.
    iterations: int = 0
    #: Messages it sent.
    messages: int = 0
    #: Where it spoke: the conversation its session window is on.
    conversation: str = ""
    outcome: str = Field(default="", max_length=MAX_TEXT)
    error: str = Field(default="", max_length=MAX_TEXT)
    #: Why it was skipped, how late it started, who cancelled it.
    note: str = Field(default="", max_length=MAX_TEXT)

    @property
    def live(self) -> bool:
        """Queued or running."""
        return self.status in LIVE

    def duration_s(self) -> float | None:
        """Seconds from start to finish (None until both are known)."""
        if self.started is None or self.finished is None:
            return None
        return (self.finished - self.started).total_seconds()


@dataclass(frozen=True)
class Claim:
    """A due run to start: the task as read, the task re-armed, and the run's record."""

    #: The task's stored JSON when it was read: the claim holds only if it is unchanged.
    read: str
    rearmed: Task
    #: Queued (to open), or skipped (to record).
    execution: Execution


#: How a claim ended: the run is queued; skipped as another run of the task is in
#: progress (the task is re-armed, nothing recorded); recorded as skipped; or lost
#: to a change of the task (an edit, a pause, another scheduler).
ClaimResult = Literal["opened", "busy", "recorded", "lost"]
_CLAIM_RESULTS: tuple[ClaimResult, ...] = ("lost", "opened", "busy", "recorded")

_Executions = list[Execution]  # `list` is a method name below
_Ids = list[str]
_Results = list[ClaimResult]


class ExecutionStore:
    """Repository of one workspace's executions."""

    def __init__(self, client: redis.Redis, *, workspace: str = DEFAULT_WORKSPACE,
                 clock: Callable[[], datetime] = now_utc) -> None:
        self._redis = client
        self._ws = workspace
        self.clock = clock

    # --- reading ------------------------------------------------------------

    def find(self, execution_id: str) -> Execution | None:
        """The execution with this id, or None."""
        return load(self._redis, self._key(execution_id.strip()), Execution)

    def get(self, execution_id: str) -> Execution:
        """Like `find`, but raise `NotFound` saying where to look."""
        found = self.find(execution_id)
        if found is None:
            raise NotFound(f"No execution '{execution_id}'. See /tasks executions <task> "
                           "for a task's executions and their ids.")
        return found

    def list(self, task_id: str, *, limit: int = 10) -> _Executions:
        """The task's latest executions, newest first."""
        ids = self._redis.zrevrange(keys.task_executions(self._ws, task_id), 0, limit - 1)
        raws = self._redis.mget([self._key(str(i)) for i in ids]) if ids else []
        return [Execution.model_validate_json(raw) for raw in raws if raw]

    def active(self, task_id: str) -> Execution | None:
        """The task's queued or running execution, if any."""
        active_id = self._redis.get(keys.task_active(self._ws, task_id))
        found = self.find(str(active_id)) if active_id else None
        return found if found is not None and found.live else None

    def stale(self, *, before: datetime) -> _Ids:
        """Running executions whose last beat is older than `before`."""
        return [str(i) for i in self._redis.zrangebyscore(
            keys.executions_running(self._ws), "-inf", f"({_ms(before)}")]

    def queued(self, *, before: datetime) -> _Ids:
        """Executions queued before `before` and not started yet."""
        return [str(i) for i in self._redis.zrangebyscore(
            keys.executions_queued(self._ws), "-inf", f"({_ms(before)}")]

    # --- writing ------------------------------------------------------------

    def open(self, execution: Execution) -> tuple[Execution, bool]:
        """Queue `execution` unless its task already has one in progress.

        Returns the queued execution and True; or, when this id is already
        stored or the task has another queued or running execution, that one
        and False (nothing is written).
        """
        key, active = self._key(execution.id), keys.task_active(self._ws, execution.task)

        def write(pipe: Pipeline) -> tuple[Execution, bool]:
            stored = load(pipe, key, Execution)
            if stored is not None:
                return stored, False
            active_id = pipe.get(active)
            current = load(pipe, self._key(str(active_id)), Execution) if active_id else None
            if current is not None and current.live:
                return current, False
            pipe.multi()
            self._save(pipe, execution)
            pipe.set(active, execution.id)
            pipe.zadd(keys.executions_queued(self._ws), {execution.id: _ms(execution.queued_at)})
            return execution, True

        return transact(self._redis, write, key, active)

    def claim(self, claims: Sequence[Claim]) -> _Results:
        """Start due runs, one Redis round trip for all: for each, atomically, if the
        task is still as read, re-arm it and record its run (queued, or skipped).

        A task changed since it was read (edited, paused, deleted, or claimed by
        another scheduler) is left alone: that run is "lost" here, so each due
        run is started by one scheduler only.
        """
        script = self._redis.register_script(_CLAIM)
        with self._redis.pipeline(transaction=False) as pipe:
            for claim in claims:
                task, run = claim.rearmed, claim.execution
                next_ms = "" if task.next_run is None or task.paused else str(_ms(task.next_run))
                script(keys=[keys.task(self._ws, task.id), keys.task_due(self._ws),
                             self._key(run.id), keys.task_active(self._ws, task.id),
                             keys.task_executions(self._ws, task.id),
                             keys.executions_queued(self._ws)],
                       args=[claim.read, task.model_dump_json(), next_ms, task.id, run.id,
                             run.model_dump_json(), _ms(run.queued_at),
                             "record" if run.status == "skipped" else "open", KEEP_PER_TASK,
                             self._key("")],
                       client=pipe)
            return [_CLAIM_RESULTS[int(code)] for code in pipe.execute()]

    def record(self, execution: Execution) -> Execution:
        """Store a finished execution (a skipped run) once; return what is stored."""
        if self._redis.set(self._key(execution.id), execution.model_dump_json(), nx=True):
            with self._redis.pipeline(transaction=True) as pipe:
                self._index(pipe, execution)
                pipe.execute()
            return execution
        return self.get(execution.id)

    def start(self, execution_id: str) -> Execution | None:
        """Mark a queued execution running; None when it is not queued (any more)."""
        now = self.clock()

        def change(current: Execution, pipe: Pipeline) -> Execution | None:
            if current.status != "queued":
                return None
            pipe.zrem(keys.executions_queued(self._ws), execution_id)
            pipe.zadd(keys.executions_running(self._ws), {execution_id: _ms(now)})
            return current.model_copy(update={"status": "running", "started": now})

        return self._change(execution_id, change)

    def beat(self, execution_id: str) -> None:
        """Say the execution's worker is alive (only while it runs)."""
        self._redis.zadd(keys.executions_running(self._ws), {execution_id: _ms(self.clock())},
                         xx=True)

    def note_progress(self, execution_id: str, *, iterations: int = 0, messages: int = 0,
                      conversation: str | None = None) -> Execution | None:
        """Add model calls and messages sent; None when the execution is gone."""

        def change(current: Execution, pipe: Pipeline) -> Execution:
            update: dict[str, Any] = {"iterations": current.iterations + iterations,
                                      "messages": current.messages + messages}
            if conversation is not None:
                update["conversation"] = conversation
            return current.model_copy(update=update)

        return self._change(execution_id, change)

    def finish(self, execution_id: str, status: ExecutionStatus, *, outcome: str = "",
               error: str = "", note: str = "") -> Execution | None:
        """End a queued or running execution; None when it had already ended."""
        if status in LIVE:
            raise ValueError(f"an execution cannot finish as {status}")
        now = self.clock()
        active = None

        def change(current: Execution, pipe: Pipeline) -> Execution | None:
            nonlocal active
            if not current.live:
                return None
            active = keys.task_active(self._ws, current.task)
            pipe.zrem(keys.executions_queued(self._ws), execution_id)
            pipe.zrem(keys.executions_running(self._ws), execution_id)
            update: dict[str, Any] = {"status": status, "finished": now,
                                      "outcome": outcome[:MAX_TEXT] or current.outcome,
                                      "error": error[:MAX_TEXT] or current.error}
            if note:
                update["note"] = note[:MAX_TEXT]
            return current.model_copy(update=update)

        finished = self._change(execution_id, change)
        if finished is not None and active is not None:
            # Clear the task's pointer only if it still points here.
            self._redis.eval(_DELETE_IF_EQUAL, 1, active, execution_id)
        return finished

    # --- internals ----------------------------------------------------------

    def _key(self, execution_id: str) -> str:
        return keys.execution(self._ws, execution_id)

    def _save(self, pipe: Pipeline, execution: Execution) -> None:
        pipe.set(self._key(execution.id), execution.model_dump_json())
        self._index(pipe, execution)

    def _index(self, pipe: Pipeline, execution: Execution) -> None:
        listing = keys.task_executions(self._ws, execution.task)
        pipe.zadd(listing, {execution.id: _ms(execution.queued_at)})
        pipe.zremrangebyrank(listing, 0, -KEEP_PER_TASK - 1)

    def _change(self, execution_id: str,
                change: Callable[[Execution, Pipeline], Execution | None]) -> Any:
        key = self._key(execution_id)

        def write(pipe: Pipeline) -> Execution | None:
            current = load(pipe, key, Execution)
            if current is None:
                return None
            pipe.multi()
            # `change` decides before it queues any command: None queues nothing.
            changed = change(current, pipe)
            if changed is not None:
                pipe.set(key, changed.model_dump_json())
            return changed

        return transact(self._redis, write, key)


#: KEYS: task, due set, execution, active pointer, task's executions, queued set.
#: ARGV: task as read, task re-armed, next run ms ("" for none), task id, run id,
#: run JSON, queued ms, "open" or "record", executions kept, execution key prefix.
#: Returns 0 lost, 1 opened, 2 busy, 3 recorded.
_CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if ARGV[8] == 'open' then
  local active = redis.call('GET', KEYS[4])
  if active then
    local current = redis.call('GET', ARGV[10] .. active)
    if current then
      local status = cjson.decode(current)['status']
      if status == 'queued' or status == 'running' then
        redis.call('SET', KEYS[1], ARGV[2])
        if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[4])
        else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
        return 2
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[4])
else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
redis.call('SET', KEYS[3], ARGV[6])
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[5])
redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -tonumber(ARGV[9]) - 1)
if ARGV[8] == 'open' then
  redis.call('SET', KEYS[4], ARGV[5])
  redis.call('ZADD', KEYS[6], ARGV[7], ARGV[5])
  return 1
end
return 3
"""

_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
