"""Bots on a real Redis: the default bot, edits, unique names, attachments, draft and live."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from jobs_store import DEFAULT_BOT_ID, BotStore, JobStore
from jobs_store.bots import DEFAULT_PERSONA
from jobs_store.errors import AlreadyExists, InvalidInput, NotFound, StaleVersion
from jobs_store.models import Job


def make_jobs(jobs: JobStore, count: int) -> list[Job]:
    return [
        jobs.create({"name": f"Job {n:02d}", "instructions": "1. Do it."}, actor="ana")
        for n in range(1, count + 1)
    ]


# --- the default bot ----------------------------------------------------------


def test_the_default_bot_is_created_once(bots: BotStore, db_state: Any) -> None:
    first = bots.ensure_default()
    state = db_state()

    assert (first.id, first.name, first.persona) == (DEFAULT_BOT_ID, "chatjobs", DEFAULT_PERSONA)
    assert (first.draft_jobs, first.live_jobs, first.version) == ((), (), 1)
    assert bots.ensure_default() == first
    assert bots.get() == first
    assert db_state() == state  # asking again wrote nothing
    assert bots.list() == [first]


def test_the_default_bot_keeps_its_edits(bots: BotStore) -> None:
    bots.ensure_default()
    edited = bots.update(None, {"persona": "You answer for the front desk."}, actor="ana")

    assert bots.ensure_default() == edited
    assert bots.get("chatjobs").persona == "You answer for the front desk."


# --- create and edit ----------------------------------------------------------


def test_create_and_edit_every_field(bots: BotStore, redis_client: redis.Redis, clock: Any) -> None:
    created = bots.create(
        {"name": "Sales", "persona": "You qualify leads.", "model": "gpt-4o",
         "channels": ["#sales", "#leads"], "escalation_channel": "#sales-leads"},
        actor="ana",
    )
    clock.advance(minutes=1)

    edited = bots.update("SALES", {
        "persona": "You qualify leads politely.", "model": "gpt-4o-mini",
        "channels": ["#sales"], "escalation_channel": "#managers",
    }, actor="bob")

    reread = BotStore(redis_client).get(created.id)
    assert reread == edited
    assert (reread.persona, reread.model) == ("You qualify leads politely.", "gpt-4o-mini")
    assert (reread.channels, reread.escalation_channel) == (("#sales",), "#managers")
    assert (reread.version, reread.updated_by, reread.updated_at) == (2, "bob", clock.now)
    assert created.channels == ("#sales", "#leads")


def test_list_puts_the_default_bot_first_then_by_name(bots: BotStore) -> None:
    bots.create({"name": "zeta"}, actor="ana")
    bots.create({"name": "Alpha"}, actor="ana")
    bots.ensure_default()

    assert [b.name for b in bots.list()] == ["chatjobs", "Alpha", "zeta"]


BOT_REFUSED = [
    ({"name": ""}, "name", ["required"]),
    ({"name": "b" * 81}, "name", ["at most 80 characters", "you gave 81"]),
    ({"persona": "p" * 4_001}, "persona", ["at most 4,000 characters", "you gave 4,001"]),
    ({"model": "m" * 101}, "model", ["at most 100 characters", "you gave 101"]),
    ({"escalation_channel": "c" * 101}, "escalation_channel", ["at most 100 characters"]),
    ({"channels": [f"#c{n}" for n in range(51)]}, "channels", ["at most 50 items", "you gave 51"]),
    ({"channels": ["#ok", "c" * 101]}, "channels", ["at most 100 characters"]),
    ({"colour": "red"}, "colour", ["is not a bot field", "persona"]),
    ({"draft_jobs": ["job_1"]}, "draft_jobs", ["is not a bot field"]),
    ({"version": 9}, "version", ["is not a bot field"]),
]


@pytest.mark.parametrize(
    ("fields", "field", "words"), BOT_REFUSED, ids=[f"{f}-{i}" for i, (_, f, _w) in
                                                    enumerate(BOT_REFUSED)]
)
def test_bot_limits_are_refused_naming_field_and_limit(
    bots: BotStore, db_state: Any, fields: dict[str, Any], field: str, words: list[str]
) -> None:
    bot = bots.create({"name": "Sales"}, actor="ana")
    before = db_state()

    with pytest.raises(InvalidInput) as on_create:
        bots.create({"name": "Support", **fields}, actor="ana")
    with pytest.raises(InvalidInput) as on_update:
        bots.update(bot.id, fields, actor="ana")

    for refused in (on_create.value, on_update.value):
        assert refused.field == field
        assert str(refused).startswith(f"{field}: ")
        for word in words:
            assert word in str(refused)
    assert db_state() == before


def test_bot_limits_are_inclusive(bots: BotStore) -> None:
    bot = bots.create({
        "name": "b" * 80, "persona": "p" * 4_000, "model": "m" * 100,
        "channels": [f"#c{n}" for n in range(50)], "escalation_channel": "c" * 100,
    }, actor="ana")

    assert bots.get(bot.id) == bot
    assert len(bot.channels) == 50


def test_an_edit_with_no_changes_is_refused(bots: BotStore, db_state: Any) -> None:
    bots.ensure_default()
    before = db_state()

    with pytest.raises(InvalidInput, match="Nothing to change"):
        bots.update(None, {}, actor="ana")

    assert db_state() == before


# --- names --------------------------------------------------------------------


def test_bot_names_are_unique_in_any_case(bots: BotStore, db_state: Any) -> None:
    bots.ensure_default()
    bots.create({"name": "Sales"}, actor="ana")
    before = db_state()

    for taken in ("SALES", " sales ", "Chatjobs"):
        with pytest.raises(AlreadyExists, match="already exists"):
            bots.create({"name": taken}, actor="ana")
    with pytest.raises(AlreadyExists, match="a bot named 'sales' already exists"):
        bots.update(None, {"name": "sales"}, actor="ana")

    assert db_state() == before


def test_renaming_a_bot_frees_the_old_name(bots: BotStore) -> None:
    sales = bots.create({"name": "Sales"}, actor="ana")

    bots.update("sales", {"name": "Revenue"}, actor="ana")

    assert bots.get("REVENUE").id == sales.id
    with pytest.raises(NotFound):
        bots.get("Sales")
    assert bots.create({"name": "Sales"}, actor="ana").id != sales.id


def test_an_unknown_bot_is_not_found_with_a_suggestion(bots: BotStore) -> None:
    bots.create({"name": "Sales"}, actor="ana")

    with pytest.raises(NotFound) as gone:
        bots.get("Sale")

    assert str(gone.value) == (
        "No bot named 'Sale'. Did you mean 'Sales'? See /bots list for the list."
    )


def test_bots_of_another_workspace_are_separate(redis_client: redis.Redis) -> None:
    ours, theirs = BotStore(redis_client), BotStore(redis_client, workspace="other")
    sales = ours.create({"name": "Sales"}, actor="ana")

    assert theirs.create({"name": "Sales"}, actor="bob").id != sales.id
    with pytest.raises(NotFound):
        theirs.get(sales.id)


# --- attachments --------------------------------------------------------------


def test_attach_up_to_ten_jobs_and_the_eleventh_is_refused(
    bots: BotStore, jobs: JobStore, db_state: Any
) -> None:
    library = make_jobs(jobs, 11)
    for job in library[:10]:
        bots.attach(None, job, actor="ana")
    before = db_state()

    with pytest.raises(InvalidInput) as refused:
        bots.attach(None, library[10], actor="ana")

    assert refused.value.field == "jobs"
    assert "already has 10 jobs attached, the most a bot can have" in str(refused.value)
    assert "detach one first" in str(refused.value)
    assert db_state() == before
    assert bots.get().draft_jobs == tuple(job.id for job in library[:10])


def test_attaching_the_same_job_twice_is_refused(
    bots: BotStore, jobs: JobStore, db_state: Any
) -> None:
    (job,) = make_jobs(jobs, 1)
    bots.attach(None, job, actor="ana")
    before = db_state()

    with pytest.raises(AlreadyExists) as refused:
        bots.attach("chatjobs", job, actor="ana")

    assert str(refused.value) == "'Job 01' is already attached to chatjobs's draft."
    assert db_state() == before


def test_detach_removes_only_that_job(bots: BotStore, jobs: JobStore, db_state: Any) -> None:
    first, second, third = make_jobs(jobs, 3)
    for job in (first, second, third):
        bots.attach(None, job, actor="ana")

    bot = bots.detach(None, second, actor="bob")

    assert bot.draft_jobs == (first.id, third.id)
    assert bot.updated_by == "bob"
    before = db_state()
    with pytest.raises(InvalidInput, match="'Job 02' is not attached to chatjobs's draft"):
        bots.detach(None, second, actor="bob")
    assert db_state() == before


def test_attach_changes_the_draft_and_publish_makes_it_live(bots: BotStore, jobs: JobStore) -> None:
    first, second = make_jobs(jobs, 2)

    bots.attach(None, first, actor="ana")
    bots.attach(None, second, actor="ana")
    assert bots.get().draft_jobs == (first.id, second.id)
    assert bots.get().live_jobs == ()  # users see nothing until publish

    published = bots.publish(None, actor="ana")
    assert published.live_jobs == (first.id, second.id)

    bots.detach(None, first, actor="ana")
    assert bots.get().draft_jobs == (second.id,)
    assert bots.get().live_jobs == (first.id, second.id)  # live keeps serving until publish

    assert bots.publish("CHATJOBS", actor="ana").live_jobs == (second.id,)


def test_attachments_of_one_bot_leave_others_alone(bots: BotStore, jobs: JobStore) -> None:
    (job,) = make_jobs(jobs, 1)
    sales = bots.create({"name": "Sales"}, actor="ana")
    bots.ensure_default()

    bots.attach("sales", job, actor="ana")
    bots.publish("sales", actor="ana")

    assert bots.get(sales.id).live_jobs == (job.id,)
    assert bots.get().draft_jobs == bots.get().live_jobs == ()


# --- stale edits --------------------------------------------------------------


def test_a_stale_bot_edit_is_refused_naming_who_and_when(
    bots: BotStore, clock: Any, db_state: Any
) -> None:
    seen_by_ana = bots.ensure_default()
    clock.advance(hours=1, minutes=15)
    bots.update(None, {"persona": "Bob's persona"}, actor="bob")
    before = db_state()

    with pytest.raises(StaleVersion) as stale:
        bots.update(None, {"persona": "Ana's persona"}, actor="ana",
                    expected_version=seen_by_ana.version)

    message = str(stale.value)
    assert "changed by bob at 2025-03-04 10:15 UTC" in message
    assert "now version 2" in message
    assert "nothing was saved" in message
    assert db_state() == before
    assert bots.get().persona == "Bob's persona"
    assert bots.update(None, {"persona": "Ana's persona"}, actor="ana",
                       expected_version=2).version == 3


# --- what other processes see ---------------------------------------------------


def test_a_bot_change_made_elsewhere_shows_in_the_next_list(
    redis_client: redis.Redis, jobs: JobStore
) -> None:
    """Another process's store (a worker's) reuses what it read until a bot changes."""
    admin, worker = BotStore(redis_client), BotStore(redis_client)
    job = make_jobs(jobs, 1)[0]
    admin.ensure_default()
    assert [b.name for b in worker.list()] == ["chatjobs"]

    admin.create({"name": "Front desk", "channels": ("C1",)}, actor="ana")
    assert [b.name for b in worker.list()] == ["chatjobs", "Front desk"]

    admin.attach("Front desk", job, actor="ana")
    admin.publish("Front desk", actor="ana")
    assert worker.list()[1].live_jobs == (job.id,)

    admin.update("Front desk", {"name": "Help desk"}, actor="ana")
    assert [b.name for b in worker.list()] == ["chatjobs", "Help desk"]

    jobs.delete(job.id, actor="ana")  # detached from every bot
    assert worker.list()[1].live_jobs == ()
    assert worker.list()[1].draft_jobs == ()
