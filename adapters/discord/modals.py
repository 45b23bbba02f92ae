"""The job form: a Discord modal for `/jobs create` and `/jobs edit job:<job>` without fields.

`JobForm` is the modal; `save_form(...)` saves what was submitted through the
same handlers as the commands (`bot.commands.jobs.create` / `edit`, with the
expected version), exactly as the Slack form does; `RetryView` is the button
that reopens a form with what was typed after a refusal. `FormHost`, `Saved`,
`RetryView`, `form_refusal` and `only_admins` serve the task form
(`adapters.discord.task_form`) too.

Discord quirks this module works around:

- A modal holds at most five top-level components, so the form has five
  inputs: name, trigger, instructions, description and audience. The audience
  rule is set with `/jobs edit job:… rule:…`, which the audience input says.
- A text input holds at most 4,000 characters, while instructions may have
  10,000. The form caps instructions at 4,000 and its label says how to set
  longer ones (`/jobs edit job:… instructions_file:` or `/jobs import`); when
  an existing job's instructions are longer, the input is replaced by a note
  and they stay as they are.
- Label text is at most 45 characters and a label's description 100, so the
  limits are stated there in short.
- A modal cannot show an error under a field, and its submission cannot be
  answered with the modal again. A refusal is answered ephemerally, naming the
  field and its limit, with a button that reopens the form filled with what
  was typed, so nothing typed is lost.
- Modals live in the memory of the process that opened them (discord.py's
  view store) for `FORM_TIMEOUT`; a form submitted after that, or after a
  restart, is not answered (Discord shows "Something went wrong").

Submitted text is saved as typed: unlike a command option, `\\n` in a form is
not a line break (the form has real ones).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import discord

from bot.commands import Caller, Result, Stores
from bot.commands import jobs as job_commands
from bot.commands.grammar import Command
from bot.commands.results import Paragraph
from bot.errors import ChatjobsError, InvalidInput, NotFound, StaleVersion
from jobs_store.models import LIMITS, Job

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Where a form saves to (`FormTarget` here, the task form's own for tasks).
TargetT = TypeVar("TargetT")

#: Discord's cap on a text input's value.
INPUT_MAX = 4000
#: The fields the form shows, in order (a modal holds five inputs).
FORM_FIELDS: tuple[str, ...] = ("name", "trigger", "instructions", "description", "audience")
#: Seconds an open form (and a "try again" button) stays answerable.
FORM_TIMEOUT = 60 * 60
#: Discord's caps on a modal title and a label's text and description.
TITLE_MAX, LABEL_MAX, LABEL_DESCRIPTION_MAX, PLACEHOLDER_MAX = 45, 45, 100, 100

LABELS = {
    "name": "Name",
    "trigger": "Trigger: what users say",
    "instructions": "Instructions",
    "description": "Description",
    "audience": "Audience",
    "rule": "Audience rule",
}
_PLACEHOLDERS = {
    "name": "Take a message",
    "trigger": "leave a message, tell Ana I called, can you pass something on",
    "instructions": "Goal: …\n1. Ask who the message is for.\n2. …",
    "description": "Takes a message for someone who is away and passes it on.",
    "audience": "Everyone",
}
_PARAGRAPH = frozenset({"trigger", "instructions", "description", "audience"})


def only_admins(what: str) -> str:
    """The refusal of a form submitted (or reopened) by someone who is not an admin."""
    return (f"Only admins can save {what}. Ask someone with Manage Server, or ask the "
            "operator to add your user id to CHATJOBS_ADMINS. Nothing was saved.")


ONLY_ADMINS = only_admins("jobs")

Outcome = tuple[Result, discord.ui.View | None]


def hint(field: str) -> str:
    """The label's description: the field's limit, in at most 100 characters."""
    low, high = LIMITS[field]
    shown = min(high, INPUT_MAX)
    if field == "name":
        return f"{low}–{high:,} characters, one line; unique in the library (any case)."
    if field == "trigger":
        return f"What users say when they want this job. Up to {shown:,} characters."
    if field == "instructions":
        return (f"Up to {shown:,} here; up to {high:,} with /jobs edit instructions_file: "
                "or /jobs import")
    if field == "description":
        return f"What the job is for. Up to {shown:,} characters."
    if field == "audience":
        return (f"Who it is for, in words (up to {shown:,}). A rule the matcher checks: "
                "/jobs edit rule:")
    raise ValueError(f"no hint for {field}")


class FormHost(Protocol):
    """What the form needs from the app commands (`adapters.discord.commands`)."""

    @property
    def stores(self) -> Stores: ...

    def caller(self, interaction: discord.Interaction) -> Caller:
        """Who is acting, with the admin check done again for this interaction."""
        ...

    async def blocking(self, work: Callable[[], T]) -> T:
        """Run store work off the event loop."""
        ...

    async def answer(self, interaction: discord.Interaction, work: Awaitable[Outcome], *,
                     slow: bool, what: str) -> None:
        """Answer ephemerally with what `work` gives, deferring if it takes a while."""
        ...


@dataclass(frozen=True, kw_only=True)
class FormTarget:
    """What a form saves to: a new job, or a job at the version the edit is based on."""

    job_id: str | None = None
    #: The version the edit is based on: saving refuses if it changed meanwhile.
    version: int | None = None
    #: The job's name when the form opened (for the title and notes).
    job_name: str = ""
    #: Characters of instructions too long for the form (left out, kept as they are).
    long_instructions: int = 0

    @classmethod
    def for_job(cls, job: Job) -> FormTarget:
        too_long = len(job.instructions) if len(job.instructions) > INPUT_MAX else 0
        return cls(job_id=job.id, version=job.version, job_name=job.name,
                   long_instructions=too_long)

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the form has inputs for."""
        return tuple(f for f in FORM_FIELDS if f != "instructions" or not self.long_instructions)


