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

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import redis
from pydantic import BaseModel, ConfigDict, Field
from redis.client import Pipeline

from jobs_store import keys
from jobs_store.errors import NotFound
from jobs_store.models import now_utc
from jobs_store.records import DEFAULT_WORKSPACE, load, transact

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


_Executions = list[Execution]  # `list` is a method name below
_Ids = list[str]


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


_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
