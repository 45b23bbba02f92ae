"""The task form: a Discord modal for `/tasks create` and `/tasks edit task:<task>` without fields.

`TaskForm` is the modal, built like the job form (`adapters.discord.modals`,
whose `FormHost`, `RetryView` and refusals it shares): five inputs — name,
description, schedule, time zone and target. `form_fields(...)` turns what was
submitted into the task grammar's fields and `save_task_form(...)` saves them
through the same handlers as the commands (`bot.commands.tasks.create` /
`edit`, with the expected version).

Choices this form makes, besides the job form's Discord quirks:

- The description (the instructions) may have 10,000 characters, a text input
  4,000: longer ones are set with `/tasks edit task:… description_file:`, and
  when an existing task's description is longer, the input is replaced by a
  note and it stays as it is.
- One "target" input holds the contact or the channel: `<@id>` is a person,
  `<#id>` a channel, and a bare id (what Developer Mode → Copy ID gives) or
  `discord:<id>` is a channel when the bot knows a channel with that id (the
  one the form is used in, or one in its cache), otherwise a person. Blank
  means none.
- An edit saves only the inputs changed from what the form showed, so an
  untouched `once` schedule whose time has passed, or a target stored in a
  form the input does not take (a Slack id, a follow-up's contact), is left as
  it is.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import discord

from adapters.discord.modals import (
    INPUT_MAX,
    PLACEHOLDER_MAX,
    AdminForm,
    FormHost,
    Outcome,
    RetryView,
    Saved,
    only_admins,
    saved_or_refused,
)
from bot.commands import Caller, Result, Stores
from bot.commands import tasks as task_commands
from bot.commands.grammar import Command
from jobs_store.tasks import Task

log = logging.getLogger(__name__)

#: The inputs the form shows, in order (a modal holds five).
FORM_FIELDS: tuple[str, ...] = ("name", "description", "schedule", "timezone", "target")
#: Inputs a task cannot be without.
REQUIRED = frozenset({"name", "description", "schedule"})
ONLY_ADMINS = only_admins("tasks")

LABELS = {
    "name": "Name",
    "description": "Description: what the agent does",
    "schedule": "Schedule",
    "timezone": "Time zone",
    "target": "Target: a person or channel (optional)",
}
#: The grammar fields behind the target input name it in refusals too.
_ERROR_LABELS = {**LABELS, "contact": "Target", "channel": "Target"}
_PLACEHOLDERS = {
    "name": "Weekly digest",
    "description": "Post a summary of this week's unanswered questions.",
    "schedule": "weekly mon 09:00",
    "timezone": "Europe/Paris",
    "target": "123456789012345678",
}
_HINTS = {
    "name": "1–100 characters, one line; unique among tasks (any case).",
    "description": "The instructions. Up to {shown:,} here; up to {high:,} with /tasks edit "
                   "description_file:",
    "schedule": "once <date time>, hourly, daily HH:MM, weekly <day> HH:MM, monthly <day> "
                "HH:MM, cron <expr>",
    "timezone": "An IANA zone such as Europe/Paris or America/New_York (new task, blank: UTC)",
    "target": "A person's or channel's ID (Developer Mode → Copy ID); blank: none.",
}
#: The largest target text (an id, a mention, or a stored target shown as it is).
_TARGET_MAX = 100
#: The longest time zone name `check_timezone` takes.
_ZONE_MAX = 64

_BARE_ID = re.compile(r"^(?:discord:)?(?P<id>\d{15,25})$", re.I)
_SLACK_ID = re.compile(r"^slack:[A-Za-z0-9]+:(?P<id>[A-Za-z0-9]+)$", re.I)
_DISCORD_TARGET = re.compile(r"^discord:(?P<id>\d+)$")


def _task_limit(field: str) -> int:
    """The most characters the `Task` model takes in `field`."""
    lengths = [getattr(m, "max_length", None) for m in Task.model_fields[field].metadata]
    return int(next(n for n in lengths if n is not None))


def _max_length(field: str) -> int:
    """The input's limit: the task field's, capped at what an input holds."""
    if field == "target":
        return _TARGET_MAX
    if field == "timezone":
        return _ZONE_MAX
    return min(_task_limit(field), INPUT_MAX)


def hint(field: str) -> str:
    """The label's description: what the input takes, in at most 100 characters."""
    high = _task_limit("description") if field == "description" else 0
    return _HINTS[field].format(shown=INPUT_MAX, high=high)