def job_values(job: Job) -> dict[str, str]:
    """A job's values as the form shows them."""
    return {f: str(getattr(job, f)) for f in FORM_FIELDS}


class AdminForm(discord.ui.Modal):
    """A form only admins may submit: its inputs by field, and the admin check."""

    #: What a member who is not an admin is told.
    refusal = ""

    def __init__(self, host: FormHost, *, title: str) -> None:
        super().__init__(title=title[:TITLE_MAX], timeout=FORM_TIMEOUT)
        self.host = host
        self.inputs: dict[str, discord.ui.TextInput[Any]] = {}

    def add_input(self, name: str, text_input: discord.ui.TextInput[Any], *, label: str,
                  description: str) -> None:
        """Add `text_input` for the field `name`, under its label and hint."""
        self.inputs[name] = text_input
        self.add_item(discord.ui.Label(text=label[:LABEL_MAX],
                                       description=description[:LABEL_DESCRIPTION_MAX],
                                       component=text_input))

    def typed(self) -> dict[str, str]:
        """What was submitted, by field."""
        return {name: text_input.value or "" for name, text_input in self.inputs.items()}

    async def admin_or_refuse(self, interaction: discord.Interaction,
                              what: str) -> Caller | None:
        """The caller if an admin; else answer the refusal and return None."""
        caller = self.host.caller(interaction)
        if caller.is_admin:
            return caller
        log.info("%s refused: %s is not an admin", what, caller.user)
        await self.host.answer(interaction, done(Result.refused(self.refusal)), slow=False,
                               what=what)
        return None


class JobForm(AdminForm):
    """The job form: five inputs, prefilled from the job (edit) or from `values`."""

    refusal = ONLY_ADMINS

    def __init__(self, host: FormHost, target: FormTarget,
                 values: Mapping[str, str] | None = None) -> None:
        super().__init__(host, title=(f"Edit job (version {target.version})" if target.job_id
                                      else "New job"))
        self.target = target
        values = values or {}
        for name in FORM_FIELDS:
            if name == "instructions" and target.long_instructions:
                self.add_item(discord.ui.TextDisplay(_long_note(target)))
                continue
            high = min(LIMITS[name][1], INPUT_MAX)
            text_input: discord.ui.TextInput[JobForm] = discord.ui.TextInput(
                custom_id=name,
                style=(discord.TextStyle.paragraph if name in _PARAGRAPH
                       else discord.TextStyle.short),
                placeholder=_PLACEHOLDERS[name][:PLACEHOLDER_MAX],
                # Discord refuses a form whose value is longer than the input allows;
                # only a client that ignored the limit can have typed more.
                default=values.get(name, "")[:high] or None,
                required=LIMITS[name][0] > 0,
                max_length=high,
            )
            self.add_input(name, text_input, label=LABELS[name], description=hint(name))

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        values = self.typed()
        what = "job form (edit)" if self.target.job_id else "job form (create)"
        caller = await self.admin_or_refuse(interaction, what)
        if caller is None:
            return
        await self.host.answer(interaction, self._save(caller, values), slow=False, what=what)

    async def _save(self, caller: Caller, values: dict[str, str]) -> Outcome:
        stores = self.host.stores
        saved = await self.host.blocking(lambda: save_form(stores, caller, self.target, values))
        log.info("job form (%s) by %s: %s", self.target.job_id or "create", caller.user,
                 saved.result.title)
        retry = saved.retry
        if retry is None:
            return saved.result, None
        host = self.host
        return saved.result, RetryView(host, lambda: JobForm(host, retry, values))


