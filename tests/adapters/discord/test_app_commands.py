"""App commands end to end: interaction payloads through discord.py's own dispatch.

Each test hands INTERACTION_CREATE payloads to the real client (built by
`create_client`, with the commands `register_commands` adds) as its gateway
would; discord.py parses the options, runs autocomplete, opens and dispatches
modals and buttons, and answers through the fake REST API. The stores are
real; the model is the offline one. Nothing of ours is mocked.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from adapters.discord.commands import DISCORD_HELP
from adapters.discord.embeds import REFUSED_COLOUR
from adapters.discord.task_commands import SUBCOMMANDS as TASK_SUBCOMMANDS
from bot.commands import GROUPS
from jobs_store.models import Job
from tests.adapters.discord.interactions import (  # noqa: F401  (the discord_app fixture)
    ADMIN,
    ADMINISTRATOR,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_MESSAGE,
    LISTED,
    MANAGE_GUILD,
    MEMBER,
    MODAL,
    Answer,
    DiscordApp,
    File,
    discord_app_fixture,
)

pytestmark = pytest.mark.asyncio


async def _run(d: DiscordApp, group: str, sub: str | None = None, *, user: str = ADMIN,
               permissions: int | None = MANAGE_GUILD, dm: bool = False,
               **options: Any) -> Answer:
    """Run a command; its one answer, ephemeral."""
    answers = await d.send.send(d.send.command(group, sub, user=user, permissions=permissions,
                                               dm=dm, **options))
    assert len(answers) == 1, answers
    (answer,) = answers
    assert answer.type in (CHANNEL_MESSAGE, MODAL)
    if answer.type == CHANNEL_MESSAGE:
        assert answer.ephemeral
    return answer


async def _create(d: DiscordApp, name: str, instructions: str = "1. Ask who it is for.",
                  **fields: Any) -> Job:
    answer = await _run(d, "jobs", "create", name=name, instructions=instructions, **fields)
    assert answer.title.startswith("Created"), answer.text
    job = d.app.stores.jobs.find(name)
    assert job is not None
    return job


def _keys(client: redis.Redis) -> list[str]:
    return sorted(str(key) for key in client.keys("*"))


def _refused(answer: Answer) -> bool:
    return bool(answer.embeds) and all(e.get("color") == REFUSED_COLOUR.value
                                       for e in answer.embeds)


# --- registration ------------------------------------------------------------------------


async def test_the_synced_groups_mirror_the_grammar_and_are_for_server_managers(
        discord_app: DiscordApp) -> None:
    synced = {c["name"]: c for c in discord_app.fake.synced()}
    assert set(synced) == {"jobs", "bots", "tasks"}
    for command in synced.values():
        assert int(command["default_member_permissions"]) == 32  # Manage Server
        assert command["contexts"] == [0, 1]  # servers, and DMs with the bot
        assert command["integration_types"] == [0]  # installed to servers
    for group in ("jobs", "bots"):
        subs = {option["name"] for option in synced[group]["options"]}
        assert subs == {*GROUPS[group].subcommands, "help"}
    # /tasks also has the subcommands the grammar is getting (trigger, cancel, …).
    task_subs = {option["name"] for option in synced["tasks"]["options"]}
    assert task_subs == {*TASK_SUBCOMMANDS, "help"}
    assert set(GROUPS["tasks"].subcommands) <= task_subs


# --- who may -------------------------------------------------------------------------------


async def test_a_member_without_manage_server_is_refused_and_nothing_is_stored(
        discord_app: DiscordApp, redis_client: redis.Redis) -> None:
    before = _keys(redis_client)
    answer = await _run(discord_app, "jobs", "create", user=MEMBER, permissions=0,
                        name="Take a message", instructions="1. Ask who it is for.")
    assert _refused(answer)
    assert answer.title.startswith("Only admins can use /jobs create.")
    assert "Nothing was changed." in answer.title
    assert _keys(redis_client) == before
    assert discord_app.app.stores.jobs.list() == []


async def test_an_admin_creates_a_job_and_the_answer_is_an_ephemeral_embed(
        discord_app: DiscordApp) -> None:
    answer = await _run(discord_app, "jobs", "create", name="Take a message",
                        instructions="1. Ask who it is for.\\n2. Ask for the message.",
                        trigger="leave a message")
    job = discord_app.app.stores.jobs.get("Take a message")
    assert job.instructions == "1. Ask who it is for.\n2. Ask for the message."
    assert job.created_by == ADMIN
    assert answer.title == f"Created 'Take a message' ({job.id}, version 1)."
    assert not _refused(answer)
    assert answer.data["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize(("user", "permissions", "dm", "allowed"), [
    (ADMIN, ADMINISTRATOR, False, True),
    (LISTED, 0, False, True),  # CHATJOBS_ADMINS, without Manage Server
    (LISTED, None, True, True),  # in a DM: CHATJOBS_ADMINS count
    (ADMIN, None, True, False),  # in a DM there are no server permissions
])
async def test_who_counts_as_an_admin(discord_app: DiscordApp, user: str, permissions: int,
                                      dm: bool, allowed: bool) -> None:
    answer = await _run(discord_app, "jobs", "list", user=user, permissions=permissions, dm=dm)
    assert _refused(answer) is not allowed
    assert answer.title == ("The job library is empty." if allowed
                            else answer.title)
    if not allowed:
        assert answer.title.startswith("Only admins can use /jobs list.")


async def test_help_needs_no_admin_and_says_how_options_work_on_discord(
        discord_app: DiscordApp) -> None:
    answer = await _run(discord_app, "jobs", "help", user=MEMBER, permissions=0,
                        command="edit")
    assert answer.title == "/jobs edit"
    assert "Usage: /jobs edit <job>" in answer.text
    assert DISCORD_HELP["jobs"].split(":")[0] in answer.text
    assert not _refused(answer)


# --- options ---------------------------------------------------------------------------------


async def test_edit_with_options_runs_the_grammar_and_an_empty_quote_clears_a_field(
        discord_app: DiscordApp) -> None:
    job = await _create(discord_app, "Take a message", description="Takes messages.")
    answer = await _run(discord_app, "jobs", "edit", job=job.id, description='""',
                        trigger="leave a message", version=1)
    assert answer.title == ("Saved 'Take a message' as version 2 (changed: description, "
                            "trigger).")
    saved = discord_app.app.stores.jobs.get(job.id)
    assert (saved.description, saved.trigger) == ("", "leave a message")
    stale = await _run(discord_app, "jobs", "edit", job=job.id, trigger="x", version=1)
    assert _refused(stale) and "it is now version 2" in stale.text


async def test_bots_commands_run_the_bots_grammar(discord_app: DiscordApp) -> None:
    created = await _run(discord_app, "bots", "create", name="Support",
                         persona="Friendly and brief.")
    assert created.title.startswith("Created bot Support")
    shown = await _run(discord_app, "bots", "show", bot="Support")
    assert "Friendly and brief." in shown.text


async def test_export_attaches_yaml_that_import_takes_back_as_a_file(
        discord_app: DiscordApp) -> None:
    d = discord_app
    await _create(d, "Take a message", trigger="leave a message")
    exported = await _run(d, "jobs", "export")
    yaml = exported.file_text("export.yaml")
    assert "Take a message" in yaml
    await _run(d, "jobs", "delete", job="Take a message")
    url = d.fake.add_file("export.yaml", yaml.encode())
    answer = await _run(d, "jobs", "import",
                        file=File("export.yaml", url, len(yaml.encode())))
    assert answer.title == "Imported 1 job: 1 created, 0 updated, 0 unchanged."
    assert d.app.stores.jobs.get("Take a message").trigger == "leave a message"


async def test_instructions_longer_than_an_option_come_as_a_file(
        discord_app: DiscordApp) -> None:
    d = discord_app
    job = await _create(d, "Take a message")
    long = "\n".join(f"{n}. Ask question number {n}, and note the answer." for n in range(200))
    assert 6000 < len(long) <= 10_000
    url = d.fake.add_file("steps.txt", long.encode())
    answer = await _run(d, "jobs", "edit", job=job.id,
                        instructions_file=File("steps.txt", url, len(long)))
    assert answer.title.startswith("Saved 'Take a message' as version 2")
    assert d.app.stores.jobs.get(job.id).instructions == long.strip()
    too_long = d.fake.add_file("big.txt", b"x" * 10_001)
    refused = await _run(d, "jobs", "edit", job=job.id,
                         instructions_file=File("big.txt", too_long, 10_001))
    assert _refused(refused)
    assert refused.title == "instructions: at most 10,000 characters (you gave 10,001)"


async def test_a_member_attaching_a_file_is_refused_before_it_is_downloaded(
        discord_app: DiscordApp) -> None:
    d = discord_app
    url = d.fake.add_file("steps.txt", b"1. Ask.")
    answer = await _run(d, "jobs", "create", user=MEMBER, permissions=0, name="X",
                        instructions_file=File("steps.txt", url, 7))
    assert _refused(answer)
    assert not [c for c in d.fake.calls() if c.path.startswith("/attachments/")]


# --- deferring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sub", ["test", "optimize"])
async def test_model_commands_defer_at_once_then_follow_up(discord_app: DiscordApp,
                                                           sub: str) -> None:
    d = discord_app
    job = await _create(d, "Take a message", trigger="leave a message",
                        instructions="ask who the message is for. then ask for the message")
    options: dict[str, Any] = ({"text": "can I leave a message"} if sub == "test"
                               else {"job": job.id})
    first, second = await d.send.send(d.send.command("jobs", sub, user=ADMIN,
                                                     permissions=MANAGE_GUILD, **options))
    assert (first.kind, first.type, first.ephemeral) == ("callback", DEFERRED_MESSAGE, True)
    assert (second.kind, second.ephemeral) == ("followup", True)
    if sub == "test":
        assert second.title.startswith("Dry run for chatjobs")
        assert "Take a message" in second.text
    else:
        assert second.title == "Optimized 'Take a message' (version 1 → 2)."
        assert d.app.stores.jobs.get(job.id).version == 2


async def test_a_command_still_running_after_the_defer_time_is_deferred(
        discord_app: DiscordApp) -> None:
    d = discord_app
    job = await _create(d, "Take a message")
    url = d.fake.add_file("slow.txt", b"1. Ask slowly.", delay=2.0)  # a slow download
    first, second = await d.send.send(d.send.command(
        "jobs", "edit", user=ADMIN, permissions=MANAGE_GUILD, job=job.id,
        instructions_file=File("slow.txt", url, 14)))
    assert (first.type, first.ephemeral) == (DEFERRED_MESSAGE, True)
    assert second.kind == "followup"
    assert second.title.startswith("Saved 'Take a message' as version 2")


# --- autocomplete ------------------------------------------------------------------------------


async def _choices(d: DiscordApp, sub: str, option: str, typed: str, *,
                   user: str = ADMIN, permissions: int = MANAGE_GUILD) -> list[dict[str, Any]]:
    options: dict[str, Any] = {option: typed}
    (answer,) = await d.send.send(d.send.command("jobs", sub, user=user, permissions=permissions,
                                                 focused=option, **options))
    assert answer.type == AUTOCOMPLETE_RESULT
    return list(answer.data["choices"])


async def test_autocomplete_offers_matching_job_names_best_first(
        discord_app: DiscordApp) -> None:
    d = discord_app
    jobs = {name: await _create(d, name) for name in
            ("Take a message", "Message board", "Qualify a lead", "Refund an order")}
    choices = await _choices(d, "show", "job", "mess")
    assert choices == [{"name": "Message board", "value": jobs["Message board"].id},
                       {"name": "Take a message", "value": jobs["Take a message"].id}]
    assert [c["name"] for c in await _choices(d, "edit", "job", "")] == [
        "Message board", "Qualify a lead", "Refund an order", "Take a message"]
    assert await _choices(d, "show", "job", "zzz") == []


async def test_autocomplete_offers_at_most_25_and_nothing_to_members(
        discord_app: DiscordApp) -> None:
    d = discord_app
    for n in range(30):
        d.app.stores.jobs.create({"name": f"Job {n:02d}", "instructions": "1. Ask."},
                                 actor=ADMIN)
    choices = await _choices(d, "delete", "job", "job")
    assert len(choices) == 25
    assert choices[0]["name"] == "Job 00"
    assert await _choices(d, "show", "job", "job", user=MEMBER, permissions=0) == []


async def test_autocomplete_offers_bots(discord_app: DiscordApp) -> None:
    choices = await _choices(discord_app, "attach", "bot", "chat")
    assert [c["name"] for c in choices] == ["chatjobs"]
