"""`/tasks` on Discord: an app command group over the shared task grammar.

Built like `/jobs` (`adapters.discord.commands`), on the same `DiscordCommands`:
one app subcommand per grammar subcommand, each building the grammar's tokens
(`["edit", "<task>", "schedule=…"]`) and running `bot.commands.run_command`, so
permissions, limits and messages are those of Slack and the console. Answers
are ephemeral embeds; the group is for Manage Server (`default_permissions`),
in servers and in DMs with the bot.

How options map to fields:

- Text options are the fields of the same name; `""` clears one, as in /jobs.
- `contact:` is a user option and `channel:` a channel option (text,
  announcement and thread channels: where a task can post); the grammar gets
  `discord:<id>`. `clear_target:True` (edit) removes either.
- `meta:` is one string of space-separated `KEY=VALUE` pairs, each a
  `meta.KEY=VALUE` field (quote a value with spaces: `note="two words"`;
  `KEY=` removes one). A pair that is not `KEY=VALUE` is refused naming `meta`.
- `description_file:` is a text file with a description longer than an
  option holds (up to the field's 10,000 characters).
- `/tasks create`, and `/tasks edit task:<task>`, with no other options open
  the task form (`adapters.discord.task_form`).

Task names are autocompleted from the task store (names, with ids as values)
and time zones from the IANA database. `trigger`, `cancel`, `executions` and
`cancel-execution` pass their tokens to the grammar as the others do; their
descriptions come from the grammar when it has them.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.commands import (
    ADMIN_PERMISSIONS,
    CHOICE_MAX,
    CONTEXTS,
    INSTALLS,
    OPTION_MAX,
    Attachments,
    BotName,
    DiscordCommands,
    Version,
    best_matches,
    fields,
    summary,
)
from adapters.discord.task_form import task_form
from bot.commands import GROUPS
from bot.commands.grammar import split
from bot.commands.tasks import MAX_PREVIEW
from bot.errors import CommandError, InvalidInput
from jobs_store.tasks import MAX_ITERATIONS, Task

_TASK_SUBS = GROUPS["tasks"].subcommands
#: What `status:` filters on (`/tasks list`).
STATUSES = ("idle", "running", "paused")
#: The app subcommands, as `/tasks help` offers them.
SUBCOMMANDS = ("list", "show", "create", "edit", "delete", "pause", "resume", "trigger",
               "cancel", "next", "executions", "cancel-execution")
#: Where a task can post: text and announcement channels, and threads.
POSTABLE = (discord.ChannelType.text, discord.ChannelType.news,
            discord.ChannelType.public_thread, discord.ChannelType.private_thread,
            discord.ChannelType.news_thread)
#: Executions `/tasks executions` lists at most.
MAX_EXECUTIONS = 50

# Option types; the ranges make Discord check lengths and numbers before sending.
TaskName = app_commands.Range[str, 1, 200]
NameText = app_commands.Range[str, 1, 100]
DescriptionText = app_commands.Range[str, 1, OPTION_MAX]
ScheduleText = app_commands.Range[str, 1, 200]
ZoneText = app_commands.Range[str, 1, 64]
DurationText = app_commands.Range[str, 1, 20]
MetaText = app_commands.Range[str, 1, OPTION_MAX]
Iterations = app_commands.Range[int, MAX_ITERATIONS[0], MAX_ITERATIONS[1]]
Preview = app_commands.Range[int, 1, MAX_PREVIEW]
ExecutionCount = app_commands.Range[int, 1, MAX_EXECUTIONS]
ExecutionId = app_commands.Range[str, 1, 100]


class ChannelId(app_commands.Transformer):
    """A channel option limited to channels a task can post in; the value is its id."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return list(POSTABLE)

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> int:
        # An AppCommandChannel or AppCommandThread, or an Object when Discord sent
        # no resolved data: each has the id, which is all a task stores.
        return int(value.id)


PostChannel = app_commands.Transform[int, ChannelId]

