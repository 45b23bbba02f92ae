"""`/tasks` through `run_command` on a real Redis, with the clock at 2025-03-04 09:00 UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from bot.commands import Caller, Stores
from bot.commands.render import to_text
from bot.commands.results import Fields, Table
from bot.schedules import plan
from jobs_store import BotStore, ContactStore, JobStore, TaskStore
from jobs_store.models import Contact
from tests.bot.conftest import Runner
from tests.helpers import Clock

DbState = Callable[[], dict[str, Any]]
DIGEST = ('create name="Weekly digest" description="Post the week\'s digest" '
          'schedule="weekly mon 09:00" timezone=Europe/Paris')


@pytest.fixture
def stores(redis_client: redis.Redis, clock: Clock) -> Stores:
    return Stores(jobs=JobStore(redis_client, clock=clock),
                  bots=BotStore(redis_client, clock=clock),
                  tasks=TaskStore(redis_client, clock=clock, planner=plan),
                  contacts=ContactStore(redis_client))


def tasks(stores: Stores) -> TaskStore:
    assert stores.tasks is not None
    return stores.tasks


def _fields(result: Any, index: int = 0) -> dict[str, str]:
    block = result.blocks[index]
    assert isinstance(block, Fields)
    return dict(block.pairs)


def _table(result: Any) -> Table:
    block = result.blocks[0]
    assert isinstance(block, Table)
    return block


# --- create, show, list ----------------------------------------------------------------


def test_create_then_show_gives_schedule_zone_and_next_run(run: Runner, stores: Stores) -> None:
    created = run(DIGEST, group="tasks")
    assert created.ok, created.title
    task = tasks(stores).get("weekly digest")
    assert created.title == f"Created 'Weekly digest' ({task.id})."
    assert task.created_by == "U_ADMIN" and task.version == 1
    assert task.next_run == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)

    shown = _fields(run('show "Weekly digest"', group="tasks"))
    assert shown["status"] == "idle"
    assert shown["schedule"] == "weekly mon 09:00"
    assert shown["timezone"] == "Europe/Paris"
    assert shown["next run"] == "Mon 2025-03-10 09:00 CET (2025-03-10 08:00 UTC)"
    assert shown["last run"] == "-" and shown["last outcome"] == "-"
    assert shown["bot"] == stores.bots.get().name


def test_create_with_every_field(run: Runner, stores: Stores) -> None:
    result = run(["create", "name=Check in", "description=Ask how it goes",
                  "schedule=once 2025-03-20 10:00", "timezone=America/New_York",
                  "contact=<@123456789012345678>", "session=2h", "max_iterations=2,000",
                  "max_time=30m", "grace=0s", "meta.plan=trial", "meta.Region=eu"],
                 group="tasks")
    assert result.ok, result.title
    task = tasks(stores).get("check in")
    assert task.contact == "discord:123456789012345678" and task.channel is None
    assert task.schedule == "once 2025-03-20T10:00:00-04:00"
    assert task.next_run == datetime(2025, 3, 20, 14, 0, tzinfo=UTC)
    assert (task.session, task.max_iterations, task.max_time, task.grace) == (
        timedelta(hours=2), 2000, timedelta(minutes=30), timedelta(0))
    assert task.meta == {"plan": "trial", "region": "eu"}  # the grammar lower-cases keys
    shown = _fields(run("show 'check in'", group="tasks"), 1)
    assert (shown["session"], shown["max_time"], shown["meta.plan"]) == ("2h", "30m", "trial")


def test_the_timezone_defaults_to_the_contacts_then_utc(run: Runner, stores: Stores) -> None:
    assert stores.contacts is not None
    stores.contacts.save(Contact(platform="slack", workspace="T1", user="U0ANA",
                                 timezone="Asia/Tokyo"))
    run('create name=a description=d schedule="daily 09:00" contact=slack:T1:U0ANA',
        group="tasks")
    run('create name=b description=d schedule="daily 09:00" channel=discord:123456789012345678',
        group="tasks")
    assert tasks(stores).get("a").timezone == "Asia/Tokyo"
    assert tasks(stores).get("b").timezone == "UTC"


def test_list_filters_by_bot_and_status(run: Runner, stores: Stores) -> None:
    stores.bots.create({"name": "Helper"}, actor="U1")
    run(DIGEST, group="tasks")
    run('create name=Other description=d schedule="daily 07:00" bot=Helper', group="tasks")
    run("pause Other", group="tasks")

    table = _table(run("list", group="tasks"))
    assert table.columns == ("name", "id", "schedule", "timezone", "next run", "status")
    assert [(r[0], r[4], r[5]) for r in table.rows] == [
        ("Other", "-", "paused"), ("Weekly digest", "Mon 2025-03-10 09:00 CET", "idle")]
    assert [r[0] for r in _table(run("list bot=Helper", group="tasks")).rows] == ["Other"]
    assert [r[0] for r in _table(run("list status=idle", group="tasks")).rows] == [
        "Weekly digest"]
    assert run("list status=running", group="tasks").title == "No matching tasks."
    refused = run("list status=busy", group="tasks")
    assert not refused.ok and refused.title.startswith("status: is one of idle, running, paused")


# --- next ------------------------------------------------------------------------------


def test_next_prints_local_times_across_a_dst_change(run: Runner) -> None:
    run('create name=Early description=d schedule="daily 02:30" timezone=Europe/Berlin',
        group="tasks")
    result = run("next Early 40", group="tasks")
    rows = _table(result).rows
    assert len(rows) == 40
    assert result.title == "Next 40 runs of 'Early' (daily 02:30)"
    # 30 March 2025: 02:30 does not exist in Berlin; it runs when the clocks jump.
    assert rows[24:27] == (
        ("25", "Sat 2025-03-29 02:30 CET", "2025-03-29 01:30 UTC"),
        ("26", "Sun 2025-03-30 03:00 CEST", "2025-03-30 01:00 UTC"),
        ("27", "Mon 2025-03-31 02:30 CEST", "2025-03-31 00:30 UTC"),
    )
    assert len(_table(run("next Early", group="tasks")).rows) == 5


def test_next_refuses_a_bad_count_and_says_when_paused(run: Runner) -> None:
    run(DIGEST, group="tasks")
    for n in ("0", "51", "five"):
        refused = run(f'next "Weekly digest" {n}', group="tasks")
        assert not refused.ok and refused.title.startswith("n: a whole number from 1 to 50")
    run('pause "weekly digest"', group="tasks")
    text = to_text(run('next "weekly digest" 2', group="tasks"))
    assert "Mon 2025-03-10 09:00 CET" in text and "is paused" in text


# --- edit, pause, resume, delete ---------------------------------------------------------


def test_edit_recomputes_the_next_run_and_refuses_a_stale_version(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    run(DIGEST, group="tasks")
    edited = run('edit "weekly digest" version=1 schedule="daily 18:00" meta.team=ops',
                 group="tasks")
    assert edited.title == "Saved 'Weekly digest' as version 2 (changed: schedule, meta)."
    assert _fields(edited)["next run"] == "Tue 2025-03-04 18:00 CET (2025-03-04 17:00 UTC)"

    before = db_state()
    stale = run('edit "weekly digest" version=1 description=x', group="tasks")
    assert not stale.ok and "your edit was based on version 1" in stale.title
    assert db_state() == before

    run('edit "weekly digest" meta.team= channel=<#123456789012345678>', group="tasks")
    task = tasks(stores).get("weekly digest")
    assert task.meta == {} and task.channel == "discord:123456789012345678"
    run('edit "weekly digest" contact=<@123456789012345679>', group="tasks")
    task = tasks(stores).get("weekly digest")
    assert (task.contact, task.channel) == ("discord:123456789012345679", None)
    assert run('edit "weekly digest" name="Weekly digest"', group="tasks").title == (
        "Nothing changed: 'Weekly digest' stays at version 4.")


def test_pause_and_resume(run: Runner, stores: Stores, clock: Clock) -> None:
    run(DIGEST, group="tasks")
    assert run('pause "weekly digest"', group="tasks").title == (
        "Paused 'Weekly digest': it will not run until /tasks resume \"Weekly digest\".")
    assert tasks(stores).get("weekly digest").next_run is None
    assert run('pause "weekly digest"', group="tasks").title == (
        "'Weekly digest' is already paused.")
    clock.advance(days=7)
    assert run('resume "weekly digest"', group="tasks").title == (
        "Resumed 'Weekly digest'; next run: Mon 2025-03-17 09:00 CET (2025-03-17 08:00 UTC).")


def test_delete(run: Runner, stores: Stores, redis_client: redis.Redis) -> None:
    run(DIGEST, group="tasks")
    assert run('delete "weekly digest"', group="tasks").title == (
        "Deleted the task 'Weekly digest'.")
    assert tasks(stores).list() == [] and redis_client.keys("cj:default:task*") == []
    missing = run('show "weekly digest"', group="tasks")
    assert not missing.ok and "No task named" in missing.title


# --- refusals store nothing ---------------------------------------------------------------


@pytest.mark.parametrize(("fields", "says"), [
    ("timezone=Mars/Base", "timezone: 'Mars/Base' is not an IANA time zone"),
    ('schedule="cron 0 25 * * *"', "schedule: '0 25 * * *' is not a valid cron expression"),
    ('schedule="once 2025-03-01 09:00"', "schedule: 2025-03-01 09:00 (UTC) is in the past"),
    ("max_iterations=9", "max_iterations: a whole number from 10 to 100,000"),
    ("max_iterations=100001", "max_iterations: a whole number from 10 to 100,000"),
    ("max_time=10m", "max_time: from 15m to 1d (you gave 10m)"),
    ("max_time=2d", "max_time: from 15m to 1d (you gave 2d)"),
    ("max_time=soon", "max_time: 'soon' is not a duration"),
    ("session=30s", "session: from 1m to 7d (you gave 30s)"),
    ("grace=8d", "grace: from 0s to 7d (you gave 8d)"),
    ("contact=ana", "contact: 'ana' is not a mention"),
    ("contact=@ana", "contact: '@ana' is a name; give a mention or the person's id"),
    ("contact=<#123456789012345678>", "contact: '<#123456789012345678>' is a channel mention"),
    ("contact=<@U0ANA>", "contact: give the Slack team with the id here: slack:<team>:U0ANA"),
    ("channel=#general", "channel: '#general' is a name; give the channel's id"),
    ("channel=general", "channel: 'general' is not a channel mention"),
    ("contact=discord:123456789012345678 channel=discord:123456789012345679",
     "channel: give a contact or a channel, not both"),
    ("bot=nobody", "No bot named 'nobody'"),
    ("meta.k=" + "v" * 501, "meta.k: at most 500 characters"),
    (" ".join(f"meta.k{i}=v" for i in range(51)), "meta: at most 50 fields (you gave 51)"),
    ("name=" + "x" * 101, "name: at most 100 characters (you gave 101)"),
    ("frequency=daily", "frequency: /tasks create does not take this field"),
])
def test_a_refused_create_names_the_field_and_stores_nothing(
    run: Runner, db_state: DbState, fields: str, says: str
) -> None:
    before = db_state()
    given = {"name": "name=t", "schedule": 'schedule="daily 09:00"'}
    defaults = " ".join(v for k, v in given.items() if not fields.startswith(f"{k}="))
    command = f"create description=d {defaults} {fields}"
    result = run(command, group="tasks")
    assert not result.ok
    assert result.title.startswith(says), result.title
    assert db_state() == before


def test_names_are_unique_and_a_taken_name_stores_nothing(run: Runner, db_state: DbState) -> None:
    run(DIGEST, group="tasks")
    run('create name=Other description=d schedule="daily 09:00"', group="tasks")
    before = db_state()
    again = run('create name="WEEKLY DIGEST" description=d schedule="daily 09:00"',
                group="tasks")
    assert again.title == ("name: a task named 'WEEKLY DIGEST' already exists; names are "
                           "unique, any case.")
    taken = run('edit Other name="weekly digest"', group="tasks")
    assert not taken.ok and "already exists" in taken.title
    missing = run("create name=x description=d", group="tasks")
    assert missing.title.startswith("schedule: is required.")
    assert db_state() == before


def test_a_refused_edit_stores_nothing(run: Runner, db_state: DbState) -> None:
    run(DIGEST, group="tasks")
    before = db_state()
    for fields in ("timezone=Nowhere", 'schedule="weekly someday 09:00"', "max_time=1m",
                   "channel=#general"):
        result = run(f'edit "weekly digest" {fields}', group="tasks")
        assert not result.ok, fields
    assert db_state() == before


def test_members_may_read_help_but_change_nothing(run: Runner, member: Caller,
                                                  db_state: DbState) -> None:
    before = db_state()
    refused = run(DIGEST, group="tasks", caller=member)
    assert not refused.ok and refused.title.startswith("Only admins can use /tasks create.")
    assert not run("list", group="tasks", caller=member).ok
    assert db_state() == before
    help_text = to_text(run("help create", group="tasks", caller=member))
    assert 'schedule="weekly mon 09:00" timezone=Europe/Paris' in help_text
    assert "max_iterations: model calls per run, 10–100,000 (default 1,000)" in help_text
    group_help = to_text(run("help", group="tasks", caller=member))
    for sub in ("create", "edit", "list", "show", "delete", "pause", "resume", "next"):
        assert f"/tasks {sub}" in group_help
