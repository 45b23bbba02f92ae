"""Discord app commands: `/jobs` and `/bots`, the machinery `/tasks` shares, and the admin check.

`register_commands(tree, deps)` adds to a `discord.app_commands.CommandTree`:

- `/jobs` and `/bots`, groups with one app subcommand per subcommand of the
  shared grammar, its values as typed options (job and bot names with
  autocomplete). Each subcommand builds the grammar's tokens
  (`["edit", "<job>", "name=…"]`) and runs `bot.commands.run_command`, so
  permissions, limits and messages are the same as on Slack and the console.
  Answers are ephemeral embeds (`adapters.discord.embeds`).
- `/jobs create`, and `/jobs edit job:<job>`, without other options open the
  job form (`adapters.discord.modals`).
- `/tasks`, built the same way on `DiscordCommands` (`adapters.discord.task_commands`,
  with its form in `adapters.discord.task_form`).

Who is an admin: someone with Manage Server (or Administrator, or the server
owner) in the server the command is used in, or a user id in
CHATJOBS_ADMINS. `default_permissions=manage_guild` hides the groups from
other members (server admins can change that under Server Settings →
Integrations, e.g. for people listed in CHATJOBS_ADMINS), and the permission is
checked again whenever a command, a form or a button runs, from the
permissions Discord sends with that interaction. The commands also work in a
DM with the bot, where Discord applies no server permissions and shows them to
anyone: there only CHATJOBS_ADMINS count, so listed admins without Manage
Server can work from there. A refusal is an ephemeral answer and changes
nothing.

Timing: Discord drops an interaction not answered within 3 s. The store work
runs on our own thread pools (never on the gateway's event loop, and model
calls on a pool of their own, so slow ones never hold up the rest);
`/jobs test` and `/jobs optimize`, which call the model, defer at once
("thinking…") and follow up; any other command that has not finished after
`DEFER_AFTER` seconds defers then. A form is opened as the first answer,
so `/jobs edit` loads the job within that time or says it could not.

Option values: Discord options are one line, so `\\n` in a value is a line
break, as in the grammar; `""` clears a field. Longer text than an option
holds (6,000) comes as a text file: `instructions_file:` (jobs) and
`description_file:` (tasks) on create and edit, `file:` on import. A name
is matched by the grammar, so a name that reads like `key=value` must be
given by its id (autocomplete gives ids).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands

from adapters.discord.embeds import to_reply
from adapters.discord.modals import FormTarget, JobForm, Outcome, job_values
from bot.commands import GROUPS, Caller, Result, Stores, run_command
from bot.commands.grammar import RAW_SUBCOMMANDS
from bot.commands.registry import Subcommand
from bot.commands.results import Paragraph
from bot.errors import ChatjobsError, InvalidInput
from bot.templates import all_templates
from jobs_store.stats import MAX_GAPS

if TYPE_CHECKING:
    from adapters.discord.client import DiscordDeps
    from jobs_store.models import Job

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds a command may take before it is deferred (Discord allows 3 in all,
#: from the moment it sent the interaction; the defer itself is a REST call).
DEFER_AFTER = 1.5
#: Seconds autocomplete may take; after that it offers nothing this time.
AUTOCOMPLETE_TIMEOUT = 2.0
#: Subcommands that call the model: deferred at once, run on the model pool.
MODEL_SUBCOMMANDS = frozenset({"optimize", "test"})
#: Discord's caps: choices offered, a choice's name and value, a string option.
MAX_CHOICES, CHOICE_MAX, OPTION_MAX = 25, 100, 6000
#: Largest text file read: one field's text, or a YAML library for import.
FIELD_FILE_MAX, IMPORT_FILE_MAX = 100_000, 5_000_000
ADMIN_PERMISSIONS = discord.Permissions(manage_guild=True)
CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True)
INSTALLS = app_commands.AppInstallationType(guild=True)
DISCORD_HELP = {
    "jobs": "On Discord each field is an option: /jobs edit job:<job> name:… Give \"\" to clear "
            "a field. /jobs create, or /jobs edit job:<job>, with no other options opens a form "
            "(up to 4,000 characters of instructions); for up to 10,000, attach a text file "
            "with instructions_file:, or load YAML with /jobs import file:.",
    "bots": "On Discord each field is an option: /bots edit bot:<bot> persona:… Give \"\" to "
            "clear a field.",
    "tasks": "On Discord each field is an option: /tasks edit task:<task> schedule:… Give \"\" "
             "to clear a field. contact: picks a person and channel: a channel (stored as "
             "discord:<id>); clear_target:True removes either. meta: takes space-separated "
             "KEY=VALUE pairs (meta:plan=trial region=eu), each a meta.KEY field. /tasks create, "
             "or /tasks edit task:<task>, with no other options opens a form (up to 4,000 "
             "characters of description; its target takes a person's or channel's id); for up "
             "to 10,000, attach a text file with description_file:.",
}

#: What an option value may be to clear a field (an option cannot be empty).
_CLEAR = frozenset({'""', "''"})

Tokens = Sequence[str]
Attachments = Mapping[str, discord.Attachment | None]


def is_admin(interaction: discord.Interaction, admins: frozenset[str]) -> bool:
    """Manage Server (or Administrator, or owner) in this server, or listed in CHATJOBS_ADMINS.

    In a DM there are no server permissions: only CHATJOBS_ADMINS count.
    """
    if str(interaction.user.id) in admins:
        return True
    if interaction.guild_id is None:
        return False
    permissions = interaction.permissions
    if permissions.administrator or permissions.manage_guild:
        return True
    guild = interaction.guild
    return guild is not None and guild.owner_id == interaction.user.id


class DiscordCommands:
    """Runs app commands: the admin check, the pools, deferring, and the answer."""

    def __init__(self, deps: DiscordDeps, *, workers: int = 8, model_workers: int = 4,
                 defer_after: float = DEFER_AFTER) -> None:
        self._deps = deps
        self.defer_after = defer_after
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="discord-cmd")
        self._model_pool = ThreadPoolExecutor(max_workers=model_workers,
                                              thread_name_prefix="discord-model")
        self.templates = all_templates()

    @property
    def stores(self) -> Stores:
        return self._deps.stores

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking work; with `wait`, finish what was handed over."""
        self._pool.shutdown(wait=wait)
        self._model_pool.shutdown(wait=wait)

    def caller(self, interaction: discord.Interaction) -> Caller:
        """The user of `interaction`, and whether they are an admin right now."""
        return Caller(user=str(interaction.user.id),
                      is_admin=is_admin(interaction, self._deps.admins))

    async def blocking(self, work: Callable[[], T], *, model: bool = False) -> T:
        """Run `work` (Redis, the model) on a pool thread, off the event loop."""
        pool = self._model_pool if model else self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, work)

    # --- running a command -----------------------------------------------------------

    async def run(self, interaction: discord.Interaction, group: str, tokens: Tokens, *,
                  attachments: Attachments | None = None) -> None:
        """Run `/{group} {tokens}` (plus fields read from `attachments`) and answer."""
        caller = self.caller(interaction)
        sub = tokens[0]
        slow = group == "jobs" and sub in MODEL_SUBCOMMANDS

        async def work() -> Outcome:
            command: str | Tokens = tokens
            if caller.is_admin and attachments:  # a refusal needs no download
                try:
                    command = await _with_files(tokens, attachments)
                except InvalidInput as exc:
                    return Result.refused(str(exc)), None
            result = await self.blocking(functools.partial(
                run_command, group, command, caller=caller, stores=self.stores), model=slow)
            if sub == "help" and group in DISCORD_HELP:
                result = result.model_copy(update={
                    "blocks": (*result.blocks, Paragraph(text=DISCORD_HELP[group]))})
            return result, None

        await self.answer(interaction, work(), slow=slow, what=f"/{group} {sub}")

    async def answer(self, interaction: discord.Interaction, work: Awaitable[Outcome], *,
                     slow: bool, what: str) -> None:
        """Answer ephemerally with what `work` gives.

        Defers at once when `slow`, else when `work` takes longer than
        `defer_after`; an unexpected failure is logged and told.
        """
        task = asyncio.ensure_future(work)
        try:
            if slow:
                await interaction.response.defer(ephemeral=True, thinking=True)
            else:
                done, _ = await asyncio.wait({task}, timeout=self.defer_after)
                if not done:
                    await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException:
            log.warning("could not defer %s; the answer may not arrive", what, exc_info=True)
        try:
            result, view = await task
        except Exception as exc:
            log.exception("%s failed", what)
            result, view = Result.refused(
                f"Something went wrong running {what} ({type(exc).__name__}). The operator can "
                "find the details in the logs."), None
        await self._send(interaction, result, view, what)

    async def _send(self, interaction: discord.Interaction, result: Result,
                    view: discord.ui.View | None, what: str) -> None:
        reply = to_reply(result)
        # An empty list would still make a multipart request: leave `files` out then.
        files = reply.discord_files() or discord.utils.MISSING
        quiet = discord.AllowedMentions.none()
        try:
            if interaction.response.is_done():
                if view is None:
                    await interaction.followup.send(embeds=reply.embeds, files=files,
                                                    ephemeral=True, allowed_mentions=quiet)
                else:
                    await interaction.followup.send(embeds=reply.embeds, files=files, view=view,
                                                    ephemeral=True, allowed_mentions=quiet)
            elif view is None:
                await interaction.response.send_message(embeds=reply.embeds, files=files,
                                                        ephemeral=True, allowed_mentions=quiet)
            else:
                await interaction.response.send_message(embeds=reply.embeds, files=files,
                                                        view=view, ephemeral=True,
                                                        allowed_mentions=quiet)
        except discord.HTTPException:
            log.warning("could not answer %s", what, exc_info=True)

    async def refuse(self, interaction: discord.Interaction, reason: str, *, what: str) -> None:
        """Answer with a refusal at once (checks done before a command runs)."""
        await self._send(interaction, Result.refused(reason), None, what)

    # --- forms -----------------------------------------------------------------------

    async def open_form(self, interaction: discord.Interaction, job_ref: str | None) -> None:
        """Open the job form: empty to create, or prefilled with the job to edit."""
        stores = self.stores

        def form(job: Job | None) -> discord.ui.Modal:
            if job is None:
                return JobForm(self, FormTarget())
            return JobForm(self, FormTarget.for_job(job), job_values(job))

        await self.open_modal(interaction, group="jobs", ref=job_ref, load=stores.jobs.get,
                              build=form, options="/jobs edit job:<job> name:…")

    async def open_modal(self, interaction: discord.Interaction, *, group: str, ref: str | None,
                         load: Callable[[str], T], build: Callable[[T | None], discord.ui.Modal],
                         options: str) -> None:
        """Open a form: `build(None)` to create, or `build(load(ref))` to edit `ref`.

        A form must be the first answer, so `load` gets `defer_after` seconds;
        a non-admin gets the grammar's refusal and nothing is read. `options`
        says how to give the fields as options instead.
        """
        caller = self.caller(interaction)
        if not caller.is_admin:  # the grammar's refusal, and nothing read
            await self.run(interaction, group, ["edit", ref] if ref else ["create"])
            return
        if ref is None:
            await self._send_modal(interaction, build(None))
            return
        what = f"/{group} edit"
        try:
            found = await asyncio.wait_for(self.blocking(lambda: load(ref)),
                                           timeout=self.defer_after)
        except TimeoutError:
            log.warning("loading %r for the %s form took longer than %ss", ref, group,
                        self.defer_after)
            await self._send(interaction, Result.refused(
                f"Loading '{ref}' took too long, so the form could not open in time. Try "
                f"again, or give the fields as options: {options}"), None, what)
            return
        except ChatjobsError as exc:
            await self._send(interaction, Result.refused(str(exc)), None, what)
            return
        await self._send_modal(interaction, build(found))

    async def _send_modal(self, interaction: discord.Interaction, form: discord.ui.Modal) -> None:
        try:
            await interaction.response.send_modal(form)
        except discord.HTTPException:
            log.warning("could not open the form %s", form.title, exc_info=True)

    # --- autocomplete ----------------------------------------------------------------

    async def job_choices(self, interaction: discord.Interaction,
                          current: str) -> list[app_commands.Choice[str]]:
        """Up to 25 jobs whose name or id matches what is typed; nothing for non-admins."""
        stores = self.stores
        return await self._choices(interaction, current,
                                   lambda: [(j.name, j.id) for j in stores.jobs.list()])

    async def bot_choices(self, interaction: discord.Interaction,
                          current: str) -> list[app_commands.Choice[str]]:
        """Up to 25 bots whose name or id matches what is typed; nothing for non-admins."""
        stores = self.stores
        return await self._choices(interaction, current,
                                   lambda: [(b.name, b.id) for b in stores.bots.list()])

    async def task_choices(self, interaction: discord.Interaction,
                           current: str) -> list[app_commands.Choice[str]]:
        """Up to 25 tasks whose name or id matches what is typed; nothing for non-admins,
        or when this process has no task store."""
        tasks = self.stores.tasks
        if tasks is None:
            return []
        return await self._choices(interaction, current,
                                   lambda: [(t.name, t.id) for t in tasks.list()])

    async def template_choices(self, interaction: discord.Interaction,
                               current: str) -> list[app_commands.Choice[str]]:
        """The built-in templates matching what is typed."""
        named = [(f"{fields.get('name') or key} ({key})", key)
                 for key, fields in self.templates.items()]
        return [app_commands.Choice(name=name[:CHOICE_MAX], value=key)
                for name, key in best_matches(named, current)]

    async def _choices(self, interaction: discord.Interaction, current: str,
                       load: Callable[[], list[tuple[str, str]]],
                       ) -> list[app_commands.Choice[str]]:
        if not self.caller(interaction).is_admin:
            return []
        try:
            named = await asyncio.wait_for(self.blocking(load), timeout=AUTOCOMPLETE_TIMEOUT)
        except (TimeoutError, ChatjobsError):
            log.warning("autocomplete gave nothing: the store did not answer", exc_info=True)
            return []
        return [app_commands.Choice(name=name[:CHOICE_MAX], value=ref[:CHOICE_MAX])
                for name, ref in best_matches(named, current)]