@dataclass(frozen=True)
class Saved(Generic[TargetT]):
    """What saving a form gave: the answer, and where a retry should save, if it may."""

    result: Result
    retry: TargetT | None = field(default=None)


def save_form(stores: Stores, caller: Caller, target: FormTarget,
              values: Mapping[str, str]) -> Saved[FormTarget]:
    """Save the submitted `values` as a new job or the target's next version.

    Runs the command handlers (the same as `/jobs create` and `/jobs edit`);
    every refusal comes back as a refused Result that names the field, with
    the target a retry should use (the newest version after a stale edit; a
    create when the job was deleted meanwhile).
    """
    fields = {k: v for k, v in values.items() if k in target.fields}

    def save() -> Result:
        if target.job_id is None:
            created = {k: v for k, v in fields.items() if v.strip()}
            return job_commands.create(stores, caller, Command(
                group="jobs", name="create", fields=created))
        if target.version is not None:
            fields["version"] = str(target.version)
        return job_commands.edit(stores, caller, Command(
            group="jobs", name="edit", args=(target.job_id,), fields=fields))

    def newest() -> FormTarget | None:
        current = stores.jobs.find(target.job_id or "")
        return FormTarget.for_job(current) if current is not None else None

    return saved_or_refused(save, target=target, new=FormTarget(), newest=newest,
                            editing=target.job_id is not None, labels=LABELS, what="job")


class Versioned(Protocol):
    """A form target: an edit is based on a version (None for a create)."""

    @property
    def version(self) -> int | None: ...


VersionedT = TypeVar("VersionedT", bound=Versioned)


def saved_or_refused(save: Callable[[], Result], *, target: VersionedT, new: VersionedT,
                     newest: Callable[[], VersionedT | None], editing: bool,
                     labels: Mapping[str, str], what: str) -> Saved[VersionedT]:
    """Run `save` (a command handler); each refusal names the field by its label and
    keeps where a retry should save: `target` again, `newest()` after a stale edit
    (None: deleted meanwhile), or `new` (a create) when the `what` was deleted."""
    try:
        return Saved(save())
    except InvalidInput as exc:
        label = labels.get(exc.field, exc.field)
        reason = f"{label}: {exc.reason}" if exc.field else str(exc)
        return Saved(form_refusal(reason), retry=target)
    except StaleVersion as exc:
        current = newest()
        if current is None:
            return Saved(form_refusal(str(exc)), retry=new)
        return Saved(form_refusal(str(exc), " It opens on the newest version (version "
                                            f"{current.version}): saving then replaces it."),
                     retry=current)
    except NotFound as exc:
        if not editing:
            return Saved(form_refusal(str(exc)), retry=target)
        return Saved(form_refusal(f"This {what} was deleted after the form opened. Nothing "
                                  "was saved.", f" It opens as a new {what}."),
                     retry=new)
    except ChatjobsError as exc:  # a name taken, …
        return Saved(form_refusal(str(exc)), retry=target)


def form_refusal(reason: str, extra: str = "") -> Result:
    """A form's refusal: the reason, and that the button reopens what was typed."""
    return Result.refused(reason, Paragraph(
        text="Nothing was saved. Press the button to open the form again with what you "
             f"typed.{extra}"))


class RetryView(discord.ui.View):
    """One button that reopens a form filled with what was typed.

    `reopen` builds the form (with the target and values the retry keeps);
    `refusal` answers someone who is no longer an admin.
    """

    def __init__(self, host: FormHost, reopen: Callable[[], discord.ui.Modal], *,
                 refusal: str = ONLY_ADMINS) -> None:
        super().__init__(timeout=FORM_TIMEOUT)
        self.host = host
        self.form = reopen
        self.refusal = refusal

    @discord.ui.button(label="Open the form again", style=discord.ButtonStyle.primary)
    async def reopen(self, interaction: discord.Interaction,
                     button: discord.ui.Button[RetryView]) -> None:
        caller = self.host.caller(interaction)
        if not caller.is_admin:
            await self.host.answer(interaction, done(Result.refused(self.refusal)), slow=False,
                                   what="form (reopen)")
            return
        await interaction.response.send_modal(self.form())


def _long_note(target: FormTarget) -> str:
    ref = f'"{target.job_name}"' if any(c.isspace() for c in target.job_name) else target.job_name
    return (f"**Instructions**: {target.long_instructions:,} characters, more than a Discord "
            f"form holds ({INPUT_MAX:,}), so they are not shown and stay as they are. Change "
            f"them with /jobs edit job:{ref} instructions_file: or /jobs import.")


async def done(result: Result) -> Outcome:
    """`result` as an outcome without a view, for `FormHost.answer`."""
    return result, None
