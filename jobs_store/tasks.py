"""Tasks: instructions the agent carries out on a schedule.

This holds the task record and its store; the scheduler and executions build
on it. The agent's `schedule_follow_up` tool creates one-time tasks here, and
admins manage tasks with `/tasks`.

Every write runs in a WATCH/MULTI transaction. Names are unique per workspace,
any case (a hash of lower-cased name → id). An edit based on a version someone
has replaced since is refused (`StaleVersion`), as with jobs.

The store may not import `bot`, where schedules are parsed: the wiring passes
a *planner* (`bot.schedules.plan`), which makes a task's schedule canonical
and sets its `next_run`. `update` and `resume` run it inside the transaction;
`create` stores the task as the caller planned it (the `/tasks` command plans
it, the agent's follow-up computes its own `next_run`).

A sorted set of due times (id → next run, epoch ms; paused tasks and tasks
without a next run left out) is kept with every write, for the scheduler.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from redis.client import Pipeline

from jobs_store import keys
from jobs_store.errors import AlreadyExists, InvalidInput, NotFound, StaleVersion
from jobs_store.models import now_utc, validated
from jobs_store.records import DEFAULT_WORKSPACE, load, new_id, not_found, resolve_id, transact

TaskStatus = Literal["idle", "running"]

#: (minimum, maximum) of each duration an admin sets, and its default.
DURATIONS: dict[str, tuple[timedelta, timedelta, timedelta]] = {
    "session": (timedelta(minutes=1), timedelta(days=7), timedelta(hours=1)),
    "max_time": (timedelta(minutes=15), timedelta(hours=24), timedelta(minutes=15)),
    "grace": (timedelta(0), timedelta(days=7), timedelta(hours=1)),
}
MAX_ITERATIONS = (10, 100_000)
DEFAULT_MAX_ITERATIONS = 1_000
MAX_META_FIELDS = 50
META_KEY_MAX = 40
META_VALUE_MAX = 500
MAX_OUTCOME = 2_000
_META_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
#: Stored targets: `slack:<team>:<id>`, `discord:<id>`, or a contact id as the
#: agent's follow-ups store it, `<platform>:<workspace>:<user>`.
_TARGET = re.compile(r"^(?:slack:[A-Za-z0-9]+:[A-Za-z0-9]+|discord:\d{1,25}"
                     r"|(?:slack|discord|console):[^\s:]{1,100}:[^\s:]{1,100})$")

#: The task fields an admin sets with `/tasks create|edit` (and `meta.KEY`).
TASK_FIELDS: tuple[str, ...] = (
    "name", "description", "schedule", "timezone", "contact", "channel", "bot", "session",
    "max_iterations", "max_time", "grace",
)


def format_duration(value: timedelta) -> str:
    """The duration in its largest exact unit: `90s`, `15m`, `1h`, `7d`, `0s`."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone; `InvalidInput("timezone", …)` otherwise."""
    try:
        if not name or name != name.strip() or len(name) > 64:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput("timezone", f"'{name}' is not an IANA time zone; give one like "
                                       "Europe/Paris, America/New_York or UTC.") from None
    return name


