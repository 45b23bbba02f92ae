"""`/tasks` on Discord end to end: interaction payloads through discord.py's own dispatch.

As in `test_app_commands`: the real client with the commands `register_commands`
adds, the real task store on the session's Redis, answers through the fake
REST API. The first tests look at the option helpers and the form directly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import discord
import pytest
import redis

from adapters.discord.client import ChatjobsClient
from adapters.discord.commands import DISCORD_HELP
from adapters.discord.embeds import REFUSED_COLOUR
from adapters.discord.modals import LABEL_DESCRIPTION_MAX, LABEL_MAX, PLACEHOLDER_MAX, TITLE_MAX
from adapters.discord.task_commands import TasksGroup, meta_fields, target_tokens
from adapters.discord.task_form import (
    FORM_FIELDS,
    ONLY_ADMINS,
    TaskForm,
    TaskFormTarget,
    form_fields,
    hint,
    target_fields,
    task_values,
)
from bot.commands import GROUPS
from bot.errors import InvalidInput
from jobs_store import TaskStore
from jobs_store.tasks import Task
from tests.adapters.discord.interactions import (  # noqa: F401  (the discord_app fixture)
    ADMIN,
    AUTOCOMPLETE_RESULT,
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    MANAGE_GUILD,
    MEMBER,
    MODAL,
    Answer,
    ChannelOption,
    DiscordApp,
    File,
    UserOption,
    discord_app_fixture,
)

ANA = "400000000000000001"
NEWS = "400000000000000002"
DIGEST: dict[str, Any] = {"name": "Weekly digest", "description": "Post the week's digest.",
                          "schedule": "weekly mon 09:00", "timezone": "Europe/Paris"}


def _tasks(d: DiscordApp) -> TaskStore:
    assert d.app.stores.tasks is not None
    return d.app.stores.tasks


def _keys(client: redis.Redis) -> list[str]:
    return sorted(str(key) for key in client.keys("*"))


def _refused(answer: Answer) -> bool:
    return bool(answer.embeds) and all(e.get("color") == REFUSED_COLOUR.value
                                       for e in answer.embeds)


async def _run(d: DiscordApp, sub: str, *, user: str = ADMIN,
               permissions: int | None = MANAGE_GUILD, **options: Any) -> Answer:
    """Run `/tasks {sub}`; its one answer (ephemeral, unless a form)."""
    answers = await d.send.send(d.send.command("tasks", sub, user=user,
                                               permissions=permissions, **options))
    assert len(answers) == 1, answers
    (answer,) = answers
    assert answer.type in (CHANNEL_MESSAGE, MODAL)
    if answer.type == CHANNEL_MESSAGE:
        assert answer.ephemeral
    return answer


async def _create(d: DiscordApp, **options: Any) -> Task:
    answer = await _run(d, "create", **{**DIGEST, **options})
    assert answer.title.startswith("Created"), answer.text
    return _tasks(d).get(options.get("name", DIGEST["name"]))


# --- the option helpers ----------------------------------------------------------------------


def test_meta_pairs_become_meta_fields_and_a_malformed_pair_names_meta() -> None:
    assert meta_fields('plan=trial meta.region=eu note="two words" old=') == [
        "meta.plan=trial", "meta.region=eu", "meta.note=two words", "meta.old="]
    assert meta_fields(None) == []
    for bad in ("plan", "=trial", "plan=trial region", 'note="open', "ké=x", '""'):
        with pytest.raises(InvalidInput) as caught:
            meta_fields(bad)
        assert caught.value.field == "meta"
        assert "KEY=VALUE" in str(caught.value) or "quote" in str(caught.value)


def test_target_options_become_discord_ids_and_clear_target_empties_both() -> None:
    ana = discord.Object(id=int(ANA))
    assert target_tokens(contact=ana, channel=None) == [f"contact=discord:{ANA}"]
    assert target_tokens(contact=None, channel=int(NEWS)) == [f"channel=discord:{NEWS}"]
    assert target_tokens(contact=None, channel=None, clear_target=True) == ["contact=",
                                                                           "channel="]
    with pytest.raises(InvalidInput) as caught:
        target_tokens(contact=ana, channel=None, clear_target=True)
    assert caught.value.field == "clear_target"


def test_the_target_input_tells_a_person_from_a_channel() -> None:
    def is_channel(ident: int) -> bool:
        return ident == int(NEWS)

    assert target_fields(ANA, is_channel=is_channel) == {"contact": f"discord:{ANA}"}
    assert target_fields(f"discord:{NEWS}", is_channel=is_channel) == {
        "channel": f"discord:{NEWS}"}
    assert target_fields(f"<@{NEWS}>", is_channel=is_channel) == {"contact": f"<@{NEWS}>"}
    assert target_fields(f"<#{ANA}>", is_channel=is_channel) == {"channel": f"<#{ANA}>"}
    assert target_fields("slack:T1:C0123", is_channel=is_channel) == {
        "channel": "slack:T1:C0123"}
    assert target_fields("slack:T1:U0123", is_channel=is_channel) == {
        "contact": "slack:T1:U0123"}
    assert target_fields(" ", is_channel=is_channel) == {"contact": "", "channel": ""}
    assert target_fields("#general", is_channel=is_channel) == {"channel": "#general"}


def _task(**fields: Any) -> Task:
    data = {"id": "task_0000abcd", "name": "Weekly digest", "version": 3,
            "description": "Post the digest.", "schedule": "weekly mon 09:00",
            "timezone": "Europe/Paris", "contact": f"discord:{ANA}"}
    return Task.model_validate({**data, **fields})


def test_an_edit_saves_only_the_inputs_changed_from_what_the_form_showed() -> None:
    task = _task()
    target = TaskFormTarget.for_task(task)
    shown = task_values(task)
    assert shown["target"] == f"<@{ANA}>"
    assert form_fields(target, shown, is_channel=lambda _: False) == {}
    changed = {**shown, "schedule": "daily 08:00", "target": ""}
    assert form_fields(target, changed, is_channel=lambda _: False) == {
        "schedule": "daily 08:00", "contact": "", "channel": ""}
    # A new task leaves blank inputs to their defaults.
    assert form_fields(TaskFormTarget(), {"name": "x", "description": "d",
                                          "schedule": "hourly", "timezone": "", "target": ""},
                       is_channel=lambda _: False) == {"name": "x", "description": "d",
                                                       "schedule": "hourly"}


class _NoHost:
    """The form's host, for looking at a form that is never submitted."""

    stores: Any = None


