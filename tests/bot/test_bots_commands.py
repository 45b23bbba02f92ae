"""`/bots`: list, show, create and edit bots through the command layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.commands import Caller, Stores
from bot.commands.render import to_text
from bot.commands.results import Fields, Table
from jobs_store import DEFAULT_BOT_ID
from jobs_store.bots import DEFAULT_PERSONA
from tests.bot.conftest import Clock, Runner

DbState = Callable[[], dict[str, Any]]


def _bots(run: Runner, command: str | list[str], **kw: Any) -> Any:
    return run(command, group="bots", **kw)


def _pairs(result: Any) -> dict[str, str]:
    block = result.blocks[0]
    assert isinstance(block, Fields)
    return dict(block.pairs)


def test_list_starts_with_the_default_bot(run: Runner, stores: Stores) -> None:
    result = _bots(run, "list")

    assert result.ok
    assert result.title == "1 bot"
    table = result.blocks[0]
    assert isinstance(table, Table)
    assert table.columns == ("name", "id", "model", "live jobs", "channels")
    assert table.rows == (("chatjobs", DEFAULT_BOT_ID, "(default)", "0", "(default)"),)


def test_list_shows_default_first_then_by_name(run: Runner, stores: Stores) -> None:
    _bots(run, "create name=zeta model=gpt-4o-mini channels=C1,C2")
    _bots(run, "create name=Alpha")

    table = _bots(run, "list").blocks[0]

    assert [row[0] for row in table.rows] == ["chatjobs", "Alpha", "zeta"]
    assert table.rows[2][2:] == ("gpt-4o-mini", "0", "C1, C2")


def test_show_default_bot_when_none_named(run: Runner, stores: Stores) -> None:
    result = _bots(run, "show")

    assert result.ok
    assert result.title == "chatjobs (version 1)"
    pairs = _pairs(result)
    assert pairs["id"] == DEFAULT_BOT_ID
    assert pairs["persona"] == DEFAULT_PERSONA
    assert pairs["channels"] == "(every channel no other bot claims)"
    assert pairs["live jobs"] == "none: considers the whole library"


def test_create_stores_the_bot_and_splits_channels(
    run: Runner, stores: Stores, clock: Clock
) -> None:
    result = _bots(run, 'create name="Sales desk" persona="You sell.\\nBe brief." '
                        'model=gpt-4o channels="#sales, #leads  C0123,,"'
                        " escalation_channel=#sales-leads")

    assert result.ok, result.title
    bot = stores.bots.get("sales desk")
    assert result.title == f"Created bot Sales desk ({bot.id})."
    assert "/jobs attach <job> bot=Sales desk" in to_text(result)
    assert bot.channels == ("#sales", "#leads", "C0123")
    assert bot.persona == "You sell.\nBe brief."
    assert (bot.model, bot.escalation_channel) == ("gpt-4o", "#sales-leads")
    assert (bot.updated_by, bot.updated_at) == ("U_ADMIN", clock.now)

    shown = _pairs(_bots(run, "show 'Sales desk'"))
    assert shown["channels"] == "#sales, #leads, C0123"


def test_create_requires_a_name(run: Runner, stores: Stores, db_state: DbState) -> None:
    before = db_state()

    result = _bots(run, "create persona=hello")

    assert not result.ok
    assert result.title.startswith("name: is required")
    assert db_state() == before


@pytest.mark.parametrize("name", ["Support", "SUPPORT", "support"])
def test_bot_names_are_unique_in_any_case(
    run: Runner, stores: Stores, db_state: DbState, name: str
) -> None:
    _bots(run, "create name=Support")
    before = db_state()

    result = _bots(run, f"create name={name}")

    assert not result.ok
    assert result.title == f"name: a bot named '{name}' already exists."
    assert db_state() == before


def test_name_of_the_default_bot_is_taken(run: Runner, stores: Stores) -> None:
    stores.bots.ensure_default()

    result = _bots(run, "create name=ChatJobs")

    assert not result.ok
    assert "already exists" in result.title


@pytest.mark.parametrize(("command", "title"), [
    (["create", "name=P", "persona=" + "p" * 4_001],
     "persona: at most 4,000 characters (you gave 4,001)"),
    (["create", "name=" + "n" * 81], "name: at most 80 characters (you gave 81)"),
    (["create", "name=M", "model=" + "m" * 101], "model: at most 100 characters (you gave 101)"),
    (["create", "name=C", "channels=" + ",".join(f"C{i}" for i in range(51))],
     "channels: at most 50 items (you gave 51)"),
])
def test_bot_limits_are_refused_naming_field_and_limit(
    run: Runner, stores: Stores, db_state: DbState, command: list[str], title: str
) -> None:
    before = db_state()

    result = _bots(run, command)

    assert not result.ok
    assert result.title == title
    assert db_state() == before


def test_persona_at_the_limit_is_accepted(run: Runner, stores: Stores) -> None:
    result = _bots(run, ["create", "name=P", "persona=" + "p" * 4_000])

    assert result.ok
    assert len(stores.bots.get("P").persona) == 4_000


def test_persona_over_the_limit_on_edit_keeps_the_bot(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _bots(run, "create name=Support persona=short")
    before = db_state()

    result = _bots(run, ["edit", "Support", "persona=" + "p" * 4_001])

    assert not result.ok
    assert result.title == "persona: at most 4,000 characters (you gave 4,001)"
    assert db_state() == before
    assert stores.bots.get("Support").persona == "short"


def test_edit_changes_a_named_bot(run: Runner, stores: Stores) -> None:
    _bots(run, "create name=Support channels=C1")

    result = _bots(run, "edit support model=gpt-4o channels='C2 C3'")

    assert result.ok
    assert result.title == "Saved bot Support (version 2; changed: model, channels)."
    bot = stores.bots.get("Support")
    assert (bot.version, bot.model, bot.channels) == (2, "gpt-4o", ("C2", "C3"))


def test_edit_without_a_name_changes_the_default_bot(run: Runner, stores: Stores) -> None:
    result = _bots(run, "edit persona='You are Ada, the help desk.'")

    assert result.ok
    assert stores.bots.get().persona == "You are Ada, the help desk."
    assert stores.bots.get().version == 2


def test_edit_channels_empty_clears_them(run: Runner, stores: Stores) -> None:
    _bots(run, "create name=Support channels=C1,C2")

    result = _bots(run, "edit Support channels=")

    assert result.ok
    assert stores.bots.get("Support").channels == ()


def test_edit_rename_to_a_taken_name_is_refused(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _bots(run, "create name=Support")
    _bots(run, "create name=Sales")
    before = db_state()

    result = _bots(run, "edit Sales name=SUPPORT")

    assert not result.ok
    assert result.title == "name: a bot named 'SUPPORT' already exists."
    assert db_state() == before


def test_edit_rename_frees_the_old_name(run: Runner, stores: Stores) -> None:
    _bots(run, "create name=Support")

    assert _bots(run, "edit Support name=Helpdesk").ok

    assert stores.bots.get("helpdesk").name == "Helpdesk"
    assert _bots(run, "create name=Support").ok


def test_stale_bot_edit_is_refused_with_who_and_when(
    run: Runner, stores: Stores, clock: Clock, db_state: DbState
) -> None:
    _bots(run, "create name=Support")
    clock.advance(minutes=3)
    _bots(run, "edit Support version=1 model=a", caller=Caller(user="U_BOB", is_admin=True))
    before = db_state()

    result = _bots(run, "edit Support version=1 model=b")

    assert not result.ok
    assert result.title == ("Support was changed by U_BOB at 2025-03-04 09:03 UTC (now "
                            "version 2); nothing was saved.")
    assert db_state() == before


@pytest.mark.parametrize("version", ["abc", "", "1.0"])
def test_bad_bot_version_is_refused_naming_version(
    run: Runner, stores: Stores, version: str
) -> None:
    _bots(run, "create name=Support")

    result = _bots(run, ["edit", "Support", f"version={version}", "model=x"])

    assert not result.ok
    assert result.title.startswith("version: must be the whole number")


def test_edit_without_fields_is_refused(run: Runner, stores: Stores) -> None:
    result = _bots(run, "edit")

    assert not result.ok
    assert result.title == "Nothing to change: give at least one field=value."


def test_unknown_bot_suggests_the_closest(run: Runner, stores: Stores) -> None:
    _bots(run, "create name=Support")

    result = _bots(run, "show Suport")

    assert not result.ok
    assert result.title == ("No bot named 'Suport'. Did you mean 'Support'? "
                            "See /bots list for the list.")


def test_field_create_does_not_take_is_refused(run: Runner, stores: Stores) -> None:
    result = _bots(run, "create name=Support version=3")

    assert not result.ok
    assert result.title.startswith("version: /bots create does not take this field")


def test_unknown_bots_subcommand_suggests(run: Runner) -> None:
    result = _bots(run, "shwo")

    assert not result.ok
    assert "Did you mean '/bots show'?" in result.title


@pytest.mark.parametrize("command", ["list", "show", "create name=X", "edit model=x"])
def test_non_admin_is_refused(
    run: Runner, stores: Stores, member: Caller, db_state: DbState, command: str
) -> None:
    stores.bots.ensure_default()
    before = db_state()

    result = _bots(run, command, caller=member)

    assert not result.ok
    assert result.title.startswith(f"Only admins can use /bots {command.split()[0]}.")
    assert db_state() == before


def test_bots_help_works_for_non_admins(run: Runner, member: Caller) -> None:
    result = _bots(run, "help edit", caller=member)

    assert result.ok
    assert "persona: the agent training" in to_text(result)
    assert "up to 4,000 characters" in to_text(result)


def test_show_names_draft_and_live_jobs(run: Runner, stores: Stores) -> None:
    job = stores.jobs.create({"name": "Take a message", "instructions": "1. Ask"},
                             actor="U_SEED")
    _bots(run, "create name=Support")
    run("attach 'Take a message' bot=Support")

    pairs = _pairs(_bots(run, "show Support"))

    assert pairs["draft jobs"] == "Take a message"
    assert pairs["live jobs"] == "none: considers the whole library"
    run("publish bot=Support")
    assert _pairs(_bots(run, "show Support"))["live jobs"] == "Take a message"
    assert stores.bots.get("Support").live_jobs == (job.id,)


def test_bot_named_like_the_default_does_not_break_the_workspace(
    run: Runner, stores: Stores
) -> None:
    _bots(run, "create name=chatjobs")

    created = run("create name=Hello instructions=Greet")
    listed = _bots(run, "list")

    assert created.ok == (stores.jobs.find("Hello") is not None), (
        "the reply must say what happened to the job")
    assert created.ok, created.title
    assert listed.ok, listed.title


def test_bot_edit_with_identical_values_changes_nothing(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _bots(run, "create name=Support model=gpt-4o")
    before = db_state()

    result = _bots(run, "edit Support model=gpt-4o")

    assert "changed: model" not in result.title
    assert db_state() == before
