"""The task store on a real Redis: names, versions, pause/resume, the due index, limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from bot.schedules import plan
from jobs_store import keys
from jobs_store.errors import AlreadyExists, InvalidInput, NotFound, StaleVersion
from jobs_store.models import validated
from jobs_store.tasks import Task, TaskStore
from tests.helpers import Clock

DbState = Callable[[], dict[str, Any]]


@pytest.fixture
def tasks(redis_client: redis.Redis, clock: Clock) -> TaskStore:
    return TaskStore(redis_client, clock=clock, planner=plan)


def _task(name: str = "Digest", **fields: Any) -> Task:
    fields.setdefault("schedule", "daily 09:00")
    fields.setdefault("timezone", "Europe/Paris")
    return plan(Task(name=name, description="Post the digest", **fields),
                now=datetime(2025, 3, 4, 9, 0, tzinfo=UTC))


def test_create_get_by_id_or_any_case_name_and_list(tasks: TaskStore) -> None:
    stored = tasks.create(_task(), rename_if_taken=False)
    assert tasks.get(stored.id) == stored == tasks.get("DIGEST")
    assert tasks.list() == [stored]
    assert stored.next_run == datetime(2025, 3, 5, 8, 0, tzinfo=UTC)


def test_an_unknown_name_suggests_the_closest(tasks: TaskStore) -> None:
    tasks.create(_task("Weekly digest"))
    with pytest.raises(NotFound, match="Did you mean 'Weekly digest'"):
        tasks.get("weekly digets")


def test_names_are_unique_in_any_case_and_a_refusal_writes_nothing(
    tasks: TaskStore, db_state: DbState
) -> None:
    tasks.create(_task("Digest"))
    before = db_state()
    with pytest.raises(AlreadyExists, match="a task named 'DIGEST' already exists"):
        tasks.create(_task("DIGEST"), rename_if_taken=False)
    assert db_state() == before


def test_follow_ups_with_a_taken_name_are_numbered_and_a_retry_stores_once(
    tasks: TaskStore
) -> None:
    first = tasks.create(_task("Follow up with Ana", id="task_00000001"))
    second = tasks.create(_task("Follow up with Ana", id="task_00000002"))
    again = tasks.create(_task("Something else", id="task_00000002"))
    assert (first.name, second.name) == ("Follow up with Ana", "Follow up with Ana (2)")
    assert again == second
    assert len(tasks.list()) == 2


def test_update_replans_and_versions(tasks: TaskStore, clock: Clock) -> None:
    task = tasks.create(_task())
    clock.advance(hours=1)
    edited = tasks.update(task.id, {"schedule": "weekly mon 10:00", "name": "Monday digest"},
                          actor="U2", expected_version=1)
    assert edited.version == 2 and edited.updated_by == "U2"
    assert edited.next_run == datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    assert tasks.find("Digest") is None and tasks.get("monday digest") == edited
    assert tasks.update(task.id, {"name": "Monday digest"}, actor="U3") == edited


def test_a_stale_edit_is_refused_and_writes_nothing(tasks: TaskStore, db_state: DbState) -> None:
    task = tasks.create(_task())
    tasks.update(task.id, {"description": "v2"}, actor="U2")
    before = db_state()
    with pytest.raises(StaleVersion, match=r"changed by U2.*based on version 1"):
        tasks.update(task.id, {"description": "v3"}, actor="U3", expected_version=1)
    assert db_state() == before


def test_pause_resume_and_the_due_index(tasks: TaskStore, clock: Clock,
                                        redis_client: redis.Redis) -> None:
    task = tasks.create(_task())
    assert tasks.due(datetime(2025, 3, 5, 8, 0, tzinfo=UTC)) == [task.id]
    paused = tasks.pause(task.id, actor="U1")
    assert paused.paused and paused.next_run is None
    assert tasks.due(datetime(2030, 1, 1, tzinfo=UTC)) == []
    clock.advance(days=3)
    resumed = tasks.resume("digest", actor="U1")
    assert not resumed.paused and resumed.version == 3
    assert resumed.next_run == datetime(2025, 3, 8, 8, 0, tzinfo=UTC)
    assert redis_client.zscore(keys.task_due("default"), task.id) == pytest.approx(
        resumed.next_run.timestamp() * 1000)


def test_delete_removes_every_key(tasks: TaskStore, redis_client: redis.Redis) -> None:
    task = tasks.create(_task())
    assert tasks.delete("digest", actor="U1") == task
    assert redis_client.keys("*") == []
    with pytest.raises(NotFound):
        tasks.delete("digest", actor="U1")


def test_workspaces_are_apart(redis_client: redis.Redis, tasks: TaskStore) -> None:
    tasks.create(_task())
    other = TaskStore(redis_client, workspace="other", planner=plan)
    assert other.list() == [] and other.find("Digest") is None
    other.create(_task(), rename_if_taken=False)


@pytest.mark.parametrize(("field", "value", "says"), [
    ("max_iterations", 9, "from 10 to 100,000 (you gave 9)"),
    ("max_iterations", 100_001, "from 10 to 100,000 (you gave 100,001)"),
    ("max_time", timedelta(minutes=14), "from 15m to 1d (you gave 14m)"),
    ("max_time", timedelta(hours=25), "from 15m to 1d (you gave 25h)"),
    ("session", timedelta(seconds=30), "from 1m to 7d (you gave 30s)"),
    ("grace", timedelta(days=8), "from 0s to 7d (you gave 8d)"),
    ("timezone", "Mars/Olympus", "'Mars/Olympus' is not an IANA time zone"),
    ("meta", {f"k{i}": "v" for i in range(51)}, "at most 50 fields (you gave 51)"),
    ("contact", "ana", "'ana' is not slack:<team>:<id> or discord:<id>"),
    ("name", "x" * 101, "at most 100 characters (you gave 101)"),
])
def test_limits_name_the_field(field: str, value: Any, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validated(Task, {"name": "t", "description": "d", "schedule": "daily 09:00",
                         field: value})
    assert caught.value.field == field
    assert says in caught.value.reason


def test_a_meta_value_too_long_is_named_by_its_key() -> None:
    with pytest.raises(InvalidInput) as caught:
        validated(Task, {"name": "t", "description": "d", "schedule": "daily 09:00",
                         "meta": {"plan": "v" * 501}})
    assert str(caught.value) == "meta.plan: at most 500 characters (you gave 501)"


def test_defaults() -> None:
    task = Task(name="t", description="d", schedule="daily 09:00")
    assert (task.session, task.max_iterations, task.max_time, task.grace) == (
        timedelta(hours=1), 1_000, timedelta(minutes=15), timedelta(hours=1))
    assert (task.timezone, task.status, task.paused, task.version) == ("UTC", "idle", False, 1)