class Task(BaseModel):
    """A scheduled instruction for the agent."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    id: str = Field(default_factory=lambda: new_id("task"))
    name: str = Field(min_length=1, max_length=100)
    #: The instructions the agent carries out.
    description: str = Field(min_length=1, max_length=10_000)
    #: The bot's id (None: the default bot).
    bot: str | None = None
    #: The person to talk to: `slack:<team>:<user>`, `discord:<user>`, or a
    #: contact id `platform:workspace:user` (the agent's follow-ups).
    contact: str | None = None
    #: The channel to post in: `slack:<team>:<channel>` or `discord:<channel>`.
    channel: str | None = None
    #: Canonical text, see `bot.schedules`, e.g. `daily 09:00`, `cron 0 9 * * 1`.
    schedule: str = Field(min_length=1, max_length=200)
    timezone: str = "UTC"
    #: How long the agent keeps answering the contact after a run speaks to them.
    session: timedelta = DURATIONS["session"][2]
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    max_time: timedelta = DURATIONS["max_time"][2]
    #: How late a missed run may still start (after downtime); later ones are skipped.
    grace: timedelta = DURATIONS["grace"][2]
    meta: dict[str, str] = Field(default_factory=dict)
    paused: bool = False
    status: TaskStatus = "idle"
    last_run: datetime | None = None
    last_outcome: str = Field(default="", max_length=MAX_OUTCOME)
    #: The next run, UTC; None when paused or when a `once` has passed.
    next_run: datetime | None = None
    created_by: str = ""
    created_at: datetime = Field(default_factory=now_utc)
    updated_by: str = ""
    updated_at: datetime = Field(default_factory=now_utc)
    version: int = 1

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(not ch.isprintable() for ch in value):
            raise ValueError("must be one line of text, without line breaks or tabs")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("contact", "channel")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not _TARGET.match(value):
            raise ValueError(f"'{value}' is not slack:<team>:<id> or discord:<id>")
        return value or None

    @field_validator("max_iterations")
    @classmethod
    def _iterations(cls, value: int) -> int:
        low, high = MAX_ITERATIONS
        if not low <= value <= high:
            raise ValueError(f"from {low:,} to {high:,} (you gave {value:,})")
        return value

    @field_validator("session", "max_time", "grace")
    @classmethod
    def _duration(cls, value: timedelta, info: Any) -> timedelta:
        low, high, _ = DURATIONS[info.field_name]
        if not low <= value <= high:
            raise ValueError(f"from {format_duration(low)} to {format_duration(high)} "
                             f"(you gave {format_duration(value)})")
        return value

    @field_validator("meta")
    @classmethod
    def _meta(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_META_FIELDS:
            raise ValueError(f"at most {MAX_META_FIELDS} fields (you gave {len(value)})")
        for key, item in value.items():
            # InvalidInput is not a ValueError: pydantic lets it through, naming the item.
            if not _META_KEY.match(key):
                raise InvalidInput(f"meta.{key[:50]}", f"a key is 1–{META_KEY_MAX} letters, "
                                                       "digits, _ or -")
            if len(item) > META_VALUE_MAX:
                raise InvalidInput(f"meta.{key}", f"at most {META_VALUE_MAX} characters "
                                                  f"(you gave {len(item):,})")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Task:
        if self.contact and self.channel:
            raise InvalidInput("channel", "give a contact or a channel, not both")
        return self


class Planner(Protocol):
    """Makes a task's schedule canonical and sets its next run (see `bot.schedules.plan`)."""

    def __call__(self, task: Task, *, now: datetime) -> Task: ...


def _as_planned(task: Task, *, now: datetime) -> Task:
    return task


_Tasks = list[Task]  # `list` is a method name below
_Ids = list[str]
_Read = list[tuple[str, Task]]