@dataclass(frozen=True, kw_only=True)
class TaskFormTarget:
    """What a form saves to: a new task, or a task at the version the edit is based on."""

    task_id: str | None = None
    #: The version the edit is based on: saving refuses if it changed meanwhile.
    version: int | None = None
    #: The task's name when the form opened (for the title and notes).
    task_name: str = ""
    #: Characters of description too long for the form (left out, kept as it is).
    long_description: int = 0
    #: The task's values as the form showed them: an edit saves only what differs.
    shown: tuple[tuple[str, str], ...] = ()

    @classmethod
    def for_task(cls, task: Task) -> TaskFormTarget:
        too_long = len(task.description) if len(task.description) > INPUT_MAX else 0
        return cls(task_id=task.id, version=task.version, task_name=task.name,
                   long_description=too_long, shown=tuple(task_values(task).items()))

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the form has inputs for."""
        return tuple(f for f in FORM_FIELDS if f != "description" or not self.long_description)


def task_values(task: Task) -> dict[str, str]:
    """A task's values as the form shows them (a Discord target as a mention)."""
    return {"name": task.name, "description": task.description, "schedule": task.schedule,
            "timezone": task.timezone, "target": _shown_target(task)}


def _shown_target(task: Task) -> str:
    for value, mention in ((task.contact, "<@{}>"), (task.channel, "<#{}>")):
        if value:
            found = _DISCORD_TARGET.match(value)
            return mention.format(found["id"]) if found else value
    return ""


def target_fields(text: str, *, is_channel: Callable[[int], bool]) -> dict[str, str]:
    """The grammar's `contact`/`channel` field for what was typed in the target input.

    `<@id>` is a person and `<#id>` a channel; a bare id or `discord:<id>` is a
    channel if `is_channel(id)`, else a person; a Slack id goes by its kind (C,
    G, D: a channel). Blank removes the target. Anything else goes to the
    grammar as a contact, which says what a target may be.
    """
    text = text.strip()
    if not text:
        return {"contact": "", "channel": ""}
    if text.startswith(("<#", "#")):
        return {"channel": text}
    if text.startswith(("<@", "@")):
        return {"contact": text}
    bare = _BARE_ID.match(text)
    if bare:
        field = "channel" if is_channel(int(bare["id"])) else "contact"
        return {field: f"discord:{bare['id']}"}
    slack = _SLACK_ID.match(text)
    if slack:
        return {"channel" if slack["id"][0].upper() in "CGD" else "contact": text}
    return {"contact": text}


def form_fields(target: TaskFormTarget, values: Mapping[str, str], *,
                is_channel: Callable[[int], bool]) -> dict[str, str]:
    """The grammar fields to save: on create the inputs filled in; on edit the inputs
    changed from what the form showed."""
    editing = target.task_id is not None
    shown = dict(target.shown)
    fields: dict[str, str] = {}
    for name in target.fields:
        value = values.get(name, "")
        if editing and value == shown.get(name, ""):
            continue
        if not editing and not value.strip():
            continue  # left blank: the default (UTC, no target)
        if name == "target":
            fields.update(target_fields(value, is_channel=is_channel))
        else:
            fields[name] = value
    return fields