_TASK = "The task: start typing its name"
_DURATION = "e.g. 90s, 15m, 1h, 7d"
_FIELD_DESCRIPTIONS = {
    "task": _TASK,
    "name": "1–100 characters, unique (any case)",
    "description": "The instructions the agent carries out (\\n for a line break); longer: "
                   "description_file",
    "schedule": "e.g. daily 09:00, weekly mon 09:00, monthly last 17:00, once 2026-11-28 09:00, "
                "cron 30 8 * * 1-5",
    "timezone": "An IANA zone, e.g. Europe/Paris (default: UTC)",
    "contact": "The person the agent talks to (a DM)",
    "channel": "The channel the agent posts in",
    "clear_target": "True: remove the contact or channel",
    "bot": "The bot that runs it (the default bot if left out)",
    "session": f"How long the agent keeps answering after a run, 1m–7d ({_DURATION})",
    "max_iterations": "Model calls per run, 10–100,000 (default 1,000)",
    "max_time": f"Time per run, 15m–24h ({_DURATION})",
    "grace": f"How late a run missed during downtime may still start, 0s–7d ({_DURATION})",
    "meta": "Your own fields: KEY=VALUE pairs, e.g. plan=trial region=eu (KEY= removes one)",
    "version": "The version you are editing: refused if someone saved a newer one",
    "description_file": "A UTF-8 text file with the description (up to 10,000 characters)",
}
_CREATE_OPTIONS = {k: v for k, v in _FIELD_DESCRIPTIONS.items()
                   if k not in ("task", "clear_target", "version")}
#: One `meta:` pair; `meta.` before the key may be given too.
_META_PAIR = re.compile(r"(?:meta\.)?(?P<key>[A-Za-z0-9_-]+)=(?P<value>.*)", re.S | re.I)


def meta_fields(text: str | None) -> list[str]:
    """`meta.KEY=VALUE` tokens for the `meta:` option's space-separated pairs.

    Values with spaces are quoted (`note="two words"`); `KEY=` removes a
    field. `InvalidInput("meta", …)` for a pair that is not `KEY=VALUE`.
    """
    if text is None:
        return []
    example = 'e.g. meta:plan=trial region=eu note="two words"'
    try:
        pairs = split(text)
    except CommandError:
        raise InvalidInput("meta", f"close every quote you open, {example}") from None
    tokens = []
    for pair in pairs:
        found = _META_PAIR.fullmatch(pair)
        if found is None:
            raise InvalidInput("meta", f"'{pair}' is not KEY=VALUE (a key is letters, digits, "
                                       f"_ or -); give space-separated pairs, {example}.")
        tokens.append(f"meta.{found['key']}={found['value']}")
    if not tokens:
        raise InvalidInput("meta", f"give at least one KEY=VALUE pair, {example}.")
    return tokens


def target_tokens(*, contact: discord.abc.Snowflake | None, channel: int | None,
                  clear_target: bool | None = None) -> list[str]:
    """`contact=discord:<id>` / `channel=discord:<id>` for the options given; with
    `clear_target`, both emptied (the task keeps no target)."""
    if clear_target:
        if contact is not None or channel is not None:
            raise InvalidInput("clear_target", "give clear_target, or a contact or channel, not "
                                               "both: a new contact or channel replaces the old "
                                               "one anyway.")
        return ["contact=", "channel="]
    return fields(contact=f"discord:{contact.id}" if contact is not None else None,
                  channel=f"discord:{channel}" if channel is not None else None)


@functools.cache
def zone_names() -> tuple[tuple[str, str], ...]:
    """Every IANA zone as (name, value) pairs for autocomplete (read once)."""
    return tuple((zone, zone) for zone in sorted(zoneinfo.available_timezones()))