class TaskStore:
    """Repository of one workspace's tasks."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        workspace: str = DEFAULT_WORKSPACE,
        clock: Callable[[], datetime] = now_utc,
        planner: Planner | None = None,
    ) -> None:
        self._redis = client
        self._ws = workspace
        self.clock = clock
        self._plan: Planner = planner or _as_planned

    # --- reading ------------------------------------------------------------

    def list(self) -> _Tasks:
        """Every task, oldest first."""
        ids = sorted(str(i) for i in self._redis.smembers(keys.task_ids(self._ws)))
        raws = self._redis.mget([keys.task(self._ws, i) for i in ids]) if ids else []
        tasks = [Task.model_validate_json(raw) for raw in raws if raw]
        return sorted(tasks, key=lambda t: (t.created_at, t.name.lower(), t.id))

    def find(self, ref: str) -> Task | None:
        """The task with this id or name (any case), or None."""
        task_id = resolve_id(self._redis, self._names_key, ref, self._key)
        return load(self._redis, self._key(task_id), Task) if task_id else None

    def get(self, ref: str) -> Task:
        """Like `find`, but raise `NotFound` with the closest name as a hint."""
        task = self.find(ref)
        if task is None:
            raise not_found("task", ref, (t.name for t in self.list()), "/tasks list")
        return task

    def read_many(self, ids: Sequence[str]) -> _Read:
        """The tasks with these ids (missing ones left out), each with its JSON as stored,
        in one round trip."""
        raws = self._redis.mget([self._key(i) for i in ids]) if ids else []
        return [(str(raw), Task.model_validate_json(raw)) for raw in raws if raw]

    def rearmed(self, task: Task, *, now: datetime) -> Task:
        """`task` with its next run the first after `now` (see `advance`)."""
        return self._plan(task, now=now)

    def due(self, until: datetime) -> _Ids:
        """Ids of unpaused tasks whose next run is at or before `until`, soonest first."""
        return [str(i) for i in self._redis.zrangebyscore(
            keys.task_due(self._ws), "-inf", _ms(until))]

    # --- writing ------------------------------------------------------------

    def create(self, task: Task, *, rename_if_taken: bool = True) -> Task:
        """Store a new task as given and return what is stored.

        A task with the same id already stored is kept as is (a retried
        follow-up stores once). When the name is taken (any case), it is
        numbered — "Follow up with Ana (2)" — or, with `rename_if_taken=False`
        (the admin command), refused with `AlreadyExists`.
        """
        key = self._key(task.id)

        def write(pipe: Pipeline) -> Task:
            stored = load(pipe, key, Task)
            if stored is not None:
                return stored
            named = task
            number = 1
            while self._owner(pipe, named.name) not in (None, named.id):
                if not rename_if_taken:
                    raise _taken(named.name)
                number += 1
                suffix = f" ({number})"
                named = task.model_copy(update={"name": task.name[:100 - len(suffix)] + suffix})
            pipe.multi()
            self._write(pipe, named)
            return named

        return self._transaction(write, key)

    def update(
        self,
        ref: str,
        changes: Mapping[str, Any],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Task:
        """Apply `changes` (Task fields; `meta` replaces the whole mapping) as the next version.

        The planner runs on the result, so an edited schedule or time zone
        gets its next run at once. With `expected_version`, refuse if the task
        is no longer at that version. When nothing would change, nothing is
        saved and the current task is returned.
        """
        if not changes:
            raise InvalidInput("", "Nothing to change: give at least one field=value.")
        for field in changes:
            if field not in (*TASK_FIELDS, "meta"):
                raise InvalidInput(field, "is not a task field; use "
                                          + ", ".join((*TASK_FIELDS, "meta.KEY")))
        task_id = self.get(ref).id

        def write(pipe: Pipeline) -> Task:
            current = self._current(pipe, task_id, ref)
            if expected_version is not None and current.version != expected_version:
                raise _stale(current, expected_version)
            data = {**current.model_dump(), **changes}
            task = self._plan(validated(Task, data), now=self.clock())
            if all(getattr(task, f) == getattr(current, f) for f in (*TASK_FIELDS, "meta")):
                return current
            task = task.model_copy(update={"version": current.version + 1, "updated_by": actor,
                                           "updated_at": self.clock()})
            if self._owner(pipe, task.name) not in (None, task.id):
                raise _taken(task.name)
            pipe.multi()
            self._write(pipe, task, old_name=current.name)
            return task

        return self._transaction(write, self._key(task_id))

    def pause(self, ref: str, *, actor: str) -> Task:
        """Stop scheduling the task (a running execution is not stopped)."""
        return self._set_paused(ref, True, actor)

    def resume(self, ref: str, *, actor: str) -> Task:
        """Schedule the task again from now (its next run is recomputed)."""
        return self._set_paused(ref, False, actor)

    def record_run(self, task_id: str, *, status: TaskStatus, last_run: datetime | None = None,
                   outcome: str | None = None) -> Task | None:
        """Note a run starting or ending (not an edit: the version stays)."""
        key = self._key(task_id)

        def write(pipe: Pipeline) -> Task | None:
            current = load(pipe, key, Task)
            if current is None:
                return None
            update: dict[str, Any] = {"status": status}
            if last_run is not None:
                update["last_run"] = last_run
            if outcome is not None:
                update["last_outcome"] = outcome[:MAX_OUTCOME]
            task = current.model_copy(update=update)
            pipe.multi()
            pipe.set(key, task.model_dump_json())
            return task

        return transact(self._redis, write, key)

    def delete(self, ref: str, *, actor: str) -> Task:
        """Remove the task; returns it as it was."""
        task_id = self.get(ref).id

        def write(pipe: Pipeline) -> Task:
            current = self._current(pipe, task_id, ref)
            owns_name = self._owner(pipe, current.name) == task_id
            pipe.multi()
            pipe.delete(self._key(task_id))
            pipe.srem(keys.task_ids(self._ws), task_id)
            pipe.zrem(keys.task_due(self._ws), task_id)
            if owns_name:
                pipe.hdel(self._names_key, current.name.lower())
            return current

        return self._transaction(write, self._key(task_id))

    # --- internals ----------------------------------------------------------

    @property
    def _names_key(self) -> str:
        return keys.task_names(self._ws)

    def _key(self, task_id: str) -> str:
        return keys.task(self._ws, task_id)

    def _owner(self, pipe: Any, name: str) -> str | None:
        owner = pipe.hget(self._names_key, name.lower())
        return str(owner) if owner else None

    def _transaction(self, write: Callable[[Pipeline], Any], *watched: str) -> Any:
        return self._redis.transaction(write, self._names_key, *watched,
                                       value_from_callable=True)

    def _current(self, pipe: Pipeline, task_id: str, ref: str) -> Task:
        task = load(pipe, self._key(task_id), Task)
        if task is None:  # deleted between our lookup and the transaction
            raise NotFound(f"The task '{ref}' was just deleted.")
        return task

    def _set_paused(self, ref: str, paused: bool, actor: str) -> Task:
        task_id = self.get(ref).id

        def write(pipe: Pipeline) -> Task:
            current = self._current(pipe, task_id, ref)
            if current.paused == paused:
                return current
            task = self._plan(current.model_copy(update={"paused": paused}), now=self.clock())
            if paused:
                task = task.model_copy(update={"next_run": None})
            task = task.model_copy(update={"version": current.version + 1, "updated_by": actor,
                                           "updated_at": self.clock()})
            pipe.multi()
            self._write(pipe, task, old_name=current.name)
            return task

        return self._transaction(write, self._key(task_id))

    def _write(self, pipe: Pipeline, task: Task, old_name: str | None = None) -> None:
        if old_name is not None and old_name.lower() != task.name.lower():
            pipe.hdel(self._names_key, old_name.lower())
        pipe.hset(self._names_key, task.name.lower(), task.id)
        pipe.set(self._key(task.id), task.model_dump_json())
        pipe.sadd(keys.task_ids(self._ws), task.id)
        self._index_due(pipe, task)

    def _index_due(self, pipe: Pipeline, task: Task) -> None:
        if task.next_run is not None and not task.paused:
            pipe.zadd(keys.task_due(self._ws), {task.id: _ms(task.next_run)})
        else:
            pipe.zrem(keys.task_due(self._ws), task.id)


def _ms(when: datetime) -> int:
    return int(when.astimezone(UTC).timestamp() * 1000)


def _taken(name: str) -> AlreadyExists:
    return AlreadyExists(f"name: a task named '{name}' already exists; names are unique, "
                         "any case.")


def _stale(current: Task, expected: int) -> StaleVersion:
    when = current.updated_at.strftime("%Y-%m-%d %H:%M UTC")
    return StaleVersion(
        f"'{current.name}' was changed by {current.updated_by or 'someone'} at {when} "
        f"(it is now version {current.version}; your edit was based on version {expected}). "
        "Nothing was saved: look at the task again and make your edit again."
    )