def save_task_form(stores: Stores, caller: Caller, target: TaskFormTarget,
                   fields: Mapping[str, str]) -> Saved[TaskFormTarget]:
    """Save `fields` (from `form_fields`) as a new task or the target's next version.

    Runs the command handlers (the same as `/tasks create` and `/tasks edit`);
    every refusal comes back as a refused Result that names the input, with
    the target a retry should use (the newest version after a stale edit; a
    create when the task was deleted meanwhile). An edit that changed nothing
    stores nothing.
    """
    task_id = target.task_id

    def save() -> Result:
        if task_id is None:
            return task_commands.create(stores, caller, Command(
                group="tasks", name="create", fields=dict(fields)))
        if not fields:
            return Result(title=f"Nothing changed: '{target.task_name}' stays at version "
                                f"{target.version}.")
        expected = {"version": str(target.version)} if target.version is not None else {}
        return task_commands.edit(stores, caller, Command(
            group="tasks", name="edit", args=(task_id,), fields={**fields, **expected}))

    def newest() -> TaskFormTarget | None:
        current = stores.tasks.find(task_id) if stores.tasks and task_id else None
        return TaskFormTarget.for_task(current) if current is not None else None

    return saved_or_refused(save, target=target, new=TaskFormTarget(), newest=newest,
                            editing=task_id is not None, labels=_ERROR_LABELS, what="task")


class TaskForm(AdminForm):
    """The task form: five inputs, prefilled from the task (edit) or from `values`."""

    refusal = ONLY_ADMINS

    def __init__(self, host: FormHost, target: TaskFormTarget,
                 values: Mapping[str, str] | None = None) -> None:
        editing = target.task_id is not None
        super().__init__(host, title=(f"Edit task (version {target.version})" if editing
                                      else "New task"))
        self.target = target
        values = values or {}
        for name in FORM_FIELDS:
            if name == "description" and target.long_description:
                self.add_item(discord.ui.TextDisplay(_long_note(target)))
                continue
            high = _max_length(name)
            text_input: discord.ui.TextInput[TaskForm] = discord.ui.TextInput(
                custom_id=name,
                style=(discord.TextStyle.paragraph if name == "description"
                       else discord.TextStyle.short),
                placeholder=_PLACEHOLDERS[name][:PLACEHOLDER_MAX],
                default=values.get(name, "")[:high] or None,
                # An edit keeps a time zone: blank is UTC only for a new task.
                required=name in REQUIRED or (editing and name == "timezone"),
                max_length=high,
            )
            self.add_input(name, text_input, label=LABELS[name], description=hint(name))

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        values = self.typed()
        what = "task form (edit)" if self.target.task_id else "task form (create)"
        caller = await self.admin_or_refuse(interaction, what)
        if caller is None:
            return
        # Read the client's channel cache here, on the event loop, not on a pool thread.
        fields = form_fields(self.target, values,
                             is_channel=functools.partial(_is_channel, interaction))
        await self.host.answer(interaction, self._save(caller, values, fields), slow=False,
                               what=what)

    async def _save(self, caller: Caller, values: dict[str, str],
                    fields: dict[str, str]) -> Outcome:
        stores = self.host.stores
        saved = await self.host.blocking(
            lambda: save_task_form(stores, caller, self.target, fields))
        log.info("task form (%s) by %s: %s", self.target.task_id or "create", caller.user,
                 saved.result.title)
        retry = saved.retry
        if retry is None:
            return saved.result, None
        host = self.host
        return saved.result, RetryView(host, lambda: TaskForm(host, retry, values),
                                       refusal=ONLY_ADMINS)


def task_form(host: FormHost, task: Task | None) -> TaskForm:
    """The form to create a task (`task` None) or to edit `task`."""
    if task is None:
        return TaskForm(host, TaskFormTarget())
    return TaskForm(host, TaskFormTarget.for_task(task), task_values(task))


def _is_channel(interaction: discord.Interaction, ident: int) -> bool:
    """Whether `ident` is a channel the bot knows: the form's own, or one it has cached."""
    return ident == interaction.channel_id or interaction.client.get_channel(ident) is not None


def _long_note(target: TaskFormTarget) -> str:
    name = target.task_name
    ref = f'"{name}"' if any(c.isspace() for c in name) else name
    return (f"**Description**: {target.long_description:,} characters, more than a Discord "
            f"form holds ({INPUT_MAX:,}), so it is not shown and stays as it is. Change it "
            f"with /tasks edit task:{ref} description_file:")
