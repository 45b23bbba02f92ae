"""The job form: within Discord's modal limits, saved like the commands, refusals recoverable.

The first tests look at the form and `save_form` directly; the rest open and
submit it through discord.py (slash command → MODAL callback → modal submit
payload → answer), with the real stores.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from adapters.discord.modals import (
    FORM_FIELDS,
    INPUT_MAX,
    LABEL_DESCRIPTION_MAX,
    LABEL_MAX,
    ONLY_ADMINS,
    PLACEHOLDER_MAX,
    TITLE_MAX,
    FormTarget,
    JobForm,
    hint,
    job_values,
    save_form,
)
from bot.commands import Caller, Stores
from jobs_store import BotStore, JobStore
from jobs_store.models import LIMITS, Job
from tests.adapters.discord.interactions import (  # noqa: F401  (the discord_app fixture)
    ADMIN,
    CHANNEL_MESSAGE,
    MANAGE_GUILD,
    MEMBER,
    MODAL,
    Answer,
    DiscordApp,
    discord_app_fixture,
)

CALLER = Caller(user=ADMIN, is_admin=True)


class _NoHost:
    """The form's host, for looking at a form that is never submitted."""

    stores: Any = None


def _form(target: FormTarget, values: dict[str, str] | None = None) -> dict[str, Any]:
    return JobForm(_NoHost(), target, values).to_dict()  # type: ignore[arg-type]


def _inputs(form: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["component"]["custom_id"]: c for c in form["components"] if c["type"] == 18}


def _job(**fields: Any) -> Job:
    data = {"id": "job_0000abcd", "name": "Take a message", "version": 3,
            "instructions": "1. Ask who it is for.\n2. Ask for the message.",
            "trigger": "leave a message", "description": "Takes messages.",
            "audience": "everyone", "rule": "platform=discord"}
    return Job.model_validate({**data, **fields})


@pytest.fixture
def stores(redis_client: redis.Redis) -> Stores:
    return Stores(jobs=JobStore(redis_client), bots=BotStore(redis_client))


# --- the form --------------------------------------------------------------------------------


def test_the_create_form_has_five_labelled_inputs_within_discords_limits() -> None:
    form = _form(FormTarget())
    assert form["title"] == "New job"
    assert len(form["components"]) == 5
    inputs = _inputs(form)
    assert list(inputs) == list(FORM_FIELDS)
    for field, label in inputs.items():
        text_input = label["component"]
        assert len(label["label"]) <= LABEL_MAX
        assert len(label["description"]) <= LABEL_DESCRIPTION_MAX
        assert len(text_input["placeholder"]) <= PLACEHOLDER_MAX
        assert text_input["max_length"] == min(LIMITS[field][1], INPUT_MAX)
        assert text_input["required"] is (field in ("name", "instructions"))
        assert "value" not in text_input
    assert inputs["name"]["component"]["style"] == 1  # one line
    assert inputs["instructions"]["component"]["style"] == 2  # paragraph


def test_the_labels_say_the_limits_and_where_longer_text_and_the_rule_go() -> None:
    inputs = _inputs(_form(FormTarget()))
    assert inputs["name"]["description"].startswith("1–100 characters")
    instructions = inputs["instructions"]["description"]
    assert "4,000" in instructions and "10,000" in instructions
    assert "/jobs edit instructions_file:" in instructions and "/jobs import" in instructions
    assert "/jobs edit rule:" in inputs["audience"]["description"]
    for field in FORM_FIELDS:
        assert len(hint(field)) <= LABEL_DESCRIPTION_MAX


def test_the_edit_form_is_prefilled_and_says_the_version_it_edits() -> None:
    job = _job()
    form = _form(FormTarget.for_job(job), job_values(job))
    assert form["title"] == "Edit job (version 3)"
    assert len(form["title"]) <= TITLE_MAX
    values = {f: c["component"].get("value") for f, c in _inputs(form).items()}
    assert values == {"name": "Take a message", "trigger": "leave a message",
                      "instructions": "1. Ask who it is for.\n2. Ask for the message.",
                      "description": "Takes messages.", "audience": "everyone"}


def test_instructions_longer_than_an_input_are_left_out_with_a_note() -> None:
    job = _job(instructions="1. Step.\n" * 600)
    target = FormTarget.for_job(job)
    assert target.long_instructions == len(job.instructions) > INPUT_MAX
    assert "instructions" not in target.fields
    form = _form(target, job_values(job))
    assert len(form["components"]) == 5
    assert "instructions" not in _inputs(form)
    (note,) = [c for c in form["components"] if c["type"] == 10]  # a text display
    assert f"{len(job.instructions):,} characters" in note["content"]
    assert 'instructions_file:' in note["content"] and "/jobs import" in note["content"]


