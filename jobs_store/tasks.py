"""Tasks: instructions the agent carries out on a schedule.

This holds the task record and its store; scheduling and executions build on
it. The agent's `schedule_follow_up` tool creates one-time tasks here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import redis
from pydantic import BaseModel, ConfigDict, Field

from jobs_store import keys
from jobs_store.models import now_utc
from jobs_store.records import DEFAULT_WORKSPACE, new_id

TaskStatus = Literal["idle", "running", "paused", "done"]


class Task(BaseModel):
    """A scheduled instruction for the agent."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: new_id("task"))
    name: str = Field(min_length=1, max_length=100)
    #: The instructions the agent carries out.
    description: str = Field(min_length=1, max_length=10_000)
    bot: str | None = None
    #: `platform:workspace:user` of the person to talk to, if any.
    contact: str | None = None
    #: `platform:workspace:channel` to post in, if any.
    channel: str | None = None
    #: e.g. `once 2026-11-28T09:00:00+01:00`, `daily 09:00`, `cron 0 9 * * 1`.
    schedule: str
    timezone: str = "UTC"
    status: TaskStatus = "idle"
    next_run: datetime | None = None
    created_by: str = ""
    created_at: datetime = Field(default_factory=now_utc)


class TaskStore:
    """Repository of one workspace's tasks."""

    def __init__(self, client: redis.Redis, *, workspace: str = DEFAULT_WORKSPACE) -> None:
        self._redis = client
        self._ws = workspace

    def create(self, task: Task) -> Task:
        """Store a new task; a task with the same id already stored is kept as is."""
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.task(self._ws, task.id), task.model_dump_json(), nx=True)
            pipe.sadd(keys.task_ids(self._ws), task.id)
            pipe.execute()
        return task

    def list(self) -> list[Task]:
        """Every task, oldest first."""
        ids = sorted(str(i) for i in self._redis.smembers(keys.task_ids(self._ws)))
        raws = self._redis.mget([keys.task(self._ws, i) for i in ids]) if ids else []
        tasks = [Task.model_validate_json(raw) for raw in raws if raw]
        return sorted(tasks, key=lambda t: t.created_at)