def _form(target: TaskFormTarget, values: dict[str, str] | None = None) -> dict[str, Any]:
    return TaskForm(_NoHost(), target, values).to_dict()  # type: ignore[arg-type]


def _inputs(form: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["component"]["custom_id"]: c for c in form["components"] if c["type"] == 18}


def test_the_task_form_has_five_inputs_within_discords_limits() -> None:
    form = _form(TaskFormTarget())
    assert form["title"] == "New task"
    inputs = _inputs(form)
    assert list(inputs) == list(FORM_FIELDS) == ["name", "description", "schedule",
                                                 "timezone", "target"]
    for field, label in inputs.items():
        component = label["component"]
        assert len(label["label"]) <= LABEL_MAX
        assert len(label["description"]) <= LABEL_DESCRIPTION_MAX
        assert len(component["placeholder"]) <= PLACEHOLDER_MAX
        assert component["required"] is (field in ("name", "description", "schedule"))
    assert inputs["description"]["component"]["style"] == 2  # paragraph
    assert inputs["description"]["component"]["max_length"] == 4000
    assert inputs["schedule"]["component"]["placeholder"] == "weekly mon 09:00"
    assert "description_file:" in hint("description")


def test_the_edit_form_is_prefilled_and_a_long_description_is_left_out() -> None:
    task = _task()
    form = _form(TaskFormTarget.for_task(task), task_values(task))
    assert form["title"] == "Edit task (version 3)" and len(form["title"]) <= TITLE_MAX
    values = {f: c["component"].get("value") for f, c in _inputs(form).items()}
    assert values == {"name": "Weekly digest", "description": "Post the digest.",
                      "schedule": "weekly mon 09:00", "timezone": "Europe/Paris",
                      "target": f"<@{ANA}>"}
    long = _task(description="Say hello. " * 500)
    form = _form(TaskFormTarget.for_task(long), task_values(long))
    assert "description" not in _inputs(form)
    (note,) = [c for c in form["components"] if c["type"] == 10]
    assert f"{len(long.description):,} characters" in note["content"]