def best_matches(named: Sequence[tuple[str, str]], typed: str,
                 limit: int = MAX_CHOICES) -> list[tuple[str, str]]:
    """The (name, id) pairs matching `typed`, best first, at most `limit`.

    Names that start with it first, then names with a word that starts with
    it, then names or ids that contain it; alphabetical within each.
    """
    wanted = " ".join(typed.split()).lower()
    ranked: list[tuple[int, str, tuple[str, str]]] = []
    for name, ref in named:
        low = name.lower()
        if not wanted or low.startswith(wanted):
            rank = 0
        elif any(word.startswith(wanted) for word in low.split()):
            rank = 1
        elif wanted in low or wanted in ref.lower():
            rank = 2
        else:
            continue
        ranked.append((rank, low, (name, ref)))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [pair for _, _, pair in ranked[:limit]]


def fields(**values: str | int | None) -> list[str]:
    """`key=value` tokens for the options given; `""` (or `''`) clears a field."""
    tokens = []
    for key, value in values.items():
        if value is None:
            continue
        text = "" if str(value).strip() in _CLEAR else str(value)
        tokens.append(f"{key}={text}")
    return tokens


async def _with_files(tokens: Tokens, attachments: Attachments) -> str | list[str]:
    """The command with the attached files read in: as `field=text` tokens, or as the
    raw text of a subcommand that takes text as is (`import`)."""
    given = {name: file for name, file in attachments.items() if file is not None}
    if tokens[0] in RAW_SUBCOMMANDS:
        texts = [" ".join(tokens[1:])] if len(tokens) > 1 else []
        for file in given.values():
            texts.append(await read_text(file, option="file", limit=IMPORT_FILE_MAX))
        if len(texts) > 1:
            raise InvalidInput(tokens[0], "give the YAML as text or as a file, not both")
        return f"{tokens[0]}\n{texts[0] if texts else ''}"
    command = list(tokens)
    for name, file in given.items():
        text = await read_text(file, option=f"{name}_file", limit=FIELD_FILE_MAX)
        command.append(f"{name}={text}")
    return command


