"""`/jobs`: limits, permissions, edit/undo/history, attach/publish, usage errors.

Every test runs the command the way an adapter does (`run_command`) on a real
Redis and checks what the admin sees: the reply, and the state the stores read
back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.commands import Caller, Stores
from bot.commands.render import to_text
from bot.commands.results import Fields, Table
from jobs_store import DEFAULT_BOT_ID
from jobs_store.models import Job
from tests.bot.conftest import Clock, Runner

DbState = Callable[[], dict[str, Any]]


def _make(stores: Stores, name: str, **fields: str) -> Job:
    return stores.jobs.create({"name": name, "instructions": "1. Do it", **fields},
                              actor="U_SEED")


def _fields(result: Any, index: int = 0) -> dict[str, str]:
    block = result.blocks[index]
    assert isinstance(block, Fields)
    return dict(block.pairs)


def _table(result: Any, index: int = 0) -> Table:
    block = result.blocks[index]
    assert isinstance(block, Table)
    return block


# --- limits, through the command -----------------------------------------------


def test_acceptance_line_name_of_101_characters_as_tokens(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    before = db_state()

    result = run(["create", "name=" + "x" * 101, "trigger=x", "instructions=y"])

    assert not result.ok
    assert result.title == "name: at most 100 characters (you gave 101)"
    assert stores.jobs.list() == []
    assert db_state() == before


@pytest.mark.parametrize(("field", "size", "limit"), [
    ("name", 101, "100"),
    ("description", 501, "500"),
    ("trigger", 501, "500"),
    ("audience", 501, "500"),
    ("rule", 501, "500"),
    ("instructions", 10_001, "10,000"),
])
def test_each_job_limit_is_refused_naming_field_and_number(
    run: Runner, stores: Stores, db_state: DbState, field: str, size: int, limit: str
) -> None:
    fields = {"name": "Limits", "instructions": "1. Do it", field: "x" * size}
    before = db_state()

    result = run(["create", *(f"{k}={v}" for k, v in fields.items())])

    assert not result.ok
    assert result.title.startswith(f"{field}: ")
    assert f"at most {limit} characters" in result.title
    assert f"you gave {size:,}" in result.title
    assert stores.jobs.list() == []
    assert db_state() == before


@pytest.mark.parametrize(("field", "limit"), [
    ("name", 100), ("description", 500), ("trigger", 500), ("audience", 500),
    ("instructions", 10_000),
])
def test_values_at_the_limit_are_accepted(
    run: Runner, stores: Stores, field: str, limit: int
) -> None:
    fields = {"name": "Limits", "instructions": "1. Do it", field: "x" * limit}

    result = run(["create", *(f"{k}={v}" for k, v in fields.items())])

    assert result.ok, result.title
    assert getattr(stores.jobs.list()[0], field) == "x" * limit


def test_limit_on_edit_is_refused_and_job_unchanged(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _make(stores, "Short", trigger="call me")
    before = db_state()

    result = run(["edit", "Short", "trigger=" + "t" * 501])

    assert not result.ok
    assert result.title == "trigger: at most 500 characters (you gave 501)"
    assert db_state() == before
    assert stores.jobs.get("Short").version == 1


@pytest.mark.parametrize("command", [
    "create name= instructions=y",
    'create name="   " instructions=y',
    "create instructions=y",
])
def test_empty_or_missing_name_is_refused(
    run: Runner, stores: Stores, db_state: DbState, command: str
) -> None:
    before = db_state()

    result = run(command)

    assert not result.ok
    assert result.title == "name: is required"
    assert db_state() == before


@pytest.mark.parametrize("command", [
    "create name=Lonely", "create name=Lonely instructions=", 'create name=Lonely trigger="x"',
])
def test_missing_instructions_is_refused(
    run: Runner, stores: Stores, db_state: DbState, command: str
) -> None:
    before = db_state()

    result = run(command)

    assert not result.ok
    assert result.title == "instructions: is required"
    assert stores.jobs.list() == []
    assert db_state() == before


def test_create_without_fields_explains_how(run: Runner, stores: Stores) -> None:
    result = run("create")

    assert not result.ok
    assert "/jobs create name=" in result.title
    assert "template=take-message" in result.title


def test_duplicate_name_in_any_case_is_refused(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _make(stores, "Take a message")
    before = db_state()

    result = run('create name="TAKE A MESSAGE" instructions=x')

    assert not result.ok
    assert result.title == ("name: a job named 'TAKE A MESSAGE' already exists; names are "
                            "unique, any case.")
    assert db_state() == before


def test_bad_rule_is_refused_naming_the_condition(run: Runner, stores: Stores) -> None:
    result = run('create name=R instructions=x rule="role=boss"')

    assert not result.ok
    assert result.title.startswith("rule: role takes owner, admin, member")
    assert "boss" in result.title
    assert stores.jobs.list() == []


def test_create_reply_shows_fields_and_how_to_attach(run: Runner, stores: Stores) -> None:
    result = run(r'create name="Take a message" trigger="leave a message" '
                 r'instructions="1. Ask who\n2. Ask why" rule="role=member platform=slack"')

    assert result.ok
    job = stores.jobs.get("Take a message")
    assert result.title == f"Created 'Take a message' ({job.id}, version 1)."
    assert _fields(result) == {"name": "Take a message", "trigger": "leave a message",
                               "instructions": "1. Ask who\n2. Ask why",
                               "rule": "platform=slack role=member"}
    assert '/jobs attach "Take a message"' in to_text(result)
    assert job.created_by == job.updated_by == "U_ADMIN"


# --- only admins ----------------------------------------------------------------

NON_ADMIN_COMMANDS = [
    ("list", "list"),
    ("show", "show Seeded"),
    ("create", "create name=New instructions=x"),
    ("edit", "edit Seeded trigger=changed"),
    ("delete", "delete Seeded"),
    ("history", "history Seeded"),
    ("undo", "undo Seeded"),
    ("templates", "templates"),
    ("attach", "attach Seeded"),
    ("detach", "detach Seeded"),
    ("publish", "publish"),
    ("diff", "diff"),
    ("export", "export"),
    ("import", "import jobs:\n- name: Seeded\n  instructions: replaced"),
    ("optimize", "optimize Seeded"),
    ("stats", "stats"),
    ("gaps", "gaps"),
]


@pytest.mark.parametrize(("sub", "command"), NON_ADMIN_COMMANDS,
                         ids=[sub for sub, _ in NON_ADMIN_COMMANDS])
def test_non_admin_is_refused_and_nothing_changes(
    run: Runner, stores: Stores, member: Caller, db_state: DbState, sub: str, command: str
) -> None:
    job = _make(stores, "Seeded")
    stores.jobs.update(job.id, {"trigger": "v2"}, actor="U_SEED")
    stores.bots.attach(None, job, actor="U_SEED")
    before = db_state()

    result = run(command, caller=member)

    assert not result.ok
    assert result.title.startswith(f"Only admins can use /jobs {sub}.")
    assert "CHATJOBS_ADMINS" in result.title
    assert "Nothing was changed" in result.title
    assert result.blocks == ()
    assert db_state() == before


@pytest.mark.parametrize("command", ["help", "", "help create", "create help", "help import"])
def test_help_works_for_non_admins(run: Runner, member: Caller, command: str) -> None:
    result = run(command, caller=member)

    assert result.ok
    assert result.title.startswith("/jobs")
    assert "Only admins" not in to_text(result)


def test_subcommand_help_shows_usage_and_field_limits(run: Runner, member: Caller) -> None:
    result = run("help create", caller=member)

    text = to_text(result)
    assert result.title == "/jobs create"
    assert "Usage: /jobs create [template=<key>] field=value" in text
    assert "name: 1–100 characters" in text
    assert "instructions: the numbered steps, 1–10,000 characters" in text


def test_import_help_shows_import_usage(run: Runner) -> None:
    result = run("import help")

    assert result.ok
    assert "Usage: /jobs import" in to_text(result)


# --- usage errors ---------------------------------------------------------------


@pytest.mark.parametrize(("typed", "meant"), [
    ("lst", "list"), ("shwo", "show"), ("histroy", "history"), ("publsh", "publish"),
])
def test_unknown_subcommand_suggests_the_close_one(run: Runner, typed: str, meant: str) -> None:
    result = run(typed)

    assert not result.ok
    assert result.title == (f"Unknown command '/jobs {typed}'. Did you mean '/jobs {meant}'? "
                            "See /jobs help.")


def test_unknown_subcommand_without_a_close_one(run: Runner) -> None:
    result = run("frobnicate")

    assert not result.ok
    assert "Did you mean" not in result.title
    assert "See /jobs help" in result.title


def test_unknown_group_lists_the_groups(run: Runner) -> None:
    result = run("list", group="reports")

    assert not result.ok
    assert result.title == "Unknown command /reports; use one of: /jobs, /bots, /tasks."


def test_group_may_be_given_with_its_slash(run: Runner) -> None:
    assert run("help", group="/jobs").title.startswith("/jobs:")


def test_unknown_group_with_its_slash_is_named_once(run: Runner) -> None:
    result = run("list", group="/reports")

    assert result.title == "Unknown command /reports; use one of: /jobs, /bots, /tasks."


def test_unquoted_name_with_spaces_gives_usage_and_quoting_hint(
    run: Runner, stores: Stores
) -> None:
    _make(stores, "Take a message")

    result = run("show Take a message")

    assert not result.ok
    assert result.title == ('Usage: /jobs show <job> (quote names that contain spaces, '
                            'e.g. "Take a message") — see /jobs help show')


def test_missing_positional_gives_usage(run: Runner) -> None:
    result = run("edit trigger=x")

    assert not result.ok
    assert result.title.startswith("Usage: /jobs edit <job> [version=<n>] field=value")
    assert "see /jobs help edit" in result.title


@pytest.mark.parametrize(("command", "field", "takes"), [
    ("attach Seeded trigger=x", "trigger", "bot"),
    ("create name=x instructions=y colour=red", "colour", "audience, description"),
    ("publish version=2", "version", "bot"),
    ("list bot=chatjobs", "bot", "none"),
    ("edit Seeded meta.plan=trial", "meta.plan", "audience, description"),
])
def test_field_the_subcommand_does_not_take_is_refused_naming_it(
    run: Runner, stores: Stores, db_state: DbState, command: str, field: str, takes: str
) -> None:
    _make(stores, "Seeded")
    before = db_state()

    result = run(command)

    assert not result.ok
    assert result.title.startswith(f"{field}: /jobs ")
    assert "does not take this field" in result.title
    assert f"(it takes: {takes}" in result.title
    assert db_state() == before


def test_unknown_job_suggests_the_closest_name(run: Runner, stores: Stores) -> None:
    _make(stores, "Take a message")

    result = run("show 'Take a mesage'")

    assert not result.ok
    assert result.title == ("No job named 'Take a mesage'. Did you mean 'Take a message'? "
                            "See /jobs list for the list.")


def test_reference_that_names_a_versions_key_is_not_a_job(run: Runner, stores: Stores) -> None:
    job = _make(stores, "Take a message")

    result = run(["show", f"{job.id}:versions"])

    assert not result.ok
    assert result.title.startswith(f"No job named '{job.id}:versions'")


# --- reading ----------------------------------------------------------------------


def test_list_shows_every_job_with_version_and_where_live(
    run: Runner, stores: Stores
) -> None:
    take = _make(stores, "Take a message")
    _make(stores, "escalate")
    stores.jobs.update(take.id, {"trigger": "x"}, actor="U_SEED")
    stores.bots.attach(None, take, actor="U_SEED")
    stores.bots.publish(None, actor="U_SEED")

    result = run("list")

    assert result.title == "2 jobs"
    table = _table(result)
    assert table.columns == ("name", "id", "version", "updated", "live on")
    assert [row[0] for row in table.rows] == ["escalate", "Take a message"]
    assert table.rows[1][1:] == (take.id, "v2", "2025-03-04", "chatjobs")
    assert table.rows[0][4] == "-"


def test_list_of_empty_library_points_to_templates(run: Runner) -> None:
    result = run("list")

    assert result.ok
    assert result.title == "The job library is empty."
    assert "/jobs templates" in to_text(result)


def test_show_by_id_or_any_case_name(run: Runner, stores: Stores) -> None:
    job = _make(stores, "Take a message", trigger="leave a message")

    by_id, by_name = run(["show", job.id]), run("show 'take A MESSAGE'")

    assert by_id == by_name
    assert by_id.title == "Take a message (version 1)"
    assert _fields(by_id)["trigger"] == "leave a message"
    meta = _fields(by_id, 1)
    assert meta["id"] == job.id
    assert meta["created"] == "2025-03-04 09:00 UTC by U_SEED"
    assert meta["attached"] == meta["live on"] == "-"


# --- edit, history, undo --------------------------------------------------------


def test_edit_saves_a_new_version_naming_changed_fields(
    run: Runner, stores: Stores, clock: Clock
) -> None:
    _make(stores, "Take a message", trigger="leave a message")
    clock.advance(minutes=5)

    result = run('edit "Take a message" trigger="call me back" description="Routes a note" '
                 'name="Take a message"')

    assert result.ok
    assert result.title == ("Saved 'Take a message' as version 2 "
                            "(changed: description, trigger).")
    assert 'Undo with /jobs undo "Take a message"' in to_text(result)
    job = stores.jobs.get("Take a message")
    assert (job.version, job.trigger, job.description) == (2, "call me back", "Routes a note")
    assert job.updated_by == "U_ADMIN"
    assert [v.version for v in stores.jobs.history(job.id)] == [2, 1]


def test_edit_rename_frees_the_old_name(run: Runner, stores: Stores) -> None:
    _make(stores, "Old name")

    result = run("edit 'Old name' name='New name'")

    assert result.ok
    assert result.title == "Saved 'New name' as version 2 (changed: name)."
    assert stores.jobs.find("Old name") is None
    assert stores.jobs.get("new name").version == 2
    assert run("create name='Old name' instructions=x").ok


def test_edit_with_identical_values_changes_nothing(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _make(stores, "Take a message", trigger="leave a message")
    before = db_state()

    result = run('edit "Take a message" trigger="  leave a message " instructions="1. Do it"')

    assert result.ok
    assert result.title == "Nothing changed: 'Take a message' stays at version 1."
    assert db_state() == before


def test_edit_with_the_same_rule_in_another_order_changes_nothing(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _make(stores, "Trial", rule="platform=slack role=admin")
    before = db_state()

    result = run('edit Trial rule="role=admin platform=slack"')

    assert result.title == "Nothing changed: 'Trial' stays at version 1."
    assert db_state() == before


def test_edit_without_fields_is_refused(run: Runner, stores: Stores, db_state: DbState) -> None:
    _make(stores, "Seeded")
    before = db_state()

    result = run("edit Seeded")

    assert not result.ok
    assert result.title == "Nothing to change: give at least one field=value."
    assert db_state() == before


def test_stale_edit_is_refused_with_who_and_when(
    run: Runner, stores: Stores, clock: Clock, db_state: DbState
) -> None:
    _make(stores, "Take a message", trigger="original")
    clock.advance(minutes=7)
    bob = Caller(user="U_BOB", is_admin=True)
    assert run("edit 'Take a message' version=1 trigger=bob", caller=bob).ok
    before = db_state()

    result = run("edit 'Take a message' version=1 trigger=ann")

    assert not result.ok
    assert result.title == (
        "'Take a message' was changed by U_BOB at 2025-03-04 09:07 UTC (it is now version 2; "
        "your edit was based on version 1). Nothing was saved: look at the new version and "
        "make your edit again.")
    assert db_state() == before
    assert stores.jobs.get("Take a message").trigger == "bob"


def test_edit_with_the_current_version_is_saved(run: Runner, stores: Stores) -> None:
    _make(stores, "Seeded")

    result = run("edit Seeded version=1 trigger=fresh")

    assert result.ok
    assert stores.jobs.get("Seeded").trigger == "fresh"


@pytest.mark.parametrize("version", ["abc", "0", "-1", "1.5", ""])
def test_bad_version_is_refused_naming_version(
    run: Runner, stores: Stores, db_state: DbState, version: str
) -> None:
    _make(stores, "Seeded")
    before = db_state()

    result = run(["edit", "Seeded", f"version={version}", "trigger=x"])

    assert not result.ok
    assert result.title == ("version: must be the whole number of the version you are "
                            "editing")
    assert db_state() == before


def test_history_lists_versions_newest_first(
    run: Runner, stores: Stores, clock: Clock
) -> None:
    _make(stores, "Seeded", trigger="one")
    clock.advance(hours=1)
    run("edit Seeded trigger=two")
    clock.advance(hours=1)
    run("edit Seeded trigger=three description=more")

    result = run("history seeded")

    assert result.title == "History of Seeded"
    rows = _table(result).rows
    assert rows == (
        ("v3", "2025-03-04 11:00", "U_ADMIN", "edited description, trigger"),
        ("v2", "2025-03-04 10:00", "U_ADMIN", "edited trigger"),
        ("v1", "2025-03-04 09:00", "U_SEED", "created"),
    )
    assert "/jobs undo Seeded" in to_text(result)


def test_undo_walks_back_one_version_at_a_time(run: Runner, stores: Stores) -> None:
    _make(stores, "Seeded", trigger="one")
    run("edit Seeded trigger=two")
    run("edit Seeded trigger=three")

    first = run("undo Seeded")
    assert first.ok
    assert first.title == "Restored version 2 of 'Seeded' as version 4."
    assert _fields(first)["trigger"] == "two"
    assert stores.jobs.get("Seeded").trigger == "two"

    second = run("undo Seeded")
    assert second.title == "Restored version 1 of 'Seeded' as version 5."
    assert stores.jobs.get("Seeded").trigger == "one"

    third = run("undo Seeded")
    assert not third.ok
    assert third.title == "'Seeded' has no earlier version to go back to."
    assert stores.jobs.get("Seeded").version == 5

    changes = [row[3] for row in _table(run("history Seeded")).rows]
    assert changes == ["restored v1", "restored v2", "edited trigger", "edited trigger",
                       "created"]


def test_undo_of_a_rename_restores_the_old_name(run: Runner, stores: Stores) -> None:
    _make(stores, "Old")
    run("edit Old name=New")

    result = run("undo New")

    assert result.ok
    assert stores.jobs.get("Old").version == 3
    assert stores.jobs.find("New") is None


def test_undo_of_a_new_job_is_refused(run: Runner, stores: Stores, db_state: DbState) -> None:
    _make(stores, "Seeded")
    before = db_state()

    result = run("undo Seeded")

    assert not result.ok
    assert "no earlier version" in result.title
    assert db_state() == before


# --- attach, detach, publish, diff ---------------------------------------------


def test_attach_diff_publish_on_the_default_bot(run: Runner, stores: Stores) -> None:
    job = _make(stores, "Take a message")

    attached = run("attach 'Take a message'")
    assert attached.ok
    assert attached.title == "Attached 'Take a message' to chatjobs's draft (1 of 10)."
    assert "/jobs publish;" in to_text(attached)
    assert stores.bots.get().draft_jobs == (job.id,)
    assert stores.bots.get().live_jobs == ()

    diff = run("diff")
    assert diff.title == "chatjobs: draft differs from live"
    assert _fields(diff) == {"goes live on publish": "Take a message",
                             "removed on publish": "-", "unchanged": "-"}
    assert "has no live jobs, so it considers the whole library" in to_text(diff)

    published = run("publish")
    assert published.ok
    assert published.title == "Published chatjobs: live jobs are now Take a message."
    assert stores.bots.get().live_jobs == (job.id,)

    again = run("diff")
    assert again.title == "chatjobs: the draft is live"
    assert _fields(again)["unchanged"] == "Take a message"

    nothing = run("publish")
    assert nothing.ok
    assert nothing.title == "Nothing to publish: chatjobs's draft is already live."


def test_detach_stays_live_until_publish(run: Runner, stores: Stores) -> None:
    job = _make(stores, "Take a message")
    run("attach 'Take a message'")
    run("publish")

    detached = run("detach 'Take a message'")

    assert detached.ok
    assert detached.title == "Detached 'Take a message' from chatjobs's draft."
    assert "stays live until /jobs publish" in to_text(detached)
    assert stores.bots.get().live_jobs == (job.id,)
    assert _fields(run("diff"))["removed on publish"] == "Take a message"

    published = run("publish")
    assert published.title == ("Published chatjobs: live jobs are now none, so it considers "
                               "the whole library.")
    assert stores.bots.get().live_jobs == ()


def test_attach_to_a_named_bot(run: Runner, stores: Stores) -> None:
    job = _make(stores, "Take a message")
    run("create name='Sales desk'", group="bots")

    attached = run("attach 'Take a message' bot='sales desk'")

    assert attached.ok
    assert attached.title == "Attached 'Take a message' to Sales desk's draft (1 of 10)."
    assert '/jobs publish bot="Sales desk"' in to_text(attached)
    assert stores.bots.get("Sales desk").draft_jobs == (job.id,)
    assert stores.bots.get().draft_jobs == ()

    assert run("diff bot='Sales desk'").title == "Sales desk: draft differs from live"
    assert run("diff").title == "chatjobs: the draft is live"
    assert run("publish bot='Sales desk'").ok
    assert stores.bots.get("Sales desk").live_jobs == (job.id,)
    assert stores.bots.get().live_jobs == ()


def test_unknown_bot_is_refused(run: Runner, stores: Stores, db_state: DbState) -> None:
    _make(stores, "Seeded")
    stores.bots.ensure_default()
    before = db_state()

    result = run("attach Seeded bot=chatjob")

    assert not result.ok
    assert result.title == ("No bot named 'chatjob'. Did you mean 'chatjobs'? "
                            "See /bots list for the list.")
    assert db_state() == before


def test_eleventh_attach_is_refused_naming_ten(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    jobs = [_make(stores, f"Job {n:02d}") for n in range(1, 12)]
    replies = [run(["attach", job.name]) for job in jobs[:10]]
    assert all(reply.ok for reply in replies)
    assert replies[-1].title == "Attached 'Job 10' to chatjobs's draft (10 of 10)."
    before = db_state()

    result = run(["attach", "Job 11"])

    assert not result.ok
    assert result.title == ("jobs: chatjobs already has 10 jobs attached, the most a bot can "
                            "have; detach one first.")
    assert db_state() == before
    assert stores.bots.get().draft_jobs == tuple(job.id for job in jobs[:10])


def test_attach_twice_and_detach_unattached_are_refused(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _make(stores, "One")
    _make(stores, "Two")
    run("attach One")
    before = db_state()

    twice = run("attach one")
    loose = run("detach Two")

    assert twice.title == "'One' is already attached to chatjobs's draft."
    assert loose.title == "job: 'Two' is not attached to chatjobs's draft."
    assert not twice.ok and not loose.ok
    assert db_state() == before


def test_show_and_list_name_the_bots_a_job_is_on(run: Runner, stores: Stores) -> None:
    _make(stores, "Seeded")
    run("attach Seeded")
    run("publish")

    meta = _fields(run("show Seeded"), 1)

    assert meta["attached"] == "chatjobs"
    assert meta["live on"] == "chatjobs"


def test_delete_detaches_from_every_bot(run: Runner, stores: Stores, redis_client: Any) -> None:
    job = _make(stores, "Take a message")
    keep = _make(stores, "Keep")
    run("create name=Sales", group="bots")
    run("attach 'Take a message'")
    run("attach Keep")
    run("publish")
    run("attach 'Take a message' bot=Sales")
    run("edit 'Take a message' trigger=x")

    result = run("delete 'take a message'")

    assert result.ok
    assert result.title == ("Deleted 'Take a message' and its 2 versions. It was detached "
                            "from: chatjobs, Sales.")
    assert stores.jobs.find("Take a message") is None
    assert stores.jobs.find(job.id) is None
    assert stores.bots.get().draft_jobs == (keep.id,)
    assert stores.bots.get().live_jobs == (keep.id,)
    assert stores.bots.get("Sales").draft_jobs == ()
    assert not [k for k in redis_client.keys("*") if job.id in k]
    assert run("create name='Take a message' instructions=again").ok


def test_delete_unknown_job_changes_nothing(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _make(stores, "Seeded")
    before = db_state()

    result = run("delete Sedeed")

    assert not result.ok
    assert "Did you mean 'Seeded'?" in result.title
    assert db_state() == before


def test_default_bot_id_is_used_when_no_bot_given(run: Runner, stores: Stores) -> None:
    _make(stores, "Seeded")

    run("attach Seeded")

    assert stores.bots.get().id == DEFAULT_BOT_ID
    assert [b.name for b in stores.bots.list()] == ["chatjobs"]