def test_a_prefill_longer_than_the_input_is_cut_to_what_discord_takes() -> None:
    form = _form(FormTarget(), {"name": "n" * 101})
    assert _inputs(form)["name"]["component"]["value"] == "n" * 100


# --- saving ----------------------------------------------------------------------------------


def test_save_form_creates_a_job_through_the_create_handler(stores: Stores) -> None:
    saved = save_form(stores, CALLER, FormTarget(), {
        "name": "Take a message", "trigger": "", "instructions": "1. Ask.\\n keeps",
        "description": "", "audience": ""})
    assert saved.retry is None
    assert saved.result.ok and saved.result.title.startswith("Created 'Take a message'")
    job = stores.jobs.get("Take a message")
    assert job.instructions == "1. Ask.\\n keeps"  # typed text is kept as typed


def test_save_form_names_the_field_and_keeps_the_target_for_a_retry(stores: Stores) -> None:
    saved = save_form(stores, CALLER, FormTarget(), {"name": "n" * 101, "instructions": "x"})
    assert not saved.result.ok
    assert saved.result.title == "Name: at most 100 characters (you gave 101)"
    assert saved.retry == FormTarget()
    assert stores.jobs.list() == []


def test_save_form_refuses_a_taken_name(stores: Stores) -> None:
    stores.jobs.create({"name": "Take a message", "instructions": "1."}, actor=ADMIN)
    saved = save_form(stores, CALLER, FormTarget(), {"name": "take a MESSAGE",
                                                     "instructions": "x"})
    assert not saved.result.ok and "already" in saved.result.title
    assert saved.retry == FormTarget()


def test_a_stale_edit_is_refused_and_the_retry_is_based_on_the_newest_version(
        stores: Stores) -> None:
    job = stores.jobs.create({"name": "Take a message", "instructions": "1."}, actor=ADMIN)
    newer = stores.jobs.update(job.id, {"trigger": "theirs"}, actor="someone")
    saved = save_form(stores, CALLER, FormTarget.for_job(job),
                      {**job_values(job), "trigger": "mine"})
    assert not saved.result.ok
    assert "it is now version 2; your edit was based on version 1" in saved.result.title
    assert saved.retry == FormTarget.for_job(newer)
    assert stores.jobs.get(job.id).trigger == "theirs"


def test_an_edit_of_a_deleted_job_offers_to_create_it(stores: Stores) -> None:
    job = stores.jobs.create({"name": "Take a message", "instructions": "1."}, actor=ADMIN)
    stores.jobs.delete(job.id, actor="someone")
    saved = save_form(stores, CALLER, FormTarget.for_job(job), job_values(job))
    assert not saved.result.ok and "deleted after the form opened" in saved.result.title
    assert saved.retry == FormTarget()


# --- through discord.py ------------------------------------------------------------------------


async def _open(d: DiscordApp, *, job: str | None = None, user: str = ADMIN,
                permissions: int = MANAGE_GUILD) -> dict[str, Any]:
    options: dict[str, Any] = {"job": job} if job else {}
    (answer,) = await d.send.send(d.send.command("jobs", "edit" if job else "create", user=user,
                                                 permissions=permissions, **options))
    assert answer.type == MODAL, answer
    return answer.data


async def _submit(d: DiscordApp, form: dict[str, Any], values: dict[str, str], *,
                  user: str = ADMIN, permissions: int = MANAGE_GUILD) -> Answer:
    (answer,) = await d.send.send(d.send.modal_submit(form, values, user=user,
                                                      permissions=permissions))
    assert (answer.type, answer.ephemeral) == (CHANNEL_MESSAGE, True)
    return answer


@pytest.mark.asyncio
async def test_the_create_form_stores_a_job(discord_app: DiscordApp) -> None:
    d = discord_app
    form = await _open(d)
    answer = await _submit(d, form, {"name": "Take a message", "trigger": "leave a message",
                                     "instructions": "1. Ask who it is for.\n2. Ask for it."})
    job = d.app.stores.jobs.get("Take a message")
    assert answer.title == f"Created 'Take a message' ({job.id}, version 1)."
    assert (job.trigger, job.instructions) == ("leave a message",
                                               "1. Ask who it is for.\n2. Ask for it.")
    assert answer.buttons() == []