# --- who may -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_member_without_manage_server_is_refused_and_nothing_is_stored(
        discord_app: DiscordApp, redis_client: redis.Redis) -> None:
    d = discord_app
    before = _keys(redis_client)
    answer = await _run(d, "create", user=MEMBER, permissions=0, **DIGEST,
                        contact=UserOption(ANA), meta="plan")  # a bad meta: still "admins"
    assert _refused(answer)
    assert answer.title.startswith("Only admins can use /tasks create.")
    (form,) = await d.send.send(d.send.command("tasks", "create", user=MEMBER, permissions=0))
    assert form.type == CHANNEL_MESSAGE and form.title.startswith("Only admins")  # no form
    assert _keys(redis_client) == before
    assert _tasks(d).list() == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("sub", "options"), [
    ("trigger", {"task": "Weekly digest"}),
    ("cancel", {"task": "Weekly digest"}),
    ("executions", {"task": "Weekly digest", "n": 3}),
    ("cancel-execution", {"execution": "exec_0000abcd"}),
])
async def test_the_execution_commands_reach_the_grammar(discord_app: DiscordApp, sub: str,
                                                        options: dict[str, Any]) -> None:
    # These four are being added to the grammar; until then it says they are unknown.
    # Either way a member's refusal names the subcommand the grammar was given.
    answer = await _run(discord_app, sub, user=MEMBER, permissions=0, **options)
    assert _refused(answer)
    assert f"/tasks {sub}" in answer.title


@pytest.mark.asyncio
@pytest.mark.skipif("trigger" not in GROUPS["tasks"].subcommands,
                    reason="the grammar does not have the execution commands yet")
async def test_trigger_executions_and_cancel_run_through_the_grammar(
        discord_app: DiscordApp) -> None:
    d = discord_app
    task = await _create(d)
    for sub, options in (("trigger", {"task": task.id}),
                         ("executions", {"task": task.id, "n": 3}),
                         ("cancel", {"task": "weekly digest"})):
        answer = await _run(d, sub, **options)
        assert not _refused(answer), (sub, answer.text)
        assert "Weekly digest" in answer.text
    unknown = await _run(d, "cancel-execution", execution="exec_nope")
    assert _refused(unknown) and "exec_nope" in unknown.text.replace("\\", "")  # unescaped


# --- create, list, show --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_admin_creates_a_task_with_typed_options(discord_app: DiscordApp) -> None:
    d = discord_app
    answer = await _run(d, "create", name="Check in", description="Ask Ana how it goes.",
                        schedule="weekly Monday 9:00", timezone="America/New_York",
                        contact=UserOption(ANA), session="2h", max_iterations=2000,
                        max_time="30m", grace="0s")
    task = _tasks(d).get("check in")
    assert answer.title == f"Created 'Check in' ({task.id})."
    assert not _refused(answer)
    assert task.contact == f"discord:{ANA}" and task.channel is None
    assert task.schedule == "weekly mon 09:00"  # canonical
    assert task.timezone == "America/New_York"
    assert task.next_run is not None
    assert (task.max_iterations, task.created_by) == (2000, ADMIN)
    assert f"contact discord:{ANA}" in answer.text


@pytest.mark.asyncio
async def test_a_channel_option_becomes_the_channel_target(discord_app: DiscordApp) -> None:
    d = discord_app
    task = await _create(d, channel=ChannelOption(NEWS, "news"))
    assert (task.channel, task.contact) == (f"discord:{NEWS}", None)
    thread = await _create(d, name="In a thread", channel=ChannelOption(ANA, "notes", type=11))
    assert thread.channel == f"discord:{ANA}"


@pytest.mark.asyncio
@pytest.mark.parametrize(("field", "value"), [
    ("timezone", "Mars/Olympus"),
    ("schedule", "every tuesday"),
    ("session", "forever"),
])
async def test_a_bad_value_is_refused_naming_the_field_and_nothing_is_stored(
        discord_app: DiscordApp, redis_client: redis.Redis, field: str, value: str) -> None:
    d = discord_app
    before = _keys(redis_client)
    answer = await _run(d, "create", **{**DIGEST, field: value})
    assert _refused(answer)
    assert answer.title.startswith(f"{field}:"), answer.title
    assert _keys(redis_client) == before