class TasksGroup(app_commands.Group):
    """`/tasks`: one app subcommand per grammar subcommand."""

    def __init__(self, commands: DiscordCommands) -> None:
        super().__init__(name="tasks", description=GROUPS["tasks"].summary[:100],
                         default_permissions=ADMIN_PERMISSIONS, allowed_contexts=CONTEXTS,
                         allowed_installs=INSTALLS)
        self.runner = commands

    async def _run(self, interaction: discord.Interaction, *tokens: str,
                   attachments: Attachments | None = None) -> None:
        await self.runner.run(interaction, "tasks", tokens, attachments=attachments)

    async def _run_checked(self, interaction: discord.Interaction, sub: str,
                           build: Callable[[], list[str]], *,
                           attachments: Attachments | None = None) -> None:
        """Run `/tasks {sub}` with the tokens `build()` gives.

        An option `build` refuses (`meta`, `clear_target`) is answered only to
        an admin: anyone else gets the grammar's refusal first, as for any field.
        """
        try:
            tokens = build()
        except InvalidInput as exc:
            if self.runner.caller(interaction).is_admin:
                await self.runner.refuse(interaction, str(exc), what=f"/tasks {sub}")
                return
            tokens = [sub]  # the grammar refuses a member before it reads any field
        await self._run(interaction, *tokens, attachments=attachments)

    async def _open_form(self, interaction: discord.Interaction, ref: str | None) -> None:
        stores = self.runner.stores

        def load(task_ref: str) -> Task:
            if stores.tasks is None:
                raise CommandError("/tasks is not set up in this process.")
            return stores.tasks.get(task_ref)

        await self.runner.open_modal(
            interaction, group="tasks", ref=ref, load=load,
            build=functools.partial(task_form, self.runner),
            options="/tasks edit task:<task> schedule:…")

    async def _tasks(self, interaction: discord.Interaction,
                     current: str) -> list[app_commands.Choice[str]]:
        return await self.runner.task_choices(interaction, current)

    async def _bots(self, interaction: discord.Interaction,
                    current: str) -> list[app_commands.Choice[str]]:
        return await self.runner.bot_choices(interaction, current)

    async def _zones(self, interaction: discord.Interaction,
                     current: str) -> list[app_commands.Choice[str]]:
        named = await self.runner.blocking(zone_names)  # the first call reads the database
        return [app_commands.Choice(name=name[:CHOICE_MAX], value=zone)
                for name, zone in best_matches(named, current)]

    @app_commands.command(name="list", description=summary(_TASK_SUBS, "list"))
    @app_commands.describe(bot="Only the tasks this bot runs", status="Only tasks in this state")
    @app_commands.autocomplete(bot=_bots)
    @app_commands.choices(status=[app_commands.Choice(name=s, value=s) for s in STATUSES])
    async def list_tasks(self, interaction: discord.Interaction, bot: BotName | None = None,
                         status: str | None = None) -> None:
        await self._run(interaction, "list", *fields(bot=bot, status=status))

    @app_commands.command(name="show", description=summary(_TASK_SUBS, "show"))
    @app_commands.describe(task=_TASK)
    @app_commands.autocomplete(task=_tasks)
    async def show(self, interaction: discord.Interaction, task: TaskName) -> None:
        await self._run(interaction, "show", task)

    @app_commands.command(name="create",
                          description="Schedule a task; with no options, opens a form.")
    @app_commands.describe(**_CREATE_OPTIONS)
    @app_commands.autocomplete(bot=_bots, timezone=_zones)
    async def create(self, interaction: discord.Interaction, name: NameText | None = None,
                     description: DescriptionText | None = None,
                     schedule: ScheduleText | None = None, timezone: ZoneText | None = None,
                     contact: discord.User | None = None, channel: PostChannel | None = None,
                     bot: BotName | None = None, session: DurationText | None = None,
                     max_iterations: Iterations | None = None,
                     max_time: DurationText | None = None, grace: DurationText | None = None,
                     meta: MetaText | None = None,
                     description_file: discord.Attachment | None = None) -> None:
        given = fields(name=name, description=description, schedule=schedule,
                       timezone=timezone, bot=bot, session=session,
                       max_iterations=max_iterations, max_time=max_time, grace=grace)
        if (not given and contact is None and channel is None and meta is None
                and description_file is None):
            await self._open_form(interaction, None)
            return

        def build() -> list[str]:
            return ["create", *given, *target_tokens(contact=contact, channel=channel),
                    *meta_fields(meta)]

        await self._run_checked(interaction, "create", build,
                                attachments={"description": description_file})

    @app_commands.command(name="edit", description="Change a task (its next run is "
                                                   "recomputed); with only task, opens a form.")
    @app_commands.describe(**_FIELD_DESCRIPTIONS)
    @app_commands.autocomplete(task=_tasks, bot=_bots, timezone=_zones)
    async def edit(self, interaction: discord.Interaction, task: TaskName,
                   name: NameText | None = None, description: DescriptionText | None = None,
                   schedule: ScheduleText | None = None, timezone: ZoneText | None = None,
                   contact: discord.User | None = None, channel: PostChannel | None = None,
                   clear_target: bool | None = None, bot: BotName | None = None,
                   session: DurationText | None = None,
                   max_iterations: Iterations | None = None,
                   max_time: DurationText | None = None, grace: DurationText | None = None,
                   meta: MetaText | None = None, version: Version | None = None,
                   description_file: discord.Attachment | None = None) -> None:
        given = fields(version=version, name=name, description=description, schedule=schedule,
                       timezone=timezone, bot=bot, session=session,
                       max_iterations=max_iterations, max_time=max_time, grace=grace)
        if (not given and contact is None and channel is None and clear_target is None
                and meta is None and description_file is None):
            await self._open_form(interaction, task)
            return

        def build() -> list[str]:
            return ["edit", task, *given,
                    *target_tokens(contact=contact, channel=channel, clear_target=clear_target),
                    *meta_fields(meta)]

        await self._run_checked(interaction, "edit", build,
                                attachments={"description": description_file})

    @app_commands.command(name="delete", description=summary(_TASK_SUBS, "delete"))
    @app_commands.describe(task=_TASK)
    @app_commands.autocomplete(task=_tasks)
    async def delete(self, interaction: discord.Interaction, task: TaskName) -> None:
        await self._run(interaction, "delete", task)

    @app_commands.command(name="pause", description=summary(_TASK_SUBS, "pause"))
    @app_commands.describe(task=_TASK)
    @app_commands.autocomplete(task=_tasks)
    async def pause(self, interaction: discord.Interaction, task: TaskName) -> None:
        await self._run(interaction, "pause", task)

    @app_commands.command(name="resume", description=summary(_TASK_SUBS, "resume"))
    @app_commands.describe(task=_TASK)
    @app_commands.autocomplete(task=_tasks)
    async def resume(self, interaction: discord.Interaction, task: TaskName) -> None:
        await self._run(interaction, "resume", task)

    @app_commands.command(name="trigger", description=summary(
        _TASK_SUBS, "trigger", "Run a task now, besides its schedule."))
    @app_commands.describe(task=_TASK)
    @app_commands.autocomplete(task=_tasks)
    async def trigger(self, interaction: discord.Interaction, task: TaskName) -> None:
        await self._run(interaction, "trigger", task)

    @app_commands.command(name="cancel", description=summary(
        _TASK_SUBS, "cancel", "Stop a task's running execution; its schedule is kept."))
    @app_commands.describe(task=_TASK)
    @app_commands.autocomplete(task=_tasks)
    async def cancel(self, interaction: discord.Interaction, task: TaskName) -> None:
        await self._run(interaction, "cancel", task)

    @app_commands.command(name="next", description=summary(_TASK_SUBS, "next"))
    @app_commands.describe(task=_TASK, n=f"How many runs to show (default 5, at most "
                                         f"{MAX_PREVIEW})")
    @app_commands.autocomplete(task=_tasks)
    async def next_runs(self, interaction: discord.Interaction, task: TaskName,
                        n: Preview | None = None) -> None:
        await self._run(interaction, "next", task, *([str(n)] if n is not None else []))

    @app_commands.command(name="executions", description=summary(
        _TASK_SUBS, "executions", "A task's latest executions: status, times, outcome."))
    @app_commands.describe(task=_TASK, n=f"How many executions to show (at most "
                                         f"{MAX_EXECUTIONS})")
    @app_commands.autocomplete(task=_tasks)
    async def executions(self, interaction: discord.Interaction, task: TaskName,
                         n: ExecutionCount | None = None) -> None:
        await self._run(interaction, "executions", task, *([str(n)] if n is not None else []))

    @app_commands.command(name="cancel-execution", description=summary(
        _TASK_SUBS, "cancel-execution", "Stop one execution by its id."))
    @app_commands.describe(execution="The execution's id (see /tasks executions)")
    async def cancel_execution(self, interaction: discord.Interaction,
                               execution: ExecutionId) -> None:
        await self._run(interaction, "cancel-execution", execution)

    @app_commands.command(name="help", description="How to use /tasks, or one of its commands.")
    @app_commands.describe(command="The command to explain")
    @app_commands.choices(command=[app_commands.Choice(name=name, value=name)
                                   for name in SUBCOMMANDS])
    async def help(self, interaction: discord.Interaction, command: str | None = None) -> None:
        await self._run(interaction, "help", *([command] if command else []))