@pytest.mark.asyncio
async def test_a_field_error_names_the_field_and_the_button_reopens_what_was_typed(
        discord_app: DiscordApp, redis_client: redis.Redis) -> None:
    d = discord_app
    form = await _open(d)
    before = sorted(redis_client.keys("*"))
    typed = {"name": "n" * 101, "instructions": "1. Ask who it is for.", "audience": "all"}
    answer = await _submit(d, form, typed)
    assert answer.title == "Name: at most 100 characters (you gave 101)"
    assert "Nothing was saved" in answer.text
    assert sorted(redis_client.keys("*")) == before
    (button,) = answer.buttons()
    assert button["label"] == "Open the form again"
    (reopened,) = await d.send.send(d.send.button(answer, user=ADMIN, permissions=MANAGE_GUILD))
    assert reopened.type == MODAL
    values = {f: c["component"].get("value") for f, c in _inputs(reopened.data).items()}
    assert values["name"] == "n" * 100  # as much as the input takes
    assert (values["instructions"], values["audience"]) == ("1. Ask who it is for.", "all")
    fixed = await _submit(d, reopened.data, {"name": "Take a message"})
    assert fixed.title.startswith("Created 'Take a message'")
    assert d.app.stores.jobs.get("Take a message").audience == "all"


@pytest.mark.asyncio
async def test_the_edit_form_saves_the_next_version_as_typed(discord_app: DiscordApp) -> None:
    d = discord_app
    job = d.app.stores.jobs.create({"name": "Take a message", "instructions": "1. Ask.",
                                    "rule": "platform=discord"}, actor=ADMIN)
    form = await _open(d, job="take a message")
    assert form["title"] == "Edit job (version 1)"
    answer = await _submit(d, form, {"trigger": "leave a message", "instructions": "1. Ask.\\n"})
    assert answer.title == ("Saved 'Take a message' as version 2 (changed: trigger, "
                            "instructions).")
    saved = d.app.stores.jobs.get(job.id)
    assert (saved.trigger, saved.instructions, saved.rule) == (
        "leave a message", "1. Ask.\\n", "platform=discord")  # the rule is kept


@pytest.mark.asyncio
async def test_a_stale_form_is_refused_and_reopens_on_the_newest_version(
        discord_app: DiscordApp) -> None:
    d = discord_app
    job = d.app.stores.jobs.create({"name": "Take a message", "instructions": "1. Ask."},
                                   actor=ADMIN)
    form = await _open(d, job=job.id)
    d.app.stores.jobs.update(job.id, {"trigger": "theirs"}, actor="someone")
    answer = await _submit(d, form, {"trigger": "mine"})
    assert answer.title.startswith("'Take a message' was changed by someone")
    assert d.app.stores.jobs.get(job.id).trigger == "theirs"
    (reopened,) = await d.send.send(d.send.button(answer, user=ADMIN, permissions=MANAGE_GUILD))
    assert reopened.data["title"] == "Edit job (version 2)"
    assert _inputs(reopened.data)["trigger"]["component"]["value"] == "mine"
    saved = await _submit(d, reopened.data, {})
    assert saved.title.startswith("Saved 'Take a message' as version 3")


@pytest.mark.asyncio
async def test_long_instructions_stay_as_they_are_when_the_form_saves(
        discord_app: DiscordApp) -> None:
    d = discord_app
    long = "1. Step.\n" * 600
    job = d.app.stores.jobs.create({"name": "Take a message", "instructions": long},
                                   actor=ADMIN)
    form = await _open(d, job=job.id)
    assert "instructions" not in _inputs(form)
    answer = await _submit(d, form, {"trigger": "leave a message"})
    assert answer.title.startswith("Saved 'Take a message' as version 2 (changed: trigger)")
    assert d.app.stores.jobs.get(job.id).instructions == long.strip()


@pytest.mark.asyncio
async def test_a_member_gets_no_form_and_a_submit_without_the_permission_saves_nothing(
        discord_app: DiscordApp) -> None:
    d = discord_app
    (refused,) = await d.send.send(d.send.command("jobs", "create", user=MEMBER, permissions=0))
    assert refused.type == CHANNEL_MESSAGE
    assert refused.title.startswith("Only admins can use /jobs create.")
    form = await _open(d)  # opened by an admin who then loses Manage Server
    answer = await _submit(d, form, {"name": "Take a message", "instructions": "1. Ask."},
                           permissions=0)
    assert answer.title == ONLY_ADMINS
    assert answer.buttons() == []
    assert d.app.stores.jobs.list() == []


@pytest.mark.asyncio
async def test_editing_a_job_that_does_not_exist_says_so_instead_of_a_form(
        discord_app: DiscordApp) -> None:
    d = discord_app
    (answer,) = await d.send.send(d.send.command("jobs", "edit", user=ADMIN,
                                                 permissions=MANAGE_GUILD, job="nope"))
    assert answer.type == CHANNEL_MESSAGE
    assert "nope" in answer.title and answer.ephemeral