@pytest.mark.asyncio
async def test_list_and_show_answer_with_embeds_naming_the_task(discord_app: DiscordApp) -> None:
    d = discord_app
    task = await _create(d, channel=ChannelOption(NEWS))
    listed = await _run(d, "list")
    assert listed.title == "1 task"
    assert "Weekly digest" in listed.text and task.id in listed.text
    assert (await _run(d, "list", status="paused")).title == "No matching tasks."
    shown = await _run(d, "show", task="weekly digest")
    assert shown.title == "Weekly digest (version 1)"
    fields = {f["name"]: f["value"] for e in shown.embeds for f in e.get("fields") or []}
    assert fields["schedule"] == "weekly mon 09:00"
    assert fields["target"] == f"channel discord:{NEWS}"


@pytest.mark.asyncio
async def test_meta_pairs_become_meta_fields_and_a_bad_pair_is_refused(
        discord_app: DiscordApp, redis_client: redis.Redis) -> None:
    d = discord_app
    task = await _create(d, meta='plan=trial note="two words"')
    assert task.meta == {"plan": "trial", "note": "two words"}
    before = _keys(redis_client)
    refused = await _run(d, "edit", task=task.id, meta="plan=pro region")
    assert _refused(refused)
    assert refused.title.startswith("meta: 'region' is not KEY=VALUE")
    assert _keys(redis_client) == before
    edited = await _run(d, "edit", task=task.id, meta="plan=pro note=")
    assert edited.title.startswith("Saved 'Weekly digest' as version 2")
    assert _tasks(d).get(task.id).meta == {"plan": "pro"}


@pytest.mark.asyncio
async def test_a_description_longer_than_an_option_comes_as_a_file(
        discord_app: DiscordApp) -> None:
    d = discord_app
    long = "\n".join(f"{n}. Post the figures of team {n}, and who to ask." for n in range(180))
    assert 6000 < len(long) <= 10_000
    url = d.fake.add_file("digest.txt", long.encode())
    answer = await _run(d, "create", name="Digest", schedule="daily 09:00",
                        description_file=File("digest.txt", url, len(long)))
    assert answer.title.startswith("Created 'Digest'"), answer.text
    assert _tasks(d).get("Digest").description == long


# --- edit, next, pause, resume, delete ---------------------------------------------------------


@pytest.mark.asyncio
async def test_edit_with_options_runs_the_grammar_and_a_stale_version_is_refused(
        discord_app: DiscordApp) -> None:
    d = discord_app
    task = await _create(d, contact=UserOption(ANA))
    answer = await _run(d, "edit", task=task.id, schedule="daily 08:00",
                        channel=ChannelOption(NEWS), version=1)
    assert answer.title.startswith("Saved 'Weekly digest' as version 2 (changed: schedule, "
                                   "contact, channel)"), answer.title
    saved = _tasks(d).get(task.id)
    assert (saved.schedule, saved.contact, saved.channel) == ("daily 08:00", None,
                                                              f"discord:{NEWS}")
    stale = await _run(d, "edit", task=task.id, name="Daily digest", version=1)
    assert _refused(stale) and "it is now version 2" in stale.text
    cleared = await _run(d, "edit", task=task.id, clear_target=True)
    assert cleared.title.startswith("Saved 'Weekly digest' as version 3")
    assert _tasks(d).get(task.id).channel is None
    both = await _run(d, "edit", task=task.id, clear_target=True, contact=UserOption(ANA))
    assert _refused(both) and both.title.startswith("clear\\_target:")  # markdown-escaped


@pytest.mark.asyncio
async def test_next_lists_the_runs_asked_for(discord_app: DiscordApp) -> None:
    d = discord_app
    await _create(d)
    answer = await _run(d, "next", task="Weekly digest", n=3)
    assert answer.title == "Next 3 runs of 'Weekly digest' (weekly mon 09:00)"
    table = answer.embeds[0]["description"]
    rows = [line for line in table.splitlines() if line[:1].isdigit()]
    assert [row.split()[0] for row in rows] == ["1", "2", "3"]
    assert all("Mon" in row for row in rows)


@pytest.mark.asyncio
async def test_pause_resume_and_delete(discord_app: DiscordApp) -> None:
    d = discord_app
    task = await _create(d)
    paused = await _run(d, "pause", task=task.id)
    assert paused.title.startswith("Paused 'Weekly digest'")
    assert _tasks(d).get(task.id).paused
    resumed = await _run(d, "resume", task=task.id)
    assert resumed.title.startswith("Resumed 'Weekly digest'")
    deleted = await _run(d, "delete", task=task.id)
    assert deleted.title == "Deleted the task 'Weekly digest'."
    assert _tasks(d).list() == []