async def read_text(file: discord.Attachment, *, option: str, limit: int) -> str:
    """An attached file's text (UTF-8); `InvalidInput` naming the option when it is not."""
    if file.size > limit:
        raise InvalidInput(option, f"{file.filename} has {file.size:,} bytes; at most "
                                   f"{limit:,} are read.")
    try:
        data = await file.read()
    except discord.HTTPException as exc:
        raise InvalidInput(option, f"could not download {file.filename} ({exc.status}); "
                                   "try again.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(option, f"{file.filename} is not UTF-8 text.") from None


# --- the command groups -------------------------------------------------------------------

_JOB_SUBS = GROUPS["jobs"].subcommands
_BOT_SUBS = GROUPS["bots"].subcommands


def summary(subs: Mapping[str, Subcommand], name: str, fallback: str = "") -> str:
    """A subcommand's summary from the grammar, cut to Discord's 100 characters
    (`fallback` for one the grammar does not have)."""
    text = subs[name].summary if name in subs else fallback
    return text if len(text) <= 100 else text[:99] + "…"


# Option types; the ranges make Discord check lengths before sending.
JobName = app_commands.Range[str, 1, 200]
NameText = app_commands.Range[str, 1, 100]
DescriptionText = app_commands.Range[str, 1, 500]
TriggerText = app_commands.Range[str, 1, 500]
InstructionsText = app_commands.Range[str, 1, 6000]
AudienceText = app_commands.Range[str, 1, 500]
RuleText = app_commands.Range[str, 1, 500]
Version = app_commands.Range[int, 1]
GapLimit = app_commands.Range[int, 1, MAX_GAPS]
BotName = app_commands.Range[str, 1, 80]
PersonaText = app_commands.Range[str, 1, 4000]
ModelText = app_commands.Range[str, 1, 100]
ChannelsText = app_commands.Range[str, 1, 6000]
ChannelText = app_commands.Range[str, 1, 100]
TestText = app_commands.Range[str, 1, 4000]

_JOB = "The job: start typing its name"
_BOT = "The bot (the default bot if left out)"
_FIELD_DESCRIPTIONS = {
    "template": "Start from a built-in template (see /jobs templates)",
    "name": "1–100 characters, unique (any case)",
    "description": "What the job is for, up to 500 characters; \"\" clears it",
    "trigger": "What users say when they want this, up to 500 characters; \"\" clears it",
    "instructions": "The numbered steps (\\n for a line break); longer: instructions_file",
    "audience": "Who it is for, in words, up to 500 characters; \"\" clears it",
    "rule": "Checked by the matcher, e.g. first_seen_within=7d role=admin; \"\" clears it",
    "instructions_file": "A UTF-8 text file with the instructions (up to 10,000 characters)",
    "version": "The version you are editing: refused if someone saved a newer one",
}
_BOT_FIELD_DESCRIPTIONS = {
    "name": "1–80 characters, unique (any case)",
    "persona": "Who it is and how it speaks, up to 4,000 characters",
    "model": "The model to use; \"\" for OPENAI_MODEL",
    "channels": "Channels it answers in, comma-separated; \"\" for every unclaimed channel",
    "escalation_channel": "Where escalate() posts hand-offs",
    "version": "The version you are editing: refused if someone saved a newer one",
}


class JobsGroup(app_commands.Group):
    """`/jobs`: one app subcommand per grammar subcommand."""

    def __init__(self, commands: DiscordCommands) -> None:
        super().__init__(name="jobs", description=GROUPS["jobs"].summary[:100],
                         default_permissions=ADMIN_PERMISSIONS, allowed_contexts=CONTEXTS,
                         allowed_installs=INSTALLS)
        self.runner = commands

    async def _run(self, interaction: discord.Interaction, *tokens: str,
                   attachments: Attachments | None = None) -> None:
        await self.runner.run(interaction, "jobs", tokens, attachments=attachments)

    async def _jobs(self, interaction: discord.Interaction,
                    current: str) -> list[app_commands.Choice[str]]:
        return await self.runner.job_choices(interaction, current)

    async def _bots(self, interaction: discord.Interaction,
                    current: str) -> list[app_commands.Choice[str]]:
        return await self.runner.bot_choices(interaction, current)

    async def _templates(self, interaction: discord.Interaction,
                         current: str) -> list[app_commands.Choice[str]]:
        return await self.runner.template_choices(interaction, current)

    @app_commands.command(name="list", description=summary(_JOB_SUBS, "list"))
    async def list_jobs(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "list")

    @app_commands.command(name="show", description=summary(_JOB_SUBS, "show"))
    @app_commands.describe(job=_JOB)
    @app_commands.autocomplete(job=_jobs)
    async def show(self, interaction: discord.Interaction, job: JobName) -> None:
        await self._run(interaction, "show", job)

    @app_commands.command(name="create",
                          description="Create a job; with no options, opens a form.")
    @app_commands.describe(**{k: v for k, v in _FIELD_DESCRIPTIONS.items() if k != "version"})
    @app_commands.autocomplete(template=_templates)
    async def create(self, interaction: discord.Interaction, name: NameText | None = None,
                     instructions: InstructionsText | None = None,
                     trigger: TriggerText | None = None,
                     description: DescriptionText | None = None,
                     audience: AudienceText | None = None, rule: RuleText | None = None,
                     template: str | None = None,
                     instructions_file: discord.Attachment | None = None) -> None:
        given = fields(template=template, name=name, description=description, trigger=trigger,
                       instructions=instructions, audience=audience, rule=rule)
        if not given and instructions_file is None:
            await self.runner.open_form(interaction, None)
            return
        await self._run(interaction, "create", *given,
                        attachments={"instructions": instructions_file})

    @app_commands.command(name="edit", description="Change a job (the previous version is "
                                                   "kept); with only job, opens a form.")
    @app_commands.describe(job=_JOB, **{k: v for k, v in _FIELD_DESCRIPTIONS.items()
                                        if k != "template"})
    @app_commands.autocomplete(job=_jobs)
    async def edit(self, interaction: discord.Interaction, job: JobName,
                   name: NameText | None = None,
                   instructions: InstructionsText | None = None,
                   trigger: TriggerText | None = None,
                   description: DescriptionText | None = None,
                   audience: AudienceText | None = None, rule: RuleText | None = None,
                   version: Version | None = None,
                   instructions_file: discord.Attachment | None = None) -> None:
        given = fields(version=version, name=name, description=description, trigger=trigger,
                       instructions=instructions, audience=audience, rule=rule)
        if not given and instructions_file is None:
            await self.runner.open_form(interaction, job)
            return
        await self._run(interaction, "edit", job, *given,
                        attachments={"instructions": instructions_file})

    @app_commands.command(name="delete", description=summary(_JOB_SUBS, "delete"))
    @app_commands.describe(job=_JOB)
    @app_commands.autocomplete(job=_jobs)
    async def delete(self, interaction: discord.Interaction, job: JobName) -> None:
        await self._run(interaction, "delete", job)

    @app_commands.command(name="history", description=summary(_JOB_SUBS, "history"))
    @app_commands.describe(job=_JOB)
    @app_commands.autocomplete(job=_jobs)
    async def history(self, interaction: discord.Interaction, job: JobName) -> None:
        await self._run(interaction, "history", job)

    @app_commands.command(name="undo", description=summary(_JOB_SUBS, "undo"))
    @app_commands.describe(job=_JOB)
    @app_commands.autocomplete(job=_jobs)
    async def undo(self, interaction: discord.Interaction, job: JobName) -> None:
        await self._run(interaction, "undo", job)

    @app_commands.command(name="test", description=summary(_JOB_SUBS, "test"))
    @app_commands.describe(text="What a user would say", bot=_BOT,
                           user="platform:workspace:user of someone who has talked to the "
                                "agent (audience rules)")
    @app_commands.autocomplete(bot=_bots)
    async def test(self, interaction: discord.Interaction, text: TestText,
                   bot: BotName | None = None, user: str | None = None) -> None:
        await self._run(interaction, "test", *fields(bot=bot, user=user), text)

    @app_commands.command(name="optimize", description=summary(_JOB_SUBS, "optimize"))
    @app_commands.describe(job=_JOB)
    @app_commands.autocomplete(job=_jobs)
    async def optimize(self, interaction: discord.Interaction, job: JobName) -> None:
        await self._run(interaction, "optimize", job)

    @app_commands.command(name="stats", description=summary(_JOB_SUBS, "stats"))
    @app_commands.describe(job="One job's numbers and latest completions (all jobs if left out)")
    @app_commands.autocomplete(job=_jobs)
    async def stats(self, interaction: discord.Interaction, job: JobName | None = None) -> None:
        await self._run(interaction, "stats", *([job] if job else []))

    @app_commands.command(name="gaps", description=summary(_JOB_SUBS, "gaps"))
    @app_commands.describe(limit=f"How many recent unmatched messages to look at (1–{MAX_GAPS})")
    async def gaps(self, interaction: discord.Interaction, limit: GapLimit | None = None) -> None:
        await self._run(interaction, "gaps", *fields(limit=limit))

    @app_commands.command(name="templates", description=summary(_JOB_SUBS, "templates"))
    async def templates(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "templates")

    @app_commands.command(name="attach", description=summary(_JOB_SUBS, "attach"))
    @app_commands.describe(job=_JOB, bot=_BOT)
    @app_commands.autocomplete(job=_jobs, bot=_bots)
    async def attach(self, interaction: discord.Interaction, job: JobName,
                     bot: BotName | None = None) -> None:
        await self._run(interaction, "attach", job, *fields(bot=bot))

    @app_commands.command(name="detach", description=summary(_JOB_SUBS, "detach"))
    @app_commands.describe(job=_JOB, bot=_BOT)
    @app_commands.autocomplete(job=_jobs, bot=_bots)
    async def detach(self, interaction: discord.Interaction, job: JobName,
                     bot: BotName | None = None) -> None:
        await self._run(interaction, "detach", job, *fields(bot=bot))

    @app_commands.command(name="publish", description=summary(_JOB_SUBS, "publish"))
    @app_commands.describe(bot=_BOT)
    @app_commands.autocomplete(bot=_bots)
    async def publish(self, interaction: discord.Interaction, bot: BotName | None = None) -> None:
        await self._run(interaction, "publish", *fields(bot=bot))

    @app_commands.command(name="diff", description=summary(_JOB_SUBS, "diff"))
    @app_commands.describe(bot=_BOT)
    @app_commands.autocomplete(bot=_bots)
    async def diff(self, interaction: discord.Interaction, bot: BotName | None = None) -> None:
        await self._run(interaction, "diff", *fields(bot=bot))

    @app_commands.command(name="export", description="Write jobs as YAML, attached as a file "
                                                     "(all of them if no job given).")
    @app_commands.describe(job="One job to export (all jobs if left out)")
    @app_commands.autocomplete(job=_jobs)
    async def export(self, interaction: discord.Interaction, job: JobName | None = None) -> None:
        await self._run(interaction, "export", *([job] if job else []))

    @app_commands.command(name="import", description="Create or update jobs from YAML (the "
                                                     "export format); all or nothing.")
    @app_commands.describe(file="A YAML file, e.g. one /jobs export wrote",
                           text="YAML on one line (flow style); a file is easier")
    async def import_jobs(self, interaction: discord.Interaction,
                          file: discord.Attachment | None = None,
                          text: app_commands.Range[str, 1, 6000] | None = None) -> None:
        await self._run(interaction, "import", *([text] if text else []),
                        attachments={"import": file})

    @app_commands.command(name="help", description="How to use /jobs, or one of its commands.")
    @app_commands.describe(command="The command to explain")
    @app_commands.choices(command=[app_commands.Choice(name=name, value=name)
                                   for name in _JOB_SUBS])
    async def help(self, interaction: discord.Interaction, command: str | None = None) -> None:
        await self._run(interaction, "help", *([command] if command else []))


class BotsGroup(app_commands.Group):
    """`/bots`: the agents that answer."""

    def __init__(self, commands: DiscordCommands) -> None:
        super().__init__(name="bots", description=GROUPS["bots"].summary[:100],
                         default_permissions=ADMIN_PERMISSIONS, allowed_contexts=CONTEXTS,
                         allowed_installs=INSTALLS)
        self.runner = commands

    async def _run(self, interaction: discord.Interaction, *tokens: str) -> None:
        await self.runner.run(interaction, "bots", tokens)

    async def _bots(self, interaction: discord.Interaction,
                    current: str) -> list[app_commands.Choice[str]]:
        return await self.runner.bot_choices(interaction, current)

    @app_commands.command(name="list", description=summary(_BOT_SUBS, "list"))
    async def list_bots(self, interaction: discord.Interaction) -> None:
        await self._run(interaction, "list")

    @app_commands.command(name="show", description=summary(_BOT_SUBS, "show"))
    @app_commands.describe(bot=_BOT)
    @app_commands.autocomplete(bot=_bots)
    async def show(self, interaction: discord.Interaction, bot: BotName | None = None) -> None:
        await self._run(interaction, "show", *([bot] if bot else []))

    @app_commands.command(name="create", description=summary(_BOT_SUBS, "create"))
    @app_commands.describe(**{k: v for k, v in _BOT_FIELD_DESCRIPTIONS.items()
                              if k != "version"})
    async def create(self, interaction: discord.Interaction, name: BotName,
                     persona: PersonaText | None = None, model: ModelText | None = None,
                     channels: ChannelsText | None = None,
                     escalation_channel: ChannelText | None = None) -> None:
        await self._run(interaction, "create", *fields(
            name=name, persona=persona, model=model, channels=channels,
            escalation_channel=escalation_channel))

    @app_commands.command(name="edit", description=summary(_BOT_SUBS, "edit"))
    @app_commands.describe(bot=_BOT, **_BOT_FIELD_DESCRIPTIONS)
    @app_commands.autocomplete(bot=_bots)
    async def edit(self, interaction: discord.Interaction, bot: BotName | None = None,
                   name: BotName | None = None, persona: PersonaText | None = None,
                   model: ModelText | None = None, channels: ChannelsText | None = None,
                   escalation_channel: ChannelText | None = None,
                   version: Version | None = None) -> None:
        await self._run(interaction, "edit", *([bot] if bot else []), *fields(
            version=version, name=name, persona=persona, model=model, channels=channels,
            escalation_channel=escalation_channel))

    @app_commands.command(name="help", description="How to use /bots, or one of its commands.")
    @app_commands.describe(command="The command to explain")
    @app_commands.choices(command=[app_commands.Choice(name=name, value=name)
                                   for name in _BOT_SUBS])
    async def help(self, interaction: discord.Interaction, command: str | None = None) -> None:
        await self._run(interaction, "help", *([command] if command else []))


def register_commands(tree: app_commands.CommandTree, deps: DiscordDeps) -> None:
    """Add `/jobs`, `/bots` and `/tasks` to `tree` (global commands; syncing is the client's)."""
    # Imported here: `/tasks` is built on this module's machinery.
    from adapters.discord.task_commands import TasksGroup

    commands = DiscordCommands(deps)
    # The pools' idle threads end with the tree (tests build many trees).
    weakref.finalize(tree, commands.shutdown, wait=False)
    tree.add_command(JobsGroup(commands))
    tree.add_command(BotsGroup(commands))
    tree.add_command(TasksGroup(commands))