@pytest.mark.asyncio
async def test_help_says_how_options_map_to_fields(discord_app: DiscordApp) -> None:
    answer = await _run(discord_app, "help", user=MEMBER, permissions=0, command="create")
    assert answer.title == "/tasks create"
    assert "Usage: /tasks create" in answer.text
    assert DISCORD_HELP["tasks"].split(":")[0] in answer.text
    assert "meta:" in DISCORD_HELP["tasks"] and "description_file:" in DISCORD_HELP["tasks"]


# --- autocomplete ------------------------------------------------------------------------------


async def _choices(d: DiscordApp, sub: str, option: str, typed: str, *, user: str = ADMIN,
                   permissions: int = MANAGE_GUILD) -> list[dict[str, Any]]:
    options: dict[str, Any] = {option: typed}
    (answer,) = await d.send.send(d.send.command("tasks", sub, user=user,
                                                 permissions=permissions, focused=option,
                                                 **options))
    assert answer.type == AUTOCOMPLETE_RESULT
    return list(answer.data["choices"])


@pytest.mark.asyncio
async def test_autocomplete_offers_matching_task_names(discord_app: DiscordApp,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    d = discord_app
    digest = await _create(d)
    check_in = await _create(d, name="Check in with Ana")
    assert await _choices(d, "show", "task", "dig") == [
        {"name": "Weekly digest", "value": digest.id}]
    assert [c["value"] for c in await _choices(d, "pause", "task", "")] == [check_in.id,
                                                                            digest.id]
    assert await _choices(d, "show", "task", "dig", user=MEMBER, permissions=0) == []
    # A process without a task store offers nothing.
    assert isinstance(d.client, ChatjobsClient)
    group = d.client.tree.get_command("tasks")
    assert isinstance(group, TasksGroup)
    runner = group.runner
    deps = runner._deps
    monkeypatch.setattr(runner, "_deps", dataclasses.replace(
        deps, stores=dataclasses.replace(deps.stores, tasks=None)))
    assert await _choices(d, "show", "task", "dig") == []


@pytest.mark.asyncio
async def test_autocomplete_offers_time_zones(discord_app: DiscordApp) -> None:
    choices = await _choices(discord_app, "create", "timezone", "paris")
    assert choices == [{"name": "Europe/Paris", "value": "Europe/Paris"}]
    assert len(await _choices(discord_app, "create", "timezone", "")) == 25


# --- the form --------------------------------------------------------------------------------


async def _open(d: DiscordApp, *, task: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"task": task} if task else {}
    answer = await _run(d, "edit" if task else "create", **options)
    assert answer.type == MODAL, answer
    return answer.data


async def _submit(d: DiscordApp, form: dict[str, Any], values: dict[str, str], *,
                  permissions: int = MANAGE_GUILD) -> Answer:
    (answer,) = await d.send.send(d.send.modal_submit(form, values, user=ADMIN,
                                                      permissions=permissions))
    assert (answer.type, answer.ephemeral) == (CHANNEL_MESSAGE, True)
    return answer


@pytest.mark.asyncio
async def test_the_form_stores_a_task_and_its_target(discord_app: DiscordApp) -> None:
    d = discord_app
    form = await _open(d)
    assert form["title"] == "New task" and len(_inputs(form)) == 5
    answer = await _submit(d, form, {"name": "Weekly digest",
                                     "description": "Post the week's digest.\nKeep it short.",
                                     "schedule": "weekly mon 09:00",
                                     "timezone": "Europe/Paris", "target": ANA})
    task = _tasks(d).get("Weekly digest")
    assert answer.title == f"Created 'Weekly digest' ({task.id})."
    assert task.description == "Post the week's digest.\nKeep it short."
    assert (task.schedule, task.timezone, task.contact) == (
        "weekly mon 09:00", "Europe/Paris", f"discord:{ANA}")
    # The id of the channel the form is used in is that channel.
    here = await _submit(d, await _open(d), {"name": "Here", "description": "Say hi.",
                                             "schedule": "daily 09:00", "target": CHANNEL_ID})
    assert here.title.startswith("Created 'Here'")
    assert (_tasks(d).get("Here").channel, _tasks(d).get("Here").timezone) == (
        f"discord:{CHANNEL_ID}", "UTC")


@pytest.mark.asyncio
async def test_a_bad_schedule_in_the_form_is_refused_naming_it_and_nothing_is_stored(
        discord_app: DiscordApp, redis_client: redis.Redis) -> None:
    d = discord_app
    form = await _open(d)
    before = _keys(redis_client)
    typed = {"name": "Weekly digest", "description": "Post the digest.",
             "schedule": "every tuesday", "timezone": "Europe/Paris"}
    answer = await _submit(d, form, typed)
    assert _refused(answer)
    assert answer.title.startswith("Schedule: "), answer.title
    assert "Nothing was saved" in answer.text
    assert _keys(redis_client) == before
    (reopened,) = await d.send.send(d.send.button(answer, user=ADMIN, permissions=MANAGE_GUILD))
    assert reopened.type == MODAL
    values = {f: c["component"].get("value") for f, c in _inputs(reopened.data).items()}
    assert (values["name"], values["schedule"]) == ("Weekly digest", "every tuesday")
    fixed = await _submit(d, reopened.data, {"schedule": "weekly tue 09:00"})
    assert fixed.title.startswith("Created 'Weekly digest'")
    assert _tasks(d).get("Weekly digest").timezone == "Europe/Paris"


@pytest.mark.asyncio
async def test_a_bad_target_in_the_form_is_refused_naming_the_target(
        discord_app: DiscordApp) -> None:
    d = discord_app
    answer = await _submit(d, await _open(d), {"name": "x", "description": "d",
                                               "schedule": "hourly", "target": "#general"})
    assert _refused(answer) and "Target: '#general' is a name" in answer.text
    assert _tasks(d).list() == []


@pytest.mark.asyncio
async def test_the_edit_form_saves_what_changed_and_refuses_a_member(
        discord_app: DiscordApp) -> None:
    d = discord_app
    task = await _create(d, contact=UserOption(ANA), meta="plan=trial")
    form = await _open(d, task="weekly digest")
    assert form["title"] == "Edit task (version 1)"
    assert _inputs(form)["target"]["component"]["value"] == f"<@{ANA}>"
    unchanged = await _submit(d, form, {})
    assert unchanged.title == "Nothing changed: 'Weekly digest' stays at version 1."
    # A form answers once: each submission below opens it again.
    refused = await _submit(d, await _open(d, task=task.id), {"schedule": "daily 07:30"},
                            permissions=0)
    assert refused.title == ONLY_ADMINS
    answer = await _submit(d, await _open(d, task=task.id),
                           {"schedule": "daily 07:30", "target": NEWS})
    assert answer.title.startswith("Saved 'Weekly digest' as version 2 (changed: schedule, "
                                   "contact)"), answer.title
    saved = _tasks(d).get(task.id)
    assert (saved.schedule, saved.contact, saved.meta) == (
        "daily 07:30", f"discord:{NEWS}", {"plan": "trial"})  # an unknown id: a person


@pytest.mark.asyncio
async def test_a_stale_edit_form_is_refused_and_reopens_on_the_newest_version(
        discord_app: DiscordApp) -> None:
    d = discord_app
    task = await _create(d)
    form = await _open(d, task=task.id)
    _tasks(d).update(task.id, {"schedule": "daily 06:00"}, actor="someone")
    answer = await _submit(d, form, {"schedule": "daily 07:30"})
    assert _refused(answer) and "it is now version 2" in answer.text
    assert _tasks(d).get(task.id).schedule == "daily 06:00"
    (reopened,) = await d.send.send(d.send.button(answer, user=ADMIN, permissions=MANAGE_GUILD))
    assert reopened.data["title"] == "Edit task (version 2)"
    assert _inputs(reopened.data)["schedule"]["component"]["value"] == "daily 07:30"
    saved = await _submit(d, reopened.data, {})
    assert saved.title == ("Saved 'Weekly digest' as version 3 (changed: schedule).")
    assert _tasks(d).get(task.id).schedule == "daily 07:30"


@pytest.mark.asyncio
async def test_editing_a_task_that_does_not_exist_says_so_instead_of_a_form(
        discord_app: DiscordApp) -> None:
    answer = await _run(discord_app, "edit", task="nope")
    assert answer.type == CHANNEL_MESSAGE and _refused(answer)
    assert "nope" in answer.text
